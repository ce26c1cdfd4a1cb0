import { silentLogger, type Logger } from '@metalplane/core';
import { Pool, type Dispatcher } from 'undici';
import { delay as pause } from './delay.js';
import {
  NetboxAuthError,
  NetboxConflictError,
  NetboxExhaustedError,
  NetboxNotFoundError,
  NetboxRequestError,
  NetboxUnavailableError,
  NetboxValidationError,
  type NetboxFieldError,
  type NetboxRequestInfo,
} from './errors.js';

export type NetboxTokenVersion = 'v1' | 'v2';

const V1_TOKEN = /^[A-Za-z0-9]{40}$/;
const V2_TOKEN = /^nbt_[A-Za-z0-9]+\.[A-Za-z0-9]+$/;

/**
 * The `Authorization` header for a NetBox API token. The version follows from the token's
 * shape, as NetBox itself decides it: `nbt_<key>.<token>` is a v2 token (`Bearer`, NetBox
 * 4.5+), 40 alphanumerics a v1 token (`Token`). A leading `Token `/`Bearer ` keyword that
 * an operator pasted along is dropped. Errors never contain the token.
 */
export function netboxAuthorization(token: string): { readonly header: string; readonly version: NetboxTokenVersion } {
  const value = token.trim().replace(/^(token|bearer)\s+/i, '');
  if (value.startsWith('nbt_')) {
    if (!V2_TOKEN.test(value)) {
      throw new TypeError(
        'the NetBox token starts with nbt_ (a v2 token) but is not of the form nbt_<key>.<token> with alphanumeric key and token',
      );
    }
    return { header: `Bearer ${value}`, version: 'v2' };
  }
  if (!V1_TOKEN.test(value)) {
    throw new TypeError(
      `the NetBox token is neither a v1 token (40 letters and digits; this one has ${value.length} characters` +
        `${/[^A-Za-z0-9]/.test(value) ? ', some of them not letters or digits' : ''}) nor a v2 token (nbt_<key>.<token>)`,
    );
  }
  return { header: `Token ${value}`, version: 'v1' };
}

export interface NetboxClientOptions {
  /** Base URL of NetBox, e.g. `https://netbox.example.com` (a path prefix such as `/netbox` is kept). */
  readonly url: string;
  /** A v1 (`<40 chars>`) or v2 (`nbt_<key>.<token>`) API token. */
  readonly token: string;
  /** Per attempt: how long to wait for the response headers, and between body chunks (default 10 s). */
  readonly timeoutMs?: number;
  /** How long to wait for a TCP/TLS connection (default: `timeoutMs`). */
  readonly connectTimeoutMs?: number;
  /** Retries after the first attempt on 5xx, 429 and connection errors (default 3). */
  readonly retries?: number;
  /** First backoff delay; doubles with each retry, with jitter (default 200 ms). */
  readonly retryBaseMs?: number;
  /** Longest single wait, including one asked for by `Retry-After`; a longer one ends the retries (default 30 s). */
  readonly retryMaxDelayMs?: number;
  /** Verify NetBox's TLS certificate (default true). */
  readonly verifyTls?: boolean;
  /** Keep-alive connections to NetBox (default 8). */
  readonly connections?: number;
  /** Pages a `paginate` follows at most (default 100). */
  readonly maxPages?: number;
  readonly logger?: Logger;
  /** Tests only: a dispatcher to use instead of the client's own pool. */
  readonly dispatcher?: Dispatcher;
}

export type QueryValue = string | number | boolean | null | undefined | readonly (string | number)[];
export type Query = Readonly<Record<string, QueryValue>>;

export interface NetboxRequestOptions {
  readonly query?: Query;
  readonly body?: unknown;
  readonly signal?: AbortSignal;
  /**
   * Whether sending the request twice is harmless. Defaults to true for GET/PUT/PATCH/DELETE and
   * false for POST. A non-idempotent request is retried only when NetBox provably did not get it
   * (connection refused or timed out, 429); otherwise a `NetboxUnavailableError` with
   * `maybeApplied` says the caller must look before trying again.
   */
  readonly idempotent?: boolean;
}

/** A NetBox list response (offset pagination). */
export interface NetboxPage<T> {
  readonly count: number | null;
  readonly next: string | null;
  readonly previous: string | null;
  readonly results: T[];
}

/** Connection errors that happen before a request is written: NetBox never saw it. */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);
/** Connection errors after which a request may or may not have reached NetBox. */
const BROKEN_CODES = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'UND_ERR_SOCKET', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CLOSED']);

class RetryableFailure {
  constructor(
    readonly reason: string,
    readonly sent: boolean,
    readonly retryAfterMs: number | undefined,
    readonly status: number | undefined,
    readonly cause: unknown,
  ) {}
}

/**
 * A small NetBox REST client on an undici keep-alive pool: JSON in and out, both token
 * formats, bounded retries with exponential backoff and jitter on 5xx/429/connection
 * errors (never on other 4xx), `AbortSignal` everywhere, typed errors, and pagination.
 * The token lives in a private field and is scrubbed from every error and log line.
 */
export class NetboxClient {
  readonly tokenVersion: NetboxTokenVersion;
  /** `https://host[:port]` without credentials; safe to log. */
  readonly origin: string;
  readonly #authorization: string;
  readonly #secrets: readonly string[];
  readonly #basePath: string;
  readonly #dispatcher: Dispatcher;
  readonly #ownsDispatcher: boolean;
  readonly #timeoutMs: number;
  readonly #retries: number;
  readonly #retryBaseMs: number;
  readonly #retryMaxDelayMs: number;
  readonly #maxPages: number;
  readonly #logger: Logger;
  #closed = false;

  constructor(options: NetboxClientOptions) {
    const url = new URL(options.url);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`NetBox url must be http(s), not ${url.protocol}`);
    const { header, version } = netboxAuthorization(options.token);
    this.#authorization = header;
    this.tokenVersion = version;
    const bare = header.slice(header.indexOf(' ') + 1);
    // The whole token, and for v2 also the secret after the dot, so neither half leaks.
    this.#secrets = [bare, ...(version === 'v2' ? [bare.slice(bare.indexOf('.') + 1)] : [])];
    this.origin = url.origin;
    // `https://netbox/api` is a common way to write the URL; the API paths carry `/api` themselves.
    this.#basePath = url.pathname.replace(/\/+$/, '').replace(/\/api$/, '');
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#retries = Math.max(0, options.retries ?? 3);
    this.#retryBaseMs = options.retryBaseMs ?? 200;
    this.#retryMaxDelayMs = options.retryMaxDelayMs ?? 30_000;
    this.#maxPages = options.maxPages ?? 100;
    this.#logger = options.logger ?? silentLogger;
    this.#ownsDispatcher = !options.dispatcher;
    this.#dispatcher =
      options.dispatcher ??
      new Pool(url.origin, {
        connections: options.connections ?? 8,
        pipelining: 1,
        keepAliveTimeout: 30_000,
        keepAliveMaxTimeout: 120_000,
        headersTimeout: this.#timeoutMs,
        bodyTimeout: this.#timeoutMs,
        connect: { timeout: options.connectTimeoutMs ?? this.#timeoutMs, rejectUnauthorized: options.verifyTls !== false },
      });
  }

  /** Replaces every occurrence of the token (and of its secret part) in `text`. */
  redact(text: string): string {
    let out = text;
    for (const secret of this.#secrets) if (secret.length > 0) out = out.split(secret).join('[REDACTED]');
    return out;
  }

  async get<T>(path: string, options: Omit<NetboxRequestOptions, 'body'> = {}): Promise<T> {
    return this.request<T>('GET', path, options);
  }

  async post<T>(path: string, body: unknown, options: Omit<NetboxRequestOptions, 'body'> = {}): Promise<T> {
    return this.request<T>('POST', path, { ...options, body });
  }

  async patch<T>(path: string, body: unknown, options: Omit<NetboxRequestOptions, 'body'> = {}): Promise<T> {
    return this.request<T>('PATCH', path, { ...options, body });
  }

  async delete(path: string, options: Omit<NetboxRequestOptions, 'body'> = {}): Promise<void> {
    await this.request<unknown>('DELETE', path, options);
  }

  /**
   * Every item of a list endpoint, following `next` links, at most `maxPages` pages (then it
   * throws rather than return a silently truncated list).
   */
  async *paginate<T>(path: string, options: Omit<NetboxRequestOptions, 'body'> & { readonly pageSize?: number; readonly maxPages?: number } = {}): AsyncGenerator<T> {
    const maxPages = options.maxPages ?? this.#maxPages;
    let page = await this.get<NetboxPage<T>>(path, { ...options, query: { limit: options.pageSize ?? 200, ...options.query } });
    for (let pages = 1; ; pages++) {
      if (!page || !Array.isArray(page.results)) throw new NetboxRequestError(`NetBox answered ${path} with something that is not a list page`, { method: 'GET', path });
      yield* page.results;
      if (!page.next) return;
      if (pages >= maxPages) {
        throw new NetboxRequestError(`NetBox list ${path} has more than ${maxPages} pages; narrow the query`, { method: 'GET', path });
      }
      page = await this.get<NetboxPage<T>>(this.#relative(page.next), { ...(options.signal ? { signal: options.signal } : {}) });
    }
  }

  /** `paginate` collected into an array. */
  async list<T>(path: string, options: Omit<NetboxRequestOptions, 'body'> & { readonly pageSize?: number; readonly maxPages?: number } = {}): Promise<T[]> {
    const items: T[] = [];
    for await (const item of this.paginate<T>(path, options)) items.push(item);
    return items;
  }

  /**
   * One request with the retry policy. `path` is relative to the API root's host, e.g.
   * `/api/ipam/prefixes/12/` (NetBox wants the trailing slash).
   */
  async request<T>(method: Dispatcher.HttpMethod, path: string, options: NetboxRequestOptions = {}): Promise<T> {
    if (this.#closed) throw new NetboxUnavailableError('the NetBox client is closed', { method, path }, 0, false);
    const idempotent = options.idempotent ?? method !== 'POST';
    const signal = options.signal;
    const info: NetboxRequestInfo = { method, path };
    const attempts = this.#retries + 1;
    for (let attempt = 1; ; attempt++) {
      signal?.throwIfAborted();
      const outcome = await this.#attempt<T>(method, path, options, info);
      if (!(outcome instanceof RetryableFailure)) return outcome;
      const retryable = idempotent || !outcome.sent;
      const delay = outcome.retryAfterMs ?? this.#backoff(attempt);
      const last = attempt >= attempts || !retryable || delay > this.#retryMaxDelayMs;
      const where = `${method} ${path}`;
      if (last) {
        const why =
          !retryable
            ? ' (not retried: the request may have reached NetBox)'
            : delay > this.#retryMaxDelayMs
              ? ` (NetBox asked to wait ${Math.ceil(delay / 1000)} s, longer than the client waits)`
              : '';
        throw new NetboxUnavailableError(
          `NetBox at ${this.origin} is unavailable: ${where} failed after ${attempt} attempt${attempt > 1 ? 's' : ''}: ${outcome.reason}${why}`,
          { ...info, ...(outcome.status ? { status: outcome.status } : {}) },
          attempt,
          outcome.sent,
          { cause: outcome.cause },
        );
      }
      this.#logger.warn({ method, path, attempt, delayMs: Math.round(delay), reason: outcome.reason }, 'NetBox request failed, retrying');
      await pause(delay, signal);
    }
  }

  /** Closes the keep-alive connections; in-flight requests fail. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#ownsDispatcher) await this.#dispatcher.destroy().catch(() => undefined);
  }

  #backoff(attempt: number): number {
    const ceiling = Math.min(this.#retryMaxDelayMs, this.#retryBaseMs * 2 ** (attempt - 1));
    // "Equal jitter": at least half the exponential delay, so retries still spread out.
    return ceiling / 2 + Math.random() * (ceiling / 2);
  }

  async #attempt<T>(method: Dispatcher.HttpMethod, path: string, options: NetboxRequestOptions, info: NetboxRequestInfo): Promise<T | RetryableFailure> {
    const headers: Record<string, string> = { authorization: this.#authorization, accept: 'application/json' };
    let body: string | undefined;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] = 'application/json';
    }
    let response: Dispatcher.ResponseData;
    try {
      response = await this.#dispatcher.request({
        origin: this.origin,
        path: this.#basePath + path + queryString(options.query),
        method,
        headers,
        ...(body !== undefined ? { body } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
        headersTimeout: this.#timeoutMs,
        bodyTimeout: this.#timeoutMs,
      });
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason;
      const code = errorCode(error);
      const reason = this.redact(`${code ?? 'error'}: ${error instanceof Error ? error.message : String(error)}`);
      if (code && NOT_SENT_CODES.has(code)) return new RetryableFailure(reason, false, undefined, undefined, this.#scrub(error));
      if (code && BROKEN_CODES.has(code)) return new RetryableFailure(reason, true, undefined, undefined, this.#scrub(error));
      if (this.#closed || code === 'UND_ERR_DESTROYED') {
        throw new NetboxUnavailableError(`the NetBox client was closed during ${method} ${path}`, info, 1, true);
      }
      // Anything else (a bug, an invalid argument) is not a NetBox outage: fail as is.
      throw new NetboxRequestError(`NetBox request ${method} ${path} failed: ${reason}`, info);
    }

    let text: string;
    try {
      text = await response.body.text();
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason;
      const reason = this.redact(`${errorCode(error) ?? 'error'} reading the body: ${error instanceof Error ? error.message : String(error)}`);
      return new RetryableFailure(reason, true, undefined, response.statusCode, this.#scrub(error));
    }
    const status = response.statusCode;
    if (status >= 200 && status < 300) {
      if (status === 204 || text.length === 0) return undefined as T;
      try {
        return JSON.parse(text) as T;
      } catch {
        throw new NetboxRequestError(`NetBox answered ${method} ${path} with ${status} and a body that is not JSON`, { ...info, status });
      }
    }
    const parsed = parseJson(text);
    const detail = this.redact(detailOf(parsed) ?? (text.slice(0, 200) || `HTTP ${status}`));
    const withStatus = { ...info, status };
    if (status === 429 || status >= 500) {
      const retryAfterMs = status === 429 || status === 503 ? parseRetryAfter(header(response.headers, 'retry-after')) : undefined;
      // A 429 is refused before it is handled; a 5xx may come after NetBox applied part of it.
      return new RetryableFailure(`HTTP ${status}: ${detail}`, status !== 429, retryAfterMs, status, undefined);
    }
    if (status === 403 || status === 401) throw this.#authError(method, path, withStatus, detail);
    if (status === 400) {
      const fields = fieldErrors(parsed);
      const named = fields.length > 0 ? fields.map((f) => `${f.field}: ${f.messages.join(' ')}`).join('; ') : detail;
      throw new NetboxValidationError(this.redact(`NetBox rejected ${method} ${path}: ${named}`), withStatus, fields);
    }
    if (status === 404) throw new NetboxNotFoundError(`NetBox has no ${path} (404: ${detail})`, withStatus);
    if (status === 409) {
      if (/available-(ips|prefixes|vlans|asns)\/?$/.test(path)) throw new NetboxExhaustedError(`NetBox: ${detail} (${method} ${path})`, withStatus);
      throw new NetboxConflictError(`NetBox refused ${method} ${path}: ${detail}`, withStatus);
    }
    throw new NetboxRequestError(`NetBox refused ${method} ${path} with HTTP ${status}: ${detail}`, withStatus);
  }

  #authError(method: string, path: string, info: NetboxRequestInfo, detail: string): NetboxAuthError {
    const kind = this.tokenVersion === 'v2' ? 'v2 token (Bearer nbt_<key>.<token>, NetBox 4.5+)' : 'v1 token (Token <40 characters>)';
    if (/permission to perform/i.test(detail)) {
      const needed = requiredPermission(method, path);
      return new NetboxAuthError(
        `NetBox refused ${method} ${path}: "${detail}" — the configured ${kind} is accepted but may not do this: ` +
          `give its user the permission ${needed}${method === 'GET' ? '' : ' and make sure the token is write-enabled'}`,
        info,
        'permission',
        detail,
      );
    }
    const hint = /could not parse key from v2 token/i.test(detail)
      ? 'the token is written as a v2 token but NetBox cannot read it; check it was copied whole'
      : /invalid (authorization )?header|no credentials|not provided/i.test(detail)
        ? this.tokenVersion === 'v2'
          ? 'this NetBox does not accept the Bearer (v2) form: v2 tokens need NetBox 4.5 or later, use a v1 token for older versions'
          : 'NetBox did not accept the Authorization header'
        : /expired/i.test(detail)
          ? 'the token has expired: create a new one in NetBox'
          : /disabled|inactive/i.test(detail)
            ? "the token or its user is disabled in NetBox"
            : /source ip/i.test(detail)
              ? "the token's allowed IPs do not include this host"
              : 'NetBox does not know this token: check plugins.netbox.token (for ${file:...}/${env:...}, the file or variable it names)';
    return new NetboxAuthError(
      `NetBox rejected the configured ${kind} on ${method} ${path}: "${detail}" — ${hint}`,
      info,
      'token',
      detail,
    );
  }

  /** An error from undici may quote the request; keep its message and code, drop anything else. */
  #scrub(error: unknown): Error {
    const message = this.redact(error instanceof Error ? error.message : String(error));
    const scrubbed = new Error(message);
    const code = errorCode(error);
    if (code) Object.assign(scrubbed, { code });
    return scrubbed;
  }

  #relative(next: string): string {
    const url = new URL(next, this.origin);
    const path = url.pathname.startsWith(this.#basePath) ? url.pathname.slice(this.#basePath.length) : url.pathname;
    return path + url.search;
  }
}

/** The NetBox permission a request needs, e.g. `ipam.add_ipaddress`, to tell the operator. */
export function requiredPermission(method: string, path: string): string {
  const match = /^\/api\/([a-z-]+)\/([a-z-]+)\/(?:\d+\/)?(available-ips\/)?/.exec(path);
  if (!match) return `to ${method} ${path}`;
  const app = match[1]!;
  const model = MODEL_NAMES[match[2]!] ?? match[2]!.replace(/-/g, '');
  const action = ACTIONS[method] ?? 'view';
  if (match[3]) return method === 'GET' ? `${app}.view_${model}` : `${app}.add_ipaddress (and ${app}.view_${model})`;
  return `${app}.${action}_${model}`;
}

const ACTIONS: Readonly<Record<string, string>> = { GET: 'view', POST: 'add', PUT: 'change', PATCH: 'change', DELETE: 'delete' };
const MODEL_NAMES: Readonly<Record<string, string>> = {
  'ip-addresses': 'ipaddress',
  'ip-ranges': 'iprange',
  prefixes: 'prefix',
  tags: 'tag',
  'mac-addresses': 'macaddress',
  interfaces: 'interface',
  devices: 'device',
  vrfs: 'vrf',
};

function queryString(query: Query | undefined): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const v of value as readonly (string | number)[]) params.append(key, String(v));
    else params.append(key, value === null ? 'null' : String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}

function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') return code;
  return errorCode((error as { cause?: unknown }).cause);
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** `Retry-After` as milliseconds: delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | undefined, now: number = Date.now()): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function detailOf(body: unknown): string | undefined {
  if (typeof body === 'object' && body !== null && !Array.isArray(body)) {
    const detail = (body as { detail?: unknown }).detail;
    if (typeof detail === 'string') return detail;
  }
  if (Array.isArray(body) && body.every((m) => typeof m === 'string')) return body.join(' ');
  return undefined;
}

/**
 * NetBox's 400 bodies: `{field: [msg]}`, `{non_field_errors: [...]}`, `[msg]`, nested lists
 * for list fields (`{"tags": [{}, ["msg"]]}`), or a list of those (bulk).
 */
function fieldErrors(body: unknown, prefix = ''): NetboxFieldError[] {
  if (Array.isArray(body)) {
    if (body.every((m) => typeof m === 'string')) return body.length > 0 ? [{ field: prefix || 'non_field_errors', messages: body as string[] }] : [];
    return body.flatMap((item, i) => fieldErrors(item, `${prefix}[${i}]`));
  }
  if (typeof body === 'string') return [{ field: prefix || 'non_field_errors', messages: [body] }];
  if (typeof body !== 'object' || body === null) return [];
  return Object.entries(body as Record<string, unknown>).flatMap(([field, value]) => fieldErrors(value, prefix ? `${prefix}.${field}` : field));
}
