// Screenshots of the three screens, light and dark, desktop and phone sizes,
// for a person to look at. Not a test and wired into nothing: the API and the
// websocket are answered by this script (the server is not needed), so it
// shows the frontend alone. The real end-to-end test is upload.e2e.mjs.
//
//   npm run build && npx vite preview --port 4173 &
//   node e2e/screens.mjs            # writes e2e/out/*.png
//
// Env: BACKLESS_URL (default http://127.0.0.1:4173), CHROMIUM (Debian's
// binary by default), PHOTO (a JPEG with a PHOTO minus .jpg plus .mask.png beside it).

import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const base = process.env.BACKLESS_URL ?? 'http://127.0.0.1:4173';
const executablePath = process.env.CHROMIUM ?? '/usr/lib/chromium/chromium';
const photo = resolve(process.env.PHOTO ?? resolve(here, '../../../shared/testdata/astronaut.jpg'));
const maskPath = photo.replace(/\.[^.]+$/, '.mask.png');
const out = resolve(here, 'out');

const ID = 'j-7f3a9c';
const json = (status, body) => ({ status, contentType: 'application/json', body: JSON.stringify(body) });

/** The cutout as the server would make it: the photo with the mask as alpha. */
async function makeCutout(browser) {
  const page = await browser.newPage();
  const [jpg, mask] = await Promise.all([readFile(photo), readFile(maskPath)]);
  const b64 = await page.evaluate(
    async ({ jpg, mask }) => {
      const load = async (b64, type) => createImageBitmap(await (await fetch(`data:${type};base64,${b64}`)).blob());
      const [img, m] = await Promise.all([load(jpg, 'image/jpeg'), load(mask, 'image/png')]);
      const c = new OffscreenCanvas(img.width, img.height);
      const ctx = c.getContext('2d');
      ctx.drawImage(m, 0, 0, img.width, img.height);
      const alpha = ctx.getImageData(0, 0, img.width, img.height);
      ctx.drawImage(img, 0, 0);
      const px = ctx.getImageData(0, 0, img.width, img.height);
      for (let i = 0; i < px.data.length; i += 4) px.data[i + 3] = alpha.data[i];
      ctx.putImageData(px, 0, 0);
      const blob = await c.convertToBlob({ type: 'image/png' });
      const bytes = new Uint8Array(await blob.arrayBuffer());
      let s = '';
      for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
      return btoa(s);
    },
    { jpg: jpg.toString('base64'), mask: mask.toString('base64') },
  );
  await page.close();
  return Buffer.from(b64, 'base64');
}

async function run(browser, cutout, { name, viewport, colorScheme }) {
  const context = await browser.newContext({ viewport, colorScheme, deviceScaleFactor: 1 });
  const page = await context.newPage();
  let socket = null;
  // What the fake server says first on a new socket: the job's current state.
  let current = 'queued';
  let opened;
  const socketReady = new Promise((r) => (opened = r));

  await page.route('**/api/jobs', (route) =>
    route.fulfill(
      json(202, { id: ID, status: 'queued', filename: basename(photo), status_url: `/api/jobs/${ID}`, ws_url: `/ws/jobs/${ID}`, result_url: '' }),
    ),
  );
  await page.route(`**/api/jobs/${ID}`, (route) =>
    route.request().method() === 'DELETE'
      ? route.fulfill({ status: 204 })
      : route.fulfill(json(200, { id: ID, status: 'processing', filename: basename(photo) })),
  );
  await page.route(`**/api/jobs/${ID}/result`, (route) =>
    route.fulfill({ status: 200, contentType: 'image/png', body: cutout }),
  );
  await page.routeWebSocket(`**/ws/jobs/${ID}`, (ws) => {
    socket = ws;
    ws.send(JSON.stringify({ type: 'status', id: ID, status: current, result_url: current === 'done' ? `/api/jobs/${ID}/result` : undefined }));
    opened();
  });

  await page.goto(base);
  await page.getByRole('heading', { name: /remove the background/i }).waitFor();
  await page.screenshot({ path: `${out}/${name}-1-upload.png`, fullPage: true });

  // A file that is not an image: the client-side check answers.
  await page.setInputFiles('#file', { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('hello') });
  await page.getByRole('alert').waitFor();
  await page.screenshot({ path: `${out}/${name}-1b-upload-error.png`, fullPage: true });

  await page.setInputFiles('#file', photo);
  await page.waitForURL(`**/wait/${ID}`);
  await socketReady;
  socket.send(JSON.stringify({ type: 'status', id: ID, status: 'processing', progress: 0.42 }));
  await page.getByText('Removing the background').waitFor();
  await page.screenshot({ path: `${out}/${name}-2-wait.png`, fullPage: true });

  current = 'done';
  socket.send(JSON.stringify({ type: 'status', id: ID, status: 'done', result_url: `/api/jobs/${ID}/result` }));
  await page.getByRole('heading', { name: /cutout is ready/i }).waitFor();
  await page.getByRole('slider').waitFor();
  await page.screenshot({ path: `${out}/${name}-3-result.png`, fullPage: true });

  await page.getByRole('radio', { name: 'White' }).click();
  await page.getByRole('link', { name: /download png/i }).waitFor();
  await page.getByRole('slider').fill('15');
  await page.screenshot({ path: `${out}/${name}-3b-result-white.png`, fullPage: true });

  // After a reload the user's original is gone from memory: only the cutout.
  await page.route(`**/api/jobs/${ID}`, (route) =>
    route.fulfill(json(200, { id: ID, status: 'done', filename: basename(photo), result_url: `/api/jobs/${ID}/result` })),
  );
  await page.reload();
  await page.getByRole('heading', { name: /cutout is ready/i }).waitFor({ timeout: 15_000 });
  await page.screenshot({ path: `${out}/${name}-3c-result-reloaded.png`, fullPage: true });

  // A job that is gone.
  await page.route('**/api/jobs/gone', (route) => route.fulfill(json(404, { error: { code: 'not_found', message: 'no such job' } })));
  await page.routeWebSocket('**/ws/jobs/gone', (ws) => ws.close({ code: 1008 }));
  await page.goto(`${base}/wait/gone`);
  await page.getByRole('heading', { name: /gone/i }).waitFor({ timeout: 15_000 });
  await page.screenshot({ path: `${out}/${name}-4-gone.png`, fullPage: true });

  await context.close();
}

async function main() {
  await mkdir(out, { recursive: true });
  const browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
  try {
    const cutout = await makeCutout(browser);
    await writeFile(`${out}/cutout.png`, cutout);
    await run(browser, cutout, { name: 'light', viewport: { width: 1280, height: 860 }, colorScheme: 'light' });
    await run(browser, cutout, { name: 'dark', viewport: { width: 1280, height: 860 }, colorScheme: 'dark' });
    await run(browser, cutout, { name: 'phone', viewport: { width: 390, height: 844 }, colorScheme: 'light' });
  } finally {
    await browser.close();
  }
  console.log(`screenshots in ${out}`);
}

await main();
