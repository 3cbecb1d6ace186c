export * from './errors.js';
export * from './run.js';
export * from './netns.js';
export * from './iproute2.js';
export * from './ip.js';
export * from './sysctl.js';
export * from './lock.js';
export { batchBegin, batchEnd, opMessage } from './netlink/nf-write.js';
