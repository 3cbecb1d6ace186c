export * from './addr.js';
export * from './prefix.js';
