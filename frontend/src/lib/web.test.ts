import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiError, type JobState } from './api';
import type { ConnectionState } from './backend';
import { JobWatcher, WebBackend, type SocketLike, type WatchTuning } from './web';

// Node has no WebSocket server here and the Go server is built elsewhere, so
// these unit tests drive the watcher's state machine with a scripted socket
// and a scripted GET. The real socket is covered by the end-to-end tests.
class FakeSocket implements SocketLike {
  onopen: ((ev: Event) => void) | null = null;
  onmessage: ((ev: MessageEvent) => void) | null = null;
  onerror: ((ev: Event) => void) | null = null;
  onclose: ((ev: CloseEvent) => void) | null = null;
  closedByClient: number | undefined;
  constructor(readonly url: string) {}
  open() {
    this.onopen?.({} as Event);
  }
  send(msg: unknown) {
    this.onmessage?.({ data: typeof msg === 'string' ? msg : JSON.stringify(msg) } as MessageEvent);
  }
  fail() {
    this.onerror?.({} as Event);
    this.onclose?.({ code: 1006 } as CloseEvent);
  }
  close(code?: number) {
    this.closedByClient = code ?? 1005;
  }
}

const tuning: WatchTuning = {
  reconnectBaseMs: 100,
  reconnectMaxMs: 1000,
  failuresBeforePolling: 2,
  pollIntervalMs: 500,
};

const status = (s: JobState['status'], extra: Record<string, unknown> = {}) => ({ type: 'status', id: 'j1', status: s, ...extra });

function setup(opts: { sockets?: boolean; getJob?: (id: string) => Promise<JobState> } = {}) {
  const sockets: FakeSocket[] = [];
  const jobs: JobState[] = [];
  const states: ConnectionState[] = [];
  const getJob = vi.fn(opts.getJob ?? (async (id: string) => ({ id, status: 'queued' as const })));
  const watcher = new JobWatcher(
    'j1',
    { job: (j) => jobs.push(j), connection: (c) => states.push(c) },
    {
      api: { getJob },
      openSocket:
        opts.sockets === false
          ? null
          : (url) => {
              const s = new FakeSocket(url);
              sockets.push(s);
              return s;
            },
      socketUrl: 'ws://app.test/ws/jobs/j1',
      timers: { setTimeout: (f, ms) => setTimeout(f, ms), clearTimeout: (h) => clearTimeout(h as number) },
      random: () => 1, // full backoff, so the delays below are exact
      tuning,
    },
  );
  return { watcher, sockets, jobs, states, getJob };
}

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

describe('JobWatcher over the websocket', () => {
  it('reports each state from the socket, and keeps it open after done until stopped', () => {
    const { watcher, sockets, jobs, states, getJob } = setup();
    watcher.start();
    expect(sockets).toHaveLength(1);
    expect(sockets[0].url).toBe('ws://app.test/ws/jobs/j1');
    sockets[0].open();
    sockets[0].send(status('queued'));
    sockets[0].send(status('processing', { progress: 0.5 }));
    sockets[0].send(status('done', { result_url: '/api/jobs/j1/result' }));

    expect(jobs.map((j) => j.status)).toEqual(['queued', 'processing', 'done']);
    expect(jobs[1].progress).toBe(0.5);
    expect(jobs[2].resultUrl).toBe('/api/jobs/j1/result');
    // The open socket tells the server the result's page is still shown; it
    // deletes the job a grace period after the socket closes.
    expect(sockets[0].closedByClient).toBeUndefined();
    expect(states).toEqual(['live']);
    expect(getJob).not.toHaveBeenCalled();
    expect(vi.getTimerCount()).toBe(0);

    watcher.stop();
    expect(sockets[0].closedByClient).toBe(1000);
    expect(states).toEqual(['live', 'closed']);
  });

  it('after done reports nothing more, and does not reconnect or poll when the socket drops', async () => {
    const { watcher, sockets, jobs, states, getJob } = setup();
    watcher.start();
    sockets[0].open();
    sockets[0].send(status('done'));
    // Say the job was deleted from another tab: the page keeps its result.
    sockets[0].send(status('failed', { error: { code: 'not_found', message: 'job not found' } }));
    expect(jobs.map((j) => j.status)).toEqual(['done']);

    sockets[0].fail();
    expect(states.at(-1)).toBe('closed');
    await vi.advanceTimersByTimeAsync(10_000);
    expect(sockets).toHaveLength(1);
    expect(getJob).not.toHaveBeenCalled();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('done from a poll stops the polls and reconnects, and keeps a socket that is being opened', async () => {
    const answers: JobState['status'][] = ['processing', 'done'];
    const { watcher, sockets, jobs, states, getJob } = setup({
      getJob: async (id) => ({ id, status: answers.shift() ?? 'done' }),
    });
    watcher.start();
    sockets[0].fail(); // failure 1: reconnect in 100 ms
    await vi.advanceTimersByTimeAsync(100);
    sockets[1].fail(); // failure 2: a poll now, the next in 500 ms; a reconnect in 200 ms
    await vi.advanceTimersByTimeAsync(200);
    expect(sockets).toHaveLength(3); // connecting
    await vi.advanceTimersByTimeAsync(300);
    expect(jobs.map((j) => j.status)).toEqual(['processing', 'done']);
    expect(getJob).toHaveBeenCalledTimes(2);
    expect(vi.getTimerCount()).toBe(0);
    expect(sockets[2].closedByClient).toBeUndefined();

    // The server's first message on it is the state already reported.
    sockets[2].open();
    sockets[2].send(status('done'));
    expect(jobs).toHaveLength(2);
    sockets[2].fail();
    expect(states.at(-1)).toBe('closed');
    await vi.advanceTimersByTimeAsync(10_000);
    expect(sockets).toHaveLength(3);
    expect(getJob).toHaveBeenCalledTimes(2);
  });

  it('ignores messages for other jobs, junk, and stale states', () => {
    const { watcher, sockets, jobs } = setup();
    watcher.start();
    sockets[0].send('garbage');
    sockets[0].send({ type: 'status', id: 'other', status: 'done' });
    sockets[0].send(status('processing'));
    sockets[0].send(status('processing'));
    sockets[0].send(status('queued'));
    expect(jobs).toEqual([{ id: 'j1', status: 'processing' }]);
  });

  it('reconnects with a growing delay after the socket drops', () => {
    const { watcher, sockets, states, getJob } = setup();
    watcher.start();
    sockets[0].open();
    sockets[0].send(status('processing'));
    sockets[0].fail();
    expect(states.at(-1)).toBe('reconnecting');

    vi.advanceTimersByTime(99);
    expect(sockets).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(sockets).toHaveLength(2);

    // A message resets the failure count and the state: the next drop waits
    // the first delay again and does not start polling.
    sockets[1].send(status('processing', { progress: 0.7 }));
    expect(states.at(-1)).toBe('live');
    sockets[1].fail();
    expect(states.at(-1)).toBe('reconnecting');
    vi.advanceTimersByTime(100);
    expect(sockets).toHaveLength(3);
    expect(getJob).not.toHaveBeenCalled();
  });

  it('falls back to polling after repeated failures, then back to live when the socket recovers', async () => {
    const { watcher, sockets, jobs, states, getJob } = setup({
      getJob: async (id) => ({ id, status: 'processing', progress: 0.25 }),
    });
    watcher.start();
    sockets[0].fail(); // failure 1: reconnect in 100 ms
    expect(getJob).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(100);
    expect(sockets).toHaveLength(2);
    sockets[1].fail(); // failure 2: polling starts at once, reconnect in 200 ms
    expect(states).toContain('polling');
    await vi.advanceTimersByTimeAsync(0);
    expect(getJob).toHaveBeenCalledTimes(1);
    expect(jobs).toEqual([{ id: 'j1', status: 'processing', progress: 0.25 }]);

    await vi.advanceTimersByTimeAsync(200);
    expect(sockets).toHaveLength(3);
    sockets[2].open();
    sockets[2].send(status('processing', { progress: 0.9 }));
    expect(states.at(-1)).toBe('live');
    const polls = getJob.mock.calls.length;
    await vi.advanceTimersByTimeAsync(5 * tuning.pollIntervalMs);
    expect(getJob).toHaveBeenCalledTimes(polls);
    sockets[2].send(status('done'));
    expect(jobs.map((j) => j.progress ?? j.status)).toEqual([0.25, 0.9, 'done']);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('counts a socket that opens and closes without a word as a failure', async () => {
    const { watcher, sockets, states } = setup();
    watcher.start();
    sockets[0].open();
    sockets[0].fail();
    await vi.advanceTimersByTimeAsync(100);
    sockets[1].open();
    sockets[1].fail();
    expect(states).toContain('polling');
    watcher.stop();
  });

  it('caps the reconnect delay', async () => {
    const { watcher, sockets } = setup({ getJob: () => new Promise(() => {}) });
    watcher.start();
    const delays = [100, 200, 400, 800, 1000, 1000];
    for (const [i, d] of delays.entries()) {
      sockets[i].fail();
      await vi.advanceTimersByTimeAsync(d - 1);
      expect(sockets).toHaveLength(i + 1);
      await vi.advanceTimersByTimeAsync(1);
      expect(sockets).toHaveLength(i + 2);
    }
    watcher.stop();
  });

  it('spreads reconnects with jitter between half and all of the backoff', () => {
    const sockets: FakeSocket[] = [];
    const w = new JobWatcher('j1', { job: () => {} }, {
      api: { getJob: async () => new Promise<JobState>(() => {}) },
      openSocket: (u) => {
        const s = new FakeSocket(u);
        sockets.push(s);
        return s;
      },
      socketUrl: 'ws://x/ws/jobs/j1',
      timers: { setTimeout: (f, ms) => setTimeout(f, ms), clearTimeout: (h) => clearTimeout(h as number) },
      random: () => 0,
      tuning,
    });
    w.start();
    sockets[0].fail();
    vi.advanceTimersByTime(49);
    expect(sockets).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(sockets).toHaveLength(2);
    w.stop();
  });
});

describe('JobWatcher polling', () => {
  it('polls only when there is no WebSocket, one request at a time, until done', async () => {
    const answers: JobState['status'][] = ['queued', 'queued', 'processing', 'done'];
    let inFlight = 0;
    let maxInFlight = 0;
    const { watcher, jobs, states, getJob } = setup({
      sockets: false,
      getJob: async (id) => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise((r) => setTimeout(r, 800)); // slower than the interval
        inFlight--;
        return { id, status: answers.shift()! };
      },
    });
    watcher.start();
    expect(states).toEqual(['polling']);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(jobs.map((j) => j.status)).toEqual(['queued', 'processing', 'done']);
    expect(getJob).toHaveBeenCalledTimes(4);
    expect(maxInFlight).toBe(1);
    expect(states.at(-1)).toBe('closed');
    expect(vi.getTimerCount()).toBe(0);
  });

  it('reports a job that is gone (404) as failed with not_found', async () => {
    const { watcher, jobs, states } = setup({
      sockets: false,
      getJob: async () => {
        throw new ApiError(404, 'not_found', 'no such job');
      },
    });
    watcher.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(jobs).toEqual([{ id: 'j1', status: 'failed', error: { code: 'not_found', message: 'no such job' } }]);
    expect(states.at(-1)).toBe('closed');
  });

  it('keeps polling through network errors and 5xx', async () => {
    let n = 0;
    const { watcher, jobs, getJob } = setup({
      sockets: false,
      getJob: async (id) => {
        n++;
        if (n === 1) throw new ApiError(0, 'network', 'offline');
        if (n === 2) throw new ApiError(503, 'server_error', '');
        return { id, status: 'done' };
      },
    });
    watcher.start();
    await vi.advanceTimersByTimeAsync(2 * tuning.pollIntervalMs);
    expect(getJob).toHaveBeenCalledTimes(3);
    expect(jobs).toEqual([{ id: 'j1', status: 'done' }]);
  });

  it('stop() ends everything: no callbacks, no timers, socket closed', async () => {
    const { watcher, sockets, jobs, getJob } = setup({ getJob: async (id) => ({ id, status: 'processing' }) });
    watcher.start();
    sockets[0].fail();
    await vi.advanceTimersByTimeAsync(100);
    sockets[1].fail(); // now polling and reconnecting
    watcher.stop();
    const calls = getJob.mock.calls.length;
    const seen = jobs.length;
    await vi.advanceTimersByTimeAsync(10_000);
    expect(getJob).toHaveBeenCalledTimes(calls);
    expect(jobs).toHaveLength(seen);
    expect(sockets).toHaveLength(2);
    expect(vi.getTimerCount()).toBe(0);
    // A late message on an old socket changes nothing.
    sockets[1].send(status('done'));
    expect(jobs).toHaveLength(seen);
  });

  it('falls back to polling when the socket cannot even be created', async () => {
    const jobs: JobState[] = [];
    const w = new JobWatcher('j1', { job: (j) => jobs.push(j) }, {
      api: { getJob: async (id) => ({ id, status: 'done' }) },
      openSocket: () => {
        throw new DOMException('blocked', 'SecurityError');
      },
      socketUrl: 'ws://x',
      timers: { setTimeout: (f, ms) => setTimeout(f, ms), clearTimeout: (h) => clearTimeout(h as number) },
      random: () => 1,
      tuning: { ...tuning, failuresBeforePolling: 1 },
    });
    w.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(jobs).toEqual([{ id: 'j1', status: 'done' }]);
  });
});

describe('WebBackend', () => {
  it('says the server deletes the image when the page is left', () => {
    expect(new WebBackend({ fetch: vi.fn() as unknown as typeof fetch, pageUrl: 'https://app.test/' }).privacyNote()).toMatch(/deleted from the server when you leave/);
  });

  it('wires the watcher to the page origin and the HTTP API', async () => {
    const urls: string[] = [];
    const fetchFn = vi.fn(async (u: RequestInfo | URL) => {
      urls.push(String(u));
      return new Response(JSON.stringify({ id: 'j 1', status: 'processing' }), { status: 200 });
    });
    const opened: string[] = [];
    const sockets: FakeSocket[] = [];
    const b = new WebBackend({
      fetch: fetchFn as unknown as typeof fetch,
      pageUrl: 'https://app.test/wait/j%201',
      openSocket: (u) => {
        opened.push(u);
        const s = new FakeSocket(u);
        sockets.push(s);
        return s;
      },
      random: () => 1,
      tuning: { failuresBeforePolling: 1 },
    });
    const jobs: JobState[] = [];
    const stop = b.watch('j 1', { job: (j) => jobs.push(j) });
    expect(opened).toEqual(['wss://app.test/ws/jobs/j%201']);
    sockets[0].fail();
    await vi.advanceTimersByTimeAsync(0);
    expect(urls).toEqual(['/api/jobs/j%201']);
    expect(jobs).toEqual([{ id: 'j 1', status: 'processing' }]);
    stop();
    expect(vi.getTimerCount()).toBe(0);
  });
});
