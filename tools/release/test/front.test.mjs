// The front package's installer (@cni-ts/plugins): the layout it writes, and what it says when
// this machine has no executable.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { executablePath, install, platformPackage, plugins } from '../../../packages/npm/plugins/lib/index.mjs';

test('install copies the executable as cni-ts and links every plugin to it, replacing what was there', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cni-ts-front-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const exe = join(dir, 'src-exe');
  writeFileSync(exe, '#!/bin/sh\necho new\n');
  const bin = join(dir, 'bin');
  install(bin, exe); // creates the directory
  const old = join(bin, plugins[0]);
  rmSync(old);
  writeFileSync(old, 'a Go plugin'); // a plugin of the same name from another package
  const written = install(bin, exe);
  t.deepEqual(
    written.map((f) => f.slice(bin.length + 1)),
    ['cni-ts', ...plugins],
  );
  const main = statSync(join(bin, 'cni-ts'));
  t.is(main.mode & 0o777, 0o755);
  t.is(main.nlink, plugins.length + 1);
  for (const p of plugins) t.is(statSync(join(bin, p)).ino, main.ino, `${p} is a hard link to cni-ts`);
  t.is(readFileSync(old, 'utf8'), '#!/bin/sh\necho new\n');
  t.deepEqual(
    plugins,
    JSON.parse(readFileSync(join(import.meta.dirname, '../../../packages/multicall/package.json'))).cni.plugins,
  );
});

test('the platform package is named after the machine; musl and other systems get a clear word', (t) => {
  t.is(platformPackage({ platform: 'linux', arch: 'arm64', musl: false }), '@cni-ts/linux-arm64');
  t.is(platformPackage({ platform: 'linux', arch: 'x64', musl: true }), '@cni-ts/linux-x64-musl');
  // in the workspace the platform package is linked but holds no executable until a release build
  const exe = executablePath();
  if (typeof exe === 'string') return t.pass(); // after `npm run release:build`
  t.regex(exe.message, /is not installed|has no executable/);
});
