export * from './phases.js';
export * from './transitions.js';
export * from './transition.js';
