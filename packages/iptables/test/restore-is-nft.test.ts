// restoreIsNft: whether the iptables-restore on PATH (the one the executor would run) is
// iptables-nft, so that writing nf_tables directly is what it would do. Fixture PATHs in fresh
// processes (the answer is kept for the run), under Node and Bun (the compiled plugins): an
// iptables-nft restore behind a chain of links as Debian's alternatives lay it out, legacy,
// none, and the entries a PATH search passes over (a missing directory, a directory or a
// dangling link named iptables-restore, a file as a PATH entry); the first one found decides.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = mkdtempSync(join(tmpdir(), 'cts-restore-nft-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

const at = (...p: string[]) => join(dir, ...p);
for (const d of ['nft', 'alt', 'legacy', 'empty', 'dirs', 'dangling', 'nft4only']) mkdirSync(at(d));
// nft/: xtables-nft-multi, iptables-restore → ../alt/iptables-restore → iptables-nft-restore → xtables-nft-multi
writeFileSync(at('nft', 'xtables-nft-multi'), '#!/bin/sh\n', { mode: 0o755 });
symlinkSync('xtables-nft-multi', at('nft', 'iptables-nft-restore'));
symlinkSync(at('nft', 'iptables-nft-restore'), at('alt', 'iptables-restore'));
symlinkSync('../alt/iptables-restore', at('nft', 'iptables-restore'));
symlinkSync('xtables-nft-multi', at('nft', 'ip6tables-restore'));
writeFileSync(at('legacy', 'xtables-legacy-multi'), '#!/bin/sh\n', { mode: 0o755 });
symlinkSync('xtables-legacy-multi', at('legacy', 'iptables-restore'));
symlinkSync('xtables-legacy-multi', at('legacy', 'ip6tables-restore'));
mkdirSync(at('dirs', 'iptables-restore'));
symlinkSync(at('nowhere'), at('dangling', 'iptables-restore'));
writeFileSync(at('afile'), '');
symlinkSync(at('nft', 'xtables-nft-multi'), at('nft4only', 'iptables-restore'));

const bun = fileURLToPath(new URL('../../../../node_modules/.bin/bun', import.meta.url));
const runtimes: Array<[string, string]> = [['node', process.execPath]];
if (existsSync(bun)) runtimes.push(['bun', bun]);
const nftModule = new URL('../src/nft.js', import.meta.url).href;

// restoreIsNft(4) and (6) in a fresh process with PATH (unset when undefined)
function answer(runtime: string, path: string | undefined): [boolean, boolean] {
  const env: Record<string, string> = {};
  if (path !== undefined) env.PATH = path;
  const code = `import(${JSON.stringify(nftModule)}).then((m) => process.stdout.write(JSON.stringify([m.restoreIsNft(4), m.restoreIsNft(6)])))`;
  const r = spawnSync(runtime, ['-e', code], { encoding: 'utf8', env });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout) as [boolean, boolean];
}

const CASES: Array<[string, string | undefined, [boolean, boolean]]> = [
  ['iptables-nft behind alternatives links', at('nft'), [true, true]],
  ['legacy', at('legacy'), [false, false]],
  ['none on PATH', at('empty'), [false, false]],
  ['PATH unset', undefined, [false, false]],
  [
    'passing over a missing directory, a directory, a dangling link and a file entry',
    ['', at('missing'), at('afile'), at('dirs'), at('dangling'), at('nft')].join(':'),
    [true, true],
  ],
  ['legacy first, nft after: legacy decides', `${at('legacy')}:${at('nft')}`, [false, false]],
  ['nft first, legacy after: nft decides', `${at('nft')}:${at('legacy')}`, [true, true]],
  ['each family its own tool', `${at('nft4only')}:${at('legacy')}`, [true, false]],
];

for (const [name, runtime] of runtimes)
  for (const [what, path, want] of CASES)
    test(`${name}: ${what}`, (t) => {
      t.deepEqual(answer(runtime, path), want);
    });
