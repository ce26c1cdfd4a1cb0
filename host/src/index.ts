export { Host, hostVersion, type HostOptions } from './host.js';
export { HostConfigSchema, PluginEntrySchema, type HostConfig } from './config/schema.js';
export { embeddedDefaultConfig, loadConfigFile, resolveConfig, type LoadedConfig } from './config/load-config.js';
export { loadPlugins, type LoadedPlugin } from './plugin-loader.js';
export { buildServer, type ServerOptions } from './http/server.js';
