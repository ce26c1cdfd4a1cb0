import { describe, expect, it } from 'vitest';
import { createNetnsPair, netnsUnavailable } from './netns.js';

const unavailable = netnsUnavailable();

describe.skipIf(unavailable)('network namespace pairs for tests', () => {
  it('joins two namespaces by a veth pair and removes them on dispose', () => {
    const pair = createNetnsPair({ clientCidr: '10.99.0.2/24' });
    try {
      expect(pair.subnet).toBe('10.99.0.0/24');
      const ping = pair.exec(pair.client, 'busybox', ['ping', '-c', '1', '-W', '2', pair.serverAddress]);
      expect(ping.status, ping.stderr).toBe(0);
      expect(pair.exec(pair.client, 'cat', [`/sys/class/net/${pair.clientIf}/address`]).stdout.trim()).toBe(pair.clientMac);
    } finally {
      pair.dispose();
    }
    expect(pair.exec(pair.server, 'true', []).status).not.toBe(0);
  });
});
