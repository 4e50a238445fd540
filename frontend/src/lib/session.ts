// What this tab knows about the jobs it started: the user's own file (shown as
// "before" in the comparison; the server deletes its copy after processing) and
// the options used. It lives in memory only, so after a reload a job shows just
// its cutout.

import type { RemoveOptions } from './api';

export interface LocalJob {
  filename: string;
  options: RemoveOptions;
  /** An object URL of the uploaded file. */
  beforeUrl: string;
}

export interface ObjectURLs {
  createObjectURL(blob: Blob): string;
  revokeObjectURL(url: string): void;
}

export class Session {
  private readonly jobs = new Map<string, LocalJob>();
  private readonly urls: ObjectURLs;

  constructor(urls: ObjectURLs) {
    this.urls = urls;
  }

  add(id: string, file: Blob, filename: string, options: RemoveOptions): LocalJob {
    this.forget(id);
    const job = { filename, options: { ...options }, beforeUrl: this.urls.createObjectURL(file) };
    this.jobs.set(id, job);
    return job;
  }

  get(id: string): LocalJob | undefined {
    return this.jobs.get(id);
  }

  forget(id: string): void {
    const job = this.jobs.get(id);
    if (!job) return;
    this.urls.revokeObjectURL(job.beforeUrl);
    this.jobs.delete(id);
  }
}
