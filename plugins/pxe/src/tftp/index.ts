export { TftpService, TFTP_COUNTERS, type TftpCounter, type TftpServiceOptions } from './tftp-service.js';
export { chainResolvers, type TftpClient, type TftpEvent, type TftpMeta, type TftpObserve, type TftpResolve, type TftpSource } from './types.js';
export { resolveInRoot, unsafeRequestPath } from './root-path.js';
export { IPXE_BINARIES, ipxeResolver } from './ipxe.js';
