import { describe, expect, it } from 'vitest';
import { Session } from './session';

describe('Session', () => {
  it('keeps an object URL per job and revokes it when forgotten or replaced', () => {
    const live = new Set<string>();
    let n = 0;
    const urls = {
      createObjectURL: () => {
        const u = `blob:${++n}`;
        live.add(u);
        return u;
      },
      revokeObjectURL: (u: string) => void live.delete(u),
    };
    const s = new Session(urls);
    const opts = { maskOnly: false, bgColor: '', crop: true };
    const a = s.add('a', new Blob(['x']), 'a.jpg', opts);
    opts.crop = false; // the session keeps its own copy
    expect(s.get('a')).toEqual({ filename: 'a.jpg', options: { maskOnly: false, bgColor: '', crop: true }, beforeUrl: a.beforeUrl });
    s.add('a', new Blob(['y']), 'a2.jpg', opts);
    expect(live.size).toBe(1);
    s.forget('a');
    s.forget('missing');
    expect(s.get('a')).toBeUndefined();
    expect(live.size).toBe(0);
  });
});
