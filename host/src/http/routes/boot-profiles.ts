import { BootProfileSchema, BootProfileSpecSchema, ResourceNameSchema, type Metalplane } from '@metalplane/core';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { ResourceVersionField, errorResponses } from '../schemas.js';

const NameParams = Type.Object({ name: ResourceNameSchema });

export async function bootProfileRoutes(app: FastifyInstance, metalplane: Metalplane): Promise<void> {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const profiles = () => metalplane.store.bootProfiles;
  const tags = ['boot'];

  api.get('/boot-profiles', { schema: { tags, summary: 'List boot profiles', response: { 200: Type.Object({ items: Type.Array(BootProfileSchema) }) } } }, async () => ({
    items: await profiles().list(),
  }));

  api.post(
    '/boot-profiles',
    {
      schema: {
        tags,
        summary: 'Create a boot profile',
        body: Type.Object({ name: ResourceNameSchema, spec: BootProfileSpecSchema }, { additionalProperties: false }),
        response: { 201: BootProfileSchema, ...errorResponses },
      },
    },
    async (request, reply) => reply.code(201).send(await profiles().create(request.body.name, request.body.spec)),
  );

  api.get(
    '/boot-profiles/:name',
    { schema: { tags, summary: 'Get a boot profile', params: NameParams, response: { 200: BootProfileSchema, ...errorResponses } } },
    async (request) => profiles().require(request.params.name),
  );

  api.put(
    '/boot-profiles/:name',
    {
      schema: {
        tags,
        summary: 'Replace a boot profile',
        params: NameParams,
        body: Type.Object({ spec: BootProfileSpecSchema, resourceVersion: Type.Optional(ResourceVersionField) }, { additionalProperties: false }),
        response: { 200: BootProfileSchema, ...errorResponses },
      },
    },
    async (request) => profiles().replace(request.params.name, request.body.spec, request.body.resourceVersion),
  );

  api.delete(
    '/boot-profiles/:name',
    { schema: { tags, summary: 'Delete a boot profile (refused while an intent uses it)', params: NameParams, response: { 204: Type.Null(), ...errorResponses } } },
    async (request, reply) => {
      await profiles().delete(request.params.name);
      return reply.code(204).send(null);
    },
  );
}
