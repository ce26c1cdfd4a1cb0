import { BootIntentSchema, BootIntentSpecSchema, type Metalplane } from '@metalplane/core';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { ResourceVersionField, errorResponses } from '../schemas.js';

const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });

export async function bootIntentRoutes(app: FastifyInstance, metalplane: Metalplane): Promise<void> {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const intents = () => metalplane.store.bootIntents;
  const tags = ['boot'];

  api.get('/boot-intents', { schema: { tags, summary: 'List boot intents', response: { 200: Type.Object({ items: Type.Array(BootIntentSchema) }) } } }, async () => ({
    items: await intents().list(),
  }));

  api.post(
    '/boot-intents',
    {
      schema: {
        tags,
        summary: 'Create a boot intent',
        description: 'A `once` intent is consumed only when the installed OS reports success; then the machine boots from disk.',
        body: BootIntentSpecSchema,
        response: { 201: BootIntentSchema, ...errorResponses },
      },
    },
    async (request, reply) => reply.code(201).send(await intents().create(request.body)),
  );

  api.get(
    '/boot-intents/:id',
    { schema: { tags, summary: 'Get a boot intent', params: IdParams, response: { 200: BootIntentSchema, ...errorResponses } } },
    async (request) => intents().require(request.params.id),
  );

  api.put(
    '/boot-intents/:id',
    {
      schema: {
        tags,
        summary: 'Replace a boot intent (its attempts and consumption start over)',
        params: IdParams,
        body: Type.Composite([BootIntentSpecSchema, Type.Object({ resourceVersion: Type.Optional(ResourceVersionField) })], {
          additionalProperties: false,
        }),
        response: { 200: BootIntentSchema, ...errorResponses },
      },
    },
    async (request) => {
      const { resourceVersion, ...spec } = request.body;
      return intents().replace(request.params.id, spec, resourceVersion);
    },
  );

  api.delete(
    '/boot-intents/:id',
    { schema: { tags, summary: 'Delete a boot intent', params: IdParams, response: { 204: Type.Null(), ...errorResponses } } },
    async (request, reply) => {
      await intents().delete(request.params.id);
      return reply.code(204).send(null);
    },
  );
}
