import { describe, expect, it } from 'vitest';
import { firstFile, sniffType, validateFile } from './validate';

// Real signatures of each format (the first bytes of real files).
const JPEG = [0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46];
const PNG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d];
const WEBP = [0x52, 0x49, 0x46, 0x46, 0x24, 0, 0, 0, 0x57, 0x45, 0x42, 0x50, 0x56, 0x50, 0x38];
const GIF = [...new TextEncoder().encode('GIF89a'), 1, 0, 1, 0];
const WAV = [0x52, 0x49, 0x46, 0x46, 0x24, 0, 0, 0, 0x57, 0x41, 0x56, 0x45];
const HEIC = [0, 0, 0, 0x18, ...new TextEncoder().encode('ftypheic')];

const file = (bytes: number[], name = 'x', type = '') => new File([new Uint8Array(bytes)], name, { type });

describe('sniffType', () => {
  it('recognises the accepted formats by their bytes', () => {
    expect(sniffType(new Uint8Array(JPEG))).toBe('image/jpeg');
    expect(sniffType(new Uint8Array(PNG))).toBe('image/png');
    expect(sniffType(new Uint8Array(WEBP))).toBe('image/webp');
    expect(sniffType(new Uint8Array(GIF))).toBe('image/gif');
  });

  it('refuses look-alikes and other formats', () => {
    expect(sniffType(new Uint8Array(WAV))).toBe('');
    expect(sniffType(new Uint8Array(HEIC))).toBe('');
    expect(sniffType(new TextEncoder().encode('GIF87b'))).toBe('');
    expect(sniffType(new Uint8Array([0xff, 0xd8]))).toBe('');
    expect(sniffType(new Uint8Array())).toBe('');
  });
});

describe('validateFile', () => {
  it('accepts an image even when the browser gave no type', async () => {
    await expect(validateFile(file(PNG, 'pasted'))).resolves.toEqual({ ok: true, type: 'image/png' });
  });

  it('trusts the bytes over the name and type', async () => {
    const r = await validateFile(file(HEIC, 'photo.jpg', 'image/jpeg'));
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.message).toContain('(image/jpeg)');
      expect(r.message).toContain('JPEG, PNG, WebP or GIF');
    }
  });

  it('refuses an empty file', async () => {
    const r = await validateFile(file([]));
    expect(r).toEqual({ ok: false, message: expect.stringMatching(/empty/) });
  });

  it('refuses a file over the limit before reading it', async () => {
    const r = await validateFile(file([...JPEG, 0, 0, 0, 0, 0, 0]), 10);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message).toBe('That file is 16 bytes; the limit is 10 bytes. Please choose a smaller photo.');
  });

  it('accepts a file exactly at the limit', async () => {
    await expect(validateFile(file(JPEG), JPEG.length)).resolves.toMatchObject({ ok: true });
  });
});

describe('firstFile', () => {
  it('takes files, then file items, else null', () => {
    const f = file(PNG, 'a.png');
    expect(firstFile({ files: [f], items: [] } as unknown as DataTransfer)).toBe(f);
    const items = [
      { kind: 'string', getAsFile: () => null },
      { kind: 'file', getAsFile: () => f },
    ];
    expect(firstFile({ files: [], items } as unknown as DataTransfer)).toBe(f);
    expect(firstFile({ files: [], items: [{ kind: 'string', getAsFile: () => null }] } as unknown as DataTransfer)).toBeNull();
    expect(firstFile(null)).toBeNull();
  });
});
