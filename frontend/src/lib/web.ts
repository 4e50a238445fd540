// The web backend: HTTP for requests, a websocket for a job's live status,
// with automatic reconnects and a polling fallback when the socket keeps failing
// (proxies that drop websockets, a server restart, a flaky network).

import { ApiError, HttpApi, isTerminal, parseEvent, statusRank, wsUrl, type JobState, type RemoveOptions } from './api';
import type { Backend, ConnectionState, WatchHandlers } from './backend';

/** The part of the WebSocket API the watcher uses. */
export interface SocketLike {
  onopen: ((ev: Event) => void) | null;
  onmessage: ((ev: MessageEvent) => void) | null;
  onerror: ((ev: Event) => void) | null;
  onclose: ((ev: CloseEvent) => void) | null;
  close(code?: number, reason?: string): void;
}

export type SocketFactory = (url: string) => SocketLike;

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface WatchTuning {
  /** First reconnect delay; doubles per failure up to reconnectMaxMs. */
  reconnectBaseMs: number;
  reconnectMaxMs: number;
  /** Consecutive socket failures after which polling starts alongside reconnects. */
  failuresBeforePolling: number;
  pollIntervalMs: number;
}

export const DEFAULT_TUNING: WatchTuning = {
  reconnectBaseMs: 500,
  reconnectMaxMs: 10_000,
  failuresBeforePolling: 2,
  pollIntervalMs: 2_000,
};

export interface WatcherDeps {
  api: Pick<HttpApi, 'getJob'>;
  /** Opens a socket; null when the platform has no WebSocket (then only polling is used). */
  openSocket: SocketFactory | null;
  socketUrl: string;
  timers: Timers;
  /** 0..1; spreads reconnects of many clients after a server restart. */
  random: () => number;
  tuning: WatchTuning;
}

/**
 * Follows one job. States:
 *   connecting → live (socket open and talking)
 *   socket fails → reconnecting (backoff), and after `failuresBeforePolling`
 *   failures in a row → polling (GET every pollIntervalMs while reconnects go on)
 *   a message on the socket → live again, polling stops
 *   done/failed from either source → finished: nothing more is reported,
 *   polling and reconnects stop, but an open socket stays open until stop()
 *   (see finish()); with no socket, or when it closes → closed
 *   stop() → closed.
 * A socket that opens but closes without a message counts as a failure, so a
 * server that refuses a job's socket still leads to polling (which sees a 404).
 */
export class JobWatcher {
  private readonly id: string;
  private readonly handlers: WatchHandlers;
  private readonly deps: WatcherDeps;
  private socket: SocketLike | null = null;
  private reconnectTimer: unknown = null;
  private pollTimer: unknown = null;
  private polling = false;
  private pollInFlight: AbortController | null = null;
  private failures = 0;
  private stateValue: ConnectionState = 'connecting';
  private last: JobState | null = null;
  private finished = false;
  private closed = false;

  constructor(id: string, handlers: WatchHandlers, deps: WatcherDeps) {
    this.id = id;
    this.handlers = handlers;
    this.deps = deps;
  }

  get state(): ConnectionState {
    return this.stateValue;
  }

  get lastJob(): JobState | null {
    return this.last;
  }

  start(): void {
    this.setState('connecting');
    if (!this.deps.openSocket) {
      this.startPolling();
      return;
    }
    this.connect();
  }

  stop(): void {
    if (this.closed) return;
    this.closed = true;
    this.clearReconnect();
    this.stopPolling();
    this.dropSocket();
    this.setState('closed');
  }

  private setState(s: ConnectionState): void {
    if (this.stateValue === s) return;
    this.stateValue = s;
    this.handlers.connection?.(s);
  }

  private connect(): void {
    if (this.closed || !this.deps.openSocket) return;
    let ws: SocketLike;
    try {
      ws = this.deps.openSocket(this.deps.socketUrl);
    } catch {
      this.onSocketFailure();
      return;
    }
    this.socket = ws;
    let heard = false;
    ws.onmessage = (ev) => {
      if (this.socket !== ws) return;
      const job = typeof ev.data === 'string' ? parseEvent(ev.data) : null;
      if (!job || job.id !== this.id) return;
      if (!heard) {
        heard = true;
        this.failures = 0;
        this.stopPolling();
        this.setState('live');
      }
      this.deliver(job);
    };
    ws.onclose = () => {
      if (this.socket !== ws) return;
      this.socket = null;
      if (this.finished) {
        this.stop();
        return;
      }
      this.onSocketFailure();
    };
    // An error is always followed by a close, which does the work.
    ws.onerror = () => {};
  }

  private onSocketFailure(): void {
    if (this.closed) return;
    this.failures++;
    if (this.failures >= this.deps.tuning.failuresBeforePolling && this.deps.tuning.failuresBeforePolling > 0) {
      this.startPolling();
    } else if (!this.polling) {
      this.setState('reconnecting');
    }
    const t = this.deps.tuning;
    const exp = Math.min(t.reconnectMaxMs, t.reconnectBaseMs * 2 ** (this.failures - 1));
    // Between half and all of the backoff.
    const delay = Math.round(exp * (0.5 + 0.5 * this.deps.random()));
    this.clearReconnect();
    this.reconnectTimer = this.deps.timers.setTimeout(() => {
      this.reconnectTimer = null;
      this.connect();
    }, delay);
  }

  private clearReconnect(): void {
    if (this.reconnectTimer !== null) {
      this.deps.timers.clearTimeout(this.reconnectTimer);
      this.reconnectTimer = null;
    }
  }

  private dropSocket(): void {
    const ws = this.socket;
    this.socket = null;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onerror = ws.onclose = null;
      try {
        ws.close(1000, 'done');
      } catch {
        // Closing a socket that never opened may throw in some browsers.
      }
    }
  }

  private startPolling(): void {
    if (this.polling || this.closed) return;
    this.polling = true;
    this.setState('polling');
    void this.poll();
  }

  private stopPolling(): void {
    this.polling = false;
    if (this.pollTimer !== null) {
      this.deps.timers.clearTimeout(this.pollTimer);
      this.pollTimer = null;
    }
    this.pollInFlight?.abort();
    this.pollInFlight = null;
  }

  // One request at a time: the next poll is scheduled when this one ends.
  private async poll(): Promise<void> {
    if (!this.polling || this.closed) return;
    const ctl = new AbortController();
    this.pollInFlight = ctl;
    try {
      const job = await this.deps.api.getJob(this.id, ctl.signal);
      if (ctl.signal.aborted) return;
      this.deliver(job);
    } catch (e) {
      if (ctl.signal.aborted) return;
      if (e instanceof ApiError && e.status === 404) {
        this.deliver({ id: this.id, status: 'failed', error: { code: 'not_found', message: e.message } });
        return;
      }
      // Anything else (network down, 5xx): keep trying.
    } finally {
      if (this.pollInFlight === ctl) this.pollInFlight = null;
    }
    if (!this.polling || this.closed) return;
    this.pollTimer = this.deps.timers.setTimeout(() => {
      this.pollTimer = null;
      void this.poll();
    }, this.deps.tuning.pollIntervalMs);
  }

  private deliver(job: JobState): void {
    if (this.closed || this.finished) return;
    const prev = this.last;
    // A poll answered just before a socket message can be older than it.
    if (prev && statusRank(job.status) < statusRank(prev.status)) return;
    // The socket and a poll can report the same state; say it once.
    if (
      prev &&
      prev.status === job.status &&
      prev.progress === job.progress &&
      prev.resultUrl === job.resultUrl
    ) {
      return;
    }
    this.last = job;
    this.handlers.job(job);
    if (isTerminal(job.status)) this.finish();
  }

  // The job will not change again, so nothing more is reported and no more
  // polls or reconnects are made. An open socket stays open until stop(),
  // though: the server takes an open socket on a finished job as its page still
  // being shown, and deletes the job a grace period after the last one closes
  // (DESIGN.md, "Nothing is kept"; shared/httpapi/reaper.go). Closing it here
  // would delete the result while the user is still looking at it, and a
  // reload after that grace period would find it gone. If the socket drops
  // later it is not reopened: the page still holds the result it fetched.
  private finish(): void {
    if (this.closed) return; // a handler may have stopped the watcher
    this.finished = true;
    this.clearReconnect();
    this.stopPolling();
    if (!this.socket) this.stop();
  }
}

export interface WebBackendOptions {
  fetch: typeof fetch;
  /** The page's URL, to build the websocket's absolute URL. */
  pageUrl: string;
  /** The server's origin when it is not the page's (desktop cloud mode); "" otherwise. */
  base?: string;
  openSocket?: SocketFactory | null;
  timers?: Timers;
  random?: () => number;
  tuning?: Partial<WatchTuning>;
}

export class WebBackend implements Backend {
  readonly kind = 'web' as const;
  readonly api: HttpApi;
  private readonly opts: WebBackendOptions;

  constructor(opts: WebBackendOptions) {
    this.opts = opts;
    this.api = new HttpApi(opts.fetch, opts.base ?? '');
  }

  privacyNote(): string {
    return 'For your privacy, this image is deleted from the server when you leave this page. Download it to keep it.';
  }

  async submit(file: Blob, filename: string, opts: RemoveOptions, signal?: AbortSignal): Promise<string> {
    const job = await this.api.createJob(file, filename, opts, signal);
    return job.id;
  }

  status(id: string, signal?: AbortSignal): Promise<JobState> {
    return this.api.getJob(id, signal);
  }

  watch(id: string, handlers: WatchHandlers): () => void {
    const w = new JobWatcher(id, handlers, {
      api: this.api,
      openSocket: this.opts.openSocket === undefined ? defaultSocketFactory() : this.opts.openSocket,
      socketUrl: wsUrl(id, this.opts.pageUrl, this.opts.base ?? ''),
      timers: this.opts.timers ?? defaultTimers(),
      random: this.opts.random ?? Math.random,
      tuning: { ...DEFAULT_TUNING, ...this.opts.tuning },
    });
    w.start();
    return () => w.stop();
  }

  result(id: string, signal?: AbortSignal): Promise<Blob> {
    return this.api.getResult(id, signal);
  }

  remove(id: string): Promise<void> {
    // keepalive lets the request finish even if the page is being left.
    return this.api.deleteJob(id, true);
  }
}

function defaultSocketFactory(): SocketFactory | null {
  if (typeof WebSocket === 'undefined') return null;
  return (url) => new WebSocket(url);
}

function defaultTimers(): Timers {
  return {
    setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
    clearTimeout: (h) => globalThis.clearTimeout(h as ReturnType<typeof setTimeout>),
  };
}
