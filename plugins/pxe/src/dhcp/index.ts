export { DhcpService } from './service.js';
export type { DhcpServiceConfig, DhcpServiceOptions } from './service.js';
export type { DhcpHooks, DhcpObservation, DhcpReservation } from './responder.js';
export type { DhcpClientInfo } from './detect.js';
export { detectClient } from './detect.js';
export { DEFAULT_IPXE_FILES, firstStage, ipxeScriptUrl } from './boot.js';
export type { FirstStage, IpxeFileNames } from './boot.js';
export { decode as decodeDhcpPacket, encode as encodeDhcpPacket } from './codec.js';
export type { DhcpPacket } from './codec.js';
