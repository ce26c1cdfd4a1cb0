import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { Readable } from 'node:stream';
import type { BootServiceStatus, Logger } from '@metalplane/core';
import { loadTftpPackage, type TftpGetRequest, type TftpPackage, type TftpPackageServer, type TftpResponse } from './tftp-package.js';
import { resolveInRoot, unsafeRequestPath } from './root-path.js';
import type { TftpClient, TftpEvent, TftpMeta, TftpObserve, TftpResolve, TftpSource } from './types.js';

export interface TftpServiceOptions {
  /** UDP port of the listening socket (69); 0 picks a free one (see `port`). */
  readonly port: number;
  /** Address to bind; default 0.0.0.0. */
  readonly address?: string;
  /** Files served as they are; nothing outside it (after symlinks) is ever read. */
  readonly root?: string;
  /** Caps on what a client may negotiate (RFC 2348 blksize, RFC 7440 windowsize). */
  readonly blksizeMax: number;
  readonly windowsizeMax: number;
  /** Transfers at once; a request beyond it gets an error packet and is not served. */
  readonly maxTransfers: number;
  /** Per-packet retransmit timeout and how often a packet is sent again before the transfer is dropped. */
  readonly timeoutMs: number;
  readonly retries: number;
  readonly resolve?: TftpResolve;
  readonly observe?: TftpObserve;
  readonly logger: Logger;
}

/** Every counter the service keeps; all start at 0. */
export const TFTP_COUNTERS = [
  'requests',
  'served',
  'bytesServed',
  'notFound',
  'accessDenied',
  'busy',
  'clientErrors',
  'timeouts',
  'resolveErrors',
  'refusedByProtocol',
  'uploadsRefused',
  'droppedShort',
  'droppedForeignTid',
  'observerErrors',
] as const;
export type TftpCounter = (typeof TFTP_COUNTERS)[number];

interface Transfer {
  readonly req: TftpGetRequest;
  readonly path: string;
  readonly client: TftpClient;
  readonly started: number;
  readonly controller: AbortController;
  bytes: number;
  closed: boolean;
  meta?: TftpMeta;
  /** Set when we end the transfer ourselves (not found, refused, stopping). */
  ended?: { step: TftpEvent['step']; error: string };
  clientError?: string;
}

/** Answers sent with TFTP error code 0: the package maps any other text to code 0. */
const BUSY = 'Too many transfers, try again later';
const IO_ERROR = 'I/O error';
const STOPPING = 'Server stopping';

/**
 * A read-only TFTP server on the (patched) `tftp` package: it does the protocol (options,
 * windows, retransmits, transfer IDs); this class decides what each path is answered with.
 * Every path goes through the `resolve` hook first (iPXE binaries, generated per-machine
 * files), then the root with realpath containment. Uploads are always refused. Bad
 * datagrams are dropped and counted; nothing a client sends throws out of here.
 */
export class TftpService {
  readonly counters: Record<TftpCounter, number> = Object.fromEntries(TFTP_COUNTERS.map((name) => [name, 0])) as Record<TftpCounter, number>;
  readonly #options: TftpServiceOptions;
  readonly #logger: Logger;
  readonly #active = new Set<Transfer>();
  #package?: TftpPackage;
  #server?: TftpPackageServer;
  #listening = false;
  #port = 0;
  #lastError?: string;

  constructor(options: TftpServiceOptions) {
    for (const [name, value, min, max] of [
      ['blksizeMax', options.blksizeMax, 8, 65464],
      ['windowsizeMax', options.windowsizeMax, 1, 65535],
      ['maxTransfers', options.maxTransfers, 1, 100_000],
      ['timeoutMs', options.timeoutMs, 10, 60_000],
      ['retries', options.retries, 0, 100],
      ['port', options.port, 0, 65535],
    ] as const) {
      if (!Number.isInteger(value) || value < min || value > max) throw new RangeError(`tftp ${name} must be an integer in ${min}..${max}, got ${value}`);
    }
    this.#options = options;
    this.#logger = options.logger.child({ service: 'tftp' });
  }

  /** The bound UDP port (useful with `port: 0`); 0 before `start`. */
  get port(): number {
    return this.#port;
  }

  async start(): Promise<void> {
    if (this.#server) throw new Error('tftp service already started');
    const tftp = loadTftpPackage();
    // Unpatched, the package accepts uploads, dies on a 1-byte datagram and lets anyone end a transfer.
    if (tftp.metalplanePatch !== 1) throw new Error('the tftp package is not patched (plugins/pxe/patches); run npm ci so that postinstall applies the patch');
    this.#package = tftp;
    const { address = '0.0.0.0', port } = this.#options;
    const server = tftp.createServer(
      {
        host: address,
        port,
        // The package stats its root at listen; it never reads from it, our listener does all file access.
        root: this.#options.root ?? tmpdir(),
        denyPUT: true,
        blockSize: this.#options.blksizeMax,
        windowSize: this.#options.windowsizeMax,
        timeout: this.#options.timeoutMs,
        // The package treats 0 as "unset" (3); a request sends the packet once plus `retries` again.
        retries: Math.max(1, this.#options.retries),
        onDrop: (reason, rinfo) => this.#onDrop(reason, rinfo),
        onRefuse: (error, rinfo, message) => this.#onRefuse(error, rinfo, message),
      },
      (req, res) => this.#onRequest(req, res),
    );
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error) => {
        server.off('listening', onListening);
        this.#server = undefined;
        reject(new Error(`tftp cannot listen on ${address}:${port}: ${error.message}`, { cause: error }));
      };
      const onListening = () => {
        server.off('error', onError);
        resolve();
      };
      server.once('error', onError);
      server.once('listening', onListening);
      server.listen();
    });
    this.#listening = true;
    this.#port = server._socket.address().port;
    server.on('error', (error: Error) => {
      this.#lastError = error.message;
      this.#logger.error({ err: error.message }, 'tftp socket error');
    });
    server.on('close', () => (this.#listening = false));
    this.#logger.info({ address, port: this.#port, root: this.#options.root }, 'tftp listening');
  }

  async stop(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = undefined;
    for (const transfer of this.#active) this.#end(transfer, 'tftp.error', STOPPING, STOPPING);
    if (this.#listening) {
      await new Promise<void>((resolve) => {
        server.once('close', () => resolve());
        server.close();
      });
    }
    this.#listening = false;
    // Aborted transfers close their sockets on the next tick; wait for that, but not forever.
    for (let i = 0; i < 50 && this.#active.size > 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
  }

  status(): BootServiceStatus[] {
    const { address = '0.0.0.0' } = this.#options;
    const detail = [`${this.#active.size} active transfers`, this.#lastError && `last error: ${this.#lastError}`].filter(Boolean).join('; ');
    return [{ protocol: 'tftp', listen: `${address}:${this.#port || this.#options.port}`, healthy: this.#listening, detail }];
  }

  #onRequest(req: TftpGetRequest, res: TftpResponse): void {
    this.counters.requests++;
    const client = { address: req.stats.remoteAddress, port: req.stats.remotePort };
    const transfer: Transfer = { req, path: req.file, client, started: performance.now(), controller: new AbortController(), bytes: 0, closed: false };
    // Errors of a transfer (the client's error packet, a timeout) arrive as events; one without a listener would throw.
    req.on('error', (error: Error) => (transfer.clientError = error.message));
    req.on('close', () => {
      transfer.closed = true;
      transfer.controller.abort();
      // `error`/`abort` are emitted right after `close`.
      process.nextTick(() => this.#finish(transfer));
    });
    if (this.#active.size >= this.#options.maxTransfers) {
      this.#end(transfer, 'tftp.refused', BUSY, 'too many transfers', 'busy');
      return;
    }
    this.#active.add(transfer);
    this.#serve(transfer, res).catch((error: unknown) => {
      this.#logger.error({ err: String(error), path: transfer.path }, 'tftp transfer failed');
      this.#end(transfer, 'tftp.error', IO_ERROR, String(error));
    });
  }

  async #serve(transfer: Transfer, res: TftpResponse): Promise<void> {
    const tftp = this.#package!;
    const unsafe = unsafeRequestPath(transfer.path);
    if (unsafe) return this.#end(transfer, 'tftp.refused', tftp.EACCESS, unsafe, 'accessDenied');
    let source: TftpSource | null;
    try {
      source = await this.#resolve(transfer);
    } catch (error) {
      this.counters.resolveErrors++;
      this.#logger.warn({ err: String(error), path: transfer.path, client: transfer.client }, 'tftp resolve hook failed');
      return this.#end(transfer, 'tftp.error', IO_ERROR, `resolve failed: ${String(error)}`);
    }
    if (source?.meta) transfer.meta = source.meta;
    if (transfer.closed) return;
    if (!source || source.kind === 'missing') return this.#end(transfer, 'tftp.error', tftp.ENOENT, source?.detail ?? 'not found', 'notFound');
    if (source.kind === 'buffer') return this.#send(transfer, res, source.data.length, Readable.from(source.data.length ? [source.data] : []));
    const handle = await open(source.path, 'r').catch(() => undefined);
    if (!handle) return this.#end(transfer, 'tftp.error', tftp.ENOENT, 'not found', 'notFound');
    const stats = await handle.stat().catch(() => undefined);
    if (!stats?.isFile() || transfer.closed) {
      await handle.close();
      if (!transfer.closed) this.#end(transfer, 'tftp.error', tftp.ENOENT, 'not a file', 'notFound');
      return;
    }
    this.#send(transfer, res, stats.size, handle.createReadStream());
  }

  /** The hook's answer, else the root's file; bounded in time so a stuck hook cannot hold a transfer. */
  async #resolve(transfer: Transfer): Promise<TftpSource | null> {
    const { resolve, root, timeoutMs, retries } = this.#options;
    if (resolve) {
      const signal = AbortSignal.any([transfer.controller.signal, AbortSignal.timeout(Math.max(1000, timeoutMs * (retries + 1)))]);
      const answer = await new Promise<TftpSource | null>((resolvePromise, reject) => {
        const onAbort = () => reject(new Error('resolve timed out or the transfer ended'));
        signal.addEventListener('abort', onAbort, { once: true });
        resolve(transfer.path, transfer.client, signal).then(resolvePromise, reject).finally(() => signal.removeEventListener('abort', onAbort));
      });
      if (answer) return answer;
    }
    if (root === undefined) return null;
    const path = await resolveInRoot(root, transfer.path);
    return path ? { kind: 'file', path } : null;
  }

  #send(transfer: Transfer, res: TftpResponse, size: number, body: Readable): void {
    body.on('data', (chunk: Buffer) => (transfer.bytes += chunk.length));
    body.on('error', (error) => this.#end(transfer, 'tftp.error', IO_ERROR, error.message));
    transfer.req.on('close', () => body.destroy());
    res.setSize(size);
    body.pipe(res);
  }

  /** Ends a transfer with an error packet to the client; reported once it has closed. */
  #end(transfer: Transfer, step: TftpEvent['step'], answer: string, why: string, counter?: TftpCounter): void {
    if (transfer.ended || transfer.closed) return;
    transfer.ended = { step, error: why };
    if (counter) this.counters[counter]++;
    transfer.req.abort(answer);
  }

  #finish(transfer: Transfer): void {
    if (!this.#active.delete(transfer) && !transfer.ended) return;
    const base = { path: transfer.path, client: transfer.client, durationMs: Math.round(performance.now() - transfer.started), ...(transfer.meta ? { meta: transfer.meta } : {}) };
    if (transfer.ended) {
      this.#logger.debug({ ...base, error: transfer.ended.error }, `tftp ${transfer.ended.step}`);
      this.#observe({ step: transfer.ended.step, ...base, error: transfer.ended.error, bytes: transfer.bytes });
    } else if (transfer.clientError !== undefined) {
      if (transfer.clientError === 'Timed out') this.counters.timeouts++;
      else this.counters.clientErrors++;
      this.#logger.debug({ ...base, error: transfer.clientError }, 'tftp transfer ended early');
      this.#observe({ step: 'tftp.error', ...base, bytes: transfer.bytes, error: transfer.clientError });
    } else {
      this.counters.served++;
      this.counters.bytesServed += transfer.bytes;
      this.#logger.debug({ ...base, bytes: transfer.bytes }, 'tftp served');
      this.#observe({ step: 'tftp.read', ...base, bytes: transfer.bytes });
    }
  }

  #onDrop(reason: 'short' | 'foreign-tid', rinfo: TftpClient): void {
    this.counters[reason === 'short' ? 'droppedShort' : 'droppedForeignTid']++;
    this.#logger.debug({ reason, client: { address: rinfo.address, port: rinfo.port } }, 'tftp datagram dropped');
  }

  #onRefuse(error: { message: string }, rinfo: TftpClient, message: Buffer): void {
    this.counters.refusedByProtocol++;
    const opcode = message.readUInt16BE(0);
    if (opcode === 2) this.counters.uploadsRefused++;
    const end = message.indexOf(0, 2);
    const path = message.subarray(2, end < 0 ? Math.min(message.length, 258) : Math.min(end, 258)).toString('latin1');
    const client = { address: rinfo.address, port: rinfo.port };
    this.#logger.debug({ path, client, error: error.message, opcode }, 'tftp request refused');
    this.#observe({ step: 'tftp.refused', path, client, error: error.message });
  }

  #observe(event: TftpEvent): void {
    const observe = this.#options.observe;
    if (!observe) return;
    try {
      const result = observe(event);
      if (result instanceof Promise) result.catch(() => this.counters.observerErrors++);
    } catch {
      this.counters.observerErrors++;
    }
  }
}
