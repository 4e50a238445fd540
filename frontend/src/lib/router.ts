// A small router on the History API: two screens do not need a dependency.
// It reads and writes only the path; the server (and the desktop shell) serve
// index.html for every route, so a reload of /wait/{id} lands back here.

export type Route =
  | { name: 'upload' }
  | { name: 'job'; id: string }
  | { name: 'notfound'; path: string };

const JOB = /^\/wait\/([^/]+)\/?$/;

export function matchRoute(pathname: string): Route {
  if (pathname === '/' || pathname === '' || pathname === '/index.html') return { name: 'upload' };
  const m = JOB.exec(pathname);
  if (m) {
    try {
      const id = decodeURIComponent(m[1]);
      if (id) return { name: 'job', id };
    } catch {
      // A malformed escape is just an unknown path.
    }
  }
  return { name: 'notfound', path: pathname };
}

export function jobPath(id: string): string {
  return `/wait/${encodeURIComponent(id)}`;
}

export const uploadPath = '/';

/** The parts of `window` the router uses, so tests can hand it a fake. */
export interface RouterWindow {
  location: { pathname: string; origin: string };
  history: {
    pushState(data: unknown, unused: string, url?: string | URL | null): void;
    replaceState(data: unknown, unused: string, url?: string | URL | null): void;
  };
  addEventListener(type: string, listener: (e: Event) => void): void;
  removeEventListener(type: string, listener: (e: Event) => void): void;
}

export type RouteListener = (route: Route, from: Route) => void;

interface ClickLike {
  defaultPrevented: boolean;
  button: number;
  metaKey: boolean;
  ctrlKey: boolean;
  shiftKey: boolean;
  altKey: boolean;
  target: EventTarget | null;
  preventDefault(): void;
}

interface AnchorLike {
  href: string;
  target: string;
  hasAttribute(name: string): boolean;
}

export class Router {
  private readonly win: RouterWindow;
  private readonly listener: RouteListener;
  private route: Route;
  private started = false;

  constructor(win: RouterWindow, listener: RouteListener) {
    this.win = win;
    this.listener = listener;
    this.route = matchRoute(win.location.pathname);
  }

  get current(): Route {
    return this.route;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.win.addEventListener('popstate', this.onPopState);
    this.win.addEventListener('click', this.onClick);
  }

  stop(): void {
    if (!this.started) return;
    this.started = false;
    this.win.removeEventListener('popstate', this.onPopState);
    this.win.removeEventListener('click', this.onClick);
  }

  /** Goes to `path` (same origin). `replace` keeps the history length. */
  navigate(path: string, opts: { replace?: boolean } = {}): void {
    if (path === this.win.location.pathname && !opts.replace) {
      return;
    }
    if (opts.replace) this.win.history.replaceState(null, '', path);
    else this.win.history.pushState(null, '', path);
    this.update();
  }

  private update(): void {
    const next = matchRoute(this.win.location.pathname);
    const from = this.route;
    if (sameRoute(next, from)) return;
    this.route = next;
    this.listener(next, from);
  }

  private readonly onPopState = (): void => {
    this.update();
  };

  // Same-origin links navigate in place; anything a user means to open
  // elsewhere (modifier keys, other buttons, target, download) is left alone.
  private readonly onClick = (ev: Event): void => {
    const e = ev as unknown as ClickLike;
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    const t = e.target as { closest?: (sel: string) => AnchorLike | null } | null;
    const a = t && typeof t.closest === 'function' ? t.closest('a[href]') : null;
    if (!a || (a.target && a.target !== '_self') || a.hasAttribute('download') || a.hasAttribute('data-native')) {
      return;
    }
    let url: URL;
    try {
      url = new URL(a.href, this.win.location.origin);
    } catch {
      return;
    }
    if (url.origin !== this.win.location.origin) return;
    if (matchRoute(url.pathname).name === 'notfound') return;
    e.preventDefault();
    this.navigate(url.pathname);
  };
}

export function sameRoute(a: Route, b: Route): boolean {
  if (a.name !== b.name) return false;
  if (a.name === 'job' && b.name === 'job') return a.id === b.id;
  if (a.name === 'notfound' && b.name === 'notfound') return a.path === b.path;
  return true;
}
