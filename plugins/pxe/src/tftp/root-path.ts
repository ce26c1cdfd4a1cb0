import { realpath, stat } from 'node:fs/promises';
import { isAbsolute, join, posix, sep } from 'node:path';

/** Why a requested path is refused before any file is touched, or undefined when its shape is fine. */
export function unsafeRequestPath(requested: string): string | undefined {
  if (requested.length === 0) return 'empty path';
  if (requested.includes('\0')) return 'NUL in path';
  if (requested.includes('\\')) return 'backslash in path';
  if (isAbsolute(requested) || posix.isAbsolute(requested)) return 'absolute path';
  if (requested.split('/').some((segment) => segment === '..')) return 'parent directory reference';
  return undefined;
}

/**
 * The real path of `requested` under `root`, or undefined when it does not exist, is not a
 * regular file, or resolves (through symlinks, at any depth) to a place outside the root.
 * Symlinks inside the root are followed only while their target stays inside it: a root
 * populated from a firmware archive may contain links, and none may reach /etc.
 */
export async function resolveInRoot(root: string, requested: string): Promise<string | undefined> {
  if (unsafeRequestPath(requested) !== undefined) return undefined;
  let realRoot: string;
  let real: string;
  try {
    realRoot = await realpath(root);
    real = await realpath(join(realRoot, requested));
  } catch {
    return undefined;
  }
  if (!isInside(realRoot, real)) return undefined;
  try {
    return (await stat(real)).isFile() ? real : undefined;
  } catch {
    return undefined;
  }
}

/** Whether `path` is strictly below `directory` (both real, absolute paths). */
export function isInside(directory: string, path: string): boolean {
  const prefix = directory.endsWith(sep) ? directory : directory + sep;
  return path.startsWith(prefix);
}
