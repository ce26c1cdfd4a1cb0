import { BuildSchema, builderExtensionPoint, type Build, type Metalplane } from '@metalplane/core';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { errorResponses } from '../schemas.js';

const BuildResponseSchema = Type.Object({
  build: BuildSchema,
  /** Why a build is where it is, when that is not obvious (e.g. no builder is loaded). */
  message: Type.Union([Type.String(), Type.Null()]),
});

export async function buildRoutes(app: FastifyInstance, metalplane: Metalplane): Promise<void> {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const explain = (build: Build): string | null =>
    build.status === 'pending' && !metalplane.get(builderExtensionPoint)
      ? 'no builder plugin is loaded: the build stays pending until one is (see the nixos-builder plugin)'
      : null;

  api.post(
    '/machines/:id/build',
    {
      schema: {
        tags: ['builds'],
        summary: "Queue an image build for a machine",
        params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) }),
        body: Type.Object(
          { spec: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: 'builder-specific input' })) },
          { additionalProperties: false },
        ),
        response: { 202: BuildResponseSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const machine = await metalplane.store.machines.require(request.params.id);
      const build = await metalplane.store.builds.create(machine.id, request.body.spec ?? {});
      return reply.code(202).send({ build, message: explain(build) });
    },
  );

  api.get(
    '/builds/:id',
    {
      schema: {
        tags: ['builds'],
        summary: 'Get a build',
        params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) }),
        response: { 200: BuildResponseSchema, ...errorResponses },
      },
    },
    async (request) => {
      const build = await metalplane.store.builds.require(request.params.id);
      return { build, message: explain(build) };
    },
  );
}
