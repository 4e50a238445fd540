import { describe, expect, it, vi } from 'vitest';
import {
  ApiError,
  HttpApi,
  buildForm,
  describeError,
  describeJobError,
  downloadName,
  formatBytes,
  normalizeColor,
  optionsFields,
  parseEvent,
  parseJobState,
  routes,
  wsUrl,
} from './api';

// The server does not exist yet in this repository's tests, so fetch is a
// recording function that answers like the contract says.
function recorder(answer: (url: string, init: RequestInit) => Response | Promise<Response>) {
  const calls: { url: string; init: RequestInit }[] = [];
  const fn = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = String(input);
    calls.push({ url, init: init ?? {} });
    return answer(url, init ?? {});
  });
  return { fetch: fn as unknown as typeof fetch, calls };
}

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });

describe('HttpApi.createJob', () => {
  it('posts the multipart form the server expects and reads the 202', async () => {
    const r = recorder(() =>
      json(202, {
        id: 'abc123',
        status: 'queued',
        filename: 'photo.jpg',
        status_url: '/api/jobs/abc123',
        ws_url: '/ws/jobs/abc123',
        result_url: '',
      }),
    );
    const api = new HttpApi(r.fetch);
    const file = new Blob([new Uint8Array([0xff, 0xd8, 0xff, 1, 2])], { type: 'image/jpeg' });
    const job = await api.createJob(file, 'photo.jpg', { maskOnly: false, bgColor: '#FFF', crop: true });

    expect(job).toEqual({
      id: 'abc123',
      status: 'queued',
      filename: 'photo.jpg',
      statusUrl: '/api/jobs/abc123',
      wsUrl: '/ws/jobs/abc123',
    });
    expect(r.calls).toHaveLength(1);
    const { url, init } = r.calls[0];
    expect(url).toBe('/api/jobs');
    expect(init.method).toBe('POST');
    const form = init.body as FormData;
    expect(form).toBeInstanceOf(FormData);
    const image = form.get('image') as File;
    expect(image.name).toBe('photo.jpg');
    expect(new Uint8Array(await image.arrayBuffer())).toEqual(new Uint8Array([0xff, 0xd8, 0xff, 1, 2]));
    expect(form.get('mask_only')).toBe('false');
    expect(form.get('bg_color')).toBe('#ffffff');
    expect(form.get('crop')).toBe('true');
  });

  it('turns a JSON error into an ApiError with code, message and status', async () => {
    const r = recorder(() => json(413, { error: { code: 'too_large', message: 'image is 80 megapixels' } }));
    const api = new HttpApi(r.fetch);
    const err = await api.createJob(new Blob(['x']), 'a.png', { maskOnly: false, bgColor: '', crop: false }).catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 413, code: 'too_large', message: 'image is 80 megapixels' });
    expect(describeError(err)).toContain('too large');
    expect(describeError(err)).toContain('80 megapixels');
  });

  it('names an error from the status when the body is not JSON', async () => {
    const r = recorder(() => new Response('<html>bad gateway</html>', { status: 502 }));
    const err = await new HttpApi(r.fetch).getJob('x').catch((e) => e);
    expect(err).toMatchObject({ status: 502, code: 'server_error' });
    expect(describeError(err)).toMatch(/server/i);
  });

  it('reports a network failure as code "network"', async () => {
    const api = new HttpApi((async () => {
      throw new TypeError('Failed to fetch');
    }) as unknown as typeof fetch);
    const err = await api.getJob('x').catch((e) => e);
    expect(err).toMatchObject({ status: 0, code: 'network' });
    expect(describeError(err)).toMatch(/reach the server/);
  });

  it('rejects a 2xx answer without a job id', async () => {
    const r = recorder(() => json(202, { status: 'queued' }));
    const err = await new HttpApi(r.fetch).createJob(new Blob(['x']), 'a.png', { maskOnly: false, bgColor: '', crop: false }).catch((e) => e);
    expect(err).toMatchObject({ code: 'bad_response' });
  });
});

describe('HttpApi other calls', () => {
  it('getJob reads the job state and escapes the id', async () => {
    const r = recorder(() =>
      json(200, {
        id: 'a/b',
        status: 'done',
        filename: 'cat.webp',
        width: 640,
        height: 480,
        result_url: '/api/jobs/a%2Fb/result',
        created_at: '2025-01-01T00:00:00Z',
        updated_at: '2025-01-01T00:00:01Z',
      }),
    );
    const job = await new HttpApi(r.fetch, 'http://server:8080/').getJob('a/b');
    expect(r.calls[0].url).toBe('http://server:8080/api/jobs/a%2Fb');
    expect(job).toEqual({
      id: 'a/b',
      status: 'done',
      filename: 'cat.webp',
      width: 640,
      height: 480,
      resultUrl: '/api/jobs/a%2Fb/result',
    });
  });

  it('deleteJob sends DELETE and treats 404 as already deleted', async () => {
    let status = 204;
    const r = recorder(() => (status === 204 ? new Response(null, { status: 204 }) : json(404, { error: { code: 'not_found', message: 'no such job' } })));
    const api = new HttpApi(r.fetch);
    await api.deleteJob('j1', true);
    expect(r.calls[0]).toMatchObject({ url: '/api/jobs/j1', init: { method: 'DELETE', keepalive: true } });
    status = 404;
    await expect(api.deleteJob('j1')).resolves.toBeUndefined();
  });

  it('deleteJob still fails on other errors', async () => {
    const r = recorder(() => json(500, { error: { code: 'internal', message: 'db down' } }));
    await expect(new HttpApi(r.fetch).deleteJob('j1')).rejects.toMatchObject({ status: 500 });
  });

  it('getResult returns the PNG bytes', async () => {
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 9, 9]);
    const r = recorder(() => new Response(png, { status: 200, headers: { 'Content-Type': 'image/png' } }));
    const blob = await new HttpApi(r.fetch).getResult('j1');
    expect(r.calls[0].url).toBe(routes.result('j1'));
    expect(new Uint8Array(await blob.arrayBuffer())).toEqual(png);
  });

  it('removeSync posts the same form to /api/remove', async () => {
    const r = recorder(() => new Response(new Uint8Array([1]), { status: 200 }));
    await new HttpApi(r.fetch).removeSync(new Blob(['x']), 'x.gif', { maskOnly: true, bgColor: '#123456', crop: false });
    const form = r.calls[0].init.body as FormData;
    expect(r.calls[0].url).toBe('/api/remove');
    expect(form.get('mask_only')).toBe('true');
    // A mask has no background colour.
    expect(form.get('bg_color')).toBe('');
  });
});

describe('parsing', () => {
  it('parses websocket events and rejects what is not one', () => {
    expect(parseEvent('{"type":"status","id":"j","status":"processing","progress":0.4}')).toEqual({
      id: 'j',
      status: 'processing',
      progress: 0.4,
    });
    expect(parseEvent('{"type":"status","id":"j","status":"failed","error":{"code":"not_an_image","message":"m"}}')).toEqual({
      id: 'j',
      status: 'failed',
      error: { code: 'not_an_image', message: 'm' },
    });
    expect(parseEvent('{"type":"ping"}')).toBeNull();
    expect(parseEvent('{"type":"status","id":"j","status":"exploded"}')).toBeNull();
    expect(parseEvent('not json')).toBeNull();
    expect(parseEvent(42)).toBeNull();
    expect(parseEvent({ id: 'j', status: 'queued' })).toEqual({ id: 'j', status: 'queued' });
  });

  it('clamps progress into 0..1', () => {
    expect(parseJobState({ id: 'j', status: 'processing', progress: 7 })?.progress).toBe(1);
    expect(parseJobState({ id: 'j', status: 'processing', progress: -1 })?.progress).toBe(0);
  });
});

describe('helpers', () => {
  it('normalizes colours', () => {
    expect(normalizeColor('#ABC')).toBe('#aabbcc');
    expect(normalizeColor(' #00FF7f ')).toBe('#00ff7f');
    expect(normalizeColor('red')).toBe('');
    expect(normalizeColor('#12345')).toBe('');
  });

  it('maps options to the binding fields', () => {
    expect(optionsFields({ maskOnly: false, bgColor: '#fff', crop: true })).toEqual({ mask_only: false, bg_color: '#ffffff', crop: true });
  });

  it('builds a form that omits no field', () => {
    const f = buildForm(new Blob(['x']), 'a.jpg', { maskOnly: false, bgColor: '', crop: false });
    expect([...f.keys()].sort()).toEqual(['bg_color', 'crop', 'image', 'mask_only']);
  });

  it('names the download after the upload', () => {
    expect(downloadName('holiday photo.JPG')).toBe('holiday photo.png');
    expect(downloadName('archive.tar.gz')).toBe('archive.tar.png');
    expect(downloadName('C:\\Users\\me\\cat.webp')).toBe('cat.png');
    expect(downloadName('"evil"?.png')).toBe('evil.png');
    expect(downloadName('')).toBe('cutout.png');
    expect(downloadName(undefined)).toBe('cutout.png');
    expect(downloadName('.png')).toBe('cutout.png');
  });

  it('builds the websocket URL on the page origin with the right scheme', () => {
    expect(wsUrl('j 1', 'https://example.test/wait/j%201')).toBe('wss://example.test/ws/jobs/j%201');
    expect(wsUrl('j', 'http://127.0.0.1:5173/')).toBe('ws://127.0.0.1:5173/ws/jobs/j');
    expect(wsUrl('j', 'wails://wails/', 'http://127.0.0.1:8080')).toBe('ws://127.0.0.1:8080/ws/jobs/j');
  });

  it('formats sizes', () => {
    expect(formatBytes(512)).toBe('512 bytes');
    expect(formatBytes(64 * 1024 * 1024)).toBe('64 MiB');
    expect(formatBytes(1536)).toBe('1.5 KiB');
  });

  it('describes job errors in words', () => {
    expect(describeJobError({ code: 'not_an_image', message: 'x' })).toMatch(/not an image/);
    expect(describeJobError({ code: 'model_crashed', message: 'The model failed.' })).toBe('The model failed.');
    expect(describeJobError(undefined)).toMatch(/unknown/);
  });
});
