import { describe, it } from 'vitest';
import { chainUnavailable, runBootChain } from './boot-chain.js';

const unavailable = chainUnavailable('bios');

describe.skipIf(unavailable)('end to end with SeaBIOS and Debian iPXE ROM (QEMU, TCG)', () => {
  it('registers an unknown machine, installs with a once intent, then boots from disk', async () => {
    const timings = await runBootChain('bios', '52:54:00:aa:00:01');
    console.log(`BIOS chain timings (ms): ${JSON.stringify(timings)}`);
  }, 600_000);
});
if (unavailable) console.warn(`BIOS end-to-end chain skipped: ${unavailable}`);
