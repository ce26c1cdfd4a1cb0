import {
  BootArchs,
  BootEventSchema,
  BootClients,
  BootPlanSchema,
  InputError,
  LabelsSchema,
  MachinePhases,
  MachineAddressSchema,
  MachineSchema,
  MachineSpecSchema,
  OsStates,
  normalizeMac,
  parseByteQuantity,
  staleVersionError,
  type Machine,
  type MachineUpdate,
  type Metalplane,
} from '@metalplane/core';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { errorResponses, PageQuerySchema, PageSchema, ResourceVersionField } from '../schemas.js';

const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });

/** Label keys as the machine spec defines them; PATCH refuses any other key. */
const labelKeyPattern = Object.keys(LabelsSchema.patternProperties)[0]!;

/** `rack=a` -> ['rack', 'a']; the first `=` separates key and value. */
export function parseLabelFilters(filters: readonly string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const [i, filter] of filters.entries()) {
    const at = filter.indexOf('=');
    if (at <= 0) throw new InputError(`label filter "${filter}" is not key=value`, [{ path: `/querystring/label/${i}`, message: 'must be key=value' }]);
    labels[filter.slice(0, at)] = filter.slice(at + 1);
  }
  return labels;
}

export async function machineRoutes(app: FastifyInstance, metalplane: Metalplane): Promise<void> {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();

  /** Writes an operator's change and tells the event bus. */
  const updateMachine = async (id: string, update: MachineUpdate, resourceVersion: number): Promise<Machine> => {
    const machine = await metalplane.store.machines.update(id, update, resourceVersion);
    metalplane.events.emit('machine.updated', { machineId: machine.id, resourceVersion: machine.resourceVersion });
    return machine;
  };

  api.get(
    '/machines',
    {
      schema: {
        tags: ['machines'],
        summary: 'List machines',
        description:
          'Filters combine with AND: `phase`; `label=key=value` (repeatable: `?label=rack=a&label=row=1`); `mac` (any ' +
          'common notation); `arch` (`amd64`/`x86_64`, `arm64`/`aarch64`); `minMemory` as a byte quantity (`8Gi`, ' +
          '`512Mi`, `16G`, plain bytes); `minCpus` (hardware threads); `disk.type` (`nvme`, `ssd`, `hdd`: at least one ' +
          'such disk); `gpu` (`true`/`false`). Example: `?arch=arm64&minMemory=8Gi&disk.type=nvme&label=rack=a`.',
        querystring: Type.Object(
          {
            phase: Type.Optional(Type.Union(MachinePhases.map((p) => Type.Literal(p)))),
            arch: Type.Optional(Type.String({ minLength: 1, maxLength: 32 })),
            minMemory: Type.Optional(Type.String({ minLength: 1, maxLength: 32 })),
            minCpus: Type.Optional(Type.Integer({ minimum: 1 })),
            'disk.type': Type.Optional(Type.Union([Type.Literal('nvme'), Type.Literal('ssd'), Type.Literal('hdd')])),
            gpu: Type.Optional(Type.Boolean()),
            label: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
            mac: Type.Optional(Type.String()),
            ...PageQuerySchema,
          },
          { additionalProperties: false },
        ),
        response: { 200: PageSchema(MachineSchema), ...errorResponses },
      },
    },
    async (request) => {
      const q = request.query;
      let mac: string | undefined;
      if (q.mac !== undefined) {
        mac = normalizeMac(q.mac) ?? undefined;
        if (!mac) throw new InputError(`mac "${q.mac}" is not a MAC address`, [{ path: '/querystring/mac', message: 'must be a MAC address' }]);
      }
      let minMemoryBytes: number | undefined;
      if (q.minMemory !== undefined) {
        minMemoryBytes = parseByteQuantity(q.minMemory) ?? undefined;
        if (minMemoryBytes === undefined) {
          throw new InputError(`minMemory "${q.minMemory}" is not a byte quantity`, [
            { path: '/querystring/minMemory', message: 'must be a quantity such as 8Gi, 512Mi, 16G or a number of bytes' },
          ]);
        }
      }
      return metalplane.store.machines.list({
        limit: q.limit ?? 100,
        ...(q.phase ? { phase: q.phase } : {}),
        ...(q.arch ? { arch: q.arch } : {}),
        ...(minMemoryBytes !== undefined ? { minMemoryBytes } : {}),
        ...(q.minCpus !== undefined ? { minCpuThreads: q.minCpus } : {}),
        ...(q['disk.type'] ? { diskType: q['disk.type'] } : {}),
        ...(q.gpu !== undefined ? { gpu: q.gpu } : {}),
        ...(q.label ? { labels: parseLabelFilters(q.label) } : {}),
        ...(mac ? { mac } : {}),
        ...(q.continue ? { after: q.continue } : {}),
      });
    },
  );

  api.get(
    '/machines/:id',
    { schema: { tags: ['machines'], summary: 'Get a machine', params: IdParams, response: { 200: MachineSchema, ...errorResponses } } },
    async (request) => metalplane.store.machines.require(request.params.id),
  );

  api.put(
    '/machines/:id',
    {
      schema: {
        tags: ['machines'],
        summary: 'Replace the operator-set fields of a machine',
        description: 'Fields left out are reset (no hostname, no labels, roles or taints, boot from disk by `exit`).',
        params: IdParams,
        body: Type.Composite([MachineSpecSchema, Type.Object({ resourceVersion: ResourceVersionField })], { additionalProperties: false }),
        response: { 200: MachineSchema, ...errorResponses },
      },
    },
    async (request) => {
      const { resourceVersion, ...spec } = request.body;
      return updateMachine(
        request.params.id,
        {
          hostname: spec.hostname ?? null,
          labels: spec.labels ?? {},
          roles: spec.roles ?? [],
          taints: spec.taints ?? [],
          bootFromDisk: spec.bootFromDisk ?? 'exit',
        },
        resourceVersion,
      );
    },
  );

  api.patch(
    '/machines/:id',
    {
      schema: {
        tags: ['machines'],
        summary: 'Change some operator-set fields of a machine',
        description: 'JSON merge patch: `labels` are merged, a label set to null is removed; `hostname: null` clears it.',
        params: IdParams,
        body: Type.Object(
          {
            hostname: Type.Optional(Type.Union([MachineSpecSchema.properties.hostname, Type.Null()])),
            labels: Type.Optional(
              Type.Record(Type.String({ pattern: labelKeyPattern }), Type.Union([Type.String({ maxLength: 253 }), Type.Null()]), {
                additionalProperties: false,
              }),
            ),
            roles: MachineSpecSchema.properties.roles,
            taints: MachineSpecSchema.properties.taints,
            bootFromDisk: MachineSpecSchema.properties.bootFromDisk,
            resourceVersion: Type.Optional(ResourceVersionField),
          },
          { additionalProperties: false },
        ),
        response: { 200: MachineSchema, ...errorResponses },
      },
    },
    async (request) => {
      const { resourceVersion, labels: labelPatch, ...rest } = request.body;
      const current = await metalplane.store.machines.require(request.params.id);
      let labels: Record<string, string> | undefined;
      if (labelPatch) {
        labels = { ...current.labels };
        for (const [key, value] of Object.entries(labelPatch)) {
          if (value === null) delete labels[key];
          else labels[key] = value;
        }
      }
      return updateMachine(current.id, { ...rest, ...(labels ? { labels } : {}) }, resourceVersion ?? current.resourceVersion);
    },
  );

  api.post(
    '/machines/:id/transitions',
    {
      schema: {
        tags: ['machines'],
        summary: 'Move a machine along its lifecycle',
        description:
          'Give `transition` (e.g. `maintain`) or `to` (e.g. `maintenance`). An illegal move is 409 invalid_transition. ' +
          '`drain` (from maintenance) asks the OS plugin to drain the machine, records the outcome as the `Drained` ' +
          'condition and, when drained, continues to `offline`.',
        params: IdParams,
        body: Type.Object(
          {
            transition: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
            to: Type.Optional(Type.Union(MachinePhases.map((p) => Type.Literal(p)))),
            reason: Type.Optional(Type.String({ maxLength: 2000 })),
            resourceVersion: Type.Optional(ResourceVersionField),
          },
          { additionalProperties: false },
        ),
        response: { 200: MachineSchema, ...errorResponses },
      },
    },
    async (request) => {
      const body = request.body;
      if (body.transition === 'drain' || body.to === 'draining') {
        // Draining is more than a phase: the OS plugin is asked, and a drained machine goes offline.
        const current = await metalplane.store.machines.require(request.params.id);
        if (body.resourceVersion !== undefined && body.resourceVersion !== current.resourceVersion) {
          throw staleVersionError('machine', current.id, body.resourceVersion, current.resourceVersion);
        }
        return (await metalplane.drain(request.params.id, { actor: 'api', reason: body.reason ?? null })).machine;
      }
      return metalplane.transition(request.params.id, {
        ...(body.transition !== undefined ? { transition: body.transition } : {}),
        ...(body.to !== undefined ? { to: body.to } : {}),
        reason: body.reason ?? null,
        actor: 'api',
        ...(body.resourceVersion !== undefined ? { expectedResourceVersion: body.resourceVersion } : {}),
      });
    },
  );

  api.get(
    '/machines/:id/events',
    {
      schema: {
        tags: ['machines'],
        summary: "A machine's lifecycle audit trail, oldest first",
        params: IdParams,
        querystring: Type.Object({ ...PageQuerySchema }, { additionalProperties: false }),
      },
    },
    async (request) => {
      await metalplane.store.machines.require(request.params.id);
      return metalplane.store.machineEvents.listForMachine(request.params.id, {
        limit: request.query.limit ?? 100,
        ...(request.query.continue ? { after: request.query.continue } : {}),
      });
    },
  );

  api.get(
    '/machines/:id/boot-timeline',
    {
      schema: {
        tags: ['machines', 'boot'],
        summary: "A machine's network boots step by step (DHCP, TFTP, iPXE script, HTTP files, OS report), newest first",
        description: 'Answers "why did it not boot?": each step says what was asked and what was served. Page with `continue`.',
        params: IdParams,
        querystring: Type.Object({ ...PageQuerySchema }, { additionalProperties: false }),
        response: { 200: PageSchema(BootEventSchema), ...errorResponses },
      },
    },
    async (request) => {
      await metalplane.store.machines.require(request.params.id);
      return metalplane.store.bootEvents.listForMachine(request.params.id, {
        limit: request.query.limit ?? 100,
        ...(request.query.continue ? { before: request.query.continue } : {}),
      });
    },
  );

  api.post(
    '/machines/:id/rearm',
    {
      schema: {
        tags: ['machines', 'boot'],
        summary: 'Clear the hold (loop guard or operator) and the netboot count, so the machine netboots again',
        params: IdParams,
        response: { 200: MachineSchema, ...errorResponses },
      },
    },
    async (request) => metalplane.bootRecorder.rearm(request.params.id, 'api'),
  );

  api.post(
    '/machines/:id/os-report',
    {
      schema: {
        tags: ['machines', 'boot'],
        summary: 'The installed OS (or its agent) reports how the machine is',
        description:
          '`installed` consumes the `once` intent the machine netbooted under, so it boots from disk next time; ' +
          'this report, never the serving of a script or kernel, is what ends a `once` install.',
        params: IdParams,
        body: Type.Object(
          {
            state: Type.Union(OsStates.map((state) => Type.Literal(state))),
            detail: Type.Optional(Type.String({ maxLength: 2000 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ machine: MachineSchema, consumedIntentId: Type.Union([Type.String(), Type.Null()]) }), ...errorResponses },
      },
    },
    async (request) =>
      metalplane.bootRecorder.reportOs(request.params.id, {
        state: request.body.state,
        actor: 'api',
        ...(request.body.detail !== undefined ? { detail: request.body.detail } : {}),
      }),
  );

  api.get(
    '/machines/:id/next-boot',
    {
      schema: {
        tags: ['machines', 'boot'],
        summary: 'What the machine would boot now, and why (nothing is booted or counted)',
        params: IdParams,
        querystring: Type.Object(
          {
            arch: Type.Optional(Type.Union(BootArchs.map((a) => Type.Literal(a)))),
            client: Type.Optional(Type.Union(BootClients.map((c) => Type.Literal(c)))),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ machineId: Type.String(), plan: BootPlanSchema, addresses: Type.Array(MachineAddressSchema) }),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const { plan, machine } = await metalplane.bootPlanner.planForMachine(request.params.id, {
        ...(request.query.arch ? { arch: request.query.arch } : {}),
        ...(request.query.client ? { client: request.query.client } : {}),
      });
      return { machineId: request.params.id, plan, addresses: machine?.addresses.filter((a) => a.phase === 'bound') ?? [] };
    },
  );
}
