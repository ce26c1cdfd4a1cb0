export * from './seed-payload.js';
export * from './identity-keys.js';
export * from './enroll.js';
