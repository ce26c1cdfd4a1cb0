/** Who sent a TFTP request (the transfer's remote end). */
export interface TftpClient {
  readonly address: string;
  readonly port: number;
}

/**
 * What a request path is answered with. `file` is read from anywhere the integrator chose
 * (e.g. the iPXE directory); `buffer` is generated content (a per-board config.txt);
 * `missing` answers TFTP error 1 at once without looking in the root. `meta` is copied to the
 * transfer's observe events (e.g. the Raspberry Pi serial that asked).
 */
export type TftpSource =
  | { readonly kind: 'file'; readonly path: string; readonly meta?: TftpMeta }
  | { readonly kind: 'buffer'; readonly data: Buffer; readonly name?: string; readonly meta?: TftpMeta }
  | { readonly kind: 'missing'; readonly detail?: string; readonly meta?: TftpMeta };

export type TftpMeta = Readonly<Record<string, string>>;

/**
 * Consulted for every read request before the root directory; null means "not mine, look in
 * the root". The signal aborts when the service gives up waiting (the client would retransmit).
 */
export type TftpResolve = (path: string, client: TftpClient, signal: AbortSignal) => Promise<TftpSource | null>;

/** One step of a transfer for the boot timeline. */
export interface TftpEvent {
  readonly step: 'tftp.read' | 'tftp.error' | 'tftp.refused';
  readonly path: string;
  readonly client: TftpClient;
  /** Bytes sent (the whole file on `tftp.read`). */
  readonly bytes?: number;
  readonly durationMs?: number;
  readonly error?: string;
  readonly meta?: TftpMeta;
}

/** Receives transfer events; whatever it throws or rejects with is counted and ignored. */
export type TftpObserve = (event: TftpEvent) => void | Promise<void>;

/** Tries each resolver in turn; the first non-null answer wins. */
export function chainResolvers(...resolvers: readonly TftpResolve[]): TftpResolve {
  return async (path, client, signal) => {
    for (const resolve of resolvers) {
      const source = await resolve(path, client, signal);
      if (source) return source;
    }
    return null;
  };
}
