import { describe, expect, it } from 'vitest';
import { checkSettings, normalizeServerURL, serverURLProblem } from './settingsform';

// The same cases as desktop/internal/settings' Normalize accepts and refuses.
describe('settings form', () => {
  it('normalizes the address as the Go side stores it', () => {
    expect(normalizeServerURL('  https://b.example.com/// ')).toBe('https://b.example.com');
    expect(normalizeServerURL('')).toBe('');
  });

  it('accepts plain http(s) addresses, with a port or a path', () => {
    for (const u of ['http://127.0.0.1:8080', 'https://b.example.com', 'https://b.example.com/backless/', '']) {
      expect(serverURLProblem(u), u).toBe('');
    }
  });

  it('refuses what the Go side refuses, with words', () => {
    expect(serverURLProblem('b.example.com')).toMatch(/full address/);
    expect(serverURLProblem('ftp://b.example.com')).toMatch(/http:\/\/ or https:\/\//);
    expect(serverURLProblem('https://b.example.com/?x=1')).toMatch(/without \?/);
    expect(serverURLProblem('https://b.example.com/#top')).toMatch(/without \?/);
    expect(serverURLProblem('https://me:pw@b.example.com')).toMatch(/user name/);
  });

  it('needs an address for cloud mode only', () => {
    expect(checkSettings('local', '')).toEqual({ ok: true, value: { mode: 'local', server_url: '' } });
    expect(checkSettings('cloud', ' ')).toEqual({
      ok: false,
      field: 'server_url',
      message: 'Cloud mode needs the address of a Backless server.',
    });
    expect(checkSettings('cloud', 'https://b.example.com/', '/home/me')).toEqual({
      ok: true,
      value: { mode: 'cloud', server_url: 'https://b.example.com', save_dir: '/home/me' },
    });
    // A bad address is refused in local mode too: it would be saved.
    expect(checkSettings('local', 'nope').ok).toBe(false);
  });
});
