// End-to-end test of the web app: Debian's Chromium, driven by playwright-core,
// against a running Backless server with the real model. build/e2e.sh starts
// the all-in-one server and runs this; by hand:
//
//   BACKLESS_URL=http://127.0.0.1:8080 PHOTO=shared/testdata/coffee.jpg node frontend/e2e/upload.e2e.mjs
//
// Env: BACKLESS_URL and PHOTO (required), CHROMIUM (default /usr/bin/chromium),
// SCREENSHOTS (default frontend/e2e/screenshots; git-ignored).
//
// What it checks, as a user would see it:
//   - the upload screen refuses a non-image itself, and shows the server's
//     refusal of a damaged JPEG;
//   - a photo chosen in the file input goes through the waiting room to the
//     result; the download is <name>.png, an RGBA PNG of the photo's size with
//     transparent pixels; a reload of the result keeps it; "Remove another"
//     deletes the job (the server then answers 404);
//   - a photo dropped on the drop zone does the same, and so does a pasted
//     image (a nameless file, which is named pasted-image);
//   - the keyboard reaches "Choose a photo" with Tab, and Enter opens the
//     file chooser;
//   - a reload of the waiting room while the job is queued or processing still
//     ends in the result;
//   - a job that does not exist says so;
//   - dark mode gives a dark page with contrasting text, and a phone-wide
//     viewport does not scroll sideways;
//   - screenshots of the upload screen, the waiting room and the result are
//     PNGs of the viewport's size and not blank.
//
// Each check prints "ok" or "FAIL"; the last line is "N passed, M failed"
// (CI reads it) and the exit code is 1 when anything failed.

import assert from 'node:assert/strict';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { alphaOf, decode, differingShare, lumaSpread, readHeader } from './png.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const base = process.env.BACKLESS_URL;
const photo = process.env.PHOTO;
if (!base || !photo) {
  console.error('set BACKLESS_URL (the server) and PHOTO (a JPEG, PNG, WebP or GIF photo)');
  process.exit(2);
}
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const shots = resolve(process.env.SCREENSHOTS || resolve(here, 'screenshots'));
const photoName = basename(photo);
const stem = photoName.replace(/\.[^.]+$/, '');
const photoBytes = await readFile(photo);

// Flags for a quiet, headless Chromium on a CI machine without a GPU or a user
// session. playwright-core gives it a fresh temporary --user-data-dir.
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--no-first-run',
];

const VIEWPORT = { width: 1280, height: 800 };
// The model takes seconds per photo, more on a loaded machine; the UI answers in well under these.
const MODEL_TIMEOUT = 180_000;
const UI_TIMEOUT = 30_000;

const url = (path) => new URL(path, base).href;
const readyHeading = (page) => page.getByRole('heading', { name: /cutout is ready/i });
const waitingHeading = (page) =>
  page.getByRole('heading', { name: /waiting for its turn|removing the background|checking on your photo|almost there/i });

let passed = 0;
let failed = 0;
const done = new Set();

/** Runs one check. A check whose prerequisites failed fails at once instead of waiting out its timeouts. */
async function step(name, fn, needs = []) {
  const missing = needs.filter((n) => !done.has(n));
  const start = performance.now();
  // How long a check took, for a person reading the log; nothing asserts it.
  const took = () => `(${((performance.now() - start) / 1000).toFixed(1)} s)`;
  try {
    if (missing.length) throw new Error(`not run: needs ${missing.map((n) => `"${n}"`).join(', ')}`);
    await fn();
    passed++;
    done.add(name);
    console.log(`ok   ${name} ${took()}`);
  } catch (e) {
    failed++;
    // Without the terminal colours playwright puts into its messages.
    const msg = (e instanceof Error ? e.message : String(e)).replace(/\x1b\[[0-9;]*m/g, '');
    console.log(`FAIL ${name} ${took()}\n     ${msg.split('\n').join('\n     ')}`);
  }
}

/** The server's view of a job: its HTTP status and, when found, its JSON. */
async function getJob(id) {
  const res = await fetch(url(`/api/jobs/${encodeURIComponent(id)}`), { signal: AbortSignal.timeout(10_000) });
  return { status: res.status, body: res.ok ? await res.json() : null };
}

function jobIdOf(page) {
  const m = new URL(page.url()).pathname.match(/^\/wait\/([^/]+)$/);
  assert.ok(m, `not on a waiting-room URL: ${page.url()}`);
  return decodeURIComponent(m[1]);
}

/**
 * After a photo was handed to the page: it moves to the waiting room, then shows the result at the photo's size
 * under the name given, and the server has the job done.
 */
async function expectResult(page, name, size) {
  await page.waitForURL(/\/wait\/[^/]+$/);
  const id = jobIdOf(page);
  await readyHeading(page).waitFor({ timeout: MODEL_TIMEOUT });
  assert.deepEqual(await shownResultSize(page), size, 'size of the shown result');
  await page.getByText(name, { exact: true }).waitFor();
  const job = await getJob(id);
  assert.equal(job.body?.status, 'done', `server status of job ${id}`);
}

/** Width and height of the result image on the page, once it has loaded. */
async function shownResultSize(page) {
  const img = page.getByRole('img', { name: /background removed/i });
  await img.waitFor({ timeout: UI_TIMEOUT });
  await page.waitForFunction((el) => el.complete && el.naturalWidth > 0, await img.elementHandle(), {
    timeout: UI_TIMEOUT,
  });
  return img.evaluate((el) => ({ width: el.naturalWidth, height: el.naturalHeight }));
}

const SHOTS = ['1-upload', '2-waiting', '3-result'];
const shotFiles = {};

/** Takes a screenshot of the viewport and checks it is a PNG of the viewport's size with something on it. */
async function screenshot(page, name) {
  const path = resolve(shots, `${name}.png`);
  // Animations are stopped so the picture does not depend on the moment.
  await page.screenshot({ path, animations: 'disabled' });
  const bytes = await readFile(path);
  const h = readHeader(bytes);
  assert.deepEqual({ width: h.width, height: h.height }, VIEWPORT, `${name}.png size`);
  assert.ok(bytes.length > 10_000, `${name}.png is only ${bytes.length} bytes`);
  const img = decode(bytes);
  const spread = lumaSpread(img);
  assert.ok(spread > 8, `${name}.png looks blank (luma spread ${spread.toFixed(1)})`);
  shotFiles[name] = img;
}

const browser = await chromium.launch({ executablePath, headless: true, args: FLAGS });
const pageErrors = [];

async function newPage() {
  const context = await browser.newContext({ viewport: VIEWPORT, deviceScaleFactor: 1, acceptDownloads: true });
  context.setDefaultTimeout(UI_TIMEOUT);
  const page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(`${page.url()}: ${e.message}`));
  return page;
}

try {
  // Old screenshots go first, so a failed run leaves none that look current.
  await mkdir(shots, { recursive: true });
  await Promise.all(SHOTS.map((n) => rm(resolve(shots, `${n}.png`), { force: true })));

  // The photo's size as a browser sees it (EXIF orientation applied), which the cutout must have.
  const probe = await newPage();
  await probe.goto(url('/'));
  const photoSize = await probe.evaluate(async (b64) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const bmp = await createImageBitmap(new Blob([bytes]));
    return { width: bmp.width, height: bmp.height };
  }, photoBytes.toString('base64'));
  await probe.context().close();

  // --- The file input: the whole way, with the error cases first. ---
  const page = await newPage();
  const posts = [];
  const sockets = [];
  page.on('websocket', (ws) => sockets.push(ws));
  page.on('response', (res) => {
    if (res.request().method() === 'POST' && new URL(res.url()).pathname === '/api/jobs') posts.push(res.status());
  });
  let jobId = '';

  await step('the upload screen shows', async () => {
    await page.goto(url('/'));
    await page.getByRole('heading', { name: /remove the background/i }).waitFor();
    await page.getByRole('button', { name: 'Choose a photo' }).waitFor();
    await screenshot(page, '1-upload');
  });

  await step('a non-image is refused in the browser, before any upload', async () => {
    await page.setInputFiles('#file', { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('hello') });
    await page.getByRole('alert').filter({ hasText: 'not a picture' }).waitFor();
    assert.deepEqual(posts, [], 'no upload for a non-image');
    assert.equal(new URL(page.url()).pathname, '/');
  });

  await step('a damaged JPEG is refused by the server with a clear message', async () => {
    // JPEG's magic bytes pass the browser's check; the server finds no image behind them.
    const fake = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.from('not really a photo '.repeat(20))]);
    const answered = page.waitForResponse(
      (r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/api/jobs',
    );
    await page.setInputFiles('#file', { name: 'broken.jpg', mimeType: 'image/jpeg', buffer: fake });
    const res = await answered;
    assert.equal(res.status(), 415, 'HTTP status of the upload');
    await page.getByRole('alert').filter({ hasText: 'not an image we can read' }).waitFor();
    assert.equal(new URL(page.url()).pathname, '/');
  });

  await step('a photo from the file input reaches the waiting room', async () => {
    await page.setInputFiles('#file', photo);
    await page.waitForURL(/\/wait\/[^/]+$/);
    jobId = jobIdOf(page);
    await page.getByRole('heading', { name: /waiting for its turn|removing the background/i }).waitFor();
    await page.getByText(photoName, { exact: true }).waitFor();
    await screenshot(page, '2-waiting');
    // States only move forward, so if the result is not up now, the screenshot shows the waiting room.
    assert.equal(await readyHeading(page).count(), 0, 'the result came before the screenshot of the waiting room');
  });

  await step('the result shows, with the before/after slider', async () => {
    await readyHeading(page).waitFor({ timeout: MODEL_TIMEOUT });
    await page.getByRole('slider').waitFor();
    assert.deepEqual(await shownResultSize(page), photoSize, 'size of the shown result');
    await page.getByText(`${photoSize.width}×${photoSize.height}`).waitFor();
    // The user is told the image goes when they leave (the web backend's note).
    await page.getByText(/deleted from the server when you leave this page/).waitFor();
    await screenshot(page, '3-result');
  }, ['a photo from the file input reaches the waiting room']);

  await step('the three screenshots differ', async () => {
    const [a, b, c] = SHOTS.map((n) => shotFiles[n]);
    for (const [x, y, what] of [[a, b, 'upload/waiting'], [b, c, 'waiting/result'], [a, c, 'upload/result']]) {
      const share = differingShare(x, y);
      assert.ok(share > 0.05, `${what} screenshots are ${((1 - share) * 100).toFixed(1)}% the same`);
    }
  }, ['the upload screen shows', 'a photo from the file input reaches the waiting room', 'the result shows, with the before/after slider']);

  await step(`the download is ${stem}.png: an RGBA PNG of the photo's size with transparency`, async () => {
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: /download png/i }).click(),
    ]);
    assert.equal(download.suggestedFilename(), `${stem}.png`);
    const bytes = await readFile(await download.path());
    const h = readHeader(bytes);
    assert.equal(h.colorType, 6, 'PNG colour type (6 = RGBA)');
    assert.deepEqual({ width: h.width, height: h.height }, photoSize, 'PNG size');
    const alpha = alphaOf(decode(bytes));
    let clear = 0;
    let solid = 0;
    for (const a of alpha) {
      if (a < 255) clear++;
      if (a > 0) solid++;
    }
    assert.ok(clear > 0, 'no pixel has alpha < 255: the background was not removed');
    assert.ok(solid > 0, 'every pixel is fully transparent: the subject is gone too');
    // Chromium's own decoder must see the same alpha, or png.mjs read it wrong.
    const browserClear = await page.evaluate(async (b64) => {
      const data = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const bmp = await createImageBitmap(new Blob([data], { type: 'image/png' }), {
        premultiplyAlpha: 'none',
        colorSpaceConversion: 'none',
      });
      const ctx = new OffscreenCanvas(bmp.width, bmp.height).getContext('2d');
      ctx.drawImage(bmp, 0, 0);
      const px = ctx.getImageData(0, 0, bmp.width, bmp.height).data;
      let n = 0;
      for (let i = 3; i < px.length; i += 4) if (px[i] < 255) n++;
      return n;
    }, bytes.toString('base64'));
    assert.equal(clear, browserClear, 'pixels with alpha < 255, png.mjs vs Chromium');
  }, ['the result shows, with the before/after slider']);

  await step('the result page keeps its job\'s socket open', async () => {
    // The server deletes a finished job a grace period after its last socket
    // closes (DESIGN.md, "Nothing is kept"): an open socket is how it knows the
    // result is still on screen. By now the download step has given a close
    // after "done" ample time to arrive.
    const mine = sockets.filter((ws) => new URL(ws.url()).pathname === `/ws/jobs/${encodeURIComponent(jobId)}`);
    assert.ok(mine.length > 0, 'the page opened no socket for the job');
    assert.ok(mine.some((ws) => !ws.isClosed()), `all ${mine.length} socket(s) of the job are closed`);
    const job = await getJob(jobId);
    assert.equal(job.body?.status, 'done', `server status of job ${jobId}`);
  }, ['the result shows, with the before/after slider']);

  await step('a reload of the result keeps it', async () => {
    await page.reload();
    await readyHeading(page).waitFor();
    assert.deepEqual(await shownResultSize(page), photoSize, 'size of the shown result after the reload');
    await page.getByText(photoName, { exact: true }).waitFor();
  }, ['the result shows, with the before/after slider']);

  await step('"Remove another" deletes the job: the server then answers 404', async () => {
    const deleted = page.waitForResponse(
      (r) => r.request().method() === 'DELETE' && r.url() === url(`/api/jobs/${encodeURIComponent(jobId)}`),
    );
    await page.getByRole('button', { name: 'Remove another' }).click();
    await page.waitForURL(url('/'));
    await page.getByRole('heading', { name: /remove the background/i }).waitFor();
    assert.equal((await deleted).status(), 204, 'HTTP status of the DELETE');
    const after = await getJob(jobId);
    assert.equal(after.status, 404, `GET of job ${jobId} after "Remove another"`);
  }, ['a reload of the result keeps it']);

  await page.context().close();

  // --- Drag and drop. ---
  await step('a photo dropped on the drop zone goes through to the result', async () => {
    const p = await newPage();
    await p.goto(url('/'));
    const zone = p.locator('.drop');
    await zone.waitFor();
    const dataTransfer = await p.evaluateHandle(
      ({ b64, name }) => {
        const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        const dt = new DataTransfer();
        dt.items.add(new File([bytes], name, { type: '' }));
        return dt;
      },
      // No type: dropped files often come without one; the app reads the bytes.
      { b64: photoBytes.toString('base64'), name: photoName },
    );
    await zone.dispatchEvent('dragenter', { dataTransfer });
    await zone.dispatchEvent('dragover', { dataTransfer });
    await p.getByText('Drop the photo to remove its background').waitFor();
    await zone.dispatchEvent('drop', { dataTransfer });
    await p.getByText('Drop the photo to remove its background').waitFor({ state: 'hidden' });
    await expectResult(p, photoName, photoSize);
    await p.context().close();
  });

  // --- Paste, and the keyboard. ---
  await step('a pasted image goes through to the result, named pasted-image', async () => {
    const p = await newPage();
    await p.goto(url('/'));
    await p.getByRole('button', { name: 'Choose a photo' }).waitFor();
    // What a browser hands the page for Ctrl+V of a copied image: a file with no name in the clipboard data.
    await p.evaluate(({ b64 }) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const dt = new DataTransfer();
      dt.items.add(new File([bytes], '', { type: 'image/jpeg' }));
      window.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
    }, { b64: photoBytes.toString('base64') });
    await expectResult(p, 'pasted-image.jpeg', photoSize);
    await p.context().close();
  });

  await step('the keyboard reaches "Choose a photo", which opens the file chooser', async () => {
    const p = await newPage();
    await p.goto(url('/'));
    const button = p.getByRole('button', { name: 'Choose a photo' });
    await button.waitFor();
    // Listened for before any key is pressed: playwright turns on its interception of file choosers when the first
    // listener comes, and a chooser opened before that is not reported.
    const chooserOpened = p.waitForEvent('filechooser');
    // Tab through the page from the top until the button has the focus.
    let focused = false;
    for (let i = 0; i < 20 && !focused; i++) {
      await p.keyboard.press('Tab');
      focused = await button.evaluate((el) => el === document.activeElement);
    }
    assert.ok(focused, '"Choose a photo" never got the focus with Tab');
    await p.keyboard.press('Enter');
    const chooser = await chooserOpened;
    assert.equal(chooser.isMultiple(), false, 'the web page takes one photo at a time');
    await p.context().close();
  });

  // --- A reload in the middle of a job. ---
  await step('a reload of the waiting room while the job runs still ends in the result', async () => {
    const p = await newPage();
    await p.goto(url('/'));
    await p.setInputFiles('#file', photo);
    await p.waitForURL(/\/wait\/[^/]+$/);
    const id = jobIdOf(p);
    const before = await getJob(id);
    assert.ok(
      ['queued', 'processing'].includes(before.body?.status),
      `job ${id} is ${before.body?.status ?? `HTTP ${before.status}`} before the reload, want queued or processing`,
    );
    await p.reload();
    await waitingHeading(p).or(readyHeading(p)).first().waitFor();
    await readyHeading(p).waitFor({ timeout: MODEL_TIMEOUT });
    assert.deepEqual(await shownResultSize(p), photoSize, 'size of the shown result');
    // After a reload the name comes from the server.
    await p.getByText(photoName, { exact: true }).waitFor();
    await p.context().close();
  });

  await step('a job that does not exist is reported as gone', async () => {
    const p = await newPage();
    await p.goto(url('/wait/aaaaaaaaaaaaaaaaaaaaaaaaaa'));
    await p.getByRole('heading', { name: /gone/i }).waitFor();
    await p.getByRole('button', { name: 'Try another photo' }).click();
    await p.waitForURL(url('/'));
    await p.context().close();
  });

  // --- Dark mode and a phone's width. ---
  await step('the page follows dark mode, with light text on a dark background', async () => {
    const context = await browser.newContext({ viewport: VIEWPORT, colorScheme: 'dark' });
    const p = await context.newPage();
    p.on('pageerror', (e) => pageErrors.push(`${p.url()}: ${e.message}`));
    await p.goto(url('/'));
    await p.getByRole('heading', { name: /remove the background/i }).waitFor();
    const { bg, fg } = await p.evaluate(() => {
      // Relative luminance (WCAG) of a computed rgb() colour.
      const lum = (css) => {
        const [r, g, b] = css.match(/\d+(\.\d+)?/g).slice(0, 3).map(Number).map((v) => {
          const c = v / 255;
          return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
        });
        return 0.2126 * r + 0.7152 * g + 0.0722 * b;
      };
      return {
        bg: lum(getComputedStyle(document.body).backgroundColor),
        fg: lum(getComputedStyle(document.querySelector('h1')).color),
      };
    });
    assert.ok(bg < 0.1, `dark mode background luminance ${bg.toFixed(3)}, want < 0.1`);
    const contrast = (Math.max(bg, fg) + 0.05) / (Math.min(bg, fg) + 0.05);
    assert.ok(fg > bg && contrast >= 7, `heading contrast ${contrast.toFixed(1)}:1 on the dark background, want ≥ 7:1`);
    await context.close();
  });

  await step('at a phone\'s width nothing sticks out sideways', async () => {
    const context = await browser.newContext({ viewport: { width: 375, height: 740 }, isMobile: true, hasTouch: true });
    const p = await context.newPage();
    p.on('pageerror', (e) => pageErrors.push(`${p.url()}: ${e.message}`));
    await p.goto(url('/'));
    await p.getByRole('button', { name: 'Choose a photo' }).waitFor();
    const widths = await p.evaluate(() => ({ page: document.documentElement.scrollWidth, view: window.innerWidth }));
    assert.ok(widths.page <= widths.view, `the page is ${widths.page} px wide in a ${widths.view} px viewport`);
    await context.close();
  });

  await step('no uncaught errors in the pages', async () => {
    assert.deepEqual(pageErrors, []);
  });
} catch (e) {
  // Something outside the checks broke (the browser, the set-up): that is a failure too.
  failed++;
  console.log(`FAIL the test itself\n     ${String(e instanceof Error ? e.stack : e).replace(/\x1b\[[0-9;]*m/g, '')}`);
} finally {
  await browser.close();
}

console.log(`screenshots in ${shots}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
