// The desktop app's batch view, without Svelte: the list of images queued on
// the Go side (desktop/internal/batch) and what the user can do with them.
// It is driven by the bindings and events of desktop.ts — "job:<id>" for each
// job's changes — so its tests can feed it fake events. Only the desktop
// adapter uses it; the web app's single-image flow never does.

import { describeError, describeJobError, optionsFields, parseEvent, parseJobState, statusRank, type JobState, type RemoveOptions } from './api';
import { blobToBase64 } from './base64';
import { desktopError, type DesktopSaveReport, type WailsApp, type WailsRuntime, type WailsWindow } from './desktop';

/** A cancelled job is a failed one with the code "cancelled"; the list shows it apart. */
export type ItemStatus = 'queued' | 'processing' | 'done' | 'failed' | 'cancelled';

export interface BatchItem {
  /** The Go side's job id; "local-N" for a file the Go side refused before queuing it. */
  id: string;
  filename: string;
  path?: string;
  status: ItemStatus;
  /** 0..1. */
  progress: number;
  /** Words for the user when failed. */
  error?: string;
}

export interface BatchTotals {
  total: number;
  active: number;
  done: number;
  failed: number;
  cancelled: number;
  /** 0..1 over all items; finished ones count fully. */
  progress: number;
}

export interface BatchSnapshot {
  items: BatchItem[];
  totals: BatchTotals;
  /** The last operation's failure (picking, saving), for an alert. */
  error: string;
  /** What the last save did, for a status line. */
  notice: string;
}

/** The bindings the batch view needs (all optional in WailsApp: older Go sides lack them). */
export type BatchBindings = Required<
  Pick<
    WailsApp,
    'Submit' | 'Status' | 'AddPaths' | 'PickFiles' | 'PickFolder' | 'Cancel' | 'CancelAll' | 'SaveResult' | 'SaveAll' | 'ClearFinished' | 'Delete'
  >
>;

const needed: (keyof BatchBindings)[] = [
  'Submit',
  'Status',
  'AddPaths',
  'PickFiles',
  'PickFolder',
  'Cancel',
  'CancelAll',
  'SaveResult',
  'SaveAll',
  'ClearFinished',
  'Delete',
];

/** The batch bindings of the page's window, or null outside the desktop app (or with a Go side without them). */
export function batchBindings(win: WailsWindow): { app: BatchBindings; runtime: WailsRuntime } | null {
  const app = win.go?.main?.App;
  if (!app || !win.runtime) return null;
  for (const k of needed) if (typeof app[k] !== 'function') return null;
  return { app: app as BatchBindings, runtime: win.runtime };
}

export function itemStatus(j: JobState): ItemStatus {
  if (j.status === 'failed' && j.error?.code === 'cancelled') return 'cancelled';
  return j.status;
}

function isFinished(s: ItemStatus): boolean {
  return s === 'done' || s === 'failed' || s === 'cancelled';
}

export function totals(items: readonly BatchItem[]): BatchTotals {
  const t: BatchTotals = { total: items.length, active: 0, done: 0, failed: 0, cancelled: 0, progress: 0 };
  let sum = 0;
  for (const it of items) {
    if (it.status === 'done') t.done++;
    else if (it.status === 'failed') t.failed++;
    else if (it.status === 'cancelled') t.cancelled++;
    else t.active++;
    sum += isFinished(it.status) ? 1 : it.progress;
  }
  t.progress = items.length ? sum / items.length : 0;
  return t;
}

/** "Saved 3 cutouts to /x" and what failed; "" when the user cancelled the dialog. */
export function describeSave(r: DesktopSaveReport): string {
  if (!r.dir) return '';
  const n = (k: number, one: string, many: string) => `${k} ${k === 1 ? one : many}`;
  let s = `Saved ${n(r.count, 'cutout', 'cutouts')} to ${r.dir}.`;
  if (r.failed > 0) {
    const first = r.saved.find((x) => x.error);
    s += ` ${n(r.failed, 'could', 'could')} not be saved` + (first?.error ? `: ${first.filename}: ${first.error.message}` : '.');
  }
  return s;
}

type Listener = (s: BatchSnapshot) => void;

/**
 * The batch's state. It follows the Svelte store contract (subscribe), so a
 * component reads it as $store.
 */
export class BatchStore {
  private readonly app: BatchBindings;
  private readonly runtime: WailsRuntime;
  private readonly options: () => RemoveOptions;
  private items: BatchItem[] = [];
  private readonly offs = new Map<string, () => void>();
  private readonly listeners = new Set<Listener>();
  private error = '';
  private notice = '';
  private localIds = 0;
  private snap: BatchSnapshot;

  constructor(app: BatchBindings, runtime: WailsRuntime, options: () => RemoveOptions) {
    this.app = app;
    this.runtime = runtime;
    this.options = options;
    this.snap = this.build();
  }

  subscribe(fn: Listener): () => void {
    this.listeners.add(fn);
    fn(this.snap);
    return () => this.listeners.delete(fn);
  }

  get snapshot(): BatchSnapshot {
    return this.snap;
  }

  private build(): BatchSnapshot {
    return { items: this.items, totals: totals(this.items), error: this.error, notice: this.notice };
  }

  private changed(): void {
    this.snap = this.build();
    for (const fn of this.listeners) fn(this.snap);
  }

  private fail(e: unknown): void {
    this.error = describeError(desktopError(e));
    this.changed();
  }

  /** Stops listening to every job (the view is gone for good). */
  destroy(): void {
    for (const off of this.offs.values()) off();
    this.offs.clear();
    this.listeners.clear();
  }

  /** Applies a job's state; stale reports (a lower rank than known) are ignored. */
  apply(j: JobState): void {
    const i = this.items.findIndex((it) => it.id === j.id);
    if (i < 0) return;
    const cur = this.items[i];
    const next = itemStatus(j);
    if (isFinished(cur.status) || statusRank(j.status) < statusRank(cur.status as JobState['status'])) return;
    const item: BatchItem = {
      ...cur,
      status: next,
      filename: j.filename ?? cur.filename,
      progress: next === 'done' ? 1 : next === 'queued' ? 0 : (j.progress ?? cur.progress),
    };
    if (next === 'failed') item.error = describeJobError(j.error);
    if (next === 'cancelled') item.error = 'Cancelled.';
    this.items = this.items.map((it, k) => (k === i ? item : it));
    if (isFinished(next)) this.unwatch(j.id);
    this.changed();
  }

  private unwatch(id: string): void {
    this.offs.get(id)?.();
    this.offs.delete(id);
  }

  // Subscribe first, then ask for the state once, so no change between the
  // job's creation and the subscription is lost.
  private async follow(ids: string[], names: Map<string, string> = new Map()): Promise<void> {
    const fresh = ids.filter((id) => !this.items.some((it) => it.id === id));
    if (fresh.length === 0) return;
    this.items = [
      ...this.items,
      ...fresh.map((id): BatchItem => ({ id, filename: names.get(id) ?? '', status: 'queued', progress: 0 })),
    ];
    for (const id of fresh) {
      const off = this.runtime.EventsOn(`job:${id}`, (...data: unknown[]) => {
        const j = parseEvent(data[0]);
        if (j && j.id === id) this.apply(j);
      });
      this.offs.set(id, typeof off === 'function' ? off : () => this.runtime.EventsOff?.(`job:${id}`));
    }
    this.changed();
    await Promise.all(
      fresh.map(async (id) => {
        try {
          const raw = await this.app.Status(id);
          const j = parseJobState(raw);
          if (!j) return;
          const it = this.items.find((x) => x.id === id);
          if (it && !it.path && typeof (raw as { path?: unknown }).path === 'string') {
            this.items = this.items.map((x) => (x.id === id ? { ...x, path: (raw as { path: string }).path } : x));
          }
          this.apply(j);
        } catch {
          // The events carry the state anyway; a failed look-up only loses the first report.
        }
      }),
    );
  }

  private addRefused(filename: string, e: unknown): void {
    this.items = [
      ...this.items,
      { id: `local-${++this.localIds}`, filename, status: 'failed', progress: 0, error: describeError(desktopError(e)) },
    ];
    this.changed();
  }

  private clearMessages(): void {
    this.error = '';
    this.notice = '';
  }

  /** Queues files and folders by path (a native drop). */
  async addPaths(paths: string[]): Promise<void> {
    this.clearMessages();
    try {
      const ids = await this.app.AddPaths(paths, optionsFields(this.options()));
      await this.follow(ids ?? []);
    } catch (e) {
      this.fail(e);
    }
  }

  /** The native file or folder picker; nothing happens when the user cancels. */
  async pick(what: 'files' | 'folder'): Promise<void> {
    this.clearMessages();
    try {
      const opts = optionsFields(this.options());
      const ids = what === 'files' ? await this.app.PickFiles(opts) : await this.app.PickFolder(opts);
      await this.follow(ids ?? []);
    } catch (e) {
      this.fail(e);
    }
  }

  /** Queues files the page holds (dropped or chosen in the page), one by one; a refused one fails alone. */
  async addFiles(files: File[]): Promise<void> {
    this.clearMessages();
    const opts = optionsFields(this.options());
    for (const f of files) {
      const name = f.name || 'image';
      try {
        const id = await this.app.Submit(name, await blobToBase64(f), opts);
        await this.follow([id], new Map([[id, name]]));
      } catch (e) {
        this.addRefused(name, e);
      }
    }
  }

  async cancel(id: string): Promise<void> {
    try {
      await this.app.Cancel(id);
    } catch (e) {
      this.fail(e);
    }
  }

  async cancelAll(): Promise<void> {
    try {
      await this.app.CancelAll();
    } catch (e) {
      this.fail(e);
    }
  }

  /** The native save dialog for one result. */
  async save(id: string): Promise<void> {
    this.clearMessages();
    try {
      const path = await this.app.SaveResult(id);
      if (path) this.notice = `Saved to ${path}.`;
      this.changed();
    } catch (e) {
      this.fail(e);
    }
  }

  /** A folder dialog, then every finished result there as <name>.png. */
  async saveAll(): Promise<void> {
    this.clearMessages();
    try {
      this.notice = describeSave(await this.app.SaveAll());
      this.changed();
    } catch (e) {
      this.fail(e);
    }
  }

  /** Forgets one finished (or refused) item. */
  async remove(id: string): Promise<void> {
    const it = this.items.find((x) => x.id === id);
    if (!it) return;
    if (!id.startsWith('local-')) {
      try {
        await this.app.Delete(id);
      } catch (e) {
        const err = desktopError(e);
        if (err.code !== 'not_found') return this.fail(err);
      }
    }
    this.unwatch(id);
    this.items = this.items.filter((x) => x.id !== id);
    this.changed();
  }

  /** Forgets every finished item, here and on the Go side. */
  async clearFinished(): Promise<void> {
    this.clearMessages();
    try {
      await this.app.ClearFinished();
    } catch (e) {
      return this.fail(e);
    }
    this.items = this.items.filter((it) => !isFinished(it.status));
    this.changed();
  }
}

/** What a drop turns into. */
export type DropAction =
  | { kind: 'none' }
  | { kind: 'single'; file: File }
  | { kind: 'paths'; paths: string[] }
  | { kind: 'files'; files: File[] };

/**
 * Decides what to do with a drop. The window may report one drop twice: as
 * the page's drop event (File objects, no paths, folders as empty files) and
 * as the Go side's "files:dropped" (paths, folders too). One image, dropped
 * while no batch is shown, keeps the web app's single-image flow; anything
 * else goes to the batch, by path when the Go side gave paths.
 */
export function routeDrop(files: File[], paths: string[], batchShown: boolean): DropAction {
  const oneImage = files.length === 1 && files[0].type.startsWith('image/');
  if (!batchShown && oneImage && paths.length <= 1) return { kind: 'single', file: files[0] };
  if (paths.length > 0) return { kind: 'paths', paths };
  if (files.length === 1 && !batchShown) return { kind: 'single', file: files[0] };
  if (files.length > 0) return { kind: 'files', files };
  return { kind: 'none' };
}

export interface Timers {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

/**
 * Gathers the two reports of one drop (see routeDrop) for a short while, then
 * acts once. Wails on Linux sends the paths from the native side; whether the
 * page's own drop event also fires depends on the engine, hence the wait.
 */
export class DropCoordinator {
  private files: File[] = [];
  private paths: string[] = [];
  private pending: unknown = null;
  private readonly act: (a: DropAction) => void;
  private readonly batchShown: () => boolean;
  private readonly timers: Timers;
  private readonly waitMs: number;

  constructor(act: (a: DropAction) => void, batchShown: () => boolean, timers: Timers, waitMs = 250) {
    this.act = act;
    this.batchShown = batchShown;
    this.timers = timers;
    this.waitMs = waitMs;
  }

  /** The page's drop event. */
  dom(files: File[]): void {
    this.files = files;
    this.arm();
  }

  /** The Go side's "files:dropped". */
  native(paths: string[]): void {
    this.paths = paths;
    this.arm();
  }

  private arm(): void {
    if (this.pending !== null) return;
    this.pending = this.timers.set(() => this.flush(), this.waitMs);
  }

  flush(): void {
    if (this.pending !== null) this.timers.clear(this.pending);
    this.pending = null;
    const a = routeDrop(this.files, this.paths, this.batchShown());
    this.files = [];
    this.paths = [];
    if (a.kind !== 'none') this.act(a);
  }
}

/** The paths of a "files:dropped" event ({paths, x, y}); [] for anything else. */
export function droppedPaths(data: unknown): string[] {
  if (typeof data !== 'object' || data === null) return [];
  const p = (data as { paths?: unknown }).paths;
  return Array.isArray(p) ? p.filter((x): x is string => typeof x === 'string' && x !== '') : [];
}
