// End-to-end check of the web app against a running Backless server, in
// Debian's Chromium through playwright-core. A skeleton for now: nothing runs
// it yet (the server lands separately); wire it into .ci/run once it does.
//
//   BACKLESS_URL=http://127.0.0.1:8080 PHOTO=/path/to/photo.jpg node e2e/upload.e2e.mjs
//
// What it checks, as a user would see it:
//   1. the upload screen refuses a non-image with a message;
//   2. a photo goes through the waiting room to the result (the websocket path);
//   3. a reload of /wait/{id} after done still shows the result;
//   4. the download is named <original name>.png and is a PNG with alpha;
//   5. "Remove another" deletes the job on the server (GET answers 404).

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { chromium } from 'playwright-core';

const base = process.env.BACKLESS_URL;
const photo = process.env.PHOTO;
if (!base || !photo) {
  console.error('set BACKLESS_URL and PHOTO');
  process.exit(2);
}
const executablePath = process.env.CHROMIUM ?? '/usr/lib/chromium/chromium';
const stem = basename(photo).replace(/\.[^.]+$/, '');

const browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
let failed = 0;
let passed = 0;

async function step(name, fn) {
  try {
    await fn();
    passed++;
    console.log(`ok   ${name}`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}\n     ${e instanceof Error ? e.message : e}`);
  }
}

try {
  const context = await browser.newContext({ acceptDownloads: true });
  const page = await context.newPage();
  let jobId = '';

  await step('refuses a non-image before uploading', async () => {
    await page.goto(base);
    await page.setInputFiles('#file', { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('hello') });
    await assert.doesNotReject(page.getByRole('alert').filter({ hasText: 'not a picture' }).waitFor({ timeout: 5_000 }));
  });

  await step('uploads a photo and reaches the result', async () => {
    await page.setInputFiles('#file', photo);
    await page.waitForURL(/\/wait\/[^/]+$/, { timeout: 30_000 });
    jobId = decodeURIComponent(new URL(page.url()).pathname.split('/').pop() ?? '');
    assert.ok(jobId, 'job id in the URL');
    await page.getByRole('heading', { name: /cutout is ready/i }).waitFor({ timeout: 180_000 });
    await page.getByRole('slider').waitFor({ timeout: 5_000 });
  });

  await step('a reload keeps the result', async () => {
    await page.reload();
    await page.getByRole('heading', { name: /cutout is ready/i }).waitFor({ timeout: 30_000 });
  });

  await step('downloads <name>.png, a PNG with an alpha channel', async () => {
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: /download png/i }).click(),
    ]);
    assert.equal(download.suggestedFilename(), `${stem}.png`);
    const bytes = await readFile(await download.path());
    assert.deepEqual([...bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    // IHDR colour type at byte 25: 6 = RGBA, 4 = grey + alpha.
    assert.ok([4, 6].includes(bytes[25]), `PNG colour type ${bytes[25]} has no alpha`);
  });

  await step('"Remove another" deletes the job on the server', async () => {
    await page.getByRole('button', { name: 'Remove another' }).click();
    await page.waitForURL(new URL('/', base).href);
    await assert.doesNotReject(
      (async () => {
        for (let i = 0; i < 50; i++) {
          const res = await page.request.get(new URL(`/api/jobs/${encodeURIComponent(jobId)}`, base).href);
          if (res.status() === 404) return;
          await page.waitForTimeout(100);
        }
        throw new Error('job still there after DELETE');
      })(),
    );
  });

  await context.close();
} finally {
  await browser.close();
}

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
