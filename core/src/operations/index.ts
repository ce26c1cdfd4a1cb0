export * from './drain.js';
export * from './readiness.js';
