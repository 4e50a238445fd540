import { describe, expect, it } from 'vitest';
import { Router, jobPath, matchRoute, type Route, type RouterWindow } from './router';

describe('matchRoute', () => {
  it('knows the two screens', () => {
    expect(matchRoute('/')).toEqual({ name: 'upload' });
    expect(matchRoute('/index.html')).toEqual({ name: 'upload' });
    expect(matchRoute('/wait/abc')).toEqual({ name: 'job', id: 'abc' });
    expect(matchRoute('/wait/abc/')).toEqual({ name: 'job', id: 'abc' });
    expect(matchRoute('/wait/a%20b')).toEqual({ name: 'job', id: 'a b' });
  });

  it('treats anything else as not found', () => {
    expect(matchRoute('/wait/')).toEqual({ name: 'notfound', path: '/wait/' });
    expect(matchRoute('/wait/a/b')).toEqual({ name: 'notfound', path: '/wait/a/b' });
    expect(matchRoute('/wait/%E0%A4%A')).toEqual({ name: 'notfound', path: '/wait/%E0%A4%A' });
    expect(matchRoute('/api/jobs')).toEqual({ name: 'notfound', path: '/api/jobs' });
  });

  it('round-trips job ids through their path', () => {
    for (const id of ['abc', 'a b', 'x/y', 'ü?#']) {
      expect(matchRoute(jobPath(id))).toEqual({ name: 'job', id });
    }
  });
});

// A stand-in for window: a path, a history stack and event listeners, enough
// to drive the router as a browser would (node has no DOM).
class FakeWindow implements RouterWindow {
  location = { pathname: '/', origin: 'http://app.test' };
  stack: string[] = ['/'];
  index = 0;
  listeners = new Map<string, Set<(e: Event) => void>>();
  history = {
    pushState: (_d: unknown, _u: string, url?: string | URL | null) => {
      this.stack = this.stack.slice(0, this.index + 1);
      this.stack.push(String(url));
      this.index++;
      this.location.pathname = String(url);
    },
    replaceState: (_d: unknown, _u: string, url?: string | URL | null) => {
      this.stack[this.index] = String(url);
      this.location.pathname = String(url);
    },
  };
  addEventListener(type: string, l: (e: Event) => void) {
    if (!this.listeners.has(type)) this.listeners.set(type, new Set());
    this.listeners.get(type)!.add(l);
  }
  removeEventListener(type: string, l: (e: Event) => void) {
    this.listeners.get(type)?.delete(l);
  }
  emit(type: string, e: unknown) {
    for (const l of this.listeners.get(type) ?? []) l(e as Event);
  }
  back() {
    this.index--;
    this.location.pathname = this.stack[this.index];
    this.emit('popstate', {});
  }
}

function click(href: string, extra: Record<string, unknown> = {}, attrs: string[] = []) {
  const anchor = { href: new URL(href, 'http://app.test').href, target: '', hasAttribute: (n: string) => attrs.includes(n), ...extra };
  const ev = {
    defaultPrevented: false,
    button: 0,
    metaKey: false,
    ctrlKey: false,
    shiftKey: false,
    altKey: false,
    target: { closest: () => anchor },
    preventDefault() {
      this.defaultPrevented = true;
    },
    ...extra,
  };
  return ev;
}

function setup(path = '/') {
  const win = new FakeWindow();
  win.location.pathname = path;
  win.stack = [path];
  const seen: [Route, Route][] = [];
  const router = new Router(win, (to, from) => seen.push([to, from]));
  router.start();
  return { win, router, seen };
}

describe('Router', () => {
  it('starts on the route of the current path (a reload of /wait/id)', () => {
    const { router, seen } = setup('/wait/j1');
    expect(router.current).toEqual({ name: 'job', id: 'j1' });
    expect(seen).toEqual([]);
  });

  it('navigate pushes history and reports the change with where it came from', () => {
    const { win, router, seen } = setup();
    router.navigate('/wait/j1');
    expect(win.stack).toEqual(['/', '/wait/j1']);
    expect(seen).toEqual([[{ name: 'job', id: 'j1' }, { name: 'upload' }]]);
    router.navigate('/wait/j1');
    expect(win.stack).toHaveLength(2);
    expect(seen).toHaveLength(1);
  });

  it('replace keeps the history length', () => {
    const { win, router } = setup();
    router.navigate('/wait/j2', { replace: true });
    expect(win.stack).toEqual(['/wait/j2']);
    expect(router.current).toEqual({ name: 'job', id: 'j2' });
  });

  it('follows the back button', () => {
    const { win, router, seen } = setup();
    router.navigate('/wait/j1');
    win.back();
    expect(router.current).toEqual({ name: 'upload' });
    expect(seen[1]).toEqual([{ name: 'upload' }, { name: 'job', id: 'j1' }]);
  });

  it('handles plain clicks on same-origin app links', () => {
    const { win, router } = setup('/wait/j1');
    const ev = click('/');
    win.emit('click', ev);
    expect(ev.defaultPrevented).toBe(true);
    expect(router.current).toEqual({ name: 'upload' });
  });

  it('leaves other clicks to the browser', () => {
    const { win, router } = setup();
    const cases = [
      click('/wait/x', { ctrlKey: true }),
      click('/wait/x', { button: 1 }),
      click('/wait/x', { target: { closest: () => ({ href: 'http://app.test/wait/x', target: '_blank', hasAttribute: () => false }) } }),
      click('/wait/x', {}, ['download']),
      click('https://elsewhere.test/wait/x'),
      click('/api/jobs/x/result'),
      click('/wait/x', { target: { closest: () => null } }),
    ];
    for (const ev of cases) {
      win.emit('click', ev);
      expect(ev.defaultPrevented).toBe(false);
    }
    expect(router.current).toEqual({ name: 'upload' });
  });

  it('stops listening after stop', () => {
    const { win, router, seen } = setup();
    router.stop();
    win.history.pushState(null, '', '/wait/z');
    win.emit('popstate', {});
    expect(seen).toEqual([]);
    expect(win.listeners.get('popstate')?.size).toBe(0);
  });
});
