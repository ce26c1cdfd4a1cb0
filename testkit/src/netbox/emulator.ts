import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { AccessRules, AuthResult } from './auth.js';
import { authenticate, authorize } from './auth.js';
import type { ApiResponse, HandlerEnvironment, HttpMethod, RequestContext, RouteDef } from './context.js';
import { permissionFor } from './context.js';
import { ApiError, NOT_AUTHENTICATED, NOT_FOUND, detail } from './errors.js';
import type { RequestFaults } from './faults.js';
import { NetboxFaults } from './faults.js';
import type { PageSettings } from './pagination.js';
import { coreRoutes } from './routes-core.js';
import { dcimRoutes } from './routes-dcim.js';
import { UnhandledServerError, ipamRoutes } from './routes-ipam.js';
import type { TokenInfo, TokenSeed } from './state.js';
import { NetboxState } from './state.js';
import { NetboxStore } from './store.js';
import { featuresOf } from './version.js';

export const NetboxEmulatorOptionsSchema = Type.Object(
  {
    /** Port on 127.0.0.1; 0 (default) picks a free one. `faults.up()` reuses it. */
    port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
    /** The NetBox release to behave as (default `4.6.8`); see `NetboxFeatures`. */
    version: Type.Optional(Type.String({ pattern: '^\\d+\\.\\d+(\\.\\d+)?' })),
    /** `LOGIN_REQUIRED`: default true (4.1+), false before. */
    loginRequired: Type.Optional(Type.Boolean()),
    /** `EXEMPT_VIEW_PERMISSIONS`: models anonymous clients may read when login is not required (`'*'` for all). */
    exemptViewPermissions: Type.Optional(Type.Array(Type.String())),
    /** `PAGINATE_COUNT`, default 50. */
    paginateCount: Type.Optional(Type.Integer({ minimum: 1 })),
    /** `MAX_PAGE_SIZE`, default 1000; 0 for none. */
    maxPageSize: Type.Optional(Type.Integer({ minimum: 0 })),
    /** `ENFORCE_GLOBAL_UNIQUE`, default true. */
    enforceGlobalUnique: Type.Optional(Type.Boolean()),
    /**
     * Default false: `POST .../available-ips/` picks and creates addresses in one critical
     * section, as NetBox does under its advisory lock (PR #3726 fixed issue #2519 in 2019; IP
     * create/update/delete share the lock since 3.3.7, #10282). True: the pre-lock behaviour
     * of #2519 — pick the free addresses, yield, create them without re-checking — so
     * concurrent requests can be handed the same address.
     */
    raceAvailableIps: Type.Optional(Type.Boolean()),
    /**
     * How long `raceAvailableIps` yields between picking and creating (NetBox's database
     * round trip). Default 2 ms. 0 yields one `setImmediate` turn, which in practice is too
     * short for another HTTP request to slip in.
     */
    raceWindowMs: Type.Optional(Type.Integer({ minimum: 0 })),
    /** `hostname` in `/api/status/` (4.4+). */
    hostname: Type.Optional(Type.String()),
    /** How many requests `requests()` remembers (default 10 000). */
    requestLogSize: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { additionalProperties: false },
);

export interface NetboxEmulatorOptions extends Static<typeof NetboxEmulatorOptionsSchema> {
  /** Tokens to create at start; their headers are in `emulator.tokens`. */
  readonly tokens?: readonly TokenSeed[];
  /** Clock for `created`/`last_updated` and token expiry. */
  readonly now?: () => Date;
}

/** One request as the emulator saw it. */
export interface RecordedRequest {
  readonly method: string;
  /** Path and query, as received. */
  readonly url: string;
  /** The status sent, or `'dropped'` when the connection was destroyed without an answer. */
  readonly status: number | 'dropped';
  /** `v1`/`v2` for an accepted token, `rejected` for an auth failure, else `anonymous`. */
  readonly auth: 'anonymous' | 'v1' | 'v2' | 'rejected';
  /** The injected fault, if any (`latency` is not listed). */
  readonly fault?: 'drop' | 'status';
  readonly at: Date;
  readonly durationMs: number;
}

export interface NetboxEmulator extends AsyncDisposable {
  /** `http://127.0.0.1:<port>` (no trailing slash). */
  readonly url: string;
  readonly port: number;
  readonly version: string;
  readonly state: NetboxState;
  readonly faults: NetboxFaults;
  /** Tokens created from `options.tokens`, in order. */
  readonly tokens: readonly TokenInfo[];
  /** The most recent requests, oldest first. */
  requests(): readonly RecordedRequest[];
  clearRequests(): void;
  /** Closes the server and every connection. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts a NetBox 4.x REST API emulator on 127.0.0.1 (PROTOCOLS.md §1): real HTTP, NetBox's
 * status codes and bodies, in-memory data seeded through `state`, faults through `faults`.
 *
 * @example
 * ```ts
 * await using netbox = await startNetboxEmulator({ tokens: [{ version: 2 }] });
 * const prefix = netbox.state.addPrefix({ prefix: '192.0.2.0/24' });
 * const res = await fetch(`${netbox.url}/api/ipam/prefixes/${prefix.id}/available-ips/`, {
 *   method: 'POST',
 *   headers: { authorization: netbox.tokens[0].authorization, 'content-type': 'application/json' },
 *   body: JSON.stringify({ description: 'web-1' }),
 * });
 * ```
 */
export async function startNetboxEmulator(options: NetboxEmulatorOptions = {}): Promise<NetboxEmulator> {
  const { tokens, now, ...rest } = options;
  if (!Value.Check(NetboxEmulatorOptionsSchema, rest)) {
    const problems = [...Value.Errors(NetboxEmulatorOptionsSchema, rest)].map((e) => `${e.path || '/'}: ${e.message}`);
    throw new TypeError(`NetBox emulator: invalid options: ${problems.join('; ')}`);
  }
  const emulator = new Emulator(rest, now ?? (() => new Date()));
  try {
    const created = (tokens ?? []).map((seed) => emulator.state.addToken(seed));
    await emulator.start(created);
  } catch (error) {
    await emulator.stop();
    throw error;
  }
  return emulator;
}

const ALLOW_ORDER: readonly HttpMethod[] = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];

class Emulator implements NetboxEmulator {
  readonly state: NetboxState;
  readonly faults: NetboxFaults;
  readonly version: string;
  tokens: readonly TokenInfo[] = [];

  readonly #store: NetboxStore;
  readonly #app: FastifyInstance;
  readonly #server: Server;
  readonly #routes: readonly CompiledRoute[];
  readonly #pages: PageSettings;
  readonly #access: AccessRules;
  readonly #env: Omit<HandlerEnvironment, 'signal'>;
  readonly #logSize: number;
  readonly #requestedPort: number;
  #log: RecordedRequest[] = [];
  #port = 0;
  #listening = false;
  #stopped = false;
  /** Aborted whenever the server goes down: in-flight requests must not commit. */
  #lifecycle = lifecycleController();

  constructor(options: Static<typeof NetboxEmulatorOptionsSchema>, now: () => Date) {
    this.version = options.version ?? '4.6.8';
    const features = featuresOf(this.version);
    this.#store = new NetboxStore({ features, enforceGlobalUnique: options.enforceGlobalUnique ?? true, now });
    this.state = new NetboxState(this.#store);
    this.#pages = {
      paginateCount: options.paginateCount ?? 50,
      maxPageSize: options.maxPageSize ?? 1000,
      cursor: features.netbox46,
    };
    this.#access = {
      loginRequired: options.loginRequired ?? features.loginRequiredByDefault,
      exemptViewPermissions: options.exemptViewPermissions ?? [],
    };
    this.#env = {
      raceAvailableIps: options.raceAvailableIps ?? false,
      raceWindowMs: options.raceWindowMs ?? 2,
      hostname: options.hostname ?? 'netbox-emulator',
    };
    this.#logSize = options.requestLogSize ?? 10_000;
    this.#requestedPort = options.port ?? 0;
    this.#routes = [...coreRoutes(this.#store), ...ipamRoutes(), ...dcimRoutes(this.#store)].map(compileRoute);
    this.#server = createServer();
    this.#server.keepAliveTimeout = 5_000;
    const isListening = (): boolean => this.#listening;
    this.faults = new NetboxFaults({
      close: () => this.#close(),
      reopen: () => this.#listen(this.#port),
      get listening() {
        return isListening();
      },
    });
    this.#app = Fastify({
      logger: false,
      bodyLimit: 16 * 1024 * 1024,
      serverFactory: (handler: (req: IncomingMessage, res: ServerResponse) => void) => {
        this.#server.on('request', handler);
        return this.#server;
      },
    });
    this.#app.removeAllContentTypeParsers();
    this.#app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
    for (const route of this.#routes) {
      const methods = Object.keys(route.def.methods) as HttpMethod[];
      this.#app.route({
        method: methods,
        url: route.def.pattern,
        handler: (request, reply) => this.#dispatch(request, reply, route),
      });
    }
    this.#app.setNotFoundHandler((request, reply) => this.#dispatch(request, reply, undefined));
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  get port(): number {
    return this.#port;
  }

  async start(tokens: readonly TokenInfo[]): Promise<void> {
    this.tokens = tokens;
    await this.#app.ready();
    await this.#listen(this.#requestedPort);
  }

  requests(): readonly RecordedRequest[] {
    return [...this.#log];
  }

  clearRequests(): void {
    this.#log = [];
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    await this.#close();
    await this.#app.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  async #listen(port: number): Promise<void> {
    if (this.#stopped) throw new Error('NetBox emulator: stopped');
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error): void => reject(error);
      this.#server.once('error', onError);
      this.#server.listen(port, '127.0.0.1', () => {
        this.#server.off('error', onError);
        resolve();
      });
    });
    this.#port = (this.#server.address() as AddressInfo).port;
    this.#listening = true;
  }

  async #close(): Promise<void> {
    this.#lifecycle.abort(new Error('NetBox emulator went down'));
    this.#lifecycle = lifecycleController();
    if (!this.#listening) return;
    this.#listening = false;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeAllConnections();
    await closed;
  }

  #record(entry: RecordedRequest): void {
    if (this.#logSize === 0) return;
    this.#log.push(entry);
    if (this.#log.length > this.#logSize) this.#log.splice(0, this.#log.length - this.#logSize);
  }

  async #dispatch(request: FastifyRequest, reply: FastifyReply, routed: CompiledRoute | undefined): Promise<void> {
    const started = Date.now();
    const method = request.method.toUpperCase();
    const url = request.raw.url ?? '/';
    const queryAt = url.indexOf('?');
    const path = queryAt >= 0 ? url.slice(0, queryAt) : url;
    const signal = this.#lifecycle.signal;
    const outcome = { auth: 'anonymous' as RecordedRequest['auth'] };
    const finish = (status: number | 'dropped', fault?: RecordedRequest['fault']): void =>
      this.#record({
        method,
        url,
        status,
        auth: outcome.auth,
        ...(fault ? { fault } : {}),
        at: new Date(started),
        durationMs: Date.now() - started,
      });
    const drop = (fault?: RecordedRequest['fault']): void => {
      reply.hijack();
      request.raw.socket.destroy();
      finish('dropped', fault);
    };

    const faults: RequestFaults = this.faults.decide(method, path);
    if (faults.latencyMs > 0) {
      try {
        await sleep(faults.latencyMs, undefined, { signal });
      } catch {
        return drop();
      }
    }
    if (signal.aborted) return drop();
    if (faults.before?.kind === 'drop') return drop('drop');

    let response: ApiResponse;
    let fault: RecordedRequest['fault'];
    if (faults.before?.kind === 'status') {
      response = this.#faultResponse(faults.before.status, faults.before.retryAfterSeconds);
      fault = 'status';
    } else {
      try {
        response = await this.#handle(request, method, url, path, queryAt >= 0 ? url.slice(queryAt + 1) : '', routed, signal, outcome);
      } catch (error) {
        if (signal.aborted) return drop();
        throw error;
      }
      if (signal.aborted) return drop();
      if (faults.after?.kind === 'drop') return drop('drop');
      if (faults.after?.kind === 'status') {
        response = this.#faultResponse(faults.after.status);
        fault = 'status';
      }
    }
    this.#send(reply, path, response);
    finish(response.status, fault);
  }

  #send(reply: FastifyReply, path: string, response: ApiResponse): void {
    reply.code(response.status);
    reply.header('x-request-id', randomUUID());
    if (path.startsWith('/api/')) reply.header('api-version', this.#store.features.apiVersion);
    for (const [name, value] of Object.entries(response.headers ?? {})) reply.header(name, value);
    if (response.status === 204 || response.body === undefined) {
      reply.send();
      return;
    }
    // Buffers, so Fastify leaves the content type exactly as NetBox sends it.
    if (typeof response.body === 'string') {
      if (!reply.hasHeader('content-type')) reply.header('content-type', 'text/html; charset=utf-8');
      reply.send(Buffer.from(response.body));
      return;
    }
    reply.header('content-type', 'application/json');
    reply.header('vary', 'Accept, Cookie, Origin');
    reply.send(Buffer.from(JSON.stringify(response.body)));
  }

  /** 500 in NetBox's REST error shape (`handle_rest_api_exception`); 502-504 as a proxy's page. */
  #faultResponse(status: number, retryAfterSeconds?: number): ApiResponse {
    if (status === 429) {
      const wait = retryAfterSeconds ?? 1;
      return {
        status,
        body: { detail: `Request was throttled. Expected available in ${wait} second${wait === 1 ? '' : 's'}.` },
        headers: { 'retry-after': String(wait) },
      };
    }
    if (status === 500) return this.#serverError('OperationalError', 'server closed the connection unexpectedly (injected fault)');
    const reason: Record<number, string> = { 502: 'Bad Gateway', 503: 'Service Temporarily Unavailable', 504: 'Gateway Time-out' };
    const title = `${status} ${reason[status] ?? 'Server Error'}`;
    return {
      status,
      body: `<html>\r\n<head><title>${title}</title></head>\r\n<body>\r\n<center><h1>${title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n`,
    };
  }

  #serverError(exception: string, message: string): ApiResponse {
    return {
      status: 500,
      body: { error: message, exception, netbox_version: this.#store.features.full, python_version: '3.12.3' },
    };
  }

  async #handle(
    request: FastifyRequest,
    method: string,
    url: string,
    path: string,
    queryString: string,
    routed: CompiledRoute | undefined,
    signal: AbortSignal,
    outcome: { auth: RecordedRequest['auth'] },
  ): Promise<ApiResponse> {
    let route = routed;
    let params: Record<string, string> = routed ? ((request.params as Record<string, string> | undefined) ?? {}) : {};
    if (!route) {
      const match = this.#match(path);
      if (!match) return this.#unrouted(method, path, queryString);
      route = match.route;
      params = match.params;
    }
    try {
      let auth: AuthResult;
      try {
        auth = this.#authenticate(request);
      } catch (error) {
        outcome.auth = 'rejected';
        throw error;
      }
      outcome.auth = auth.kind === 'anonymous' ? 'anonymous' : auth.token.version === 1 ? 'v1' : 'v2';
      if (route.def.model === 'authenticated') {
        if (auth.kind === 'anonymous') throw detail(403, NOT_AUTHENTICATED);
      } else {
        authorize(auth, method, route.def.model === null ? null : permissionFor(route.def.model, method), this.#access);
      }
      if (method === 'OPTIONS') return { status: 200, body: optionsMetadata(route.def), headers: { allow: route.allow } };
      const handler = route.def.methods[method as HttpMethod] ?? (method === 'HEAD' ? route.def.methods.GET : undefined);
      if (!handler) throw detail(405, `Method "${method}" not allowed.`);
      const baseUrl = `http://${request.headers.host ?? `127.0.0.1:${this.#port}`}`;
      const ctx = this.#context(request, method, path, queryString, params, auth, baseUrl, `${baseUrl}${url}`, signal);
      const response = await handler(ctx);
      return { ...response, headers: { allow: route.allow, ...response.headers } };
    } catch (error) {
      if (signal.aborted) throw error;
      if (error instanceof ApiError) {
        return { status: error.status, body: error.body, headers: { allow: route.allow, ...error.headers } };
      }
      if (error instanceof UnhandledServerError) return this.#serverError(error.exception, error.message);
      const failure = error instanceof Error ? error : new Error(String(error));
      return this.#serverError(failure.name, failure.message);
    }
  }

  #authenticate(request: FastifyRequest): AuthResult {
    const realIp = request.headers['x-real-ip'];
    const forwarded = request.headers['x-forwarded-for'];
    const clientIp =
      (typeof realIp === 'string' && realIp.split(',')[0]?.trim()) ||
      (typeof forwarded === 'string' && forwarded.split(',')[0]?.trim()) ||
      request.raw.socket.remoteAddress ||
      '127.0.0.1';
    const header = request.headers.authorization;
    return authenticate(this.#store, typeof header === 'string' ? header : undefined, clientIp);
  }

  #context(
    request: FastifyRequest,
    method: string,
    path: string,
    queryString: string,
    params: Record<string, string>,
    auth: AuthResult,
    baseUrl: string,
    requestUrl: string,
    signal: AbortSignal,
  ): RequestContext {
    let parsed: { value: unknown } | undefined;
    return {
      method,
      path,
      query: new URLSearchParams(queryString),
      params,
      headers: request.headers,
      requestUrl,
      auth,
      store: this.#store,
      ser: { store: this.#store, baseUrl },
      pages: this.#pages,
      access: this.#access,
      env: { ...this.#env, signal },
      body: () => {
        parsed ??= { value: parseBody(request) };
        return parsed.value;
      },
    };
  }

  #match(path: string): { route: CompiledRoute; params: Record<string, string> } | undefined {
    for (const route of this.#routes) {
      const match = route.regex.exec(path);
      if (!match) continue;
      const params: Record<string, string> = {};
      route.names.forEach((name, index) => {
        params[name] = decodeURIComponent(match[index + 1] ?? '');
      });
      return { route, params };
    }
    return undefined;
  }

  /**
   * No route: Django's `APPEND_SLASH` redirects a slash-less API path that would match with a
   * slash (301 for reads; from 4.6 a 404 for writes, #21906); anything else is Django's HTML 404.
   */
  #unrouted(method: string, path: string, queryString: string): ApiResponse {
    if (!path.endsWith('/') && this.#match(`${path}/`)) {
      const write = !['GET', 'HEAD', 'OPTIONS'].includes(method);
      if (write && this.#store.features.netbox46) return { status: 404, body: { detail: NOT_FOUND } };
      const location = `${path}/${queryString ? `?${queryString}` : ''}`;
      return { status: 301, body: '', headers: { location, 'content-type': 'text/html; charset=utf-8' } };
    }
    return {
      status: 404,
      body: '<!DOCTYPE html>\n<html lang="en"><head><title>Page Not Found</title></head><body><h1>Page Not Found</h1></body></html>\n',
    };
  }
}

/** DRF `SimpleMetadata` for `OPTIONS` (without the per-field `actions` NetBox adds for writers). */
function optionsMetadata(def: RouteDef): Record<string, unknown> {
  const last = def.pattern.split('/').filter((part) => part !== '' && !part.startsWith(':')).at(-1) ?? 'API';
  const name = last.replace(/-/g, ' ').replace(/\b\w/g, (c) => c.toUpperCase());
  return {
    name: def.pattern.includes(':id') && !def.pattern.includes('available') ? `${name} Instance` : name,
    description: '',
    renders: ['application/json', 'text/html'],
    parses: ['application/json', 'application/x-www-form-urlencoded', 'multipart/form-data'],
  };
}

/** One signal per up-period, listened to by every in-flight request (so no listener limit). */
function lifecycleController(): AbortController {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  return controller;
}

interface CompiledRoute {
  readonly def: RouteDef;
  readonly regex: RegExp;
  readonly names: readonly string[];
  /** The `Allow` header DRF sends. */
  readonly allow: string;
}

function compileRoute(def: RouteDef): CompiledRoute {
  const names: string[] = [];
  const source = def.pattern
    .split('/')
    .map((part) => {
      if (!part.startsWith(':')) return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      names.push(part.slice(1));
      return '([^/]+)';
    })
    .join('/');
  const methods = ALLOW_ORDER.filter((m) => def.methods[m] !== undefined);
  const allow = [...methods, ...(def.methods.GET ? ['HEAD'] : []), 'OPTIONS'].join(', ');
  return { def, regex: new RegExp(`^${source}$`), names, allow };
}

/**
 * DRF `request.data`: `{}` for an empty body; JSON and form bodies parsed; any other media type
 * is a 415 and malformed JSON a 400 `JSON parse error - ...`.
 */
function parseBody(request: FastifyRequest): unknown {
  const raw = request.body;
  if (!Buffer.isBuffer(raw) || raw.length === 0) return {};
  const contentType = request.headers['content-type'] ?? '';
  const mediaType = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  if (mediaType === 'application/json' || mediaType.endsWith('+json')) {
    try {
      return JSON.parse(raw.toString('utf8')) as unknown;
    } catch (error) {
      throw new ApiError(400, { detail: `JSON parse error - ${(error as Error).message}` });
    }
  }
  if (mediaType === 'application/x-www-form-urlencoded') {
    return Object.fromEntries(new URLSearchParams(raw.toString('utf8')));
  }
  throw new ApiError(415, { detail: `Unsupported media type "${contentType}" in request.` });
}
