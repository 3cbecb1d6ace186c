#!/usr/bin/env node
// Derives every hand-maintained list from the package folders, so adding a plugin is adding a
// folder (then `npm install` once, to link it and record it in the lockfile):
//  - each package's tsconfig `references` from its @cni-ts dependencies (and devDependencies);
//  - the root tsconfig's references: every package, dependencies first;
//  - the multi-call executable: its plugin dependencies, `cni.plugins` and src/plugins.ts, from
//    every package under packages/{main,ipam,meta} with a `cni.type` (the plugin value is the
//    export named in `cni.export`, default the type in camelCase); its library dependencies
//    (the CLI's) are its own; plugins flagged `cni.runAlone` (their whole run one chunk built apart,
//    packages/multicall/src/<type>-run.ts) give its `cni.alone` (rollup.config.mjs) and ALONE;
//  - what publishing needs (publishing.mjs): repository/publishConfig/engines and a LICENSE on
//    every package that is not private, the npm platform packages packages/npm/<target>, and the
//    front package's optionalDependencies and plugin links.
//   node tools/build/sync.mjs           write what differs
//   node tools/build/sync.mjs --check   exit 1 and name what differs (the unit tests run this)
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { derivePublishing } from './publishing.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const check = process.argv.includes('--check');
const PLUGIN_GROUPS = ['main', 'ipam', 'meta'];
const MULTICALL = 'packages/multicall';

/** Every workspace package under packages/: { dir (relative), pkg }. */
export function workspacePackages(top = root) {
  const out = [];
  const visit = (rel) => {
    const abs = join(top, rel);
    if (existsSync(join(abs, 'package.json'))) {
      out.push({ dir: rel, pkg: JSON.parse(readFileSync(join(abs, 'package.json'), 'utf8')) });
      return;
    }
    for (const e of readdirSync(abs, { withFileTypes: true })) {
      if (e.isDirectory() && e.name !== 'node_modules' && e.name !== 'dist') visit(join(rel, e.name));
    }
  };
  visit('packages');
  return out.sort((a, b) => a.dir.localeCompare(b.dir));
}

/** The plugin packages the multi-call executable carries, sorted by type. */
export function pluginPackages(pkgs) {
  return pkgs
    .filter((p) => PLUGIN_GROUPS.includes(p.dir.split('/')[1]) && p.pkg.cni?.type)
    .map((p) => ({ ...p, type: p.pkg.cni.type, exportName: p.pkg.cni.export ?? camel(p.pkg.cni.type) }))
    .sort((a, b) => a.type.localeCompare(b.type));
}

function key(type) {
  return /^[a-z]+$/.test(type) ? type : `'${type}'`;
}

function camel(s) {
  return s.replace(/-([a-z0-9])/g, (_, c) => c.toUpperCase());
}

function internalDeps(pkg) {
  return Object.keys({ ...pkg.dependencies, ...pkg.devDependencies })
    .filter((d) => d.startsWith('@cni-ts/'))
    .sort();
}

function topoOrder(pkgs) {
  const byName = new Map(pkgs.map((p) => [p.pkg.name, p]));
  const done = new Set();
  const out = [];
  const visit = (p, stack) => {
    if (done.has(p.pkg.name)) return;
    if (stack.includes(p.pkg.name)) throw new Error(`dependency cycle: ${[...stack, p.pkg.name].join(' → ')}`);
    for (const d of internalDeps(p.pkg)) if (byName.has(d)) visit(byName.get(d), [...stack, p.pkg.name]);
    done.add(p.pkg.name);
    out.push(p);
  };
  for (const p of pkgs) visit(p, []);
  return out;
}

/** Every file this script owns, with the content it should have. */
export function derive(top = root) {
  const pkgs = workspacePackages(top);
  const byName = new Map(pkgs.map((p) => [p.pkg.name, p]));
  const plugins = pluginPackages(pkgs);
  const files = new Map();
  const json = (v) => `${JSON.stringify(v, null, 2)}\n`;

  const mc = pkgs.find((p) => p.dir === MULTICALL);
  if (mc) {
    const pkg = structuredClone(mc.pkg);
    const alone = plugins.filter((p) => p.pkg.cni.runAlone === true);
    pkg.cni = { ...pkg.cni, plugins: plugins.map((p) => p.type), alone: alone.map((p) => `${p.type}-run`) };
    const deps = { ...pkg.dependencies };
    // plugin packages are derived; library packages it uses itself (the CLI's libcni) are kept
    const libraries = new Set(pkgs.filter((p) => !PLUGIN_GROUPS.includes(p.dir.split('/')[1])).map((p) => p.pkg.name));
    for (const k of Object.keys(deps)) if (k.startsWith('@cni-ts/') && !libraries.has(k)) delete deps[k];
    deps['@cni-ts/skel'] = byName.get('@cni-ts/skel')?.pkg.version ?? '0.1.0';
    deps['@cni-ts/types'] = byName.get('@cni-ts/types')?.pkg.version ?? '0.1.0';
    for (const p of plugins) deps[p.pkg.name] = p.pkg.version;
    pkg.dependencies = Object.fromEntries(Object.entries(deps).sort(([a], [b]) => a.localeCompare(b)));
    mc.pkg = pkg;
    files.set(join(MULTICALL, 'package.json'), json(pkg));
    files.set(
      join(MULTICALL, 'src/plugins.ts'),
      [
        '// Every plugin the multi-call executable carries, by CNI type.',
        '// Generated by tools/build/sync.mjs from the packages under packages/{main,ipam,meta}: do not edit.',
        "import type { Plugin, PluginLoader } from '@cni-ts/skel';",
        "import { ALL_VERSIONS } from '@cni-ts/types';",
        '',
        '/**',
        ' * The plugins by the name they are installed as, each behind an import(): every plugin is its',
        ' * own chunk of the bundle and of the executable, so a run loads only the plugin it runs.',
        ' */',
        'export const PLUGINS: Readonly<Record<string, PluginLoader>> = {',
        ...plugins.map((p) => `  ${key(p.type)}: () => import('${p.pkg.name}').then((m) => m.${p.exportName}),`),
        '};',
        '',
        '/**',
        " * The spec versions each plugin speaks (its package.json's cni.minVersion and later), so VERSION",
        " * is answered without loading the plugin; a unit test holds them to the plugins' own lists.",
        ' * A slice, not versionsFrom: every run evaluates this module, and parsing versions at load costs',
        ' * a run JavaScriptCore heap blocks (docs/startup.md).',
        ' */',
        'export const VERSIONS: Readonly<Record<string, readonly string[]>> = {',
        ...plugins.map(
          (p) =>
            `  ${key(p.type)}: ${p.pkg.cni.minVersion ? `ALL_VERSIONS.slice(ALL_VERSIONS.indexOf('${p.pkg.cni.minVersion}'))` : 'ALL_VERSIONS'},`,
        ),
        '};',
        '',
        '/**',
        " * Plugins whose whole run is one chunk built apart (src/<type>-run.ts; the plugin's package.json",
        ' * has cni.runAlone): it brings its own skel, so nothing else is imported beside it, and it never',
        ' * delegates in-process.',
        ' */',
        'export const ALONE: Readonly<Record<string, () => Promise<{ plugin: Plugin; runPlugin(plugin: Plugin): void }>>> = {',
        ...alone.map((p) => `  ${key(p.type)}: () => import('./${p.type}-run.js'),`),
        '};',
        '',
      ].join('\n'),
    );
  }

  for (const p of pkgs) {
    const tsPath = join(p.dir, 'tsconfig.json');
    if (!existsSync(join(top, tsPath))) continue;
    const ts = JSON.parse(readFileSync(join(top, tsPath), 'utf8'));
    const refs = internalDeps(p.pkg)
      .filter((d) => byName.has(d))
      .map((d) => ({ path: relative(p.dir, byName.get(d).dir) }));
    if (refs.length) ts.references = refs;
    else delete ts.references;
    files.set(tsPath, json(ts));
  }

  const rootTs = JSON.parse(readFileSync(join(top, 'tsconfig.json'), 'utf8'));
  rootTs.references = topoOrder(pkgs)
    .filter((p) => existsSync(join(top, p.dir, 'tsconfig.json')))
    .map((p) => ({ path: p.dir }));
  files.set('tsconfig.json', json(rootTs));
  derivePublishing(top, pkgs, files, plugins);
  return files;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const stale = [];
  for (const [rel, content] of derive()) {
    const abs = join(root, rel);
    const now = existsSync(abs) ? readFileSync(abs, 'utf8') : '';
    if (now === content) continue;
    stale.push(rel);
    if (!check) {
      mkdirSync(dirname(abs), { recursive: true });
      writeFileSync(abs, content);
    }
  }
  if (check && stale.length) {
    console.error(`out of date (run \`npm run sync\`): ${stale.join(', ')}`);
    process.exitCode = 1;
  } else if (!check && stale.length) {
    console.log(`sync: updated ${stale.join(', ')}`);
  }
}
