import { MachineSchema, SeedEnrollmentSchema, enrollFromSeedPayload, type Metalplane } from '@metalplane/core';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { errorResponses } from '../schemas.js';

const EnrollResponseSchema = Type.Object({
  created: Type.Boolean(),
  machine: MachineSchema,
  warnings: Type.Array(Type.String()),
});

export async function enrollRoutes(app: FastifyInstance, metalplane: Metalplane): Promise<void> {
  app.withTypeProvider<TypeBoxTypeProvider>().post(
    '/enroll',
    {
      schema: {
        tags: ['enrollment'],
        summary: 'Enroll a machine (the registration image calls this)',
        description:
          'Accepts the seed payload `{ service_tag, mac_address, hardware }`. The machine is found by any key it reports ' +
          '(MACs, service tag); enrolling again updates the same record. Firmware placeholder serials are ignored as keys ' +
          'and listed in `warnings`. 201 when the machine is new, 200 otherwise.',
        body: SeedEnrollmentSchema,
        response: { 200: EnrollResponseSchema, 201: EnrollResponseSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const result = await enrollFromSeedPayload(metalplane.store, metalplane.events, request.body, 'enrollment');
      request.log.info({ machineId: result.machine.id, created: result.created }, 'machine enrolled');
      return reply.code(result.created ? 201 : 200).send({ ...result, warnings: [...result.warnings] });
    },
  );
}
