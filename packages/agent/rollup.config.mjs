// The agent as one file for the container image: dist/src/main.js (tsc's output) with every
// dependency (the Kubernetes client, gRPC, YAML, zod) inlined into dist/bundle/cni-ts-agent.mjs,
// with the CRI proto beside it. Runs with `node` (the image's Node 20).
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import commonjs from '@rollup/plugin-commonjs';
import json from '@rollup/plugin-json';
import { nodeResolve } from '@rollup/plugin-node-resolve';

const version = process.env.CNI_TS_VERSION ?? JSON.parse(readFileSync('package.json', 'utf8')).version;
const QUIET = new Set(['CIRCULAR_DEPENDENCY', 'THIS_IS_UNDEFINED', 'EVAL', 'INVALID_ANNOTATION']);

export default {
  input: 'dist/src/main.js',
  external: ['bun:ffi'], // @cni-ts/process loads it lazily, only under Bun
  output: {
    file: 'dist/bundle/cni-ts-agent.mjs',
    format: 'es',
    inlineDynamicImports: true,
    intro: `const __CNI_TS_VERSION__ = ${JSON.stringify(`v${version}`)};`,
  },
  plugins: [
    nodeResolve({ exportConditions: ['node'], preferBuiltins: true }),
    commonjs({ ignoreDynamicRequires: true }),
    json(),
    {
      name: 'cri-proto',
      writeBundle() {
        mkdirSync('dist/bundle', { recursive: true });
        copyFileSync('proto/cri-runtime-v1.proto', 'dist/bundle/cri-runtime-v1.proto');
      },
    },
  ],
  onwarn(warning, warn) {
    if (QUIET.has(warning.code)) return;
    warn(warning);
  },
};
