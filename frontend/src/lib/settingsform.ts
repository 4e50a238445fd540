// The desktop settings panel's checks, the same rules as the Go side's
// settings.Normalize (desktop/internal/settings), so a mistake is shown at the
// field before anything is sent. The Go side checks again and also asks the
// server whether it answers.

import type { DesktopSettings } from './desktop';

export type SettingsCheck =
  | { ok: true; value: DesktopSettings }
  | { ok: false; field: 'server_url'; message: string };

/** Trims the address and drops trailing slashes, as the Go side stores it. */
export function normalizeServerURL(raw: string): string {
  return raw.trim().replace(/\/+$/, '');
}

/** "" when the address is acceptable (or empty), else what is wrong with it. */
export function serverURLProblem(raw: string): string {
  const s = normalizeServerURL(raw);
  if (s === '') return '';
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    return 'Enter a full address such as https://backless.example.com.';
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return 'The address must start with http:// or https://.';
  if (u.hostname === '') return 'The address has no host name.';
  if (u.search !== '' || u.hash !== '' || u.username !== '' || u.password !== '' || /[?#@]/.test(s)) {
    return 'Enter just the server’s address, without ?, # or a user name.';
  }
  return '';
}

/** Checks the form; cloud mode needs an address, and any address given must be valid. */
export function checkSettings(mode: DesktopSettings['mode'], serverURL: string, saveDir?: string): SettingsCheck {
  const url = normalizeServerURL(serverURL);
  const problem = serverURLProblem(url);
  if (problem) return { ok: false, field: 'server_url', message: problem };
  if (mode === 'cloud' && url === '') {
    return { ok: false, field: 'server_url', message: 'Cloud mode needs the address of a Backless server.' };
  }
  const value: DesktopSettings = { mode, server_url: url };
  if (saveDir) value.save_dir = saveDir;
  return { ok: true, value };
}
