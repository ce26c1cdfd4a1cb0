import { BootSettingsSchema, MetalplaneConfigSchema, StoreConfigSchema } from '@metalplane/core';
import { Type, type Static } from '@sinclair/typebox';

export const PluginEntrySchema = Type.Object(
  {
    /** A package name, or a path relative to the config file (a directory or a file). */
    module: Type.String({ minLength: 1 }),
    /** The plugin's own config, validated against its schema. */
    config: Type.Optional(Type.Unknown()),
  },
  { additionalProperties: false },
);

export const HostConfigSchema = Type.Object(
  {
    server: Type.Object(
      {
        host: Type.String({ default: '127.0.0.1' }),
        port: Type.Integer({ minimum: 0, maximum: 65535, default: 8080 }),
        /** Largest request body accepted, in bytes. */
        bodyLimitBytes: Type.Integer({ minimum: 1024, maximum: 64 * 1024 * 1024, default: 1024 * 1024 }),
      },
      { additionalProperties: false, default: {} },
    ),
    store: Type.Optional(StoreConfigSchema),
    boot: Type.Optional(BootSettingsSchema),
    machines: Type.Optional(MetalplaneConfigSchema.properties.machines),
    ipam: Type.Optional(MetalplaneConfigSchema.properties.ipam),
    enrollment: Type.Object(
      {
        /**
         * Where the registration image (vmlinuz, initrd.img) is, served at /boot/registration/.
         * Relative to the config file; built by `npm run build:image -w @metalplane/agent`.
         */
        imageDirectory: Type.String({ minLength: 1, default: './agent/dist/registration' }),
        /** What the registration agent does after enrolling a machine that has no boot intent. */
        action: Type.Union([Type.Literal('poweroff'), Type.Literal('reboot'), Type.Literal('wait')], { default: 'poweroff' }),
      },
      { additionalProperties: false, default: {} },
    ),
    log: Type.Object(
      {
        level: Type.Union(
          ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
          { default: 'info' },
        ),
      },
      { additionalProperties: false, default: {} },
    ),
    plugins: Type.Array(PluginEntrySchema, { default: [] }),
  },
  { additionalProperties: false },
);
export type HostConfig = Static<typeof HostConfigSchema>;

/** The embedded default: what `metalplane serve` runs without a config file. */
export const defaultStorePath = './data/metalplane.db';
