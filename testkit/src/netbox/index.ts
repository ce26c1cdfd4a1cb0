export { startNetboxEmulator, NetboxEmulatorOptionsSchema } from './emulator.js';
export type { NetboxEmulator, NetboxEmulatorOptions, RecordedRequest } from './emulator.js';
export { NetboxFaults, FaultConfigSchema } from './faults.js';
export type { FaultConfig, FaultStats } from './faults.js';
export { NetboxState } from './state.js';
export type {
  CustomFieldSeed,
  DeviceSeed,
  DeviceSnapshot,
  DuplicateAddress,
  InterfaceSeed,
  InterfaceSnapshot,
  IpAddressSeed,
  IpAddressSnapshot,
  IpRangeSeed,
  IpRangeSnapshot,
  MacAddressSeed,
  MacAddressSnapshot,
  PrefixSeed,
  PrefixSnapshot,
  TagSeed,
  TagSnapshot,
  TokenInfo,
  TokenSeed,
  VrfRef,
  VrfSeed,
  VrfSnapshot,
} from './state.js';
export type { CustomFieldType } from './store.js';
export type { NetboxFeatures } from './version.js';
export { featuresOf as netboxFeatures } from './version.js';
export { AVAILABLE_IPS_SAFETY_CAP } from './routes-ipam.js';
export { TOKEN_PREFIX } from './auth.js';
