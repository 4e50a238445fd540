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
   * Reports the job's states until it is done or failed, then nothing more.
   * Returns a function that stops following it, to call when the job's page is
   * left: until then the web backend keeps the job's socket open, which tells
   * the server the result is still shown (it deletes a finished job a grace
   * period after its last socket closes).
   */
  watch(id: string, handlers: WatchHandlers): () => void;
  /** The finished PNG. */
  result(id: string, signal?: AbortSignal): Promise<Blob>;
  /** Deletes the job and its images; a job already gone is no error. */
  remove(id: string): Promise<void>;
  /**
   * What becomes of the user's image, in a sentence shown beside the result:
   * where it was processed and when it is deleted, which only the backend knows.
   */
  privacyNote(): string;
}
