import { Type, type Static } from '@sinclair/typebox';

export const BuildStatuses = ['pending', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type BuildStatus = (typeof BuildStatuses)[number];

/** What a finished image build produced: enough to netboot the machine. */
export const BuildArtifactsSchema = Type.Object(
  {
    kernel: Type.String(),
    initrd: Type.Array(Type.String()),
    cmdline: Type.String(),
  },
  { additionalProperties: false },
);
export type BuildArtifacts = Static<typeof BuildArtifactsSchema>;

export const BuildSchema = Type.Object(
  {
    id: Type.String(),
    machineId: Type.String(),
    status: Type.Union(BuildStatuses.map((s) => Type.Literal(s))),
    /** Builder-specific input (e.g. a NixOS configuration); opaque to core. */
    spec: Type.Record(Type.String(), Type.Unknown()),
    artifacts: Type.Union([BuildArtifactsSchema, Type.Null()]),
    error: Type.Union([Type.String(), Type.Null()]),
    /** Which worker holds the job and until when; an expired lease means the job is free again. */
    leaseOwner: Type.Union([Type.String(), Type.Null()]),
    leaseExpiresAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
    finishedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  },
  { additionalProperties: false },
);
export type Build = Static<typeof BuildSchema>;
