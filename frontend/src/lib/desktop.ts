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
//
// WebKitGTK, the engine of the Linux shell, ignores <a download>, so the
// download links of the pages go to SaveAs(name, dataBase64) instead, which
// asks where to save with the native dialog (installDownloadBridge).

import { ApiError, isTerminal, optionsFields, parseEvent, parseJobState, statusRank, type JobState, type RemoveOptions } from './api';
import type { Backend, WatchHandlers } from './backend';
import { base64ToBytes, blobToBase64 } from './base64';

type OptionsFields = ReturnType<typeof optionsFields>;

export interface WailsApp {
  Submit(name: string, dataBase64: string, opts: OptionsFields): Promise<string>;
  Status(id: string): Promise<unknown>;
  Result(id: string): Promise<string>;
  Delete(id: string): Promise<void>;
  /** Saves the bytes through the native save dialog; resolves to the path, "" if the user cancelled. */
  SaveAs?(name: string, dataBase64: string): Promise<string>;

  // For a batch view (the Go side has them; no screen uses them yet). Jobs
  // added any way get "job:<id>" events like Submit's; the event "batch"
  // carries a DesktopBatchSummary on every change, "saved" a DesktopSaveReport,
  // "settings" the DesktopSettings after a change, and "files:dropped"
  // {paths, x, y} the paths of files and folders dropped on the window.
  /** Queues files, and the images directly inside folders; resolves to the new job ids. */
  AddPaths?(paths: string[], opts: OptionsFields): Promise<string[]>;
  /** Native file and folder pickers that queue what was chosen (null if cancelled). */
  PickFiles?(opts: OptionsFields): Promise<string[] | null>;
  PickFolder?(opts: OptionsFields): Promise<string[] | null>;
  /** Every job, in the order added, each as Status gives it. */
  Jobs?(): Promise<unknown[]>;
  Batch?(): Promise<DesktopBatchSummary>;
  Cancel?(id: string): Promise<void>;
  /** Resolves to how many jobs were cancelled. */
  CancelAll?(): Promise<number>;
  ClearFinished?(): Promise<number>;
  /** Native save dialog for one finished job; resolves to the path, "" if cancelled. */
  SaveResult?(id: string): Promise<string>;
  /** Native folder dialog, then every finished result as <name>.png there (never overwriting). */
  SaveAll?(): Promise<DesktopSaveReport>;
  Settings?(): Promise<DesktopSettings>;
  SetSettings?(s: DesktopSettings): Promise<DesktopSettings>;
  /** Whether processing can start; engine.hint says what to run when the model is missing. */
  Setup?(): Promise<DesktopSetup>;
}

export interface DesktopSetup {
  mode: DesktopSettings['mode'];
  server_url?: string;
  engine: { ready: boolean; loading: boolean; error?: string; hint?: string };
}

/** The queue at a glance (event "batch", App.Batch). */
export interface DesktopBatchSummary {
  total: number;
  queued: number;
  processing: number;
  done: number;
  failed: number;
  cancelled: number;
  /** 0..1 over all jobs. */
  progress: number;
}

export interface DesktopSaveReport {
  dir: string;
  saved: { id: string; filename: string; path?: string; error?: { code: string; message: string } }[];
  count: number;
  failed: number;
}

/** Where images are processed; remembered in the user's config folder. */
export interface DesktopSettings {
  mode: 'local' | 'cloud';
  server_url: string;
  save_dir?: string;
}

export interface WailsRuntime {
  /** Wails v2 returns a function that removes this listener. */
  EventsOn(name: string, callback: (...data: unknown[]) => void): (() => void) | void;
  EventsOff?(name: string, ...more: string[]): void;
}

export interface WailsWindow {
  go?: { main?: { App?: WailsApp } };
  runtime?: WailsRuntime;
  document?: ClickSource;
  fetch?: typeof fetch;
}

/** Where clicks come from: the page's document. */
export interface ClickSource {
  addEventListener(type: 'click', listener: (e: Event) => void, capture: boolean): void;
  removeEventListener(type: 'click', listener: (e: Event) => void, capture: boolean): void;
}

interface ClickLike {
  defaultPrevented: boolean;
  button: number;
  target: EventTarget | null;
  preventDefault(): void;
}

interface DownloadLink {
  href: string;
  getAttribute(name: string): string | null;
}

/**
 * Sends clicks on download links of in-page data (blob: and data: URLs, as the
 * result screen makes) to app.SaveAs instead of the engine, which would ignore
 * them. Listens in the capture phase, so the page's router never sees these
 * clicks. Returns a function that removes the listener.
 */
export function installDownloadBridge(
  doc: ClickSource,
  app: Required<Pick<WailsApp, 'SaveAs'>>,
  fetchFn: typeof fetch,
  onError: (err: ApiError) => void = (err) => console.error('save failed:', err.message),
): () => void {
  const onClick = (ev: Event): void => {
    const e = ev as unknown as ClickLike;
    if (e.defaultPrevented || e.button !== 0) return;
    const t = e.target as { closest?: (sel: string) => DownloadLink | null } | null;
    const a = t && typeof t.closest === 'function' ? t.closest('a[download]') : null;
    if (!a || !/^(blob|data):/i.test(a.href)) return;
    e.preventDefault();
    const name = a.getAttribute('download') || 'cutout.png';
    void (async () => {
      const res = await fetchFn(a.href);
      const data = await blobToBase64(await res.blob());
      await app.SaveAs(name, data);
    })().catch((err: unknown) => onError(desktopError(err)));
  };
  doc.addEventListener('click', onClick, true);
  return () => doc.removeEventListener('click', onClick, true);
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
  // Where images go, once the settings have been read (noteMode); null before.
  private mode: DesktopSettings['mode'] | null = null;

  constructor(app: WailsApp, runtime: WailsRuntime) {
    this.app = app;
    this.runtime = runtime;
  }

  /** The backend of the page's window; also routes the page's downloads to the native save dialog. */
  static fromWindow(win: WailsWindow): DesktopBackend {
    const app = win.go?.main?.App;
    if (!app || !win.runtime) throw new Error('Wails bindings are missing');
    const saveAs = app.SaveAs;
    if (win.document && win.fetch && typeof saveAs === 'function') {
      installDownloadBridge(win.document, { SaveAs: saveAs.bind(app) }, win.fetch.bind(win));
    }
    return new DesktopBackend(app, win.runtime);
  }

  /** Tells the backend the mode the settings hold, for privacyNote; the settings panel calls it on load and save. */
  noteMode(mode: DesktopSettings['mode']): void {
    this.mode = mode;
  }

  privacyNote(): string {
    switch (this.mode) {
      case 'local':
        return 'Processed on this computer: the photo never left it. The app forgets it when you leave this page, so save the cutout to keep it.';
      case 'cloud':
        return 'Processed by your Backless server, which deletes the image when you leave this page. Save the cutout to keep it.';
      default:
        return 'The app forgets this image when you leave this page, and so does the server in cloud mode. Save the cutout to keep it.';
    }
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
