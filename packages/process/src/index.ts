export * from './errors.js';
export * from './run.js';
export * from './netns.js';
export * from './ip.js';
export * from './sysctl.js';
export * from './fake.js';
export * from './lock.js';
