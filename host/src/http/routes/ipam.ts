import {
  InputError,
  IpClaimPhases,
  IpClaimSchema,
  IpClaimSpecSchema,
  IpPoolSchema,
  IpPoolSpecSchema,
  ResourceNameSchema,
  validatePoolSpec,
  type IpPoolSpec,
  type Metalplane,
} from '@metalplane/core';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { errorResponses, PageQuerySchema, PageSchema, ResourceVersionField } from '../schemas.js';

const NameParams = Type.Object({ name: ResourceNameSchema });
const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
const tags = ['ipam'];

function checkPool(spec: IpPoolSpec): void {
  const errors = validatePoolSpec(spec, '/body/spec');
  if (errors.length > 0) throw new InputError(`invalid IP pool: ${errors.map((e) => `${e.path} ${e.message}`).join('; ')}`, errors);
}

export async function ipamRoutes(app: FastifyInstance, metalplane: Metalplane): Promise<void> {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const pools = () => metalplane.store.ipPools;

  api.get('/ip-pools', { schema: { tags, summary: 'List IP pools', response: { 200: Type.Object({ items: Type.Array(IpPoolSchema) }) } } }, async () => ({
    items: await pools().list(),
  }));

  api.post(
    '/ip-pools',
    {
      schema: {
        tags,
        summary: 'Create an IP pool',
        description: 'A prefix (IPv4 or IPv6) with optional range, gateway, DNS servers and reserved addresses, the allocation strategy (`sequential` or `hash`) and the provider (`builtin` or an IPAM plugin id).',
        body: Type.Object({ name: ResourceNameSchema, spec: IpPoolSpecSchema }, { additionalProperties: false }),
        response: { 201: IpPoolSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      checkPool(request.body.spec);
      return reply.code(201).send(await pools().create(request.body.name, request.body.spec));
    },
  );

  api.get(
    '/ip-pools/:name',
    { schema: { tags, summary: 'Get an IP pool', params: NameParams, response: { 200: IpPoolSchema, ...errorResponses } } },
    async (request) => pools().require(request.params.name),
  );

  api.put(
    '/ip-pools/:name',
    {
      schema: {
        tags,
        summary: 'Replace an IP pool (its cidr and provider are fixed once it has claims)',
        params: NameParams,
        body: Type.Object({ spec: IpPoolSpecSchema, resourceVersion: Type.Optional(ResourceVersionField) }, { additionalProperties: false }),
        response: { 200: IpPoolSchema, ...errorResponses },
      },
    },
    async (request) => {
      checkPool(request.body.spec);
      return pools().replace(request.params.name, request.body.spec, request.body.resourceVersion);
    },
  );

  api.delete(
    '/ip-pools/:name',
    { schema: { tags, summary: 'Delete an IP pool (refused while it has claims)', params: NameParams, response: { 204: Type.Null(), ...errorResponses } } },
    async (request, reply) => {
      await pools().delete(request.params.name);
      return reply.code(204).send(null);
    },
  );

  api.get(
    '/ip-claims',
    {
      schema: {
        tags,
        summary: 'List IP claims',
        querystring: Type.Object(
          {
            pool: Type.Optional(ResourceNameSchema),
            machineId: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
            phase: Type.Optional(Type.Union(IpClaimPhases.map((p) => Type.Literal(p)))),
            ...PageQuerySchema,
          },
          { additionalProperties: false },
        ),
        response: { 200: PageSchema(IpClaimSchema), ...errorResponses },
      },
    },
    async (request) => {
      const q = request.query;
      return metalplane.store.ipClaims.list({
        limit: q.limit ?? 100,
        ...(q.pool ? { pool: q.pool } : {}),
        ...(q.machineId ? { machineId: q.machineId } : {}),
        ...(q.phase ? { phase: q.phase } : {}),
        ...(q.continue ? { after: q.continue } : {}),
      });
    },
  );

  api.post(
    '/ip-claims',
    {
      schema: {
        tags,
        summary: 'Claim an address from a pool',
        description:
          'Idempotent by pool and `owner.key`: asking again returns the same claim (200). A new claim that is bound at ' +
          'once is 201; one the provider could not answer yet stays `pending` (202) and is retried. A full pool is 409 ' +
          '`pool_exhausted` and nothing is kept.',
        body: IpClaimSpecSchema,
        response: { 200: IpClaimSchema, 201: IpClaimSchema, 202: IpClaimSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { claim, created } = await metalplane.ipClaims.claim(request.body);
      return reply.code(!created ? 200 : claim.status.phase === 'bound' ? 201 : 202).send(claim);
    },
  );

  api.get(
    '/ip-claims/:id',
    { schema: { tags, summary: 'Get an IP claim', params: IdParams, response: { 200: IpClaimSchema, ...errorResponses } } },
    async (request) => metalplane.store.ipClaims.require(request.params.id),
  );

  api.delete(
    '/ip-claims/:id',
    {
      schema: { tags, summary: 'Release the address of a claim and delete the claim', params: IdParams, response: { 204: Type.Null(), ...errorResponses } },
    },
    async (request, reply) => {
      await metalplane.ipClaims.release(request.params.id);
      await metalplane.store.ipClaims.delete(request.params.id);
      return reply.code(204).send(null);
    },
  );
}
