// The NetBox emulator in a process of its own, so that serving the hosts' requests does not
// share a CPU with the benchmark's client. Prints one JSON line {url, token, prefixId} and runs
// until stdin closes (the benchmark exiting, however it exits).
import { startNetboxEmulator } from '@metalplane/testkit';

const [cidr = '10.200.0.0/16'] = process.argv.slice(2);
const netbox = await startNetboxEmulator({ tokens: [{ version: 1 }] });
const prefix = netbox.state.addPrefix({ prefix: cidr });
process.stdout.write(`${JSON.stringify({ url: netbox.url, token: netbox.tokens[0].token, prefixId: prefix.id })}\n`);
process.stdin.resume();
process.stdin.on('end', () => void netbox.stop().then(() => process.exit(0)));
