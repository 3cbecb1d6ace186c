// What a plugin run needs of skel, imported by name so that the bundle's chunk for it carries
// only that (an import() of skel's whole index would carry every export: delegation, the result
// schemas and zod). main.ts imports this module lazily.
export { registerInProcess, runPlugin, writeAll } from '@cni-ts/skel';
