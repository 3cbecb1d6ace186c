import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { patchJson } from '../publishing.mjs';
import { derive } from '../sync.mjs';

const root = resolve(fileURLToPath(import.meta.url), '../../../..');

test('every derived list in the repository is up to date (run `npm run sync`)', (t) => {
  for (const [rel, content] of derive(root)) t.is(readFileSync(join(root, rel), 'utf8'), content, rel);
});

// A copy of the package manifests and tsconfigs, to which a plugin folder is added.
function scratch() {
  const dir = mkdtempSync(join(tmpdir(), 'cni-ts-sync-'));
  for (const f of ['tsconfig.json', 'package.json', 'LICENSE']) cpSync(join(root, f), join(dir, f));
  cpSync(join(root, 'packages'), join(dir, 'packages'), {
    recursive: true,
    filter: (src) => !/\/(node_modules|dist|src|test)$/.test(src) || src.endsWith('multicall/src'),
  });
  return dir;
}

test('a new plugin folder is carried by the multi-call executable and referenced by tsc', (t) => {
  const dir = scratch();
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const before = JSON.parse(readFileSync(join(dir, 'packages/multicall/package.json'), 'utf8')).cni.plugins;
  const pkgDir = join(dir, 'packages/meta/tuning');
  mkdirSync(pkgDir, { recursive: true });
  writeFileSync(
    join(pkgDir, 'package.json'),
    JSON.stringify({
      name: '@cni-ts/tuning',
      version: '0.2.0',
      cni: { type: 'tuning' },
      dependencies: { '@cni-ts/skel': '0.1.0' },
    }),
  );
  writeFileSync(join(pkgDir, 'tsconfig.json'), '{}');
  const files = derive(dir);
  const mc = JSON.parse(files.get('packages/multicall/package.json'));
  t.deepEqual(mc.cni.plugins, [...before, 'tuning'].sort());
  t.true(before.includes('bridge') && !before.includes('tuning'));
  t.is(mc.dependencies['@cni-ts/tuning'], '0.2.0');
  t.is(mc.dependencies['@cni-ts/libcni'], '0.1.0', "the CLI's library dependencies stay");
  t.regex(
    files.get('packages/multicall/src/plugins.ts'),
    /\n {2}tuning: \(\) => import\('@cni-ts\/tuning'\)\.then\(\(m\) => m\.tuning\),\n/,
  );
  t.deepEqual(JSON.parse(files.get('packages/meta/tuning/tsconfig.json')).references, [{ path: '../../skel' }]);
  const refs = JSON.parse(files.get('tsconfig.json')).references.map((r) => r.path);
  t.true(refs.indexOf('packages/skel') < refs.indexOf('packages/meta/tuning'), 'dependencies come first');
  t.true(refs.indexOf('packages/meta/tuning') < refs.indexOf('packages/multicall'));
  // what publishing it needs, and its link in the front package
  const tuning = JSON.parse(files.get('packages/meta/tuning/package.json'));
  t.deepEqual(tuning.repository, {
    type: 'git',
    url: JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).repository.url,
    directory: 'packages/meta/tuning',
  });
  t.deepEqual(tuning.publishConfig, { access: 'public' });
  t.truthy(tuning.engines.node);
  t.is(files.get('packages/meta/tuning/LICENSE'), readFileSync(join(root, 'LICENSE'), 'utf8'));
  t.true(JSON.parse(files.get('packages/npm/plugins/package.json')).cni.plugins.includes('tuning'));
});

test('fields publishing needs are inserted after "license", leaving the rest of package.json as it is', (t) => {
  const text =
    '{\n  "name": "@cni-ts/x",\n  "license": "Apache-2.0",\n  "files": ["dist/src"],\n  "private": false\n}\n';
  t.is(
    patchJson(text, { publishConfig: { access: 'public' } }),
    '{\n  "name": "@cni-ts/x",\n  "license": "Apache-2.0",\n  "publishConfig": {\n    "access": "public"\n  },\n  "files": ["dist/src"],\n  "private": false\n}\n',
  );
  t.is(patchJson(text, { files: ['dist/src'] }), text, 'nothing to do');
  t.deepEqual(JSON.parse(patchJson(text, { files: ['lib'] })).files, ['lib'], 'a wrong value is rewritten');
});

test('the npm platform packages are derived from the release targets, without os/cpu (npm would refuse the workspace)', (t) => {
  const files = derive(root);
  for (const target of ['linux-x64', 'linux-arm64']) {
    const pkg = JSON.parse(files.get(`packages/npm/${target}/package.json`));
    t.is(pkg.name, `@cni-ts/${target}`);
    t.deepEqual(pkg.publishConfig, { access: 'public', directory: 'dist/npm' });
    t.is(pkg.cpu, undefined);
    t.regex(files.get(`packages/npm/${target}/README.md`), new RegExp(`^# @cni-ts/${target}\n`));
  }
  const front = JSON.parse(files.get('packages/npm/plugins/package.json'));
  t.deepEqual(Object.keys(front.optionalDependencies), ['@cni-ts/linux-arm64', '@cni-ts/linux-x64']);
});

test('a plugin can name its export, and a dependency cycle is refused', (t) => {
  const dir = scratch();
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const a = join(dir, 'packages/main/a-b');
  mkdirSync(a, { recursive: true });
  writeFileSync(
    join(a, 'package.json'),
    JSON.stringify({ name: '@cni-ts/a-b', version: '1.0.0', cni: { type: 'a-b', export: 'ab' } }),
  );
  t.regex(
    derive(dir).get('packages/multicall/src/plugins.ts'),
    /\n {2}'a-b': \(\) => import\('@cni-ts\/a-b'\)\.then\(\(m\) => m\.ab\),\n/,
  );
  const skel = join(dir, 'packages/skel/package.json');
  const pkg = JSON.parse(readFileSync(skel, 'utf8'));
  pkg.dependencies['@cni-ts/multicall'] = '0.1.0';
  writeFileSync(skel, JSON.stringify(pkg));
  t.throws(() => derive(dir), { message: /dependency cycle/ });
});

test("multicall's ALONE and cni.alone come from the plugins' cni.runAlone flag, and each names a module that exists", (t) => {
  const files = derive(root);
  const mc = JSON.parse(files.get('packages/multicall/package.json'));
  for (const dir of ['main/loopback', 'meta/portmap']) {
    const flagged = JSON.parse(readFileSync(join(root, `packages/${dir}/package.json`), 'utf8')).cni.runAlone;
    t.true(flagged === true, `${dir} is flagged alone`);
  }
  t.deepEqual(mc.cni.alone, ['loopback-run', 'portmap-run']);
  t.regex(
    files.get('packages/multicall/src/plugins.ts'),
    /\n {2}loopback: \(\) => import\('\.\/loopback-run\.js'\),\n {2}portmap: \(\) => import\('\.\/portmap-run\.js'\),\n/,
  );
  for (const m of mc.cni.alone) t.notThrows(() => readFileSync(join(root, 'packages/multicall/src', `${m}.ts`)), m);
  // unflagged, it leaves both
  const dir = scratch();
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const lp = join(dir, 'packages/main/loopback/package.json');
  const pkg = JSON.parse(readFileSync(lp, 'utf8'));
  delete pkg.cni.runAlone;
  writeFileSync(lp, JSON.stringify(pkg));
  const unflagged = derive(dir);
  t.deepEqual(JSON.parse(unflagged.get('packages/multicall/package.json')).cni.alone, ['portmap-run']);
  t.notRegex(unflagged.get('packages/multicall/src/plugins.ts'), /loopback-run/);
  t.regex(unflagged.get('packages/multicall/src/plugins.ts'), /portmap-run/);
});
