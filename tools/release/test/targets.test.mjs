// The pins in targets.mjs follow the bun the repository builds with.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { root } from '../fetch.mjs';
import { BUN_VERSION, TARGETS, tarballName } from '../targets.mjs';

const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8'));

test('the runtimes are those of the bun in devDependencies', (t) => {
  const bun = lock.packages['node_modules/bun'].version;
  t.is(BUN_VERSION, bun, 'after upgrading bun, update BUN_VERSION and each runtime integrity in targets.mjs');
  for (const target of TARGETS) {
    const locked = lock.packages[`node_modules/${target.runtime.package}`];
    // bun's own optionalDependencies record most runtimes (not the x64 baseline one)
    if (locked)
      t.is(target.runtime.integrity, locked.integrity, `${target.runtime.package}: integrity as in the lockfile`);
    t.regex(target.runtime.integrity, /^sha512-[A-Za-z0-9+/]{86}==$/);
    t.regex(target.bunTarget, new RegExp(`^bun-${target.os}-${target.cpu}(-|$)`));
  }
});

test('tarballs are named as upstream names its own', (t) => {
  t.deepEqual(
    TARGETS.map((x) => tarballName(x, '1.2.3')),
    ['cni-ts-linux-amd64-v1.2.3.tgz', 'cni-ts-linux-arm64-v1.2.3.tgz'],
  );
});
