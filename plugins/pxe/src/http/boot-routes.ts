import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { BootArch, DirectBootPlan, FieldError } from '@metalplane/core';
import { parseBootScriptQuery, type BootScriptParams } from './boot-query.js';
import { answerFile, FileNotFoundError, type FileValidators } from './file-response.js';
import { printable, renderIpxeScript, UnsafeBootPlanError, type IpxeScriptContext } from './ipxe-script.js';

/** What the plugin asks core for: the plan for a machine that is booting now. */
export interface BootPlanRequest {
  /** Lower case, colon separated. */
  readonly mac: string;
  readonly arch: BootArch;
  readonly client: 'ipxe' | 'http';
  readonly uuid?: string;
  readonly serial?: string;
  /** The client's IP address, so later file requests from it can be put on this machine's timeline. */
  readonly remoteAddress?: string;
}

/** One step of a boot, for the machine's boot timeline. */
export interface BootHttpEvent {
  readonly step: 'ipxe.script' | 'http.file';
  readonly mac?: string;
  readonly machineId?: string | null;
  /** The request path, without the query. */
  readonly path: string;
  /** Bytes of the body handed to the connection (for a file cut short: as far as it got). */
  readonly bytes?: number;
  readonly durationMs?: number;
  readonly status: number;
  readonly planKind?: string;
  /** Why the plan could not be served as it is (the machine got a hold script saying so). */
  readonly error?: string;
  /** The client's IP address. */
  readonly remoteAddress?: string;
}

export interface BootRoutesOptions {
  /**
   * Core decides the plan, and records (or creates, for an unknown MAC) the machine.
   * Called once per script request, never for files; `signal` aborts when the client
   * goes away or after `planTimeoutMs`. A rejection is answered with 503.
   */
  plan(request: BootPlanRequest, signal: AbortSignal): Promise<{ machineId: string | null; plan: DirectBootPlan }>;
  /** Called once per answered request, when the body is done (or cut short). Must not throw; if it does, it is logged. */
  observe(event: BootHttpEvent): void;
  /** Content-addressed files, `<dir>/<sha256>`, served at `/artifacts/<sha256>`. */
  readonly artifactDirectory?: string;
  /** The iPXE binaries (for UEFI HTTP boot), served by name: see {@link IpxeBinaries}. */
  readonly ipxeDirectory: string;
  /** How machines reach the host, `scheme://host:port`. */
  readonly baseUrl: string;
  /** For `/nixos/machines/<service tag>.ipxe`: the machine with this service tag, or null. Without it, that route answers 404. */
  machineByServiceTag?(tag: string, signal: AbortSignal): Promise<{ mac: string } | null>;
  /** Bound on `plan` and `machineByServiceTag`; default 10 s. */
  readonly planTimeoutMs?: number;
  /** Retry and hold timing of the scripts. */
  readonly script?: Pick<IpxeScriptContext, 'attempts' | 'retryDelaySeconds' | 'holdIntervalSeconds'>;
}

/** The iPXE builds a UEFI HTTP Boot client may be pointed at (only these names are served). */
export const IpxeBinaries = ['ipxe.efi', 'snponly.efi', 'snp.efi', 'ipxe-arm64.efi', 'snp-arm64.efi', 'snponly-arm64.efi', 'undionly.kpxe', 'ipxe.pxe'] as const;

const SHA256 = /^[0-9a-f]{64}$/;
const SERVICE_TAG = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * The HTTP side of network boot, mounted with prefix `/boot`:
 *
 * - `GET /boot/ipxe?mac=&uuid=&serial=&arch=&platform=`: the iPXE script for the machine
 *   (see `BootScriptQuerySchema` for the URL iPXE should be given). `localboot` with
 *   `http-404` is a 404, so the chain fails and the firmware goes to the next boot device.
 * - `GET /boot/nixos/machines/<service tag>.ipxe[?arch=&platform=]`: the same script,
 *   for machines set up with the seed's URLs.
 * - `GET|HEAD /boot/artifacts/<sha256>` and `/boot/<ipxe binary>`: files, with
 *   `Content-Length`, ranges, `ETag`/`Last-Modified`, streamed.
 *
 * Scripts are never answered to HEAD: asking for a plan records a boot.
 */
export const bootRoutes: FastifyPluginAsync<BootRoutesOptions> = async (app, options) => {
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const timeoutMs = options.planTimeoutMs ?? 10_000;

  const observe = (request: FastifyRequest, event: BootHttpEvent): void => {
    try {
      options.observe({ ...event, remoteAddress: request.ip });
    } catch (error) {
      request.log.warn({ err: error, step: event.step }, 'boot observer failed');
    }
  };

  /** Aborts when the client goes away before the answer, or after the timeout. */
  const signalFor = (reply: FastifyReply): AbortSignal => {
    const gone = new AbortController();
    reply.raw.once('close', () => {
      if (!reply.raw.writableEnded) gone.abort(new Error('the client went away'));
    });
    return AbortSignal.any([gone.signal, AbortSignal.timeout(timeoutMs)]);
  };

  const serveScript = async (request: FastifyRequest, reply: FastifyReply, params: BootScriptParams, selfPath: string) => {
    const started = performance.now();
    const path = pathOf(request);
    const done = (status: number, bytes: number, extra: Partial<BootHttpEvent>) =>
      observe(request, { step: 'ipxe.script', mac: params.mac, path, status, bytes, durationMs: performance.now() - started, ...extra });

    let planned: { machineId: string | null; plan: DirectBootPlan };
    try {
      planned = await options.plan({ mac: params.mac, arch: params.arch, client: 'ipxe', remoteAddress: request.ip, ...optional(params) }, signalFor(reply));
    } catch (error) {
      request.log.error({ err: error, mac: params.mac }, 'no boot plan');
      const body = errorBody('boot_plan_unavailable', `no boot plan for ${params.mac}: ${messageOf(error)}`, { mac: params.mac });
      done(503, 0, {});
      return reply.code(503).send(body);
    }
    const { machineId, plan } = planned;

    if (plan.kind === 'localboot' && plan.method === 'http-404') {
      const text = `metalplane: boot from disk: ${printable(plan.reason)}\n`;
      done(404, Buffer.byteLength(text), { machineId, planKind: plan.kind });
      return reply.code(404).header('cache-control', 'no-store').type('text/plain; charset=utf-8').send(text);
    }

    const context: IpxeScriptContext = { ...options.script, baseUrl, arch: params.arch, selfUrl: `${baseUrl}${selfPath}${selfQuery(params)}` };
    let script: string;
    let failure: string | undefined;
    try {
      script = renderIpxeScript(plan, context);
    } catch (error) {
      if (!(error instanceof UnsafeBootPlanError)) throw error;
      failure = error.message;
      request.log.error({ err: error, mac: params.mac, machineId, planKind: plan.kind }, 'boot plan refused');
      script = renderIpxeScript({ kind: 'hold', reason: `metalplane cannot serve this boot plan: ${error.message}` }, context);
    }
    done(200, Buffer.byteLength(script), { machineId, planKind: plan.kind, ...(failure ? { error: failure } : {}) });
    return reply.code(200).header('cache-control', 'no-store').type('text/plain; charset=utf-8').send(script);
  };

  app.get('/ipxe', { exposeHeadRoute: false }, async (request, reply) => {
    const parsed = parseBootScriptQuery(request.query);
    if (!parsed.ok) return invalid(request, reply, parsed.errors, 'ipxe.script', observe);
    return serveScript(request, reply, parsed.value, pathOf(request));
  });

  app.get<{ Params: { file: string }; Querystring: Record<string, unknown> }>('/nixos/machines/:file', { exposeHeadRoute: false }, async (request, reply) => {
    const tag = request.params.file.endsWith('.ipxe') ? request.params.file.slice(0, -'.ipxe'.length) : null;
    if (tag === null || !SERVICE_TAG.test(tag)) {
      return invalid(request, reply, [{ path: '/params/service_tag', message: 'must be <service tag>.ipxe, the tag letters, digits, ".", "_" or "-"' }], 'ipxe.script', observe);
    }
    const lookup = options.machineByServiceTag;
    const notFound = (message: string) => {
      observe(request, { step: 'ipxe.script', path: pathOf(request), status: 404, bytes: 0 });
      return reply.code(404).send(errorBody('not_found', message, { serviceTag: tag }));
    };
    if (!lookup) return notFound('machines cannot be looked up by service tag here (no lookup configured)');
    let machine: { mac: string } | null;
    try {
      machine = await lookup(tag, signalFor(reply));
    } catch (error) {
      request.log.error({ err: error, serviceTag: tag }, 'service tag lookup failed');
      observe(request, { step: 'ipxe.script', path: pathOf(request), status: 503, bytes: 0 });
      return reply.code(503).send(errorBody('boot_plan_unavailable', `could not look up service tag ${tag}: ${messageOf(error)}`, { serviceTag: tag }));
    }
    if (!machine) return notFound(`no machine has service tag ${tag}`);
    const parsed = parseBootScriptQuery({ ...request.query, mac: machine.mac });
    if (!parsed.ok) return invalid(request, reply, parsed.errors, 'ipxe.script', observe);
    return serveScript(request, reply, parsed.value, pathOf(request));
  });

  const fileRoute = (url: string, resolve: (request: FastifyRequest) => { path: string; validators: (stat: { size: number; mtime: Date }) => FileValidators } | FieldError | null) => {
    app.route({
      method: ['GET', 'HEAD'],
      url,
      handler: async (request, reply) => {
        const target = resolve(request);
        if (target === null) {
          observe(request, { step: 'http.file', path: pathOf(request), status: 404, bytes: 0 });
          return reply.code(404).send(errorBody('not_found', 'artifact storage is not configured', {}));
        }
        if ('message' in target) return invalid(request, reply, [target], 'http.file', observe);
        return serveFile(request, reply, target.path, target.validators, observe);
      },
    });
  };

  fileRoute('/artifacts/:sha256', (request) => {
    const sha256 = (request.params as { sha256: string }).sha256.toLowerCase();
    if (!SHA256.test(sha256)) return { path: '/params/sha256', message: 'must be 64 hex digits (a sha256)' };
    if (options.artifactDirectory === undefined) return null;
    return {
      path: join(options.artifactDirectory, sha256),
      // Content-addressed: the name is a strong validator and the bytes never change.
      validators: () => ({ etag: `"${sha256}"`, cacheControl: 'public, max-age=31536000, immutable' }),
    };
  });

  for (const name of IpxeBinaries) {
    fileRoute(`/${name}`, () => ({
      path: join(options.ipxeDirectory, name),
      // A package upgrade replaces the file; size and time tell versions apart, weakly.
      validators: (stat) => ({ etag: `W/"${stat.size.toString(16)}-${stat.mtime.getTime().toString(16)}"`, cacheControl: 'no-cache' }),
    }));
  }
};

async function serveFile(
  request: FastifyRequest,
  reply: FastifyReply,
  path: string,
  validators: (stat: { size: number; mtime: Date }) => FileValidators,
  observe: (request: FastifyRequest, event: BootHttpEvent) => void,
) {
  const started = performance.now();
  const urlPath = pathOf(request);
  const done = (status: number, bytes: number) => observe(request, { step: 'http.file', path: urlPath, status, bytes, durationMs: performance.now() - started });
  let answer;
  try {
    answer = await answerFile(path, { method: request.method, headers: request.headers }, validators);
  } catch (error) {
    if (!(error instanceof FileNotFoundError)) throw error;
    const name = urlPath.slice(urlPath.lastIndexOf('/') + 1);
    const status = error.reason === 'unreadable' ? 403 : 404;
    done(status, 0);
    const message = error.reason === 'unreadable' ? `${name} cannot be read` : `${name} not found`;
    return reply.code(status).send(errorBody(status === 404 ? 'not_found' : 'forbidden', message, { file: name }));
  }
  reply.code(answer.status).headers(answer.headers);
  if (!answer.body) {
    await answer.close();
    done(answer.status, 0);
    return reply.send();
  }
  let bytes = 0;
  const body = answer.body((n) => {
    bytes += n;
  });
  reply.raw.once('close', () => done(answer.status, bytes));
  return reply.send(body);
}

function invalid(
  request: FastifyRequest,
  reply: FastifyReply,
  errors: readonly FieldError[],
  step: BootHttpEvent['step'],
  observe: (request: FastifyRequest, event: BootHttpEvent) => void,
) {
  observe(request, { step, path: pathOf(request), status: 400, bytes: 0 });
  const message = `invalid request: ${errors.map((e) => `${e.path} ${e.message}`).join('; ')}`;
  return reply.code(400).send(errorBody('invalid_input', message, { errors }));
}

/** The host's error shape, so clients see one format whoever answered. */
function errorBody(code: string, message: string, details: Record<string, unknown>) {
  return { error: { code, message, details } };
}

function pathOf(request: FastifyRequest): string {
  const q = request.url.indexOf('?');
  return q === -1 ? request.url : request.url.slice(0, q);
}

/** The query a hold script asks again with: the normalised values, URL-encoded (nothing iPXE would expand). */
function selfQuery(params: BootScriptParams): string {
  const query = new URLSearchParams({ mac: params.mac, arch: params.arch });
  if (params.uuid) query.set('uuid', params.uuid);
  if (params.serial) query.set('serial', params.serial);
  return `?${query.toString().replace(/%3A/gi, ':')}`;
}

function optional(params: BootScriptParams): { uuid?: string; serial?: string } {
  return { ...(params.uuid ? { uuid: params.uuid } : {}), ...(params.serial ? { serial: params.serial } : {}) };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
