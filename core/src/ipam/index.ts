export * from './ip.js';
export * from './model.js';
export * from './builtin-ipam.js';
export * from './claims.js';
