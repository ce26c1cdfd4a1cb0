export { DhcpModes, DhcpSubnetSchema, PxeConfigSchema } from './config.js';
export type { DhcpMode, DhcpSubnet, PxeConfig } from './config.js';
