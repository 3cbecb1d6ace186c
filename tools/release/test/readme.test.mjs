// Every publishable package has a README that npm can show: titled with the package name, links
// that work outside the repository, and for a plugin a conflist example that parses and uses it,
// and a configuration reference with the same keys as the plugin's doc in docs/.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { root } from '../fetch.mjs';
import { publishablePackages } from '../pack.mjs';

const repo = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).repository.url.replace(/^git\+|\.git$/g, '');
const pkgs = publishablePackages();
const readme = (p) => readFileSync(join(root, p.dir, 'README.md'), 'utf8');
const isPlugin = (p) => p.pkg.cni?.type && /^packages\/(main|ipam|meta)\//.test(p.dir);

/** The text of a `## title` section, up to the next `## ` heading. */
function section(md, title) {
  const at = md.search(new RegExp(`^## ${title}\\s*$`, 'm'));
  if (at < 0) return undefined;
  const rest = md.slice(at).split('\n').slice(1).join('\n');
  const end = rest.search(/^## /m);
  return end < 0 ? rest : rest.slice(0, end);
}

/** The backticked names in the first column of every table row of `md`. */
function tableKeys(md) {
  const keys = new Set();
  for (const line of md.split('\n')) {
    const cell = /^\|([^|]+)\|/.exec(line)?.[1];
    if (!cell || /^[\s-]+$/.test(cell)) continue;
    for (const m of cell.matchAll(/`([^`]+)`/g)) keys.add(m[1]);
  }
  return [...keys].sort();
}

for (const p of pkgs) {
  test(`${p.pkg.name}: README titled with the package, links that work on npm`, (t) => {
    t.true(existsSync(join(root, p.dir, 'README.md')), `${p.dir}/README.md is missing (see docs/release.md)`);
    const md = readme(p);
    t.is(md.split('\n')[0], `# ${p.pkg.name}`);
    for (const [, href] of md.matchAll(/\]\(([^)]+)\)/g)) {
      t.regex(href, /^(https?:|#)/, `a relative link (${href}) does not work on npmjs.com: use ${repo}/blob/main/…`);
      if (href.includes('github.com/') && href.includes('/blob/')) t.true(href.startsWith(`${repo}/`), href);
    }
  });
}

for (const p of pkgs.filter(isPlugin)) {
  const type = p.pkg.cni.type;
  test(`${p.pkg.name}: README has a conflist example that uses ${type}`, (t) => {
    const blocks = [...readme(p).matchAll(/```json\n([\s\S]*?)```/g)].map((m) => JSON.parse(m[1]));
    const conflists = blocks.filter((b) => Array.isArray(b.plugins));
    t.true(conflists.length > 0, 'a ```json block with a "plugins" list');
    const uses = conflists.some((c) => c.plugins.some((x) => x.type === type || x.ipam?.type === type));
    t.true(uses, `a plugin (or its ipam) of type ${type}`);
    for (const c of conflists) t.truthy(c.cniVersion && c.name, 'cniVersion and name');
  });

  test(`${p.pkg.name}: README's configuration reference has the keys of docs/${type}.md`, (t) => {
    const conf = section(readme(p), 'Configuration');
    t.truthy(conf, 'a "## Configuration" section');
    const doc = join(root, 'docs', `${type}.md`);
    if (!existsSync(doc)) return t.pass();
    const docConf = section(readFileSync(doc, 'utf8'), 'Configuration');
    t.deepEqual(tableKeys(conf), tableKeys(docConf ?? ''), `keep the README's table in step with docs/${type}.md`);
  });
}

test('the front package README names every plugin the executable carries', (t) => {
  const front = pkgs.find((p) => p.dir === 'packages/npm/plugins');
  const md = readme(front).split('\n\n')[1];
  for (const type of front.pkg.cni.plugins) t.true(md.includes(`\`${type}\``), `${type} in the first paragraph`);
});

test('tableKeys reads the first column only, and section stops at the next heading', (t) => {
  const md = '## A\n| key | x |\n|---|---|\n| `a`, `b` | `c` |\n## B\n| `d` | |\n';
  t.deepEqual(tableKeys(section(md, 'A')), ['a', 'b']);
  t.is(section(md, 'C'), undefined);
});
