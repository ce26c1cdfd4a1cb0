#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { ConfigurationError } from '@metalplane/core';
import { embeddedDefaultConfig, loadConfigFile } from './config/load-config.js';
import { Host } from './host.js';

const usage = `usage: metalplane serve [--config metalplane.yaml]

  serve            run the host: API, dashboard and the configured plugins
  --config, -c     YAML config file (without it: the embedded default,
                   SQLite under ./data, API on 127.0.0.1:8080)
  --help, -h       this text`;

function fail(message: string): never {
  process.stderr.write(`metalplane: ${message}\n`);
  process.exit(1);
}

async function serve(configPath: string | undefined): Promise<void> {
  const loaded = configPath ? loadConfigFile(configPath) : embeddedDefaultConfig();
  const host = await Host.create({ loaded });
  let signals = 0;
  const shutdown = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals > 1) {
      process.stderr.write(`metalplane: ${signal} again, exiting at once\n`);
      process.exit(1);
    }
    host.logger.info({ signal }, 'shutting down');
    host.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        host.logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  const url = await host.listen();
  process.stdout.write(
    `metalplane is running (config: ${loaded.source})\n` +
      `  API:  ${url}/api/v1\n` +
      `  docs: ${url}/docs\n` +
      `  health: ${url}/healthz  ${url}/readyz\n`,
  );
}

async function main(argv: string[]): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (error) {
    fail(`${(error as Error).message}\n${usage}`);
  }
  if (parsed.values.help) {
    process.stdout.write(`${usage}\n`);
    return;
  }
  const [command, ...rest] = parsed.positionals;
  if (command !== 'serve') fail(command ? `unknown command "${command}"\n${usage}` : `a command is required\n${usage}`);
  if (rest.length > 0) fail(`unexpected argument "${rest[0]}"\n${usage}`);
  try {
    await serve(parsed.values.config);
  } catch (error) {
    if (error instanceof ConfigurationError) fail(error.message);
    fail(error instanceof Error ? (error.stack ?? error.message) : String(error));
  }
}

await main(process.argv.slice(2));
