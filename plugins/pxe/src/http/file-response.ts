import { open, type FileHandle } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { pipeline, Transform } from 'node:stream';

/** A byte range of a file, both ends inclusive. */
export interface ByteRange {
  readonly start: number;
  readonly end: number;
}

export type RangeDecision = { readonly kind: 'full' } | { readonly kind: 'unsatisfiable' } | { readonly kind: 'partial'; readonly range: ByteRange };

/**
 * What a `Range` header asks of a file of `size` bytes (RFC 9110 §14.1.2, §14.2). One
 * `bytes` range is served as 206; a malformed header, another unit, `500-100`, or several
 * ranges are ignored (200, the whole file: allowed, and simpler than multipart). A range
 * that starts at or past the end, `-0`, or any range of an empty file is unsatisfiable
 * (416). A suffix longer than the file is the whole file, as 206.
 */
export function decideRange(header: string | undefined, size: number): RangeDecision {
  if (header === undefined) return { kind: 'full' };
  const match = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!match) return { kind: 'full' };
  const [, first = '', last = ''] = match;
  if (first === '' && last === '') return { kind: 'full' };
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'partial', range: { start: Math.max(0, size - suffix), end: size - 1 } };
  }
  const start = Number(first);
  if (last !== '' && Number(last) < start) return { kind: 'full' };
  if (start >= size) return { kind: 'unsatisfiable' };
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  return { kind: 'partial', range: { start, end } };
}

export interface FileRequest {
  readonly method: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

export interface FileValidators {
  /** A quoted entity tag; `W/"..."` for a weak one. */
  readonly etag: string;
  readonly cacheControl: string;
}

/** What to send for a file: status, headers, and a body stream for GET 200/206 (else none). */
export interface FileAnswer {
  readonly status: 200 | 206 | 304 | 416;
  readonly headers: Record<string, string>;
  /** Bytes the body will have (0 for HEAD, 304 and 416). */
  readonly length: number;
  /** Call for GET 200/206: a stream of the bytes; it closes the file when it ends or is destroyed. */
  readonly body: ((onBytes: (n: number) => void) => NodeJS.ReadableStream) | null;
  /** Closes the file when there is no body (or the body is not wanted after all). */
  close(): Promise<void>;
}

export class FileNotFoundError extends Error {
  constructor(readonly reason: 'missing' | 'not-a-file' | 'unreadable') {
    super(reason);
  }
}

/**
 * Opens a file and decides the answer to a GET or HEAD for it: validators (`ETag`,
 * `Last-Modified`), conditional requests (`If-None-Match`, `If-Modified-Since` → 304),
 * `Range`/`If-Range` (206/416, GET only: RFC 9110 §14.2 defines ranges for GET alone, so
 * HEAD reports the whole file, which is what OVMF's HTTP boot asks HEAD for). The file is
 * opened once and stat'ed through the same handle, so a file replaced meanwhile cannot
 * give a length that does not match the bytes. Throws {@link FileNotFoundError}.
 */
export async function answerFile(path: string, request: FileRequest, validators: (stat: Stats) => FileValidators): Promise<FileAnswer> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new FileNotFoundError(code === 'ENOENT' || code === 'ENOTDIR' || code === 'ENAMETOOLONG' ? 'missing' : 'unreadable');
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw new FileNotFoundError('not-a-file');
    const { etag, cacheControl } = validators(stat);
    const lastModified = stat.mtime.toUTCString();
    const headers: Record<string, string> = {
      'accept-ranges': 'bytes',
      etag,
      'last-modified': lastModified,
      'cache-control': cacheControl,
    };
    const close = () => handle.close().catch(() => undefined);
    const none = (status: 304 | 416, extra: Record<string, string>): FileAnswer => ({ status, headers: { ...headers, ...extra }, length: 0, body: null, close });

    if (notModified(request, etag, stat.mtime)) return none(304, {});

    const size = stat.size;
    const decision =
      request.method === 'GET' && rangeStillValid(request, etag, lastModified) ? decideRange(single(request.headers.range), size) : ({ kind: 'full' } as const);
    if (decision.kind === 'unsatisfiable') return none(416, { 'content-range': `bytes */${size}` });
    const range = decision.kind === 'partial' ? decision.range : { start: 0, end: size - 1 };
    const length = size === 0 ? 0 : range.end - range.start + 1;
    headers['content-type'] = 'application/octet-stream';
    headers['content-length'] = String(length);
    if (decision.kind === 'partial') headers['content-range'] = `bytes ${range.start}-${range.end}/${size}`;
    const status = decision.kind === 'partial' ? 206 : 200;
    if (request.method === 'HEAD' || length === 0) return { status, headers, length: 0, body: null, close };

    return {
      status,
      headers,
      length,
      close,
      body: (onBytes) => {
        const source = handle.createReadStream({ start: range.start, end: range.end, highWaterMark: 64 * 1024 });
        const counter = new Transform({
          transform(chunk: Buffer, _encoding, callback) {
            onBytes(chunk.length);
            callback(null, chunk);
          },
        });
        // Destroying the counter (the client went away) destroys the source, which closes the file.
        pipeline(source, counter, () => undefined);
        return counter;
      },
    };
  } catch (error) {
    await handle.close().catch(() => undefined);
    throw error;
  }
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** RFC 9110 §13.1.2/§13.1.3: If-None-Match (weak comparison) wins over If-Modified-Since. */
function notModified(request: FileRequest, etag: string, mtime: Date): boolean {
  if (request.method !== 'GET' && request.method !== 'HEAD') return false;
  const ifNoneMatch = single(request.headers['if-none-match']);
  if (ifNoneMatch !== undefined) {
    if (ifNoneMatch.trim() === '*') return true;
    const opaque = (tag: string) => tag.trim().replace(/^W\//, '');
    return ifNoneMatch.split(',').some((tag) => opaque(tag) === opaque(etag));
  }
  const ifModifiedSince = single(request.headers['if-modified-since']);
  if (ifModifiedSince === undefined) return false;
  const since = Date.parse(ifModifiedSince);
  return !Number.isNaN(since) && Math.floor(mtime.getTime() / 1000) * 1000 <= since;
}

/** If-Range (RFC 9110 §13.1.5): a strong entity tag that matches, or the exact Last-Modified date. */
function rangeStillValid(request: FileRequest, etag: string, lastModified: string): boolean {
  const ifRange = single(request.headers['if-range'])?.trim();
  if (ifRange === undefined) return true;
  if (ifRange.startsWith('"') || ifRange.startsWith('W/')) return !etag.startsWith('W/') && ifRange === etag;
  return ifRange === lastModified;
}
