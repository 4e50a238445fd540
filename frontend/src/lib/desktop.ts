// The desktop backend: the same screens inside the Wails shell, talking to the
// Go side through Wails v2's generated bindings (window.go.main.App.*) and its
// event runtime (window.runtime.EventsOn).
//
// The Go side (desktop/) provides, on the bound struct `App` of package main:
//   Submit(name string, dataBase64 string, opts Options) (string, error) // job id
//   Status(id string) (JobState, error)   // same JSON as GET /api/jobs/{id}
//   Result(id string) (string, error)     // the PNG, base64
//   Delete(id string) error
// where Options is {"mask_only": bool, "bg_color": "#rrggbb" or "", "crop": bool},
// and it emits the event "job:<id>" with the same JSON as the websocket's
// messages ({"type":"status","id",...}) on every change of that job.
// A Go error rejects the promise with its text; if that text is a JSON object
// {"code","message"} (codes as in the HTTP API) the user gets the proper words.

import { ApiError, isTerminal, optionsFields, parseEvent, parseJobState, statusRank, type JobState, type RemoveOptions } from './api';
import type { Backend, WatchHandlers } from './backend';
import { base64ToBytes, blobToBase64 } from './base64';

export interface WailsApp {
  Submit(name: string, dataBase64: string, opts: ReturnType<typeof optionsFields>): Promise<string>;
  Status(id: string): Promise<unknown>;
  Result(id: string): Promise<string>;
  Delete(id: string): Promise<void>;
}

export interface WailsRuntime {
  /** Wails v2 returns a function that removes this listener. */
  EventsOn(name: string, callback: (...data: unknown[]) => void): (() => void) | void;
  EventsOff?(name: string, ...more: string[]): void;
}

export interface WailsWindow {
  go?: { main?: { App?: WailsApp } };
  runtime?: WailsRuntime;
}

/** True when the page runs inside the Wails shell with our bindings. */
export function hasDesktopBindings(win: WailsWindow): boolean {
  return typeof win.go?.main?.App?.Submit === 'function';
}

/** A rejected binding call → ApiError. */
export function desktopError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  const text = e instanceof Error ? e.message : typeof e === 'string' ? e : '';
  try {
    const v: unknown = JSON.parse(text);
    if (typeof v === 'object' && v !== null && typeof (v as { code?: unknown }).code === 'string') {
      const { code, message } = v as { code: string; message?: unknown };
      return new ApiError(code === 'not_found' ? 404 : 400, code, typeof message === 'string' ? message : '');
    }
  } catch {
    // Plain text: shown as it is.
  }
  return new ApiError(500, 'desktop', text || 'The app could not do that.');
}

export class DesktopBackend implements Backend {
  readonly kind = 'desktop' as const;
  private readonly app: WailsApp;
  private readonly runtime: WailsRuntime;

  constructor(app: WailsApp, runtime: WailsRuntime) {
    this.app = app;
    this.runtime = runtime;
  }

  static fromWindow(win: WailsWindow): DesktopBackend {
    const app = win.go?.main?.App;
    if (!app || !win.runtime) throw new Error('Wails bindings are missing');
    return new DesktopBackend(app, win.runtime);
  }

  async submit(file: Blob, filename: string, opts: RemoveOptions, signal?: AbortSignal): Promise<string> {
    const data = await blobToBase64(file);
    signal?.throwIfAborted();
    try {
      const id = await this.app.Submit(filename, data, optionsFields(opts));
      if (typeof id !== 'string' || id === '') throw new Error('The app did not return a job id.');
      return id;
    } catch (e) {
      throw desktopError(e);
    }
  }

  async status(id: string): Promise<JobState> {
    let v: unknown;
    try {
      v = await this.app.Status(id);
    } catch (e) {
      throw desktopError(e);
    }
    const job = parseJobState(typeof v === 'string' ? safeJSON(v) : v);
    if (!job) throw new ApiError(500, 'bad_response', 'The app reported a job this page cannot read.');
    return job;
  }

  // Subscribe first, then ask for the current state, so that no change made in
  // between is lost (the same order the server's websocket uses).
  watch(id: string, handlers: WatchHandlers): () => void {
    let stopped = false;
    let last: JobState | null = null;
    let off: (() => void) | void = undefined;
    const name = `job:${id}`;
    const stop = () => {
      if (stopped) return;
      stopped = true;
      if (typeof off === 'function') off();
      else this.runtime.EventsOff?.(name);
      handlers.connection?.('closed');
    };
    const deliver = (job: JobState) => {
      if (stopped || job.id !== id) return;
      if (last && statusRank(job.status) < statusRank(last.status)) return;
      if (last && last.status === job.status && last.progress === job.progress) return;
      last = job;
      handlers.job(job);
      if (isTerminal(job.status)) stop();
    };
    off = this.runtime.EventsOn(name, (...data: unknown[]) => {
      const job = parseEvent(data[0]);
      if (job) deliver(job);
    });
    handlers.connection?.('live');
    this.status(id).then(
      (job) => deliver(job),
      (e: unknown) => {
        const err = desktopError(e);
        if (err.code === 'not_found') {
          deliver({ id, status: 'failed', error: { code: 'not_found', message: err.message } });
        }
      },
    );
    return stop;
  }

  async result(id: string): Promise<Blob> {
    let b64: string;
    try {
      b64 = await this.app.Result(id);
    } catch (e) {
      throw desktopError(e);
    }
    return new Blob([base64ToBytes(b64)], { type: 'image/png' });
  }

  async remove(id: string): Promise<void> {
    try {
      await this.app.Delete(id);
    } catch (e) {
      const err = desktopError(e);
      if (err.code !== 'not_found') throw err;
    }
  }
}

function safeJSON(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return null;
  }
}
