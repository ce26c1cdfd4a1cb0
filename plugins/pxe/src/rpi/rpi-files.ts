import type { Logger } from '@metalplane/core';
import { resolveInRoot } from '../tftp/root-path.js';
import type { TftpResolve, TftpSource } from '../tftp/types.js';

/** What the integrator generates for one board; a missing field falls back to the file on disk. */
export interface RpiBootFiles {
  readonly configTxt?: string;
  readonly cmdlineTxt?: string;
}

/** Asks for a board's generated files by its serial; null when the board is not known. */
export type RpiBootHook = (serial: string, signal: AbortSignal) => Promise<RpiBootFiles | null>;

export interface RpiResolverOptions {
  /** The TFTP root: shared firmware at `<root>/<file>`, per-board overrides at `<root>/<serial>/<file>`. */
  readonly root?: string;
  readonly rpiBoot?: RpiBootHook;
  readonly logger: Logger;
}

/** `<serial>/<file>` as the Pi 4 EEPROM bootloader asks it (TFTP_PREFIX=0: 8 lower-case hex digits). */
const SERIAL_PATH = /^([0-9a-f]{8})\/(.+)$/;

/** The serial of a serial-prefixed request path, or undefined. */
export function rpiSerialOf(path: string): string | undefined {
  return SERIAL_PATH.exec(path)?.[1];
}

/**
 * Answers Raspberry Pi 4/CM4 requests under `<serial>/`: generated `config.txt`/`cmdline.txt`
 * from `rpiBoot`, else `<root>/<serial>/<file>` (a board directory, e.g. its own RPI_EFI.fd),
 * else the shared `<root>/<file>` (start4.elf, fixup4.dat, bcm2711-*.dtb, overlays/…), else
 * TFTP error 1 — the bootloader probes many files that do not exist.
 *
 * The firmware keeps the prefix only if `<serial>/start4.elf` (or `start.elf`) exists
 * (PROTOCOLS §5.4); because the shared start4.elf is served under every prefix, each board
 * stays in its own directory and gets its own config.txt. A board that requests without the
 * prefix is served from the root by the TFTP service as usual. Every answer carries the
 * serial (`meta.rpiSerial`) so the boot timeline can match the machine by serial.
 */
export function rpiResolver(options: RpiResolverOptions): TftpResolve {
  const { root, rpiBoot, logger } = options;
  return async (path, client, signal) => {
    const match = SERIAL_PATH.exec(path);
    if (!match) return null;
    const [, serial, file] = match as unknown as [string, string, string];
    const meta = { rpiSerial: serial };
    const generated = rpiBoot && (file === 'config.txt' || file === 'cmdline.txt') ? await generatedFile(serial, file, signal) : undefined;
    if (generated !== undefined) return { kind: 'buffer', data: Buffer.from(generated, 'utf8'), name: file, meta };
    if (root !== undefined) {
      const own = await resolveInRoot(root, `${serial}/${file}`);
      if (own) return { kind: 'file', path: own, meta };
      const shared = await resolveInRoot(root, file);
      if (shared) return { kind: 'file', path: shared, meta };
    }
    logger.debug({ serial, file, client }, 'raspberry pi file not found');
    return { kind: 'missing', detail: `${file} for board ${serial}`, meta } satisfies TftpSource;
  };

  async function generatedFile(serial: string, file: 'config.txt' | 'cmdline.txt', signal: AbortSignal): Promise<string | undefined> {
    try {
      const files = await rpiBoot!(serial, signal);
      return (file === 'config.txt' ? files?.configTxt : files?.cmdlineTxt) ?? undefined;
    } catch (error) {
      // The files on disk are the fallback; the board can still boot its shared config.
      logger.warn({ serial, file, err: String(error) }, 'rpiBoot hook failed; serving the file on disk if any');
      return undefined;
    }
  }
}
