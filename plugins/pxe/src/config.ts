import { Type, type Static } from '@sinclair/typebox';

// A pattern, not `format: 'ipv4'`: config is checked with TypeBox's Value, which knows no formats.
const Ipv4 = Type.String({
  pattern: '^((25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)\\.){3}(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)$',
  description: 'an IPv4 address, e.g. 10.0.0.1',
});
const Cidr4 = Type.String({ pattern: '^\\d{1,3}(\\.\\d{1,3}){3}/\\d{1,2}$', description: 'an IPv4 prefix, e.g. 10.0.0.0/24' });

/** One IPv4 network the DHCP service answers for; requests from any other network are ignored. */
export const DhcpSubnetSchema = Type.Object(
  {
    cidr: Cidr4,
    /** Our own address on this network: the DHCP server identifier and next-server (siaddr). */
    serverAddress: Ipv4,
    /** `full` mode: the dynamic pool for machines without a bound IP claim. */
    range: Type.Optional(Type.Object({ start: Ipv4, end: Ipv4 }, { additionalProperties: false })),
    /** Router and DNS for dynamic leases (bound claims take theirs from the IP pool). */
    gateway: Type.Optional(Ipv4),
    dnsServers: Type.Optional(Type.Array(Ipv4, { maxItems: 8 })),
    domainName: Type.Optional(Type.String({ minLength: 1, maxLength: 253 })),
    leaseSeconds: Type.Integer({ minimum: 60, maximum: 7 * 24 * 3600, default: 3600 }),
  },
  { additionalProperties: false },
);
export type DhcpSubnet = Static<typeof DhcpSubnetSchema>;

export const DhcpModes = ['proxy', 'reservation', 'full', 'off'] as const;
export type DhcpMode = (typeof DhcpModes)[number];

export const PxeConfigSchema = Type.Object(
  {
    /** The base URL machines reach the host's HTTP server at, e.g. `http://10.0.0.1:8080`. */
    httpBaseUrl: Type.String({ pattern: '^https?://[^/]+$', description: 'scheme://host:port, no path' }),
    dhcp: Type.Object(
      {
        mode: Type.Union(DhcpModes.map((m) => Type.Literal(m)), { default: 'proxy' }),
        /** The service binds these on every interface of its network namespace (0.0.0.0). */
        port: Type.Integer({ minimum: 1, maximum: 65535, default: 67 }),
        proxyPort: Type.Integer({ minimum: 1, maximum: 65535, default: 4011 }),
        subnets: Type.Array(DhcpSubnetSchema, { default: [] }),
        /** `full` mode: where dynamic leases are kept across restarts (written atomically). Without it they live in memory. */
        leaseFile: Type.Optional(Type.String({ minLength: 1 })),
        /** `full` mode: how long an address a client declined (RFC 2131 DHCPDECLINE) is not handed out. */
        declineSeconds: Type.Integer({ minimum: 1, maximum: 86_400, default: 600 }),
        /**
         * `reservation`/`full` modes: tell iPXE (option 175.176) not to wait ~2 s for ProxyDHCP offers.
         * Turn off only if another ProxyDHCP server on the segment must be heard. Never sent in `proxy` mode.
         */
        ipxeNoProxyWait: Type.Boolean({ default: true }),
      },
      { additionalProperties: false, default: {} },
    ),
    tftp: Type.Object(
      {
        enabled: Type.Boolean({ default: true }),
        port: Type.Integer({ minimum: 1, maximum: 65535, default: 69 }),
        /** Files served as they are (e.g. Raspberry Pi firmware); nothing outside it is ever read. */
        root: Type.Optional(Type.String({ minLength: 1 })),
        /** Caps on what a client may negotiate: RFC 2348 blksize (1468 fits an Ethernet frame) and RFC 7440 windowsize. */
        blksizeMax: Type.Integer({ minimum: 8, maximum: 65464, default: 1468 }),
        windowsizeMax: Type.Integer({ minimum: 1, maximum: 65535, default: 64 }),
        /** Transfers at once; more are refused with an error packet (the client retries). */
        maxTransfers: Type.Integer({ minimum: 1, maximum: 100000, default: 256 }),
        /** Retransmit timeout per packet, and sends after the first before a transfer is dropped. */
        timeoutMs: Type.Integer({ minimum: 10, maximum: 60000, default: 1000 }),
        retries: Type.Integer({ minimum: 1, maximum: 100, default: 5 }),
      },
      { additionalProperties: false, default: {} },
    ),
    /** Where the iPXE binaries are (Debian's `ipxe` package installs them in /usr/lib/ipxe). */
    ipxeDirectory: Type.String({ minLength: 1, default: '/usr/lib/ipxe' }),
    /** Content-addressed files (`<dir>/<sha256>`) that `artifact:<sha256>` in a boot profile names, served at /boot/artifacts/. */
    artifactDirectory: Type.Optional(Type.String({ minLength: 1 })),
  },
  { additionalProperties: false },
);
export type PxeConfig = Static<typeof PxeConfigSchema>;
