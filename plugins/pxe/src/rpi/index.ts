export { rpiResolver, rpiSerialOf, type RpiBootFiles, type RpiBootHook, type RpiResolverOptions } from './rpi-files.js';
