// The publishing side of tools/build/sync.mjs: what every npm package needs to be published on
// its own, derived so that a new package gets it right by running `npm run sync`:
//  - on every package that is not private: `repository` (with its directory), `publishConfig`
//    (access public: scoped packages are otherwise restricted), `engines` (the root's, for
//    packages with JavaScript), and a LICENSE file (the root's);
//  - the npm platform packages packages/npm/<target> (package.json, README.md), one per row of
//    tools/release/targets.mjs, and the front package's optionalDependencies on them and the
//    list of plugin links it installs.
// package.json files are edited in place: a missing field is inserted after "license", so the
// rest of the file (and others' edits to it) stays as it is.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TARGETS } from '../release/targets.mjs';

export const NPM_DIR = 'packages/npm';
export const FRONT = `${NPM_DIR}/plugins`;
export const PLATFORM_CONTENTS = 'dist/npm';

/** The fields `sync` keeps on a publishable package, by its folder. */
export function publishFields(rootPkg, dir, pkg) {
  const platform = Boolean(pkg.cni?.target);
  return {
    repository: { ...rootPkg.repository, directory: dir },
    ...(platform ? {} : { engines: rootPkg.engines }),
    publishConfig: platform ? { access: 'public', directory: PLATFORM_CONTENTS } : { access: 'public' },
  };
}

/** `text` (a package.json) with `fields` set: inserted after "license" when missing, else rewritten. */
export function patchJson(text, fields) {
  const obj = JSON.parse(text);
  const same = (k) => JSON.stringify(obj[k]) === JSON.stringify(fields[k]);
  const missing = Object.keys(fields).filter((k) => !(k in obj));
  const wrong = Object.keys(fields).filter((k) => k in obj && !same(k));
  if (!missing.length && !wrong.length) return text;
  const license = /^ {2}"license": .*,\n/m.exec(text);
  if (!wrong.length && license) {
    const at = license.index + license[0].length;
    const lines = missing.map(
      (k) => `  ${JSON.stringify(k)}: ${JSON.stringify(fields[k], null, 2).replaceAll('\n', '\n  ')},\n`,
    );
    return text.slice(0, at) + lines.join('') + text.slice(at);
  }
  const out = {};
  for (const [k, v] of Object.entries(obj)) {
    out[k] = k in fields ? fields[k] : v;
    if (k === 'license') for (const m of missing) out[m] = fields[m];
  }
  for (const m of missing) out[m] ??= fields[m];
  return `${JSON.stringify(out, null, 2)}\n`;
}

/** package.json of the npm platform package for a target (the workspace's; see build.mjs for the published one). */
export function platformManifest(target, version, description) {
  return {
    name: `@cni-ts/${target.name}`,
    version,
    description,
    license: 'Apache-2.0',
    cni: { target: target.name },
    files: ['bin'],
  };
}

function platformReadme(target, description) {
  return [
    `# @cni-ts/${target.name}`,
    '',
    `${description}.`,
    '',
    `This package holds one file, \`bin/cni-ts\`: the cni-ts CNI plugins compiled with bun for`,
    `${target.os} ${target.cpu} (${target.libc}), with no Node.js needed to run it. Do not install it`,
    'directly: install [`@cni-ts/plugins`](https://www.npmjs.com/package/@cni-ts/plugins), which',
    'depends on the package for your platform and lays out the executable and its plugin links:',
    '',
    '```sh',
    'npx @cni-ts/plugins install /opt/cni/bin',
    '```',
    '',
  ].join('\n');
}

/** Adds every publishing file `sync` owns to `files` (path → content). */
export function derivePublishing(top, pkgs, files, plugins) {
  const read = (rel) => files.get(rel) ?? readFileSync(join(top, rel), 'utf8');
  const rootPkg = JSON.parse(readFileSync(join(top, 'package.json'), 'utf8'));
  const front = pkgs.find((p) => p.dir === FRONT);
  const version = front?.pkg.version ?? '0.1.0';

  const all = [...pkgs];
  for (const t of TARGETS) {
    const dir = `${NPM_DIR}/${t.name}`;
    const description = `The cni-ts executable for ${t.os} ${t.cpu} (${t.libc})`;
    const base = platformManifest(t, version, description);
    const { cni, files: list, ...head } = base;
    const pkg = { ...head, ...publishFields(rootPkg, dir, base), cni, files: list };
    files.set(join(dir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
    files.set(join(dir, 'README.md'), platformReadme(t, description));
    if (!pkgs.some((p) => p.dir === dir)) all.push({ dir, pkg });
  }
  if (front) {
    const path = join(FRONT, 'package.json');
    files.set(
      path,
      patchJson(read(path), {
        cni: { ...front.pkg.cni, plugins: plugins.map((p) => p.type) },
        optionalDependencies: Object.fromEntries(TARGETS.map((t) => [`@cni-ts/${t.name}`, version]).sort()),
      }),
    );
  }

  const license = existsSync(join(top, 'LICENSE')) ? readFileSync(join(top, 'LICENSE'), 'utf8') : undefined;
  for (const p of all) {
    if (p.pkg.private) continue;
    const path = join(p.dir, 'package.json');
    if (!p.pkg.cni?.target) files.set(path, patchJson(read(path), publishFields(rootPkg, p.dir, p.pkg)));
    if (license) files.set(join(p.dir, 'LICENSE'), license);
  }
}
