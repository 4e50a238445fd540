// The HTTP API contract between this app and the Go server (shared/httpapi).
// This is the only file that knows routes, form field names and JSON shapes;
// everything else uses the types and functions exported here.

export type JobStatus = 'queued' | 'processing' | 'done' | 'failed';

export const JOB_STATUSES: readonly JobStatus[] = ['queued', 'processing', 'done', 'failed'];

export function isTerminal(status: JobStatus): boolean {
  return status === 'done' || status === 'failed';
}

/** Order of the states; a job never goes back, so a lower rank is a stale report. */
export function statusRank(status: JobStatus): number {
  return status === 'queued' ? 0 : status === 'processing' ? 1 : 2;
}

export interface ApiErrorBody {
  code: string;
  message: string;
}

/** Options of a removal, as the user chose them. */
export interface RemoveOptions {
  /** Return the black-and-white mask instead of the cutout. */
  maskOnly: boolean;
  /** "#rrggbb" to put the subject on a colour; "" for a transparent background. */
  bgColor: string;
  /** Crop the result to the subject's bounding box. */
  crop: boolean;
}

export const DEFAULT_OPTIONS: RemoveOptions = { maskOnly: false, bgColor: '', crop: false };

/** A job's state, as both GET /api/jobs/{id} and the websocket report it. */
export interface JobState {
  id: string;
  status: JobStatus;
  filename?: string;
  width?: number;
  height?: number;
  resultUrl?: string;
  error?: ApiErrorBody;
  /** 0..1 when the server knows it. */
  progress?: number;
}

/** The answer to POST /api/jobs. */
export interface CreatedJob {
  id: string;
  status: JobStatus;
  filename: string;
  statusUrl: string;
  wsUrl: string;
}

/** Server limits (defaults of the server's configuration). */
export const LIMITS = {
  maxBytes: 64 * 1024 * 1024,
  maxMegapixels: 50,
} as const;

/** Accepted image types, by MIME type, with the name shown to users. */
export const ACCEPTED_TYPES: Readonly<Record<string, string>> = {
  'image/jpeg': 'JPEG',
  'image/png': 'PNG',
  'image/webp': 'WebP',
  'image/gif': 'GIF',
};

export const routes = {
  jobs: '/api/jobs',
  job: (id: string) => `/api/jobs/${encodeURIComponent(id)}`,
  result: (id: string) => `/api/jobs/${encodeURIComponent(id)}/result`,
  original: (id: string) => `/api/jobs/${encodeURIComponent(id)}/original`,
  remove: '/api/remove',
  ws: (id: string) => `/ws/jobs/${encodeURIComponent(id)}`,
} as const;

/** An error the server answered with, or a failure to reach it (status 0). */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

/** The multipart form the server expects for POST /api/jobs and POST /api/remove. */
export function buildForm(file: Blob, filename: string, opts: RemoveOptions): FormData {
  const form = new FormData();
  form.append('image', file, filename);
  form.append('mask_only', String(opts.maskOnly));
  form.append('bg_color', opts.maskOnly ? '' : normalizeColor(opts.bgColor));
  form.append('crop', String(opts.crop));
  return form;
}

/** The same options, as the fields of the desktop binding's opts object. */
export function optionsFields(opts: RemoveOptions): { mask_only: boolean; bg_color: string; crop: boolean } {
  return {
    mask_only: opts.maskOnly,
    bg_color: opts.maskOnly ? '' : normalizeColor(opts.bgColor),
    crop: opts.crop,
  };
}

/** "#RGB"/"#RRGGBB" in any case → "#rrggbb"; anything else → "" (transparent). */
export function normalizeColor(c: string): string {
  const s = c.trim().toLowerCase();
  if (/^#[0-9a-f]{6}$/.test(s)) return s;
  if (/^#[0-9a-f]{3}$/.test(s)) return '#' + [...s.slice(1)].map((ch) => ch + ch).join('');
  return '';
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isStatus(v: unknown): v is JobStatus {
  return typeof v === 'string' && (JOB_STATUSES as readonly string[]).includes(v);
}

function parseErrorBody(v: unknown): ApiErrorBody | undefined {
  if (!isRecord(v)) return undefined;
  const code = typeof v.code === 'string' ? v.code : 'unknown';
  const message = typeof v.message === 'string' ? v.message : '';
  return { code, message };
}

/**
 * A job's state from the JSON of GET /api/jobs/{id} or of a websocket message.
 * Returns null when the value is not a job state (wrong shape, unknown status).
 */
export function parseJobState(v: unknown): JobState | null {
  if (!isRecord(v)) return null;
  if (v.type !== undefined && v.type !== 'status') return null;
  if (typeof v.id !== 'string' || v.id === '' || !isStatus(v.status)) return null;
  const job: JobState = { id: v.id, status: v.status };
  if (typeof v.filename === 'string' && v.filename !== '') job.filename = v.filename;
  if (typeof v.width === 'number' && v.width > 0) job.width = v.width;
  if (typeof v.height === 'number' && v.height > 0) job.height = v.height;
  if (typeof v.result_url === 'string' && v.result_url !== '') job.resultUrl = v.result_url;
  if (typeof v.progress === 'number' && Number.isFinite(v.progress)) {
    job.progress = Math.min(1, Math.max(0, v.progress));
  }
  const err = parseErrorBody(v.error);
  if (err) job.error = err;
  return job;
}

/** A websocket message (text) → job state, or null if it is not one. */
export function parseEvent(data: unknown): JobState | null {
  if (typeof data !== 'string') return isRecord(data) ? parseJobState(data) : null;
  try {
    return parseJobState(JSON.parse(data));
  } catch {
    return null;
  }
}

/** Reads the error of a non-2xx answer; never throws. */
export async function errorFromResponse(res: Response): Promise<ApiError> {
  let body: ApiErrorBody | undefined;
  try {
    const json: unknown = await res.json();
    body = isRecord(json) ? parseErrorBody(json.error) : undefined;
  } catch {
    body = undefined;
  }
  return new ApiError(res.status, body?.code ?? codeForStatus(res.status), body?.message ?? '');
}

function codeForStatus(status: number): string {
  switch (status) {
    case 400:
      return 'bad_request';
    case 404:
      return 'not_found';
    case 413:
      return 'too_large';
    case 415:
      return 'not_an_image';
    case 429:
      return 'rate_limited';
    default:
      return status >= 500 ? 'server_error' : 'http_' + status;
  }
}

/** Words for a user, for any error this client can meet. */
export function describeError(err: unknown): string {
  if (err instanceof ApiError) {
    switch (err.code) {
      case 'not_an_image':
        return 'That file is not an image we can read. Please choose a JPEG, PNG, WebP or GIF picture.';
      case 'too_large':
        return (
          `That image is too large. The limit is ${formatBytes(LIMITS.maxBytes)} and ` +
          `${LIMITS.maxMegapixels} megapixels.` +
          (err.message ? ` (${err.message})` : '')
        );
      case 'not_found':
        return 'This image is no longer available. It is deleted shortly after you leave its page.';
      case 'bad_request':
        return 'The server could not accept this request' + (err.message ? `: ${err.message}` : '.');
      case 'rate_limited':
        return 'Too many requests right now. Please wait a moment and try again.';
      case 'network':
        return 'Could not reach the server. Please check your connection and try again.';
      case 'server_error':
        return 'Something went wrong on the server. Please try again in a moment.';
      default:
        if (err.message) return err.message;
        return err.status >= 500
          ? 'Something went wrong on the server. Please try again in a moment.'
          : `The request failed (HTTP ${err.status}).`;
    }
  }
  if (err instanceof Error && err.name === 'AbortError') return 'Cancelled.';
  if (err instanceof Error && err.message) return err.message;
  return 'Something went wrong. Please try again.';
}

/** Words for a failed job's error, as the server or worker reported it. */
export function describeJobError(e: ApiErrorBody | undefined): string {
  if (!e) return 'Processing failed for an unknown reason.';
  return describeError(new ApiError(422, e.code, e.message));
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} bytes`;
  const units = ['KiB', 'MiB', 'GiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${Number.isInteger(v) ? v : v.toFixed(1)} ${units[i]}`;
}

/** The download's name: the upload's name with its extension replaced by ".png". */
export function downloadName(filename: string | undefined): string {
  const base = (filename ?? '').split(/[\\/]/).pop() ?? '';
  const stem = base.replace(/\.[^.]*$/, '').replace(/[\u0000-\u001f"<>:|?*]/g, '').trim();
  return (stem || 'cutout') + '.png';
}

export type FetchFn = typeof fetch;

/** The HTTP half of the API. `base` is "" for the page's own origin. */
export class HttpApi {
  private readonly fetchFn: FetchFn;
  private readonly base: string;

  constructor(fetchFn: FetchFn, base = '') {
    this.fetchFn = fetchFn;
    this.base = base.replace(/\/$/, '');
  }

  url(path: string): string {
    return this.base + path;
  }

  private async request(path: string, init: RequestInit): Promise<Response> {
    let res: Response;
    try {
      res = await this.fetchFn(this.url(path), { credentials: 'same-origin', ...init });
    } catch (e) {
      if (e instanceof Error && e.name === 'AbortError') throw e;
      throw new ApiError(0, 'network', e instanceof Error ? e.message : String(e));
    }
    if (!res.ok) throw await errorFromResponse(res);
    return res;
  }

  private async json(path: string, init: RequestInit): Promise<unknown> {
    const res = await this.request(path, { ...init, headers: { Accept: 'application/json' } });
    try {
      return await res.json();
    } catch {
      throw new ApiError(res.status, 'bad_response', 'The server sent an answer this page cannot read.');
    }
  }

  /** POST /api/jobs → the new job. */
  async createJob(file: Blob, filename: string, opts: RemoveOptions, signal?: AbortSignal): Promise<CreatedJob> {
    const v = await this.json(routes.jobs, { method: 'POST', body: buildForm(file, filename, opts), signal });
    if (!isRecord(v) || typeof v.id !== 'string' || v.id === '') {
      throw new ApiError(202, 'bad_response', 'The server did not return a job id.');
    }
    return {
      id: v.id,
      status: isStatus(v.status) ? v.status : 'queued',
      filename: typeof v.filename === 'string' ? v.filename : filename,
      statusUrl: typeof v.status_url === 'string' && v.status_url ? v.status_url : routes.job(v.id),
      wsUrl: typeof v.ws_url === 'string' && v.ws_url ? v.ws_url : routes.ws(v.id),
    };
  }

  /** GET /api/jobs/{id}. */
  async getJob(id: string, signal?: AbortSignal): Promise<JobState> {
    const job = parseJobState(await this.json(routes.job(id), { method: 'GET', signal, cache: 'no-store' }));
    if (!job) throw new ApiError(200, 'bad_response', 'The server sent a job this page cannot read.');
    return job;
  }

  /** GET /api/jobs/{id}/result (following a redirect) → the PNG. */
  async getResult(id: string, signal?: AbortSignal): Promise<Blob> {
    const res = await this.request(routes.result(id), { method: 'GET', signal });
    return res.blob();
  }

  /** DELETE /api/jobs/{id}; a job that is already gone counts as deleted. */
  async deleteJob(id: string, keepalive = false): Promise<void> {
    try {
      await this.request(routes.job(id), { method: 'DELETE', keepalive });
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) return;
      throw e;
    }
  }

  /** POST /api/remove: synchronous removal, PNG out. */
  async removeSync(file: Blob, filename: string, opts: RemoveOptions, signal?: AbortSignal): Promise<Blob> {
    const res = await this.request(routes.remove, { method: 'POST', body: buildForm(file, filename, opts), signal });
    return res.blob();
  }
}

/** The websocket URL for a job, absolute, on the page's origin (or `base`'s). */
export function wsUrl(id: string, pageUrl: string, base = ''): string {
  const u = new URL(base.replace(/\/$/, '') + routes.ws(id), pageUrl);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  return u.toString();
}
