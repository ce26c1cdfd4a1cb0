// Runs the built TftpService inside a test's server network namespace (Node cannot enter a
// namespace, so the test starts this with `ip netns exec`). argv[2] is JSON:
//   { port, root?, ipxeDirectory?, rpi?: { <serial>: { configTxt?, cmdlineTxt? } }, ...caps }
// stdout, one JSON object a line: {"listening":port}, then {"event":…} per transfer event and
// {"counters":…} in answer to a "counters" line on stdin. Stops on stdin end or SIGTERM.
import { createInterface } from 'node:readline';
import { TftpService, chainResolvers, ipxeResolver } from '../dist/tftp/index.js';
import { rpiResolver } from '../dist/rpi/index.js';

const config = JSON.parse(process.argv[2] ?? '{}');
const print = (object) => process.stdout.write(`${JSON.stringify(object)}\n`);
const logger = {
  debug() {},
  info() {},
  warn: (obj, msg) => print({ log: 'warn', msg, ...obj }),
  error: (obj, msg) => print({ log: 'error', msg, ...obj }),
  child: () => logger,
};
const rpiBoot = config.rpi ? async (serial) => config.rpi[serial] ?? null : undefined;
const resolvers = [];
if (config.ipxeDirectory) resolvers.push(ipxeResolver(config.ipxeDirectory, logger));
resolvers.push(rpiResolver({ root: config.root, rpiBoot, logger }));
let observed = 0;
const service = new TftpService({
  port: config.port ?? 69,
  address: config.address,
  root: config.root,
  blksizeMax: config.blksizeMax ?? 1468,
  windowsizeMax: config.windowsizeMax ?? 64,
  maxTransfers: config.maxTransfers ?? 16,
  timeoutMs: config.timeoutMs ?? 500,
  retries: config.retries ?? 3,
  resolve: chainResolvers(...resolvers),
  observe: (event) => {
    print({ event });
    // A throwing observer must not disturb the server; the tests count these.
    if (config.throwingObserver && ++observed % 2 === 0) throw new Error('observer failure');
  },
  logger,
});
await service.start();
print({ listening: service.port, status: service.status() });
const stop = async () => {
  await service.stop();
  print({ stopped: true, counters: service.counters });
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  if (line.trim() === 'counters') print({ counters: service.counters });
});
lines.on('close', () => void stop());
