// Runs one service of the built PXE plugin alone, for the PXE benchmark (started with
// `ip netns exec` in the server namespace, like the plugin's test fixtures):
//   node pxe-service.mjs dhcp '<DhcpService config json>'
//   node pxe-service.mjs tftp '<{ port, address, root, blksizeMax, windowsizeMax }>'
// Prints {"ready":true} once listening; on stdin end or SIGTERM it prints {"counters":…} and exits.
// No reservations (DHCP full mode hands out pool leases, kept in memory) and no observers.
import { fileURLToPath } from 'node:url';

const dist = new URL('./', import.meta.resolve('@metalplane/plugin-pxe'));
const [kind, json] = process.argv.slice(2);
const config = JSON.parse(json ?? '{}');
const print = (value) => process.stdout.write(`${JSON.stringify(value)}\n`);
const logger = {
  debug() {},
  info() {},
  warn: (obj, msg) => print({ log: 'warn', msg, detail: String(obj?.err ?? '') }),
  error: (obj, msg) => print({ log: 'error', msg, detail: String(obj?.err ?? '') }),
  child: () => logger,
};

let service;
if (kind === 'dhcp') {
  const { DhcpService } = await import(fileURLToPath(new URL('dhcp/index.js', dist)));
  service = new DhcpService({ config, logger, hooks: { reservation: async () => null, observe: () => {} } });
} else if (kind === 'tftp') {
  const { TftpService } = await import(fileURLToPath(new URL('tftp/index.js', dist)));
  service = new TftpService({ timeoutMs: 1000, retries: 5, maxTransfers: 256, ...config, logger });
} else {
  console.error(`pxe-service: unknown service "${kind}"`);
  process.exit(2);
}
await service.start();
print({ ready: true });

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await service.stop();
  print({ counters: service.counters });
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.stdin.on('end', () => void stop());
process.stdin.resume();
