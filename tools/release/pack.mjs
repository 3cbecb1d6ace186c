// What `npm pack` puts in each publishable package, and what it should: the files reachable
// from the package's entry points (exports, bin, main, types) through relative imports, in the
// JavaScript and in the declarations, plus package.json, README.md, LICENSE and the assets named in
// "files" outside dist/ (read at run time, so no import leads to them). Lerna publishes
// the same file list (it packs with npm-packlist, from publishConfig.directory when set).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { workspacePackages } from '../build/sync.mjs';
import { root } from './fetch.mjs';

/** Every workspace package npm would publish: { dir, pkg, contents } (contents: the folder packed). */
export function publishablePackages(top = root) {
  return workspacePackages(top)
    .filter((p) => !p.pkg.private)
    .map((p) => ({ ...p, contents: join(top, p.dir, p.pkg.publishConfig?.directory ?? '.') }));
}

/** The files `npm pack` would put in each of the packages at `dirs` (one npm run), sorted. */
export function packLists(dirs) {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts', ...dirs], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
    maxBuffer: 64 * 2 ** 20,
  });
  return JSON.parse(out).map((info) => info.files.map((f) => f.path).sort());
}

function entryPoints(pkg) {
  const out = [];
  const walk = (v) => {
    if (typeof v === 'string') out.push(v);
    else if (v && typeof v === 'object') for (const x of Object.values(v)) walk(x);
  };
  walk(pkg.exports);
  walk(pkg.bin);
  walk(pkg.main);
  walk(pkg.types);
  return out.map((f) => normalize(f));
}

const IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"](\.{1,2}\/[^'"]+)['"]/g;
const stem = (f) => f.replace(/\.d\.m?ts$|\.m?js$/, '');
const variants = (s) => [`${s}.js`, `${s}.d.ts`, `${s}.mjs`, `${s}.d.mts`];

/** The files the package at `dir` needs: its entry points and every module they import, both as code and as types. */
export function neededFiles(dir, pkg) {
  const need = new Set(['package.json', 'README.md', 'LICENSE']);
  const todo = entryPoints(pkg).map(stem);
  const seen = new Set();
  while (todo.length) {
    const s = todo.pop();
    if (seen.has(s)) continue;
    seen.add(s);
    for (const f of variants(s)) {
      if (!existsSync(join(dir, f))) continue;
      need.add(f);
      for (const m of readFileSync(join(dir, f), 'utf8').matchAll(IMPORT)) todo.push(stem(join(dirname(f), m[1])));
    }
  }
  for (const f of entryPoints(pkg)) need.add(f); // a missing entry point is reported as missing
  // files outside dist/ named in "files" are assets read at run time (e.g. .proto files): wanted
  const assets = (pkg.files ?? []).filter((f) => !f.startsWith('!') && !/^(\.\/)?dist(\/|$)/.test(f));
  return [...need].sort().concat(assets.map((a) => normalize(a).replace(/\/$/, '')));
}

/** Packs every publishable package's contents into `dest`; returns { name, version, tarball, files }. */
export function packAll(dest, pkgs = publishablePackages()) {
  return pkgs.map((p) => {
    const out = execFileSync('npm', ['pack', p.contents, '--json', '--ignore-scripts', '--pack-destination', dest], {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      maxBuffer: 64 * 2 ** 20,
    });
    const [info] = JSON.parse(out);
    return {
      ...p,
      name: info.name,
      version: info.version,
      tarball: join(dest, info.filename),
      files: info.files.map((f) => f.path).sort(),
    };
  });
}
