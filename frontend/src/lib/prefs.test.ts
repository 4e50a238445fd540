import { describe, expect, it } from 'vitest';
import { DEFAULT_OPTIONS } from './api';
import { loadOptions, saveOptions, type StorageLike } from './prefs';

// A Map behind the two Storage methods the code uses (node has no localStorage).
function memoryStorage(): StorageLike & { data: Map<string, string> } {
  const data = new Map<string, string>();
  return {
    data,
    getItem: (k) => data.get(k) ?? null,
    setItem: (k, v) => void data.set(k, v),
  };
}

describe('prefs', () => {
  it('remembers the options', () => {
    const s = memoryStorage();
    saveOptions(s, { maskOnly: true, bgColor: '#ABC', crop: true });
    expect(loadOptions(s)).toEqual({ maskOnly: true, bgColor: '#aabbcc', crop: true });
  });

  it('falls back to the defaults on missing, broken or hostile data', () => {
    const s = memoryStorage();
    expect(loadOptions(s)).toEqual(DEFAULT_OPTIONS);
    expect(loadOptions(null)).toEqual(DEFAULT_OPTIONS);
    s.data.set('backless.options.v1', '{not json');
    expect(loadOptions(s)).toEqual(DEFAULT_OPTIONS);
    s.data.set('backless.options.v1', JSON.stringify({ maskOnly: 'yes', bgColor: 'url(x)', crop: 1 }));
    expect(loadOptions(s)).toEqual(DEFAULT_OPTIONS);
  });

  it('survives a storage that throws', () => {
    const s: StorageLike = {
      getItem: () => {
        throw new Error('denied');
      },
      setItem: () => {
        throw new Error('quota');
      },
    };
    expect(() => saveOptions(s, DEFAULT_OPTIONS)).not.toThrow();
    expect(loadOptions(s)).toEqual(DEFAULT_OPTIONS);
  });
});
