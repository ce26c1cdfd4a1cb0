import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigurationError } from '@metalplane/core';
import { describe, expect, it } from 'vitest';
import { embeddedDefaultConfig, loadConfigFile, resolveConfig } from './load-config.js';

function problemsOf(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigurationError) return [...error.problems];
    throw error;
  }
  throw new Error('expected a ConfigurationError');
}

function writeConfig(text: string, files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'mp-config-'));
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  const path = join(dir, 'metalplane.yaml');
  writeFileSync(path, text);
  return path;
}

describe('host config', () => {
  it('gives the embedded default: SQLite under ./data, 127.0.0.1:8080, no plugins', () => {
    const { config, source } = embeddedDefaultConfig('/srv');
    expect(source).toBe('embedded default');
    expect(config.server).toEqual({ host: '127.0.0.1', port: 8080, bodyLimitBytes: 1048576 });
    expect(config.store).toEqual({ driver: 'sqlite', path: './data/metalplane.db', busyTimeoutMs: 5000 });
    expect(config.plugins).toEqual([]);
    expect(Object.isFrozen(config.server)).toBe(true);
  });

  it('substitutes ${env:...} and ${file:...} (relative to the config file) inside strings only', () => {
    const path = writeConfig(
      ['store:', '  driver: postgres', '  url: postgresql://mp:${file:db-password}@${env:MP_DB_HOST}/mp', 'server:', '  host: "$${literal}"'].join('\n'),
      { 'db-password': 's3cret\n' },
    );
    const { config } = loadConfigFile(path, { MP_DB_HOST: 'db.internal' });
    expect(config.store).toMatchObject({ driver: 'postgres', url: 'postgresql://mp:s3cret@db.internal/mp' });
    expect(config.server.host).toBe('${literal}');
  });

  it('reports every problem at once, each with its path', () => {
    const path = writeConfig(
      [
        'server:',
        '  port: 99999',
        '  colour: blue',
        'store:',
        '  driver: sqlite',
        '  path: ${env:MISSING_VAR}',
        'plugins:',
        '  - module: ./x',
        '    extra: 1',
        'surprise: true',
        'tls:',
        '  cert: ${file:nope.pem}',
      ].join('\n'),
    );
    const problems = problemsOf(() => loadConfigFile(path, {}));
    const joined = problems.join('\n');
    expect(joined).toContain('/server/port');
    expect(joined).toContain('/server/colour');
    expect(joined).toContain('/surprise');
    expect(joined).toContain('/plugins/0/extra');
    expect(joined).toMatch(/\/store\/path: environment variable MISSING_VAR is not set/);
    expect(joined).toMatch(/\/tls\/cert: cannot read file nope\.pem: ENOENT/);
    for (const problem of problems) expect(problem.startsWith(path)).toBe(true);
  });

  it('rejects YAML syntax errors and duplicate keys with the file name', () => {
    expect(problemsOf(() => loadConfigFile(writeConfig('server: [unclosed')))[0]).toMatch(/metalplane\.yaml/);
    expect(problemsOf(() => loadConfigFile(writeConfig('log:\n  level: info\nlog:\n  level: debug\n'))).join()).toMatch(/unique|duplicate/i);
  });

  it('says so when the file cannot be read', () => {
    expect(problemsOf(() => loadConfigFile('/nonexistent/metalplane.yaml'))[0]).toMatch(/cannot read: ENOENT/);
  });

  it('treats an empty file as all defaults', () => {
    const { config } = resolveConfig(null, '/srv', 'empty');
    expect(config.server.port).toBe(8080);
    expect(config.store).toBeUndefined();
  });
});
