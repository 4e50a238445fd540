// Client-side checks of a chosen file before it is uploaded. The server checks
// again (it must); these exist to give a clear message without a round trip.

import { ACCEPTED_TYPES, LIMITS, formatBytes } from './api';

export type Validation = { ok: true; type: string } | { ok: false; message: string };

/**
 * The image type from a file's first bytes, or "" if it is none we accept.
 * Browsers leave File.type empty for pasted or dragged data often enough, and a
 * name's extension can lie, so the bytes decide.
 */
export function sniffType(head: Uint8Array): string {
  const b = head;
  const at = (i: number, ...bytes: number[]) => bytes.every((x, k) => b[i + k] === x);
  if (at(0, 0xff, 0xd8, 0xff)) return 'image/jpeg';
  if (at(0, 0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return 'image/png';
  if (at(0, 0x52, 0x49, 0x46, 0x46) && at(8, 0x57, 0x45, 0x42, 0x50)) return 'image/webp';
  if (at(0, 0x47, 0x49, 0x46, 0x38) && (at(4, 0x37, 0x61) || at(4, 0x39, 0x61))) return 'image/gif';
  return '';
}

function acceptedList(): string {
  const names = Object.values(ACCEPTED_TYPES);
  return names.slice(0, -1).join(', ') + ' or ' + names[names.length - 1];
}

/** Checks size and type of a file the user chose, dropped or pasted. */
export async function validateFile(file: Blob, maxBytes: number = LIMITS.maxBytes): Promise<Validation> {
  if (file.size === 0) {
    return { ok: false, message: 'That file is empty. Please choose a photo.' };
  }
  if (file.size > maxBytes) {
    return {
      ok: false,
      message: `That file is ${formatBytes(file.size)}; the limit is ${formatBytes(maxBytes)}. Please choose a smaller photo.`,
    };
  }
  const head = new Uint8Array(await file.slice(0, 16).arrayBuffer());
  const type = sniffType(head);
  if (!type) {
    const what = file.type ? ` (${file.type})` : '';
    return {
      ok: false,
      message: `That file${what} is not a picture we can read. Please choose a ${acceptedList()} image.`,
    };
  }
  return { ok: true, type };
}

/** The `accept` attribute of the file input. */
export const ACCEPT_ATTR = Object.keys(ACCEPTED_TYPES).join(',');

/** The first file from a drop or paste, or null. */
export function firstFile(data: DataTransfer | null): File | null {
  if (!data) return null;
  if (data.files && data.files.length > 0) return data.files[0];
  for (const item of Array.from(data.items ?? [])) {
    if (item.kind === 'file') {
      const f = item.getAsFile();
      if (f) return f;
    }
  }
  return null;
}
