import { Type, type Static } from '@sinclair/typebox';

export const ReleaseModes = ['delete', 'deprecate'] as const;
export type ReleaseMode = (typeof ReleaseModes)[number];

/**
 * The `plugins.netbox` section of the host config.
 *
 * @example
 * plugins:
 *   netbox:
 *     url: https://netbox.example.com
 *     token: ${file:/run/secrets/netbox-token}
 *     releaseMode: deprecate
 */
export const NetboxConfigSchema = Type.Object(
  {
    /** Base URL of NetBox (a path prefix such as `/netbox` is kept). */
    url: Type.String({ pattern: '^https?://', minLength: 8, maxLength: 2048 }),
    /** A v1 token (40 characters, sent as `Token …`) or a v2 token (`nbt_<key>.<token>`, sent as `Bearer …`). */
    token: Type.String({ minLength: 1, maxLength: 512, secret: true }),
    /** Per attempt: response headers and body chunks must arrive within this. */
    timeoutMs: Type.Integer({ minimum: 100, maximum: 300_000, default: 10_000 }),
    /** Retries after a 5xx, 429 or connection error (never after another 4xx). */
    retries: Type.Integer({ minimum: 0, maximum: 10, default: 3 }),
    /** First retry delay; doubles with each retry, with jitter. */
    retryBaseMs: Type.Integer({ minimum: 1, maximum: 60_000, default: 250 }),
    /** `delete` removes a released address from NetBox; `deprecate` keeps it with status `deprecated`. */
    releaseMode: Type.Union(ReleaseModes.map((m) => Type.Literal(m)), { default: 'delete' }),
    /** The tag on every address this plugin made; nothing without it is ever changed or deleted. */
    ownershipTag: Type.String({ pattern: '^[a-z0-9_-]{1,90}$', default: 'managed-by-metalplane' }),
    /** Prefix of the per-owner tags (`<prefix>-<hash of the owner key>`). */
    ownerTagPrefix: Type.String({ pattern: '^[a-z0-9_-]{1,60}$', default: 'metalplane-owner' }),
    /** Verify NetBox's TLS certificate (keep it on outside a lab). */
    verifyTls: Type.Boolean({ default: true }),
    /** Keep-alive connections to NetBox. */
    connections: Type.Integer({ minimum: 1, maximum: 64, default: 8 }),
    /** Assign an allocated address to the NetBox interface that has the claim's MAC, when there is one. */
    assignInterfaces: Type.Boolean({ default: true }),
    /** Look every newly enrolled machine's MACs up in NetBox and record the result on it. */
    checkInventoryOnEnroll: Type.Boolean({ default: true }),
  },
  { additionalProperties: false },
);
export type NetboxConfig = Static<typeof NetboxConfigSchema>;
