export * from './paths.js';
export * from './runtime.js';
export * from './netns.js';
export { FakeExecutor, type Call } from '@cni-ts/process';
export * from './ava.js';
export * from './conflist.js';
