// One rollup config for every executable package: bundles dist/src/main.js (tsc's output) with
// every dependency inlined into dist/bundle/<cni.type>.mjs, runnable with node or compiled by bun.
import { readFileSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import commonjs from '@rollup/plugin-commonjs';
import { nodeResolve } from '@rollup/plugin-node-resolve';

const pkg = JSON.parse(readFileSync(resolve('package.json'), 'utf8'));
const name = pkg.cni?.type ?? pkg.name.replace(/^@[^/]+\//, '');
const rootPkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'));
const version = process.env.CNI_TS_VERSION ?? pkg.version ?? rootPkg.version;

// `cni.alone` (the multi-call package: ["loopback-run"]): modules of dist/src bundled apart, each
// into <type>-<module>.mjs with its own copy of everything it imports, and imported by the main
// bundle as that file. A run through one shares no chunk with the other plugins' runs: loopback's
// whole run loads fewer of JavaScriptCore's GC blocks that way (docs/startup.md).
const alone = pkg.cni?.alone ?? [];
const aloneFile = (id) => alone.find((m) => id === resolve(`dist/src/${m}.js`));

const base = {
  external: ['bun:ffi'], // Bun's built-in FFI, loaded lazily by @cni-ts/process's lockFile
  // A dynamic import() becomes its own chunk (dist/bundle/<type>-<name>.mjs), so code only some
  // invocations need (the multi-call executable's CLI) is not loaded by the others; bun keeps the
  // split in the compiled executable (tools/build/compile.mjs, --splitting). Plugins have none.
  output: {
    dir: 'dist/bundle',
    entryFileNames: `${name}.mjs`,
    chunkFileNames: `${name}-[name].mjs`,
    format: 'es',
    banner: '#!/usr/bin/env node',
    // skel's runPlugin reads this for the about text (CNI_COMMAND unset), as upstream's ldflags do
    intro: `const __CNI_TS_VERSION__ = ${JSON.stringify(`v${version}`)};`,
  },
  // commonjs: execa (the CLI's, in its own chunk) uses CommonJS packages; the plugins use none
  // Node's built-in modules have no side effects at import, so a chunk imports one only when it
  // uses it: else rollup keeps a bare `import 'node:fs'` wherever a module of the chunk imports a
  // package that imports it, and a run loads node:fs (about 2 ms of CPU in Bun) for nothing
  // (docs/startup.md)
  treeshake: { moduleSideEffects: (id, external) => !(external && id.startsWith('node:')) },
  plugins: [nodeResolve({ exportConditions: ['node'], preferBuiltins: true }), commonjs()],
  onwarn(warning, warn) {
    // zod's own circular imports and comment placement are harmless for a bundle
    if (
      (warning.code === 'CIRCULAR_DEPENDENCY' || warning.code === 'INVALID_ANNOTATION') &&
      /node_modules\/(zod|execa)/.test(warning.message + (warning.id ?? ''))
    )
      return;
    warn(warning);
  },
};

const main = {
  ...base,
  input: 'dist/src/main.js',
  plugins: [
    // chunks are named after modules: a chunk an earlier build wrote must not linger (npm would publish it)
    { name: 'clean-bundle-dir', buildStart: () => rmSync('dist/bundle', { recursive: true, force: true }) },
    {
      name: 'alone-modules',
      async resolveId(source, importer, options) {
        if (!alone.length || !importer) return null;
        const resolved = await this.resolve(source, importer, { ...options, skipSelf: true });
        const m = resolved && aloneFile(resolved.id);
        return m ? { id: `./${name}-${m}.mjs`, external: 'relative' } : null;
      },
    },
    ...base.plugins,
  ],
};

export default [
  main,
  ...alone.map((m) => ({
    ...base,
    input: { [`${name}-${m}`]: `dist/src/${m}.js` },
    output: { ...base.output, entryFileNames: '[name].mjs', chunkFileNames: `${name}-${m}-[name].mjs` },
  })),
];
