export * from './outcome.js';
export * from './state.js';
export * from './shims.js';
export * from './run.js';
export * from './chain.js';
export * from './seed.js';
export * from './hostile.js';
export * from './subjects.js';
