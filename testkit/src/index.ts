export * from './netbox/index.js';
