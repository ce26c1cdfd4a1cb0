import { createRequire } from 'node:module';
import type { EventEmitter } from 'node:events';
import type { Writable } from 'node:stream';

/**
 * The part of the `tftp` package (0.1.2, patched: plugins/pxe/patches) we use. It has no
 * types of its own. The patch adds `onDrop`/`onRefuse` and the `metalplanePatch` marker.
 */
export interface TftpPackage {
  readonly metalplanePatch?: number;
  readonly ENOENT: string;
  readonly EACCESS: string;
  createServer(options: TftpServerOptions, listener: (req: TftpGetRequest, res: TftpResponse) => void): TftpPackageServer;
}

export interface TftpServerOptions {
  host: string;
  port: number;
  root: string;
  denyPUT: true;
  blockSize: number;
  windowSize: number;
  timeout: number;
  retries: number;
  onDrop(reason: 'short' | 'foreign-tid', rinfo: { address: string; port: number }): void;
  onRefuse(error: { code: number; message: string }, rinfo: { address: string; port: number }, message: Buffer): void;
}

export interface TftpPackageServer extends EventEmitter {
  listen(): void;
  close(): void;
  readonly _socket: { address(): { address: string; port: number } };
}

/** A read request: emits `close`, then `error` (client error, timeout) or `abort` (ours). */
export interface TftpGetRequest extends EventEmitter {
  readonly file: string;
  readonly method: 'GET' | 'PUT';
  readonly stats: { remoteAddress: string; remotePort: number; blockSize: number; windowSize: number };
  abort(message?: string): void;
}

export interface TftpResponse extends Writable {
  setSize(size: number): void;
}

export function loadTftpPackage(): TftpPackage {
  return createRequire(import.meta.url)('tftp') as TftpPackage;
}
