import { Type, type Static } from '@sinclair/typebox';

export const SqliteStoreConfigSchema = Type.Object(
  {
    driver: Type.Literal('sqlite'),
    /** Database file; `:memory:` for a throwaway in-process database. */
    path: Type.String({ minLength: 1 }),
    busyTimeoutMs: Type.Optional(Type.Integer({ minimum: 0, default: 5000 })),
  },
  { additionalProperties: false },
);

export const PostgresStoreConfigSchema = Type.Object(
  {
    driver: Type.Literal('postgres'),
    /** `postgresql://user:password@host:port/database`; mark it `${env:...}` or `${file:...}` in YAML. */
    url: Type.String({ minLength: 1, secret: true }),
    poolSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 10 })),
  },
  { additionalProperties: false },
);

export const StoreConfigSchema = Type.Union([SqliteStoreConfigSchema, PostgresStoreConfigSchema]);
export type StoreConfig = Static<typeof StoreConfigSchema>;
export type SqliteStoreConfig = Static<typeof SqliteStoreConfigSchema>;
export type PostgresStoreConfig = Static<typeof PostgresStoreConfigSchema>;
