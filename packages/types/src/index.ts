export * from './errors.js';
export * from './version.js';
export * from './result.js';
export * from './json.js';
export * from './keys.js';
export * from './schema.js';
export * from './convert.js';
export * from './print.js';
export { parseResultLean } from './lean.js';
