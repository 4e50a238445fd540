// A small PNG reader for the end-to-end test: enough to check what the server
// sends and what Chromium's screenshots hold without a decoding library. It
// reads 8-bit, non-interlaced greyscale, RGB, grey+alpha and RGBA images (what
// Go's image/png and Chromium write) and refuses anything else with an error.

import { inflateSync } from 'node:zlib';

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** Channels per pixel by PNG colour type. */
const CHANNELS = { 0: 1, 2: 3, 4: 2, 6: 4 };

/**
 * The header fields of a PNG.
 * @param {Uint8Array} bytes
 */
export function readHeader(bytes) {
  if (bytes.length < 33 || !SIGNATURE.every((b, i) => bytes[i] === b)) {
    throw new Error('not a PNG (bad signature)');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = String.fromCharCode(...bytes.subarray(12, 16));
  if (type !== 'IHDR') throw new Error(`first PNG chunk is ${type}, not IHDR`);
  return {
    width: view.getUint32(16),
    height: view.getUint32(20),
    bitDepth: bytes[24],
    colorType: bytes[25],
    interlace: bytes[28],
  };
}

/**
 * Decodes a PNG into its raw samples, one row after another without filter bytes.
 * @param {Uint8Array} bytes
 * @returns {{ width: number, height: number, colorType: number, channels: number, data: Uint8Array }}
 */
export function decode(bytes) {
  const h = readHeader(bytes);
  const channels = CHANNELS[h.colorType];
  if (h.bitDepth !== 8 || channels === undefined || h.interlace !== 0) {
    throw new Error(`unsupported PNG: bit depth ${h.bitDepth}, colour type ${h.colorType}, interlace ${h.interlace}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const idat = [];
  for (let at = 8; at + 8 <= bytes.length; ) {
    const len = view.getUint32(at);
    const type = String.fromCharCode(...bytes.subarray(at + 4, at + 8));
    if (type === 'IDAT') idat.push(bytes.subarray(at + 8, at + 8 + len));
    if (type === 'IEND') break;
    at += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = h.width * channels;
  if (raw.length !== h.height * (stride + 1)) {
    throw new Error(`PNG data is ${raw.length} bytes, want ${h.height * (stride + 1)}`);
  }
  const out = new Uint8Array(h.height * stride);
  for (let y = 0; y < h.height; y++) {
    const filter = raw[y * (stride + 1)];
    const src = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const row = out.subarray(y * stride, (y + 1) * stride);
    const up = y > 0 ? out.subarray((y - 1) * stride, y * stride) : null;
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? row[x - channels] : 0;
      const b = up ? up[x] : 0;
      const c = up && x >= channels ? up[x - channels] : 0;
      let pred;
      switch (filter) {
        case 0: pred = 0; break;
        case 1: pred = a; break;
        case 2: pred = b; break;
        case 3: pred = (a + b) >> 1; break;
        case 4: pred = paeth(a, b, c); break;
        default: throw new Error(`bad PNG filter ${filter} in row ${y}`);
      }
      row[x] = (src[x] + pred) & 0xff;
    }
  }
  return { width: h.width, height: h.height, colorType: h.colorType, channels, data: out };
}

function paeth(a, b, c) {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/**
 * The alpha samples of a decoded image with an alpha channel.
 * @param {ReturnType<typeof decode>} img
 */
export function alphaOf(img) {
  if (img.colorType !== 4 && img.colorType !== 6) throw new Error(`colour type ${img.colorType} has no alpha`);
  const n = img.width * img.height;
  const alpha = new Uint8Array(n);
  for (let i = 0; i < n; i++) alpha[i] = img.data[i * img.channels + img.channels - 1];
  return alpha;
}

/**
 * The standard deviation of the luma of a decoded image, 0 for a blank one.
 * @param {ReturnType<typeof decode>} img
 */
export function lumaSpread(img) {
  const n = img.width * img.height;
  const grey = img.channels < 3;
  let sum = 0;
  let sq = 0;
  for (let i = 0; i < n; i++) {
    const p = i * img.channels;
    const y = grey ? img.data[p] : 0.299 * img.data[p] + 0.587 * img.data[p + 1] + 0.114 * img.data[p + 2];
    sum += y;
    sq += y * y;
  }
  const mean = sum / n;
  return Math.sqrt(Math.max(0, sq / n - mean * mean));
}

/**
 * The share of pixels (0..1) whose colour differs between two decoded images of the same size and layout.
 * @param {ReturnType<typeof decode>} a
 * @param {ReturnType<typeof decode>} b
 */
export function differingShare(a, b) {
  if (a.width !== b.width || a.height !== b.height || a.channels !== b.channels) return 1;
  const n = a.width * a.height;
  let diff = 0;
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < a.channels; c++) {
      if (a.data[i * a.channels + c] !== b.data[i * b.channels + c]) {
        diff++;
        break;
      }
    }
  }
  return diff / n;
}
