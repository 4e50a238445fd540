// What the screens need from whatever does the work: the web server (HTTP and
// a websocket) or the desktop app (Wails bindings and events). Components only
// see this interface; main.ts picks the implementation at start.

import type { JobState, RemoveOptions } from './api';

/** How the job's updates are reaching us; shown to the user when not "live". */
export type ConnectionState = 'connecting' | 'live' | 'reconnecting' | 'polling' | 'closed';

export interface WatchHandlers {
  /** Every state the backend reports, starting with the current one. */
  job(state: JobState): void;
  connection?(state: ConnectionState): void;
}

export interface Backend {
  readonly kind: 'web' | 'desktop';
  /** Starts a job; resolves to its id. */
  submit(file: Blob, filename: string, opts: RemoveOptions, signal?: AbortSignal): Promise<string>;
  /** The job's current state. Rejects with ApiError code "not_found" when it is gone. */
  status(id: string, signal?: AbortSignal): Promise<JobState>;
  /**
   * Follows the job until it is done or failed (then stops by itself).
   * Returns a function that stops following it.
   */
  watch(id: string, handlers: WatchHandlers): () => void;
  /** The finished PNG. */
  result(id: string, signal?: AbortSignal): Promise<Blob>;
  /** Deletes the job and its images; a job already gone is no error. */
  remove(id: string): Promise<void>;
}
