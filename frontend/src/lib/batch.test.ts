import { describe, expect, it, vi } from 'vitest';
import { DEFAULT_OPTIONS } from './api';
import {
  BatchStore,
  DropCoordinator,
  batchBindings,
  describeSave,
  droppedPaths,
  routeDrop,
  totals,
  type BatchBindings,
  type BatchSnapshot,
  type DropAction,
} from './batch';

// The Wails shell cannot run in these unit tests; this stands in for its
// generated bindings and event runtime with the shapes Wails v2 gives the page
// (EventsOn returns the function that removes the listener). The Go side's
// queue itself is tested in desktop/internal/batch and, for real, by the
// desktop smoke test.
function fakeWails() {
  const listeners = new Map<string, Set<(...d: unknown[]) => void>>();
  const states = new Map<string, unknown>();
  let next = 0;
  const app = {
    Submit: vi.fn(async (name: string, _data: string, _opts: unknown) => {
      if (name.endsWith('.txt')) throw new Error(JSON.stringify({ code: 'not_an_image', message: 'not an image' }));
      const id = `s${++next}`;
      states.set(id, { id, status: 'queued', filename: name, progress: 0 });
      return id;
    }),
    Status: vi.fn(async (id: string) => states.get(id) ?? Promise.reject(new Error('{"code":"not_found","message":"gone"}'))),
    AddPaths: vi.fn(async (paths: string[], _opts: unknown) =>
      paths.map((p) => {
        const id = `p${++next}`;
        states.set(id, { id, status: 'queued', filename: p.split('/').pop(), path: p, progress: 0 });
        return id;
      }),
    ),
    PickFiles: vi.fn(async (_opts: unknown): Promise<string[] | null> => null),
    PickFolder: vi.fn(async (_opts: unknown): Promise<string[] | null> => ['f1', 'f2']),
    Cancel: vi.fn(async (_id: string) => {}),
    CancelAll: vi.fn(async () => 0),
    SaveResult: vi.fn(async (_id: string) => '/home/me/a.png'),
    SaveAll: vi.fn(async () => ({ dir: '/out', saved: [], count: 2, failed: 0 })),
    ClearFinished: vi.fn(async () => 0),
    Delete: vi.fn(async (_id: string) => {}),
  } satisfies BatchBindings;
  const runtime = {
    EventsOn: vi.fn((name: string, cb: (...d: unknown[]) => void) => {
      if (!listeners.has(name)) listeners.set(name, new Set());
      listeners.get(name)!.add(cb);
      return () => {
        listeners.get(name)!.delete(cb);
      };
    }),
  };
  return {
    app,
    runtime,
    states,
    // The Go side's "job:<id>" event: the websocket's message shape.
    emit: (id: string, state: Record<string, unknown>) =>
      listeners.get(`job:${id}`)?.forEach((cb) => cb({ type: 'status', id, ...state })),
    listenerCount: (id: string) => listeners.get(`job:${id}`)?.size ?? 0,
  };
}

function last(store: BatchStore): BatchSnapshot {
  let s: BatchSnapshot | undefined;
  store.subscribe((v) => (s = v))();
  return s!;
}

describe('BatchStore', () => {
  it('follows dropped paths from queued to done, per file and overall', async () => {
    const w = fakeWails();
    const opts = { ...DEFAULT_OPTIONS, bgColor: '#FFF' };
    const store = new BatchStore(w.app, w.runtime, () => opts);
    const seen: BatchSnapshot[] = [];
    store.subscribe((s) => seen.push(s));

    await store.addPaths(['/p/a.jpg', '/p/b.png']);
    expect(w.app.AddPaths).toHaveBeenCalledWith(['/p/a.jpg', '/p/b.png'], { mask_only: false, bg_color: '#ffffff', crop: false });
    let s = last(store);
    expect(s.items.map((i) => [i.id, i.filename, i.status, i.path])).toEqual([
      ['p1', 'a.jpg', 'queued', '/p/a.jpg'],
      ['p2', 'b.png', 'queued', '/p/b.png'],
    ]);
    expect(s.totals).toMatchObject({ total: 2, active: 2, done: 0, progress: 0 });

    w.emit('p1', { status: 'processing', progress: 0.5 });
    s = last(store);
    expect(s.items[0]).toMatchObject({ status: 'processing', progress: 0.5 });
    expect(s.totals.progress).toBeCloseTo(0.25);

    w.emit('p1', { status: 'done', progress: 1 });
    w.emit('p2', { status: 'failed', error: { code: 'not_an_image', message: 'x' } });
    s = last(store);
    expect(s.items[0].status).toBe('done');
    expect(s.items[1].status).toBe('failed');
    expect(s.items[1].error).toMatch(/not an image we can read/);
    expect(s.totals).toMatchObject({ total: 2, active: 0, done: 1, failed: 1, progress: 1 });
    // Finished jobs are no longer listened to.
    expect(w.listenerCount('p1')).toBe(0);
    expect(w.listenerCount('p2')).toBe(0);
    expect(seen.length).toBeGreaterThan(3);
  });

  it('ignores stale and foreign events and tells cancelled from failed', async () => {
    const w = fakeWails();
    const store = new BatchStore(w.app, w.runtime, () => DEFAULT_OPTIONS);
    await store.addPaths(['/a.jpg', '/b.jpg']);
    w.emit('p1', { status: 'processing', progress: 0.7 });
    w.emit('p1', { status: 'queued' }); // late report: a job never goes back
    expect(last(store).items[0]).toMatchObject({ status: 'processing', progress: 0.7 });
    w.emit('zz', { status: 'done' }); // not ours
    expect(last(store).items.map((i) => i.id)).toEqual(['p1', 'p2']);

    await store.cancel('p2');
    expect(w.app.Cancel).toHaveBeenCalledWith('p2');
    w.emit('p2', { status: 'failed', error: { code: 'cancelled', message: 'cancelled' } });
    const s = last(store);
    expect(s.items[1].status).toBe('cancelled');
    expect(s.totals).toMatchObject({ cancelled: 1, failed: 0, active: 1 });
    // Nothing changes a finished job afterwards.
    w.emit('p2', { status: 'done' });
    expect(last(store).items[1].status).toBe('cancelled');
  });

  it('catches up with a change made before it subscribed', async () => {
    const w = fakeWails();
    // The job is already done by the time the store asks for its state.
    w.app.AddPaths.mockImplementationOnce(async () => {
      w.states.set('x1', { id: 'x1', status: 'done', filename: 'quick.jpg', progress: 1 });
      return ['x1'];
    });
    const store = new BatchStore(w.app, w.runtime, () => DEFAULT_OPTIONS);
    await store.addPaths(['/quick.jpg']);
    expect(last(store).items[0]).toMatchObject({ id: 'x1', status: 'done', filename: 'quick.jpg', progress: 1 });
  });

  it('queues files the page holds one by one; a refused one fails alone', async () => {
    const w = fakeWails();
    const store = new BatchStore(w.app, w.runtime, () => DEFAULT_OPTIONS);
    const files = [
      new File([new Uint8Array([0xff, 0xd8, 0xff])], 'a.jpg', { type: 'image/jpeg' }),
      new File(['hello'], 'notes.txt', { type: 'text/plain' }),
      new File([new Uint8Array([0x89, 0x50])], 'c.png', { type: 'image/png' }),
    ];
    await store.addFiles(files);
    expect(w.app.Submit).toHaveBeenCalledTimes(3);
    expect(w.app.Submit.mock.calls[0][1]).toBe(btoa(String.fromCharCode(0xff, 0xd8, 0xff)));
    const s = last(store);
    expect(s.items.map((i) => [i.filename, i.status])).toEqual([
      ['a.jpg', 'queued'],
      ['notes.txt', 'failed'],
      ['c.png', 'queued'],
    ]);
    expect(s.items[1].id).toMatch(/^local-/);
    expect(s.items[1].error).toMatch(/not an image/);
  });

  it('reports a failed pick and a cancelled one differently', async () => {
    const w = fakeWails();
    const store = new BatchStore(w.app, w.runtime, () => DEFAULT_OPTIONS);
    await store.pick('files'); // the user closed the dialog
    expect(last(store)).toMatchObject({ items: [], error: '' });
    w.app.PickFiles.mockRejectedValueOnce(new Error(JSON.stringify({ code: 'bad_request', message: 'no images found there' })));
    await store.pick('files');
    expect(last(store).error).toMatch(/no images found there/);
    await store.pick('folder');
    expect(last(store).error).toBe('');
    expect(last(store).items.map((i) => i.id)).toEqual(['f1', 'f2']);
  });

  it('saves one and all, and says what was saved', async () => {
    const w = fakeWails();
    const store = new BatchStore(w.app, w.runtime, () => DEFAULT_OPTIONS);
    await store.addPaths(['/a.jpg']);
    w.emit('p1', { status: 'done' });
    await store.save('p1');
    expect(w.app.SaveResult).toHaveBeenCalledWith('p1');
    expect(last(store).notice).toBe('Saved to /home/me/a.png.');
    await store.saveAll();
    expect(last(store).notice).toBe('Saved 2 cutouts to /out.');
    w.app.SaveAll.mockResolvedValueOnce({ dir: '', saved: [], count: 0, failed: 0 });
    await store.saveAll();
    expect(last(store).notice).toBe('');
  });

  it('clears finished items and removes one, leaving running ones', async () => {
    const w = fakeWails();
    const store = new BatchStore(w.app, w.runtime, () => DEFAULT_OPTIONS);
    await store.addPaths(['/a.jpg', '/b.jpg', '/c.jpg']);
    w.emit('p1', { status: 'done' });
    w.emit('p2', { status: 'processing', progress: 0.1 });
    w.emit('p3', { status: 'failed', error: { code: 'internal', message: 'boom' } });
    await store.remove('p3');
    expect(w.app.Delete).toHaveBeenCalledWith('p3');
    expect(last(store).items.map((i) => i.id)).toEqual(['p1', 'p2']);
    await store.clearFinished();
    expect(w.app.ClearFinished).toHaveBeenCalled();
    expect(last(store).items.map((i) => i.id)).toEqual(['p2']);
    store.destroy();
    expect(w.listenerCount('p2')).toBe(0);
  });
});

describe('batch helpers', () => {
  it('finds the batch bindings only when all are there', () => {
    const w = fakeWails();
    const full = { ...w.app, Result: vi.fn(async () => '') };
    expect(batchBindings({ go: { main: { App: full } }, runtime: w.runtime })).not.toBeNull();
    const { SaveAll: _, ...partial } = full;
    expect(batchBindings({ go: { main: { App: partial } }, runtime: w.runtime })).toBeNull();
    expect(batchBindings({})).toBeNull();
  });

  it('counts totals', () => {
    expect(totals([])).toEqual({ total: 0, active: 0, done: 0, failed: 0, cancelled: 0, progress: 0 });
    const t = totals([
      { id: 'a', filename: 'a', status: 'done', progress: 1 },
      { id: 'b', filename: 'b', status: 'processing', progress: 0.5 },
      { id: 'c', filename: 'c', status: 'cancelled', progress: 0.2 },
      { id: 'd', filename: 'd', status: 'queued', progress: 0 },
    ]);
    expect(t).toEqual({ total: 4, active: 2, done: 1, failed: 0, cancelled: 1, progress: 2.5 / 4 });
  });

  it('describes a save with failures', () => {
    expect(
      describeSave({
        dir: '/o',
        count: 1,
        failed: 1,
        saved: [
          { id: 'a', filename: 'a.jpg', path: '/o/a.png' },
          { id: 'b', filename: 'b.jpg', error: { code: 'internal', message: 'disk full' } },
        ],
      }),
    ).toBe('Saved 1 cutout to /o. 1 could not be saved: b.jpg: disk full');
  });

  it('reads the paths of files:dropped', () => {
    expect(droppedPaths({ paths: ['/a', 3, ''], x: 1, y: 2 })).toEqual(['/a']);
    expect(droppedPaths(null)).toEqual([]);
    expect(droppedPaths({ paths: 'x' })).toEqual([]);
  });
});

describe('routeDrop', () => {
  const img = new File(['x'], 'a.jpg', { type: 'image/jpeg' });
  const img2 = new File(['y'], 'b.jpg', { type: 'image/jpeg' });
  const folder = new File([], 'photos', { type: '' });

  it('keeps the single-photo flow for one image while no batch is shown', () => {
    expect(routeDrop([img], [], false)).toEqual({ kind: 'single', file: img });
    expect(routeDrop([img], ['/x/a.jpg'], false)).toEqual({ kind: 'single', file: img });
  });

  it('sends the rest to the batch, by path when there are paths', () => {
    expect(routeDrop([img], ['/x/a.jpg'], true)).toEqual({ kind: 'paths', paths: ['/x/a.jpg'] });
    expect(routeDrop([img, img2], ['/a', '/b'], false)).toEqual({ kind: 'paths', paths: ['/a', '/b'] });
    expect(routeDrop([folder], ['/photos'], false)).toEqual({ kind: 'paths', paths: ['/photos'] });
    expect(routeDrop([], ['/photos'], false)).toEqual({ kind: 'paths', paths: ['/photos'] });
    expect(routeDrop([img, img2], [], false)).toEqual({ kind: 'files', files: [img, img2] });
    expect(routeDrop([img], [], true)).toEqual({ kind: 'files', files: [img] });
    expect(routeDrop([], [], false)).toEqual({ kind: 'none' });
  });
});

describe('DropCoordinator', () => {
  // Timers by hand, so the test decides when the wait is over.
  function manualTimers() {
    const pending: (() => void)[] = [];
    return {
      timers: { set: (fn: () => void) => pending.push(fn), clear: () => pending.splice(0) },
      fire: () => pending.splice(0).forEach((fn) => fn()),
      count: () => pending.length,
    };
  }

  it('acts once on a drop reported by both the page and the Go side', () => {
    const t = manualTimers();
    const acts: DropAction[] = [];
    const c = new DropCoordinator((a) => acts.push(a), () => false, t.timers);
    const a = new File(['x'], 'a.jpg', { type: 'image/jpeg' });
    const b = new File(['x'], 'b.jpg', { type: 'image/jpeg' });
    c.dom([a, b]);
    c.native(['/a.jpg', '/b.jpg']);
    expect(acts).toEqual([]);
    expect(t.count()).toBe(1);
    t.fire();
    expect(acts).toEqual([{ kind: 'paths', paths: ['/a.jpg', '/b.jpg'] }]);
    // The next drop starts afresh.
    c.dom([a]);
    t.fire();
    expect(acts[1]).toEqual({ kind: 'single', file: a });
  });

  it('uses whether the batch is shown at the time it acts', () => {
    const t = manualTimers();
    let shown = false;
    const acts: DropAction[] = [];
    const c = new DropCoordinator((a) => acts.push(a), () => shown, t.timers);
    const a = new File(['x'], 'a.jpg', { type: 'image/jpeg' });
    c.dom([a]);
    shown = true;
    t.fire();
    expect(acts).toEqual([{ kind: 'files', files: [a] }]);
  });
});
