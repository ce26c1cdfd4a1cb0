import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { RAW_FACTS_FORMAT, type RawFacts } from './raw-facts.js';

/** Files at the top of a fixture directory that describe it rather than mirror the machine. */
const LINKS_FILE = 'links.json';
const COMMANDS_FILE = 'commands.json';
const COMMANDS_DIR = 'commands';

/**
 * Reads a raw-facts fixture directory (for tests): a tree mirroring the machine's filesystem
 * (`proc/cpuinfo`, `sys/class/net/eth0/address`, ...), whose files become `files` keyed by
 * absolute path (`/proc/cpuinfo`) with NUL bytes removed, as the agent sends them; plus
 *
 * - `links.json`: `{ "/sys/class/net/eth0/device": "../../../0000:03:00.0" }`, the symlinks'
 *   `readlink` (real symlinks inside the tree are read too);
 * - `commands.json`: `{ "lspci -nn": "lspci-nn.txt" }`, each output in `commands/<file>`.
 */
export function loadRawFactsFromDirectory(dir: string): RawFacts {
  const files: Record<string, string> = {};
  const links: Record<string, string> = {};
  const commands: Record<string, string> = {};

  const walk = (absolute: string, path: string) => {
    for (const entry of readdirSync(absolute, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (path === '' && [LINKS_FILE, COMMANDS_FILE, COMMANDS_DIR].includes(entry.name)) continue;
      const entryAbsolute = join(absolute, entry.name);
      const entryPath = `${path}/${entry.name}`;
      const stat = lstatSync(entryAbsolute);
      if (stat.isSymbolicLink()) links[entryPath] = readlinkSync(entryAbsolute);
      else if (stat.isDirectory()) walk(entryAbsolute, entryPath);
      else if (stat.isFile()) files[entryPath] = stripNuls(readFileSync(entryAbsolute));
    }
  };
  walk(dir, '');

  const linksJson = readJsonObject(join(dir, LINKS_FILE));
  for (const [path, target] of Object.entries(linksJson)) links[path] = target;
  const commandsJson = readJsonObject(join(dir, COMMANDS_FILE));
  for (const [line, file] of Object.entries(commandsJson)) {
    commands[line] = stripNuls(readFileSync(join(dir, COMMANDS_DIR, file)));
  }

  return {
    format: RAW_FACTS_FORMAT,
    files,
    ...(Object.keys(links).length > 0 ? { links } : {}),
    ...(Object.keys(commands).length > 0 ? { commands } : {}),
  };
}

function stripNuls(content: Buffer): string {
  return Buffer.from(content.filter((byte) => byte !== 0)).toString('utf8');
}

function readJsonObject(path: string): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return {};
  }
  const parsed: unknown = JSON.parse(text);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error(`${path}: not a JSON object`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(parsed)) {
    if (typeof v !== 'string') throw new Error(`${path}: "${k}" is not a string`);
    out[k] = v;
  }
  return out;
}
