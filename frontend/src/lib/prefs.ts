// The upload options a user chose last time, kept in localStorage so the next
// photo gets the same treatment. Bad or missing data falls back to defaults.

import { DEFAULT_OPTIONS, normalizeColor, type RemoveOptions } from './api';

const KEY = 'backless.options.v1';

export type StorageLike = Pick<Storage, 'getItem' | 'setItem'>;

export function loadOptions(storage: StorageLike | null): RemoveOptions {
  if (!storage) return { ...DEFAULT_OPTIONS };
  try {
    const raw = storage.getItem(KEY);
    if (!raw) return { ...DEFAULT_OPTIONS };
    const v = JSON.parse(raw) as Partial<Record<keyof RemoveOptions, unknown>>;
    return {
      maskOnly: v.maskOnly === true,
      bgColor: typeof v.bgColor === 'string' ? normalizeColor(v.bgColor) : '',
      crop: v.crop === true,
    };
  } catch {
    return { ...DEFAULT_OPTIONS };
  }
}

export function saveOptions(storage: StorageLike | null, opts: RemoveOptions): void {
  if (!storage) return;
  try {
    storage.setItem(KEY, JSON.stringify({ maskOnly: opts.maskOnly, bgColor: normalizeColor(opts.bgColor), crop: opts.crop }));
  } catch {
    // Private mode or a full quota: the options just are not remembered.
  }
}

/** localStorage if this page may use it. */
export function browserStorage(): StorageLike | null {
  try {
    return typeof localStorage === 'undefined' ? null : localStorage;
  } catch {
    return null;
  }
}
