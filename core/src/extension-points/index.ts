export * from './ipam.js';
export * from './boot.js';
export * from './os.js';
export * from './network.js';
export * from './builder.js';
