// The executor's nftables table probe (@cni-ts/process netlink/nfnetlink.ts, Bun only; nftList
// asks it before running nft) against `nft` itself on the real kernel, in a fresh user+network
// namespace (`unshare -rn`, no root): for tables that exist and tables that do not — another
// family, another name, a name differing only in case — the probe must say what `nft list table`
// says. (It lives here, not in @cni-ts/process, because the test kit depends on that package.)
import anyTest, { type ExecutionContext } from 'ava';
import { runInUserNetns, userNetnsTest } from '@cni-ts/testutils';

const test = userNetnsTest(anyTest, import.meta.url, ['nft', 'list', 'tables']);

const driver = `import { spawnSync } from 'node:child_process';
import { systemExecutor } from ${JSON.stringify(import.meta.resolve('@cni-ts/process'))};
const [tables, asks] = JSON.parse(process.argv[2]);
const script = tables.map(([f, n]) => 'add table ' + f + ' ' + n + '\\n').join('');
if (script) { const r = spawnSync('nft', ['-f', '-'], { input: script, encoding: 'utf8' }); if (r.status !== 0) throw new Error(r.stderr); }
const probe = asks.map(([f, n]) => systemExecutor.nftTableExists(f, n) ?? null);
const nft = asks.map(([f, n]) => spawnSync('nft', ['list', 'table', f, n], { encoding: 'utf8' }).status === 0);
process.stdout.write(JSON.stringify({ probe, nft }));
`;

function run(t: ExecutionContext, tables: string[][], asks: string[][], env: Record<string, string> = {}) {
  return runInUserNetns<{ probe: Array<boolean | null>; nft: boolean[] }>(t, driver, { input: [tables, asks], env });
}

test('nftTableExists agrees with nft list table: existing tables, other families, other names', (t) => {
  const asks = [
    ['inet', 'cni_plugins_masquerade'],
    ['ip', 'cni_plugins_masquerade'],
    ['inet', 'cni_plugins_masquerade2'],
    ['inet', 'CNI_PLUGINS_MASQUERADE'],
    ['ip6', 'nat'],
    ['ip', 'nat'],
    ['bridge', 'filter'],
  ];
  const none = run(t, [], asks);
  t.deepEqual(none.nft, [false, false, false, false, false, false, false]);
  t.deepEqual(none.probe, none.nft);
  const some = run(
    t,
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
    t,
    [],
    [
      ['inet6', 'x'],
      ['', 'x'],
      ['inet', ''],
    ],
  );
  t.deepEqual(r.probe, [null, null, null]);
  const off = run(t, [], [['inet', 'cni_plugins_masquerade']], { CNI_TS_NETLINK: '0' });
  t.deepEqual(off.probe, [null]);
});
