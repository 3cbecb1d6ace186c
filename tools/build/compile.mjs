#!/usr/bin/env node
// Compiles the multi-call bundle into one standalone executable with bun (no Node.js needed on
// the node) and hard-links it under every plugin name into <repo>/dist/bin. See docs/startup.md.
import { execFileSync } from 'node:child_process';
import { linkSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUN_COMPILE_FLAGS } from './bun-flags.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
const name = pkg.cni.type;
const outDir = join(root, 'dist', 'bin');
const out = join(outDir, name);
const bun = join(root, 'node_modules', '.bin', 'bun');
const target = process.env.CNI_TS_TARGET; // e.g. bun-linux-arm64 for release builds

// Build under temporary names and rename into place: a plugin that is running (or a concurrent
// build) keeps its old inode, and nothing ever sees a half-written executable.
const tmp = `${out}.tmp${process.pid}`;
mkdirSync(outDir, { recursive: true });
execFileSync(
  bun,
  [
    'build',
    ...BUN_COMPILE_FLAGS,
    ...(target ? [`--target=${target}`] : []),
    `dist/bundle/${name}.mjs`,
    '--outfile',
    tmp,
  ],
  { stdio: ['ignore', 'ignore', 'inherit'] },
);
for (const plugin of pkg.cni.plugins) {
  const link = join(outDir, plugin);
  const linkTmp = `${link}.tmp${process.pid}`;
  rmSync(linkTmp, { force: true });
  linkSync(tmp, linkTmp);
  renameSync(linkTmp, link);
}
renameSync(tmp, out);
console.log(`compiled ${out} and linked ${pkg.cni.plugins.join(', ')}`);
