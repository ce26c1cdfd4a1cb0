import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { ConfigurationError } from '@metalplane/core';
import { pino, type Logger } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveConfig } from '../src/config/load-config.js';
import { Host } from '../src/host.js';

const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));

/** A logger that keeps each message, to see the order plugins started and stopped in. */
function recordingLogger(): { logger: Logger; messages: string[] } {
  const messages: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) messages.push((JSON.parse(line) as { msg: string }).msg);
      done();
    },
  });
  return { logger: pino<never>({ level: 'info' }, stream), messages };
}

function configWith(plugins: unknown[]) {
  return resolveConfig({ store: { driver: 'sqlite', path: ':memory:' }, log: { level: 'silent' }, plugins }, fixtures, 'test config');
}

async function configurationProblems(plugins: unknown[]): Promise<string[]> {
  try {
    await Host.create({ loaded: configWith(plugins), logger: pino({ level: 'silent' }) });
  } catch (error) {
    if (error instanceof ConfigurationError) return [...error.problems];
    throw error;
  }
  throw new Error('expected a ConfigurationError');
}

describe('plugins loaded by module path from the config', () => {
  let host: Host | undefined;
  afterEach(async () => {
    await host?.stop();
    host = undefined;
  });

  it('loads the example plugin from a relative path, mounts its route, and starts/stops in dependency order', async () => {
    const { logger, messages } = recordingLogger();
    host = await Host.create({
      loaded: configWith([
        { module: './polite-plugin.mjs' },
        { module: '../../../examples/hello-plugin', config: { greeting: 'hi' } },
      ]),
      logger,
    });
    expect(host.metalplane.pluginOrder).toEqual(['hello', 'polite']);

    const greeting = await host.server.inject({ url: '/api/v1/plugins/hello/greeting?name=rack' });
    expect(greeting.statusCode).toBe(200);
    expect(greeting.json()).toEqual({ message: 'hi, rack', enrolledSinceStart: 0 });

    await host.server.inject({ method: 'POST', url: '/api/v1/enroll', payload: { mac_address: '52:54:00:00:00:01' } });
    expect((await host.server.inject({ url: '/api/v1/plugins/hello/greeting' })).json()).toEqual({
      message: 'hi, world',
      enrolledSinceStart: 1,
    });
    expect((await host.server.inject({ url: '/api/v1/plugins/polite/' })).json()).toEqual({ message: 'hi, operator, please' });

    await host.stop();
    const lifecycle = messages.filter((m) => /plugin (started|stopped)$/.test(m) && /^(hello|polite) /.test(m));
    expect(lifecycle).toEqual(['hello plugin started', 'polite plugin started', 'polite plugin stopped', 'hello plugin stopped']);
  });

  it('reports every loading problem at once', async () => {
    const problems = await configurationProblems([
      { module: './does-not-exist.mjs' },
      { module: './not-a-plugin.mjs' },
      { module: 'no-such-package-anywhere' },
    ]);
    expect(problems).toHaveLength(3);
    expect(problems[0]).toMatch(/^\/plugins\/0\/module: cannot find plugin module "\.\/does-not-exist\.mjs"/);
    expect(problems[1]).toMatch(/^\/plugins\/1\/module: .* does not default-export a plugin/);
    expect(problems[2]).toMatch(/^\/plugins\/2\/module: cannot find plugin module "no-such-package-anywhere"/);
  });

  it('validates plugin config and the dependency graph before starting anything', async () => {
    const problems = await configurationProblems([
      { module: './polite-plugin.mjs', config: { unexpected: true } },
      { module: '../../../examples/hello-plugin', config: { greeting: 42 } },
    ]);
    expect(problems.join('\n')).toContain('/plugins/polite/unexpected');
    expect(problems.join('\n')).toContain('/plugins/hello/greeting');
  });

  it('refuses a plugin whose required service nobody provides', async () => {
    const problems = await configurationProblems([{ module: './polite-plugin.mjs' }]);
    expect(problems).toEqual([expect.stringMatching(/plugin polite requires example\.greeter .* no loaded plugin provides it/)]);
  });
});
