export * from './config.js';
export * from './store.js';
export type { EngineAdapter } from './database.js';
export type { DatabaseSchema } from './schema.js';
export * from './machine-repository.js';
export * from './machine-event-repository.js';
export * from './boot-profile-repository.js';
export * from './boot-intent-repository.js';
export * from './build-repository.js';
