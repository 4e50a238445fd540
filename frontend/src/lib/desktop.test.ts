import { describe, expect, it, vi } from 'vitest';
import { ApiError, type JobState } from './api';
import {
  DesktopBackend,
  desktopError,
  hasDesktopBindings,
  installDownloadBridge,
  type ClickSource,
  type WailsApp,
  type WailsWindow,
} from './desktop';
import { selectBackend } from './select';
import { WebBackend } from './web';

// The Wails shell is not part of these unit tests (the desktop binary comes
// later); this stands in for its generated bindings and event runtime with the
// exact shapes Wails v2 gives the page.
function fakeWails() {
  const listeners = new Map<string, Set<(...d: unknown[]) => void>>();
  let statusAnswer: () => Promise<unknown> = async () => ({ id: 'j1', status: 'queued' });
  const app = {
    Submit: vi.fn(async (_name: string, _data: string, _opts: unknown) => 'j1'),
    Status: vi.fn((_id: string) => statusAnswer()),
    Result: vi.fn(async (_id: string) => btoa(String.fromCharCode(0x89, 0x50, 0x4e, 0x47, 0xff))),
    Delete: vi.fn(async (_id: string) => {}),
  } satisfies WailsApp;
  // Wails v2's EventsOn returns the function that removes the listener.
  const on = (name: string, cb: (...d: unknown[]) => void) => {
    if (!listeners.has(name)) listeners.set(name, new Set());
    listeners.get(name)!.add(cb);
    return () => {
      listeners.get(name)!.delete(cb);
    };
  };
  const runtime = { EventsOn: vi.fn(on) };
  return {
    app,
    runtime,
    on,
    emit: (name: string, data: unknown) => listeners.get(name)?.forEach((cb) => cb(data)),
    listenerCount: (name: string) => listeners.get(name)?.size ?? 0,
    setStatus: (f: () => Promise<unknown>) => (statusAnswer = f),
  };
}

describe('DesktopBackend', () => {
  it('words its privacy note by the mode the settings hold, and says nothing wrong before it knows', () => {
    const w = fakeWails();
    const b = new DesktopBackend(w.app, w.runtime);
    const unknown = b.privacyNote();
    expect(unknown).toMatch(/cloud mode/);
    b.noteMode('local');
    expect(b.privacyNote()).toMatch(/this computer/);
    expect(b.privacyNote()).not.toMatch(/server/);
    b.noteMode('cloud');
    expect(b.privacyNote()).toMatch(/server/);
    expect(new Set([unknown, b.privacyNote()]).size).toBe(2);
  });

  it('submits the file as base64 with the API option fields', async () => {
    const w = fakeWails();
    const b = new DesktopBackend(w.app, w.runtime);
    const bytes = new Uint8Array([0xff, 0xd8, 0xff, 0x00, 0x10, 0x80]);
    const id = await b.submit(new Blob([bytes]), 'me.jpg', { maskOnly: false, bgColor: '#ABCDEF', crop: true });
    expect(id).toBe('j1');
    const [name, data, opts] = w.app.Submit.mock.calls[0];
    expect(name).toBe('me.jpg');
    expect(Uint8Array.from(atob(data), (c) => c.charCodeAt(0))).toEqual(bytes);
    expect(opts).toEqual({ mask_only: false, bg_color: '#abcdef', crop: true });
  });

  it('subscribes before asking for the state, and follows events to the end', async () => {
    const w = fakeWails();
    const order: string[] = [];
    w.runtime.EventsOn.mockImplementationOnce((name, cb) => {
      order.push('subscribe ' + name);
      return w.on(name, cb);
    });
    w.setStatus(async () => {
      order.push('status');
      return { id: 'j1', status: 'queued' };
    });
    const b = new DesktopBackend(w.app, w.runtime);
    const jobs: JobState[] = [];
    b.watch('j1', { job: (j) => jobs.push(j) });
    await Promise.resolve();
    expect(order).toEqual(['subscribe job:j1', 'status']);
    await vi.waitFor(() => expect(jobs).toHaveLength(1));

    w.emit('job:j1', { type: 'status', id: 'j1', status: 'processing', progress: 0.5 });
    w.emit('job:j1', JSON.stringify({ type: 'status', id: 'j1', status: 'done' })); // a string works too
    expect(jobs.map((j) => j.status)).toEqual(['queued', 'processing', 'done']);
    expect(w.listenerCount('job:j1')).toBe(0);
  });

  it('does not let a late Status answer undo an event', async () => {
    const w = fakeWails();
    let answer!: (v: unknown) => void;
    w.setStatus(() => new Promise((r) => (answer = r)));
    const b = new DesktopBackend(w.app, w.runtime);
    const jobs: JobState[] = [];
    b.watch('j1', { job: (j) => jobs.push(j) });
    w.emit('job:j1', { type: 'status', id: 'j1', status: 'processing' });
    answer({ id: 'j1', status: 'queued' });
    await new Promise((r) => setTimeout(r, 0));
    expect(jobs.map((j) => j.status)).toEqual(['processing']);
  });

  it('reports a job the app no longer has as failed/not_found', async () => {
    const w = fakeWails();
    w.setStatus(async () => {
      throw JSON.stringify({ code: 'not_found', message: 'no such job' });
    });
    const jobs: JobState[] = [];
    new DesktopBackend(w.app, w.runtime).watch('j1', { job: (j) => jobs.push(j) });
    await vi.waitFor(() => expect(jobs).toHaveLength(1));
    expect(jobs[0]).toEqual({ id: 'j1', status: 'failed', error: { code: 'not_found', message: 'no such job' } });
  });

  it('decodes the result into a PNG blob', async () => {
    const w = fakeWails();
    const blob = await new DesktopBackend(w.app, w.runtime).result('j1');
    expect(blob.type).toBe('image/png');
    expect(new Uint8Array(await blob.arrayBuffer())).toEqual(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0xff]));
  });

  it('remove ignores not_found but not other errors', async () => {
    const w = fakeWails();
    const b = new DesktopBackend(w.app, w.runtime);
    w.app.Delete.mockRejectedValueOnce('{"code":"not_found","message":"gone"}');
    await expect(b.remove('j1')).resolves.toBeUndefined();
    w.app.Delete.mockRejectedValueOnce('disk full');
    await expect(b.remove('j1')).rejects.toMatchObject({ code: 'desktop', message: 'disk full' });
  });
});

// A document's click dispatch, reduced to what the bridge uses: capture-phase
// listeners and an event whose target knows its closest anchor.
function fakeDocument() {
  const listeners = new Set<(e: Event) => void>();
  const doc: ClickSource = {
    addEventListener: (_t, l, capture) => {
      expect(capture).toBe(true);
      listeners.add(l);
    },
    removeEventListener: (_t, l) => {
      listeners.delete(l);
    },
  };
  const click = (link: { href: string; download?: string } | null, init: { button?: number } = {}) => {
    const ev = {
      defaultPrevented: false,
      button: init.button ?? 0,
      target: {
        closest: (sel: string) =>
          link && (sel !== 'a[download]' || link.download !== undefined)
            ? { href: link.href, getAttribute: (n: string) => (n === 'download' ? (link.download ?? null) : null) }
            : null,
      },
      preventDefault() {
        this.defaultPrevented = true;
      },
    };
    listeners.forEach((l) => l(ev as unknown as Event));
    return ev;
  };
  return { doc, click, count: () => listeners.size };
}

describe('installDownloadBridge', () => {
  const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 1, 2, 255]);

  it('saves a blob download through SaveAs and keeps the engine out of it', async () => {
    const d = fakeDocument();
    const SaveAs = vi.fn(async (_name: string, _data: string) => '/home/me/coffee.png');
    const fetchFn = vi.fn(async (_url: string) => new Response(new Blob([png])));
    installDownloadBridge(d.doc, { SaveAs }, fetchFn as unknown as typeof fetch);
    const ev = d.click({ href: 'blob:wails://wails/1234', download: 'coffee.png' });
    expect(ev.defaultPrevented).toBe(true);
    await vi.waitFor(() => expect(SaveAs).toHaveBeenCalledTimes(1));
    expect(fetchFn).toHaveBeenCalledWith('blob:wails://wails/1234');
    const [name, data] = SaveAs.mock.calls[0];
    expect(name).toBe('coffee.png');
    expect(Uint8Array.from(atob(data), (c) => c.charCodeAt(0))).toEqual(png);
  });

  it('leaves ordinary links, other buttons and remote downloads alone', () => {
    const d = fakeDocument();
    const SaveAs = vi.fn(async () => '');
    installDownloadBridge(d.doc, { SaveAs }, vi.fn() as unknown as typeof fetch);
    expect(d.click({ href: 'wails://wails/wait/x' }).defaultPrevented).toBe(false);
    expect(d.click({ href: 'https://example.test/a.png', download: 'a.png' }).defaultPrevented).toBe(false);
    expect(d.click({ href: 'blob:x', download: 'a.png' }, { button: 1 }).defaultPrevented).toBe(false);
    expect(d.click(null).defaultPrevented).toBe(false);
    expect(SaveAs).not.toHaveBeenCalled();
  });

  it('reports a failed save and can be removed', async () => {
    const d = fakeDocument();
    const errors: ApiError[] = [];
    const SaveAs = vi.fn(async () => {
      throw '{"code":"internal","message":"disk full"}';
    });
    const remove = installDownloadBridge(
      d.doc,
      { SaveAs },
      (async () => new Response(new Blob([png]))) as unknown as typeof fetch,
      (e) => errors.push(e),
    );
    d.click({ href: 'data:image/png;base64,AAAA', download: 'x.png' });
    await vi.waitFor(() => expect(errors).toHaveLength(1));
    expect(errors[0]).toMatchObject({ code: 'internal', message: 'disk full' });
    remove();
    expect(d.count()).toBe(0);
  });

  it('is installed by fromWindow when the window has a document and SaveAs', async () => {
    const w = fakeWails();
    const d = fakeDocument();
    const SaveAs = vi.fn(async () => '/tmp/x.png');
    const app = Object.assign({}, w.app, { SaveAs });
    const win: WailsWindow = {
      go: { main: { App: app } },
      runtime: w.runtime,
      document: d.doc,
      fetch: (async () => new Response(new Blob([png]))) as unknown as typeof fetch,
    };
    expect(DesktopBackend.fromWindow(win).kind).toBe('desktop');
    expect(d.count()).toBe(1);
    d.click({ href: 'blob:abc', download: 'me.png' });
    await vi.waitFor(() => expect(SaveAs).toHaveBeenCalledTimes(1));
  });
});

describe('desktopError', () => {
  it('reads structured and plain rejections', () => {
    expect(desktopError('{"code":"too_large","message":"80 MP"}')).toMatchObject({ code: 'too_large', status: 400, message: '80 MP' });
    expect(desktopError(new Error('boom'))).toMatchObject({ code: 'desktop', message: 'boom' });
    const e = new ApiError(404, 'not_found', '');
    expect(desktopError(e)).toBe(e);
  });
});

describe('selectBackend', () => {
  it('picks the desktop backend only when the bindings are there', () => {
    const w = fakeWails();
    const desktopWin = { go: { main: { App: w.app } }, runtime: w.runtime } as WailsWindow;
    expect(hasDesktopBindings(desktopWin)).toBe(true);
    expect(hasDesktopBindings({})).toBe(false);
    expect(hasDesktopBindings({ go: { main: {} } })).toBe(false);
    const pageWin = { fetch, location: { href: 'http://app.test/' } };
    expect(selectBackend(Object.assign({}, pageWin, desktopWin) as never).kind).toBe('desktop');
    expect(selectBackend(pageWin as never)).toBeInstanceOf(WebBackend);
  });
});
