// The ELF reader agrees with binutils' readelf on the executables we ship and on a system binary.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { compareVersions, newestGlibc, readElf } from '../elf.mjs';
import { root } from '../fetch.mjs';

function readelf(file) {
  const out = execFileSync('readelf', ['-W', '-d', '-V', '-l', file], { encoding: 'utf8' });
  const needed = [...out.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]);
  const interpreter = /Requesting program interpreter: ([^\]]+)\]/.exec(out)?.[1];
  const versions = {};
  let lib;
  const part = out.slice(out.indexOf("Version needs section '.gnu.version_r'"));
  for (const line of part.split('\n')) {
    const file = /File: (\S+)\s+Cnt:/.exec(line)?.[1];
    if (file) versions[(lib = file)] = [];
    const name = /Name: (\S+)\s+Flags:/.exec(line)?.[1];
    if (name && lib) versions[lib].push(name);
  }
  return { needed, interpreter, versions };
}

for (const file of [join(root, 'dist/bin/cni-ts'), '/usr/bin/nsenter']) {
  test(`readElf(${file}) matches readelf`, (t) => {
    if (!existsSync(file)) return t.fail(`${file} is missing (npm run build)`);
    const ours = readElf(file);
    const theirs = readelf(file);
    t.is(ours.interpreter, theirs.interpreter);
    t.deepEqual(ours.needed, theirs.needed);
    t.deepEqual(ours.versions, theirs.versions);
    t.is(ours.machine, process.arch === 'x64' ? 62 : 183);
  });
}

test('newestGlibc compares versions as numbers', (t) => {
  t.is(newestGlibc({ versions: { 'libc.so.6': ['GLIBC_2.9', 'GLIBC_2.17', 'GLIBC_2.2.5', 'GLIBC_PRIVATE'] } }), '2.17');
  t.is(compareVersions('2.3.4', '2.3'), 1);
  t.is(compareVersions('2.17', '2.17.0'), 0);
  // the system's own binaries need the system's glibc: far newer than 2.17 on Debian 12
  t.is(compareVersions(newestGlibc(readElf('/usr/bin/nsenter')), '2.17'), 1);
});
