export * from './paths.js';
export * from './runtime.js';
export * from './netns.js';
export * from './fake.js';
export * from './ava.js';
export * from './conflist.js';
export * from './libcni-shapes.js';
