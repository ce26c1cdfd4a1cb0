export * from './model.js';
export * from './plan.js';
export * from './decide.js';
export * from './timeline.js';
