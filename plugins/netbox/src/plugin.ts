import { coreServices, definePlugin, ipamExtensionPoint, NotFoundError } from '@metalplane/core';
import { Type } from '@sinclair/typebox';
import { NetboxClient } from './client.js';
import { NetboxConfigSchema } from './config.js';
import { InventoryQueue, NetboxInterfaces, NetboxInventory } from './inventory.js';
import { NetboxIpam } from './netbox-ipam.js';

const MachineParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false });

/**
 * The NetBox plugin: an IPAM provider (`provider: netbox` pools allocate from NetBox
 * prefixes and IP ranges) and inventory validation (is a machine's MAC on a NetBox device?).
 *
 * Routes, under `/api/v1/plugins/netbox`:
 * - `GET /machines/:id/netbox` — what NetBox knows about the machine (read only);
 * - `POST /machines/:id/netbox/check` — the same, recorded on the machine as the condition
 *   `NetboxKnown` and the label `netbox.device`.
 *
 * With `checkInventoryOnEnroll` (default), every enrolled machine is checked and recorded in
 * the background.
 */
export default definePlugin({
  id: 'netbox',
  version: '0.1.0',
  description: 'IP addresses from NetBox prefixes and IP ranges; MAC inventory checks',
  configSchema: NetboxConfigSchema,
  provides: { ipam: ipamExtensionPoint },
  requires: { logger: coreServices.logger, store: coreServices.store, http: coreServices.http, events: coreServices.events },
  setup({ config, deps }) {
    // Throws on a token of neither shape; the message never contains the token.
    const client = new NetboxClient({
      url: config.url,
      token: config.token,
      timeoutMs: config.timeoutMs,
      retries: config.retries,
      retryBaseMs: config.retryBaseMs,
      verifyTls: config.verifyTls,
      connections: config.connections,
      logger: deps.logger,
    });
    const interfaces = new NetboxInterfaces(client);
    const inventory = new NetboxInventory(interfaces, deps.logger);
    const ipam = new NetboxIpam({
      client,
      ownershipTag: config.ownershipTag,
      ownerTagPrefix: config.ownerTagPrefix,
      releaseMode: config.releaseMode,
      ...(config.assignInterfaces ? { interfaces } : {}),
      hostnameOf: async (machineId) => (await deps.store.machines.get(machineId))?.hostname ?? null,
      attempts: config.retries + 1,
      retryBaseMs: config.retryBaseMs,
      logger: deps.logger,
    });

    deps.http.register(async (app) => {
      app.get('/machines/:id/netbox', { schema: { params: MachineParams } }, async (request) => {
        const { id } = request.params as { id: string };
        const machine = await deps.store.machines.get(id);
        if (!machine) throw new NotFoundError('machine', id);
        return inventory.check(machine, AbortSignal.timeout(config.timeoutMs * 4));
      });
      app.post('/machines/:id/netbox/check', { schema: { params: MachineParams } }, async (request) => {
        const { id } = request.params as { id: string };
        if (!(await deps.store.machines.get(id))) throw new NotFoundError('machine', id);
        const { report } = await inventory.record(deps.store.machines, id, AbortSignal.timeout(config.timeoutMs * 4));
        return report;
      });
    });

    const queue = new InventoryQueue(inventory, deps.store.machines, deps.logger);
    let unsubscribe: (() => void) | undefined;

    return {
      provides: { ipam },
      start() {
        if (config.checkInventoryOnEnroll) unsubscribe = deps.events.on('machine.enrolled', ({ machineId }) => queue.add(machineId));
        deps.logger.info({ url: client.origin, tokenVersion: client.tokenVersion, releaseMode: config.releaseMode }, 'NetBox plugin started');
      },
      async stop() {
        unsubscribe?.();
        ipam.stop();
        await queue.stop();
        await client.close();
      },
    };
  },
});
