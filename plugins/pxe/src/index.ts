export { default } from './plugin.js';
export { DhcpModes, DhcpSubnetSchema, PxeConfigSchema } from './config.js';
export type { DhcpMode, DhcpSubnet, PxeConfig } from './config.js';
export * from './dhcp/index.js';
export * from './tftp/index.js';
export * from './rpi/index.js';
export * from './http/index.js';
export { BootHooks, ClientAddresses } from './boot-hooks.js';
