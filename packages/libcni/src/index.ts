export * from './api.js';
export * from './cache.js';
export * from './conf.js';
export * from './errors.js';
export * from './exec.js';
export * from './result.js';
export * from './validate.js';
export * from './version.js';
export { marshalMap } from './gojson.js';
