import {
  MachineSchema,
  RawFactsSchema,
  SeedEnrollmentSchema,
  enrollFromRawFacts,
  enrollFromSeedPayload,
  type Machine,
  type Metalplane,
  type RawFacts,
  type SeedEnrollment,
} from '@metalplane/core';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { errorResponses } from '../schemas.js';

export const EnrollmentActions = ['poweroff', 'reboot', 'wait'] as const;
export type EnrollmentAction = (typeof EnrollmentActions)[number];

const EnrollResponseSchema = Type.Object({
  created: Type.Boolean(),
  machine: MachineSchema,
  warnings: Type.Array(Type.String()),
  /** What the registration agent does next. */
  action: Type.Union(EnrollmentActions.map((a) => Type.Literal(a))),
});

/** The raw-facts form is recognised by its `format` field; anything else is the seed's payload. */
const EnrollBodySchema = Type.Unsafe<RawFacts | SeedEnrollment>({
  if: { type: 'object', required: ['format'] },
  then: RawFactsSchema,
  else: SeedEnrollmentSchema,
});

/** The agent's raw facts carry every file it read; a 128-thread server sends ~1 MiB. */
const ENROLL_BODY_LIMIT = 16 * 1024 * 1024;

export async function enrollRoutes(app: FastifyInstance, metalplane: Metalplane, defaultAction: EnrollmentAction): Promise<void> {
  /**
   * A machine with something to netboot (an intent that applies) reboots into it at once;
   * anything else does what the config says (power off by default, like MAAS after
   * commissioning).
   */
  const nextAction = async (machine: Machine): Promise<EnrollmentAction> => {
    // Without a MAC nothing can netboot it: there is no plan to reboot into.
    if (!machine.identity.some((k) => k.kind === 'mac')) return defaultAction;
    const { plan } = await metalplane.bootPlanner.planForMachine(machine.id);
    return plan.kind === 'localboot' || plan.kind === 'hold' ? defaultAction : 'reboot';
  };

  app.withTypeProvider<TypeBoxTypeProvider>().post(
    '/enroll',
    {
      bodyLimit: ENROLL_BODY_LIMIT,
      schema: {
        tags: ['enrollment'],
        summary: 'Enroll a machine (the registration agent calls this)',
        description:
          'Two forms. The registration agent sends raw facts (`format: "metalplane-raw-facts/v1"`, the files of ' +
          '/proc and /sys it read), which the server parses into the inventory. The seed payload ' +
          '`{ service_tag, mac_address, hardware }` is accepted as well. The machine is found by its identity keys ' +
          '(MACs, SMBIOS UUID, serials, Raspberry Pi serial, disk serials); enrolling again updates the same record; ' +
          'an ambiguous match is enrolled separately with the IdentityAmbiguous condition. 201 when new, 200 otherwise. ' +
          '`action` tells the agent what to do next.',
        body: EnrollBodySchema,
        response: { 200: EnrollResponseSchema, 201: EnrollResponseSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const result =
        'format' in body
          ? await enrollFromRawFacts(metalplane.store, metalplane.events, body, 'agent')
          : await enrollFromSeedPayload(metalplane.store, metalplane.events, body, 'enrollment');
      const action = await nextAction(result.machine);
      request.log.info({ machineId: result.machine.id, created: result.created, action, warnings: result.warnings.length }, 'machine enrolled');
      return reply.code(result.created ? 201 : 200).send({ ...result, warnings: [...result.warnings], action });
    },
  );
}
