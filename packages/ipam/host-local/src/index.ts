export { hostLocal, lockTimeout, DEFAULT_LOCK_TIMEOUT_MS } from './hostlocal.js';
export * from './config.js';
export * from './range.js';
export * from './rangeset.js';
export * from './allocator.js';
export * from './owners.js';
export * from './store.js';
export * from './paths.js';
export * from './dns.js';
