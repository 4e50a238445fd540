// Chooses the backend once, at start: inside the Wails shell the bindings are
// on window.go; anywhere else the page talks to the server it came from.

import type { Backend } from './backend';
import { DesktopBackend, hasDesktopBindings, type WailsWindow } from './desktop';
import { WebBackend } from './web';

export function selectBackend(win: Window & WailsWindow): Backend {
  if (hasDesktopBindings(win)) return DesktopBackend.fromWindow(win);
  return new WebBackend({
    fetch: win.fetch.bind(win),
    pageUrl: win.location.href,
  });
}
