import { describe, expect, it } from 'vitest';
import { base64ToBytes, blobToBase64, bytesToBase64 } from './base64';

describe('base64', () => {
  it('round-trips bytes across chunk boundaries', async () => {
    // Longer than two chunks and not a multiple of 3, with every byte value.
    const n = 3 * 8192 * 2 + 7;
    const bytes = new Uint8Array(n);
    for (let i = 0; i < n; i++) bytes[i] = (i * 31 + 7) & 0xff;
    const b64 = bytesToBase64(bytes);
    expect(b64).toBe(Buffer.from(bytes).toString('base64'));
    expect(Buffer.from(base64ToBytes(b64)).equals(Buffer.from(bytes))).toBe(true);
    expect(await blobToBase64(new Blob([bytes]))).toBe(b64);
  });

  it('accepts a data URL', () => {
    expect(base64ToBytes('data:image/png;base64,AAEC')).toEqual(new Uint8Array([0, 1, 2]));
  });

  it('handles empty input', () => {
    expect(bytesToBase64(new Uint8Array())).toBe('');
    expect(base64ToBytes('')).toEqual(new Uint8Array());
  });
});
