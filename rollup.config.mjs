// One rollup config for every executable package: bundles dist/src/main.js (tsc's output) with
// every dependency inlined into dist/bundle/<cni.type>.mjs, runnable with node or compiled by bun.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { nodeResolve } from '@rollup/plugin-node-resolve';

const pkg = JSON.parse(readFileSync(resolve('package.json'), 'utf8'));
const name = pkg.cni?.type ?? pkg.name.replace(/^@[^/]+\//, '');
const rootPkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'));
const version = process.env.CNI_TS_VERSION ?? pkg.version ?? rootPkg.version;

export default {
  input: 'dist/src/main.js',
  external: ['bun:ffi'], // Bun's built-in FFI, loaded lazily by @cni-ts/process's lockFile
  output: {
    file: `dist/bundle/${name}.mjs`,
    format: 'es',
    banner: '#!/usr/bin/env node',
    inlineDynamicImports: true,
    // skel's runPlugin reads this for the about text (CNI_COMMAND unset), as upstream's ldflags do
    intro: `const __CNI_TS_VERSION__ = ${JSON.stringify(`v${version}`)};`,
  },
  plugins: [nodeResolve({ exportConditions: ['node'], preferBuiltins: true })],
  onwarn(warning, warn) {
    // zod's own circular imports and comment placement are harmless for a bundle
    if (
      (warning.code === 'CIRCULAR_DEPENDENCY' || warning.code === 'INVALID_ANNOTATION') &&
      /node_modules\/zod/.test(warning.message + (warning.id ?? ''))
    )
      return;
    warn(warning);
  },
};
