// The executor's nftables table probe (netlink/nfnetlink.ts, Bun only) against `nft` itself on the
// real kernel, in a fresh user+network namespace (`unshare -rn`, no root): for tables that exist
// and tables that do not — another family, another name, a name differing only in case — the
// probe must say what `nft list table` says.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const bun = fileURLToPath(new URL('../../../../node_modules/.bin/bun', import.meta.url));
const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const dir = mkdtempSync(join(tmpdir(), 'cts-nfnetlink-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

const driver = join(dir, 'driver.mjs');
writeFileSync(
  driver,
  `import { spawnSync } from 'node:child_process';
import { systemExecutor } from ${JSON.stringify(new URL('../src/index.js', import.meta.url).href)};
const [tables, asks] = JSON.parse(process.argv[2]);
const script = tables.map(([f, n]) => 'add table ' + f + ' ' + n + '\\n').join('');
if (script) { const r = spawnSync('nft', ['-f', '-'], { input: script, encoding: 'utf8' }); if (r.status !== 0) throw new Error(r.stderr); }
const probe = asks.map(([f, n]) => systemExecutor.nftTableExists(f, n) ?? null);
const nft = asks.map(([f, n]) => spawnSync('nft', ['list', 'table', f, n], { encoding: 'utf8' }).status === 0);
process.stdout.write(JSON.stringify({ probe, nft }));
`,
);

function run(tables: string[][], asks: string[][], env: Record<string, string> = {}) {
  const r = spawnSync('unshare', ['-rn', '--', bun, driver, JSON.stringify([tables, asks])], {
    encoding: 'utf8',
    env: { PATH: SYSTEM_PATH, ...env },
  });
  if (r.status !== 0) throw new Error(`driver failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as { probe: Array<boolean | null>; nft: boolean[] };
}

const nftHere = spawnSync('unshare', ['-rn', '--', 'nft', 'list', 'tables'], { env: { PATH: SYSTEM_PATH } });

test('nftTableExists agrees with nft list table: existing tables, other families, other names', (t) => {
  if (nftHere.status !== 0) {
    t.log('nft cannot run in a user namespace here: skipped');
    t.pass();
    return;
  }
  const asks = [
    ['inet', 'cni_plugins_masquerade'],
    ['ip', 'cni_plugins_masquerade'],
    ['inet', 'cni_plugins_masquerade2'],
    ['inet', 'CNI_PLUGINS_MASQUERADE'],
    ['ip6', 'nat'],
    ['ip', 'nat'],
    ['bridge', 'filter'],
  ];
  const none = run([], asks);
  t.deepEqual(none.nft, [false, false, false, false, false, false, false]);
  t.deepEqual(none.probe, none.nft);
  const some = run(
    [
      ['inet', 'cni_plugins_masquerade'],
      ['ip', 'nat'],
      ['bridge', 'filter'],
    ],
    asks,
  );
  t.deepEqual(some.nft, [true, false, false, false, false, true, true]);
  t.deepEqual(some.probe, some.nft);
});

test('nftTableExists cannot tell for a family nft has no word for, or with CNI_TS_NETLINK=0 (nftList then runs nft)', (t) => {
  const r = run(
    [],
    [
      ['inet6', 'x'],
      ['', 'x'],
      ['inet', ''],
    ],
  );
  t.deepEqual(r.probe, [null, null, null]);
  const off = run([], [['inet', 'cni_plugins_masquerade']], { CNI_TS_NETLINK: '0' });
  t.deepEqual(off.probe, [null]);
});
