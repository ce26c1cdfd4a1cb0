import { access } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '@metalplane/core';
import type { TftpResolve } from './types.js';

/** The iPXE builds a PXE ROM is handed by DHCP (see PROTOCOLS §4.1), served from the iPXE directory. */
export const IPXE_BINARIES = ['undionly.kpxe', 'ipxe.pxe', 'ipxe.efi', 'snponly.efi', 'snp.efi', 'snp-arm64.efi', 'ipxe-arm64.efi'] as const;

/**
 * Serves the known iPXE binaries from `directory` (Debian: /usr/lib/ipxe) whatever the root
 * holds. A missing one is answered with TFTP error 1 and a warning naming the file and the
 * directory: a machine stuck in PXE because the `ipxe` package is not installed is the
 * first thing an operator has to see.
 */
export function ipxeResolver(directory: string, logger: Logger, names: readonly string[] = IPXE_BINARIES): TftpResolve {
  const known = new Set(names);
  return async (path) => {
    if (!known.has(path)) return null;
    const file = join(directory, path);
    try {
      await access(file);
      return { kind: 'file', path: file };
    } catch {
      logger.warn({ file: path, directory }, `iPXE binary ${path} is not in ${directory}: install it there (Debian package ipxe) or set ipxeDirectory`);
      return { kind: 'missing', detail: `${path} not in ${directory}` };
    }
  };
}
