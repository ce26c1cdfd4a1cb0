import type { ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNetnsPair, netnsUnavailable, type NetnsPair } from './netns.js';

const unavailable = netnsUnavailable();
const fixture = (name: string) => join(import.meta.dirname, name);
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

interface Line {
  listening?: number;
  event?: { step: string; path: string; client: { address: string }; bytes?: number; error?: string; meta?: Record<string, string> };
  counters?: Record<string, number>;
  log?: string;
  msg?: string;
  file?: string;
  directory?: string;
}

/** The fixture server in the server namespace, with its stdout lines. */
class ServerProcess {
  readonly lines: Line[] = [];
  readonly #child: ChildProcess;
  constructor(pair: NetnsPair, config: object) {
    this.#child = pair.spawn(pair.server, process.execPath, [fixture('tftp-server.mjs'), JSON.stringify(config)], { stdio: ['pipe', 'pipe', 'inherit'] });
    createInterface({ input: this.#child.stdout! }).on('line', (line) => this.lines.push(JSON.parse(line) as Line));
  }
  async waitFor(predicate: (line: Line) => boolean, ms = 5000): Promise<Line> {
    for (const end = Date.now() + ms; Date.now() < end; await new Promise((resolve) => setTimeout(resolve, 20))) {
      const found = this.lines.find(predicate);
      if (found) return found;
    }
    throw new Error(`no such line from the tftp server; got ${JSON.stringify(this.lines.slice(-5))}`);
  }
  async counters(): Promise<Record<string, number> & { [key: string]: number }> {
    const seen = this.lines.length;
    this.#child.stdin!.write('counters\n');
    await this.waitFor((line) => line.counters !== undefined && this.lines.indexOf(line) >= seen);
    return this.lines.filter((line) => line.counters).at(-1)!.counters!;
  }
  events(path: string) {
    return this.lines.filter((line) => line.event?.path === path).map((line) => line.event!);
  }
  get alive(): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null;
  }
  stop() {
    this.#child.stdin!.end();
  }
}

describe.skipIf(unavailable)('TFTP service with real clients', () => {
  let pair: NetnsPair;
  let server: ServerProcess;
  let root: string;
  let ipxe: string;
  let out: string;
  const files: Record<string, Buffer> = {
    'empty.bin': Buffer.alloc(0),
    '512.bin': randomBytes(512),
    'mib1.bin': randomBytes(1024 * 1024 + 1),
    'sub/dir/file.bin': randomBytes(3000),
    'start4.elf': randomBytes(4000),
    'config.txt': Buffer.from('# shared\narm_64bit=1\n'),
    'overlays/miniuart-bt.dtbo': randomBytes(700),
    '12345678/config.txt': Buffer.from('# board 12345678\n'),
    '12345678/RPI_EFI.fd': randomBytes(2000),
  };

  beforeAll(async () => {
    pair = createNetnsPair({ clientCidr: '10.99.0.2/24' });
    const base = mkdtempSync(join(tmpdir(), 'mp-tftp-'));
    root = join(base, 'root');
    ipxe = join(base, 'ipxe');
    out = join(base, 'out');
    for (const [name, data] of Object.entries(files)) {
      mkdirSync(join(root, name, '..'), { recursive: true });
      writeFileSync(join(root, name), data);
    }
    symlinkSync('/etc/passwd', join(root, 'escape'));
    symlinkSync('sub/dir/file.bin', join(root, 'inside-link'));
    mkdirSync(ipxe);
    writeFileSync(join(ipxe, 'undionly.kpxe'), randomBytes(900));
    mkdirSync(out);
    server = new ServerProcess(pair, {
      port: 69,
      root,
      ipxeDirectory: ipxe,
      maxTransfers: 6,
      timeoutMs: 300,
      retries: 2,
      windowsizeMax: 64,
      throwingObserver: true,
      rpi: { '9ffefdef': { configTxt: '# generated for 9ffefdef\n', cmdlineTxt: 'console=serial0,115200\n' } },
    });
    await server.waitFor((line) => line.listening !== undefined, 10_000);
  });

  afterAll(() => {
    server?.stop();
    pair?.dispose();
    if (root) rmSync(join(root, '..'), { recursive: true, force: true });
  });

  const target = (name: string) => join(out, `${name.replace(/\//g, '_')}-${randomBytes(3).toString('hex')}`);
  const client = (command: string, args: string[], timeoutMs = 30_000) => pair.exec(pair.client, command, args, { timeoutMs });
  const clients: Record<string, (file: string, dest: string) => { status: number | null; stderr: string; stdout: string }> = {
    'tftp-hpa': (file, dest) => client('tftp', ['-m', 'binary', pair.serverAddress, '-c', 'get', file, dest]),
    atftp: (file, dest) => client('atftp', ['--get', '-r', file, '-l', dest, pair.serverAddress]),
    'atftp blksize 1468 windowsize 16': (file, dest) =>
      client('atftp', ['--get', '-r', file, '-l', dest, '--option', 'blksize 1468', '--option', 'windowsize 16', pair.serverAddress]),
    curl: (file, dest) => client('curl', ['-sS', '--max-time', '20', '-o', dest, `tftp://${pair.serverAddress}/${file}`]),
    'curl blksize 1468': (file, dest) => client('curl', ['-sS', '--max-time', '20', '--tftp-blksize', '1468', '-o', dest, `tftp://${pair.serverAddress}/${file}`]),
  };

  for (const [name, get] of Object.entries(clients)) {
    it(`${name} fetches files byte-identical (0 B, 512 B, 1 MiB + 1, a subdirectory)`, () => {
      for (const file of ['empty.bin', '512.bin', 'mib1.bin', 'sub/dir/file.bin']) {
        const dest = target(file);
        const result = get(file, dest);
        expect(result.status, `${file}: ${result.stderr}`).toBe(0);
        expect(sha256(readFileSync(dest)), file).toBe(sha256(files[file]!));
      }
    });
  }

  it('answers tsize=0 with the real size and caps blksize/windowsize in the OACK', () => {
    const result = client('sh', ['-c', `atftp --trace --get -r mib1.bin -l ${target('tsize')} --option 'tsize 0' --option 'blksize 9000' --option 'windowsize 200' ${pair.serverAddress} 2>&1`]);
    expect(result.status, result.stderr).toBe(0);
    const trace = result.stdout + result.stderr;
    expect(trace).toMatch(/tsize: 1048577/);
    expect(trace).toMatch(/blksize: 1468/);
    expect(trace).toMatch(/windowsize: 64/);
  });

  it('serves a 32 MiB file to atftp (lock-step and windowed) in reasonable time', () => {
    const big = randomBytes(32 * 1024 * 1024);
    writeFileSync(join(root, 'big.bin'), big);
    const want = sha256(big);
    const timings: Record<string, number> = {};
    for (const name of ['atftp', 'atftp blksize 1468 windowsize 16']) {
      const dest = target('big');
      const started = performance.now();
      const result = clients[name]!('big.bin', dest);
      timings[name] = Math.round(performance.now() - started);
      expect(result.status, result.stderr).toBe(0);
      expect(sha256(readFileSync(dest))).toBe(want);
      rmSync(dest);
    }
    console.log('32 MiB transfer times (ms):', timings);
    for (const ms of Object.values(timings)) expect(ms).toBeLessThan(20_000);
  });

  it('refuses traversal, absolute paths, symlink escapes and uploads', async () => {
    for (const file of ['../../etc/passwd', 'sub/../../etc/passwd', '/etc/passwd', 'escape']) {
      const dest = target('refused');
      const result = clients['tftp-hpa']!(file, dest);
      const text = existsSync(dest) ? readFileSync(dest, 'utf8') : '';
      expect(text, file).not.toContain('root:');
      expect(result.stdout + result.stderr, file).toMatch(/Error code [0-9]/);
    }
    // A link that stays inside the root is followed.
    const dest = target('inside');
    expect(clients['tftp-hpa']!('inside-link', dest).status).toBe(0);
    expect(sha256(readFileSync(dest))).toBe(sha256(files['sub/dir/file.bin']!));

    const upload = join(out, 'upload.txt');
    writeFileSync(upload, 'pwned\n');
    const put = client('tftp', ['-m', 'binary', pair.serverAddress, '-c', 'put', upload, 'config.txt']);
    expect(put.stdout + put.stderr).toMatch(/Error code \d+: Cannot PUT files/);
    expect(readFileSync(join(root, 'config.txt'))).toEqual(files['config.txt']);
    const counters = await server.counters();
    expect(counters.uploadsRefused).toBeGreaterThanOrEqual(1);
    expect((counters.accessDenied ?? 0) + (counters.refusedByProtocol ?? 0) + (counters.notFound ?? 0)).toBeGreaterThanOrEqual(4);
    expect(server.events('escape')[0]).toMatchObject({ step: 'tftp.error', error: 'not found' });
  });

  it('a packet from a foreign transfer ID gets error 5 and does not disturb the transfer', async () => {
    const result = client(process.execPath, [fixture('tftp-client.mjs'), 'foreign-tid', pair.serverAddress, 'mib1.bin']);
    const parsed = JSON.parse(result.stdout) as { sha256: string; foreignReplies: ({ opcode: number; code: number } | null)[] };
    expect(parsed.sha256, result.stdout + result.stderr).toBe(sha256(files['mib1.bin']!));
    expect(parsed.foreignReplies[0]).toMatchObject({ opcode: 5, code: 5 });
    expect(parsed.foreignReplies[1]).toBeNull();
    expect((await server.counters()).droppedForeignTid).toBeGreaterThanOrEqual(2);
  });

  it('1-byte datagrams to port 69 and to a transfer port are dropped and counted', async () => {
    const result = client(process.execPath, [fixture('tftp-client.mjs'), 'short', pair.serverAddress, 'mib1.bin']);
    expect((JSON.parse(result.stdout) as { sha256: string }).sha256, result.stdout + result.stderr).toBe(sha256(files['mib1.bin']!));
    expect(server.alive).toBe(true);
    expect((await server.counters()).droppedShort).toBeGreaterThanOrEqual(2);
  });

  it('refuses transfers beyond the cap with an error packet, and serves again once they end', async () => {
    const result = client(process.execPath, [fixture('tftp-client.mjs'), 'hold', pair.serverAddress, '512.bin', '6']);
    const parsed = JSON.parse(result.stdout) as { held: number[]; extra: { opcode: number; text: string } };
    expect(parsed.held, result.stderr).toEqual([3, 3, 3, 3, 3, 3]);
    expect(parsed.extra).toMatchObject({ opcode: 5, text: 'Too many transfers, try again later' });
    // The held transfers time out (300 ms × 3 sends); then the slots are free.
    for (let i = 0; i < 50 && ((await server.counters()).timeouts ?? 0) < 6; i++) await new Promise((resolve) => setTimeout(resolve, 100));
    const counters = await server.counters();
    expect(counters.busy).toBe(1);
    expect(counters.timeouts).toBe(6);
    expect(clients.atftp!('512.bin', target('after')).status).toBe(0);
  });

  it('serves iPXE binaries from the iPXE directory; a missing one is error 1 and a warning naming it', async () => {
    const dest = target('undionly');
    expect(clients['tftp-hpa']!('undionly.kpxe', dest).status).toBe(0);
    expect(readFileSync(dest)).toEqual(readFileSync(join(ipxe, 'undionly.kpxe')));
    const missing = clients['tftp-hpa']!('snp-arm64.efi', target('snp'));
    expect(missing.stdout + missing.stderr).toMatch(/Error code 1: File not found/);
    const warning = await server.waitFor((line) => line.log === 'warn' && line.file === 'snp-arm64.efi');
    expect(warning).toMatchObject({ directory: ipxe });
    expect(warning.msg).toContain(`snp-arm64.efi is not in ${ipxe}`);
  });

  it('Raspberry Pi: shared firmware and generated config under the serial, board directory overrides, missing probes are error 1', async () => {
    const fetch = (file: string) => {
      const dest = target(file);
      const result = clients['atftp blksize 1468 windowsize 16']!(file, dest);
      return { ...result, data: result.status === 0 ? readFileSync(dest) : undefined };
    };
    expect(fetch('9ffefdef/start4.elf').data).toEqual(files['start4.elf']);
    expect(fetch('9ffefdef/overlays/miniuart-bt.dtbo').data).toEqual(files['overlays/miniuart-bt.dtbo']);
    expect(fetch('9ffefdef/config.txt').data?.toString()).toBe('# generated for 9ffefdef\n');
    expect(fetch('9ffefdef/cmdline.txt').data?.toString()).toBe('console=serial0,115200\n');
    // No hook answer for this board: its own directory wins over the shared files.
    expect(fetch('12345678/config.txt').data).toEqual(files['12345678/config.txt']);
    expect(fetch('12345678/RPI_EFI.fd').data).toEqual(files['12345678/RPI_EFI.fd']);
    expect(fetch('12345678/start4.elf').data).toEqual(files['start4.elf']);
    expect(fetch('abcdef01/config.txt').data).toEqual(files['config.txt']);
    // The bootloader probes files that are not there; and a dropped prefix reads the root.
    const probe = fetch('9ffefdef/pieeprom.sig');
    expect(probe.status).not.toBe(0);
    expect(fetch('start4.elf').data).toEqual(files['start4.elf']);
    // The package normalises `a/../b` to `b` (still inside the root); a way out is refused.
    expect(fetch('9ffefdef/../../etc/passwd').data).toBeUndefined();

    await server.waitFor((line) => line.event?.path === '9ffefdef/pieeprom.sig');
    expect(server.events('9ffefdef/config.txt')[0]).toMatchObject({ step: 'tftp.read', bytes: 25, meta: { rpiSerial: '9ffefdef' }, client: { address: '10.99.0.2' } });
    expect(server.events('9ffefdef/pieeprom.sig')[0]).toMatchObject({ step: 'tftp.error', meta: { rpiSerial: '9ffefdef' } });
    const counters = await server.counters();
    expect(counters.observerErrors).toBeGreaterThan(0);
    expect(server.alive).toBe(true);
  });
});
