// Every publishable workspace package (found, not listed): `npm pack` holds exactly what the
// package needs — its entry points and what they import, README.md, LICENSE — and its manifest
// has what publishing it on its own needs. The platform packages' contents exist only after a
// release build; the release dry run checks them (tools/release/dry-run).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { root } from '../fetch.mjs';
import { neededFiles, packLists, publishablePackages } from '../pack.mjs';

const lerna = JSON.parse(readFileSync(join(root, 'lerna.json'), 'utf8'));
const pkgs = publishablePackages().filter((p) => !p.pkg.cni?.target);
const lists = packLists(pkgs.map((p) => p.contents));

test('the publishable packages are found in the workspace, not listed', (t) => {
  const names = pkgs.map((p) => p.pkg.name);
  for (const n of ['@cni-ts/loopback', '@cni-ts/skel', '@cni-ts/plugins', '@cni-ts/multicall'])
    t.true(names.includes(n), n);
  t.false(names.includes('@cni-ts/testutils'), 'private packages are not published');
});

for (const [i, p] of pkgs.entries()) {
  test(`${p.pkg.name}: npm pack holds what it needs and nothing else`, (t) => {
    const have = lists[i];
    const need = neededFiles(p.contents, p.pkg);
    const wanted = (f) => need.some((n) => f === n || f.startsWith(`${n}/`)); // an asset may be a folder
    const extra = have.filter((f) => !wanted(f));
    const missing = need.filter((n) => !have.some((f) => f === n || f.startsWith(`${n}/`)));
    t.deepEqual(
      { extra, missing },
      { extra: [], missing: [] },
      `${p.dir}: fix "files" in package.json (extra files), build it, or add the missing files (README.md: see docs/release.md)`,
    );
  });

  test(`${p.pkg.name}: manifest has what publishing it on its own needs`, (t) => {
    const { pkg } = p;
    t.regex(pkg.name, /^@cni-ts\/[a-z0-9-]+$/);
    t.is(pkg.version, lerna.version, "every package has lerna.json's version (fixed mode)");
    t.is(pkg.license, 'Apache-2.0');
    t.truthy(pkg.description);
    t.is(pkg.repository?.directory, p.dir, 'repository.directory (run `npm run sync`)');
    t.is(pkg.publishConfig?.access, 'public', 'publishConfig.access (run `npm run sync`)');
    t.truthy(pkg.engines?.node, 'engines (run `npm run sync`)');
    t.truthy(pkg.exports ?? pkg.bin, 'exports or bin');
    for (const [cond, v] of Object.entries(pkg.exports ?? {})) t.truthy(v.types, `exports["${cond}"] has types`);
    if (pkg.cni?.type && p.dir !== 'packages/multicall')
      t.is(pkg.bin?.[pkg.cni.type], `dist/bundle/${pkg.cni.type}.mjs`, 'a plugin package runs under node as its type');
  });
}
