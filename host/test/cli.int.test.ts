import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runToExit, serve } from './process.js';

describe('metalplane serve', () => {
  it('persists an enrolled machine across a graceful restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mp-cli-'));
    writeFileSync(join(dir, 'metalplane.yaml'), 'server:\n  port: 0\nstore:\n  driver: sqlite\n  path: ./state/mp.db\nlog:\n  level: warn\n');

    const first = await serve(['serve', '--config', 'metalplane.yaml'], dir);
    expect((await fetch(`${first.baseUrl}/healthz`)).status).toBe(200);
    const enrolled = await fetch(`${first.baseUrl}/api/v1/enroll`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ service_tag: 'SRV-1', mac_address: '52:54:00:12:34:56', hardware: { cpu: { cores: 4 } } }),
    });
    expect(enrolled.status).toBe(201);
    const { machine } = (await enrolled.json()) as { machine: { id: string } };
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);

    const second = await serve(['serve', '-c', join(dir, 'metalplane.yaml')], tmpdir());
    const list = (await (await fetch(`${second.baseUrl}/api/v1/machines`)).json()) as { items: { id: string; phase: string }[] };
    expect(list.items).toEqual([expect.objectContaining({ id: machine.id, phase: 'enrolled' })]);
    second.child.kill('SIGINT');
    expect(await second.exited).toBe(0);
  });

  it('finishes a request in flight when told to stop', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mp-cli-'));
    const plugin = fileURLToPath(new URL('./fixtures/slow-plugin.mjs', import.meta.url));
    writeFileSync(
      join(dir, 'metalplane.yaml'),
      `server:\n  port: 0\nstore:\n  driver: sqlite\n  path: ./mp.db\nlog:\n  level: warn\nplugins:\n  - module: ${plugin}\n`,
    );
    const started = await serve(['serve', '--config', 'metalplane.yaml'], dir);
    const inFlight = fetch(`${started.baseUrl}/api/v1/plugins/slow/`);
    await new Promise((resolve) => setTimeout(resolve, 200));
    started.child.kill('SIGTERM');
    const response = await inFlight;
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ done: true });
    expect(await started.exited).toBe(0);
  });

  it('exits non-zero with every config problem listed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mp-cli-'));
    writeFileSync(join(dir, 'bad.yaml'), 'server:\n  port: -1\nunknown: 1\n');
    const { code, stderr } = await runToExit(['serve', '--config', 'bad.yaml'], dir);
    expect(code).toBe(1);
    expect(stderr).toContain('/server/port');
    expect(stderr).toContain('/unknown');
  });

  it('exits non-zero on an unknown command or option', async () => {
    expect(await runToExit(['launch'], tmpdir())).toMatchObject({ code: 1, stderr: expect.stringContaining('unknown command "launch"') });
    expect(await runToExit(['serve', '--colour'], tmpdir())).toMatchObject({ code: 1, stderr: expect.stringContaining("Unknown option '--colour'") });
  });
});
