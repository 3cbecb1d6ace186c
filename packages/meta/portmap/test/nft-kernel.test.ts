// ADD's and DEL's read of the per-container chains through the kernel (nft-kernel.ts: one
// nfnetlink dump per chain, Bun only) against `nft -j list table` on the real kernel, in a fresh
// user+network namespace (`unshare -rn`, no root): after ADDs of several configurations (TCP,
// UDP, SCTP, hostIPs of both families, masqAll, two addresses of one container), every rule of
// the chains must come back with the same handle, comment and expressions as nft's JSON, so
// ownRules, the re-ADD cleanup and DEL's conntrack flows read the same from both.
import anyTest, { type ExecutionContext } from 'ava';
import { runInUserNetns, userNetnsTest } from '@cni-ts/testutils';

const test = userNetnsTest(anyTest, import.meta.url, ['nft', 'list', 'tables']);
const src = (p: string) => JSON.stringify(new URL(p, import.meta.url).href);

// Runs in the namespace: applies ADD scripts planned by portmap itself, then reads both ways.
const driver = `import { spawnSync } from 'node:child_process';
import { systemExecutor } from ${src('../../../../process/dist/src/index.js')};
import { nftList } from ${src('../../../../nftables/dist/src/index.js')};
import { decodeNetConf } from ${src('../../../../skel/dist/src/index.js')};
import { RULE_CHAINS, containerNets, kernelListing, nftSetup, nftTableArgs } from ${src('../src/index.js')};
import { loadConfNow } from ${src('../src/config-schema.js')};
const pods = JSON.parse(process.argv[2]);
const noKernel = { ...systemExecutor, nftChainRules: undefined, nftTableExists: undefined };
for (const p of pods) {
  const conf = loadConfNow({ conf: decodeNetConf(JSON.stringify({ cniVersion: '1.0.0', name: 'n', type: 'portmap', ...p.conf })) });
  const nets = containerNets({ cniVersion: '1.0.0', ips: p.ips.map((address) => ({ address })) }, 'eth0');
  const listings = new Map(nets.map((n) => [n.family, nftList(noKernel, nftTableArgs(n.family))]));
  const script = nets.map((n) => nftSetup(conf, p.id, n, listings.get(n.family))).join('');
  const r = spawnSync('nft', ['-f', '-'], { input: script, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr + script);
}
const out = {};
for (const f of [4, 6]) {
  const nft = nftList(noKernel, nftTableArgs(f)).rules.filter((r) => RULE_CHAINS.includes(r.chain));
  const byId = {};
  for (const id of [...new Set(pods.map((p) => p.id)), 'ctr', 'ctr-tcpx', 'ctr-tc']) byId[id] = kernelListing(systemExecutor, f, id)?.rules ?? null;
  out[f] = { kernel: kernelListing(systemExecutor, f)?.rules ?? null, nft, byId };
}
process.stdout.write(JSON.stringify(out));
`;

function run(t: ExecutionContext, pods: unknown[]) {
  return runInUserNetns<
    Record<
      4 | 6,
      { kernel: unknown[] | null; nft: Array<{ comment?: string }>; byId: Record<string, unknown[] | null> }
    >
  >(t, driver, { input: pods });
}
const pm = (...m: Array<Record<string, unknown>>) => ({ runtimeConfig: { portMappings: m } });

test('the kernel read of the per-container chains equals nft -j list: handles, comments, expressions', (t) => {
  const none = run(t, []);
  t.deepEqual(
    none[4],
    { kernel: [], nft: [], byId: { ctr: [], 'ctr-tcpx': [], 'ctr-tc': [] } },
    'no table: no rules, and no error',
  );
  const pods = [
    { id: 'ctr-tcp', ips: ['10.22.0.5/24'], conf: pm({ hostPort: 8080, containerPort: 80, protocol: 'tcp' }) },
    {
      id: 'ctr-dual',
      ips: ['10.22.0.6/24', 'fd00:22::6/64'],
      conf: pm(
        { hostPort: 8053, containerPort: 53, protocol: 'udp' },
        { hostPort: 9090, containerPort: 90, protocol: 'sctp', hostIP: '192.168.77.1' },
        { hostPort: 9091, containerPort: 91, protocol: 'tcp', hostIP: 'fd00::1' },
        { hostPort: 9092, containerPort: 92, protocol: 'udp', hostIP: '0.0.0.0' },
      ),
    },
    {
      id: 'ctr-all',
      ips: ['10.22.0.7/24', 'fd00:22::7/64'],
      conf: { masqAll: true, ...pm({ hostPort: 7070, containerPort: 70, protocol: 'udp' }) },
    },
    {
      id: 'ctr-nosnat',
      ips: ['10.22.0.8/24'],
      conf: { snat: false, ...pm({ hostPort: 6060, containerPort: 60, protocol: 'tcp' }) },
    },
    // a second attachment of one container: another address, the same comment
    { id: 'ctr-tcp', ips: ['10.23.0.5/24'], conf: pm({ hostPort: 8081, containerPort: 81, protocol: 'tcp' }) },
  ];
  const got = run(t, pods);
  // hostports and masquerading rules per family (IPv6: no localhost rule; masqAll: none either)
  const expected = { 4: 3 + 5 + 2 + 1 + 3, 6: 3 + 2 };
  for (const f of [4, 6] as const) {
    t.is(got[f].nft.length, expected[f], `IPv${f}: the ADDs wrote their rules`);
    t.deepEqual(got[f].kernel, got[f].nft, `IPv${f}`);
    // one container's rules, picked by the comment's bytes (names that share a prefix are others)
    for (const [id, rules] of Object.entries(got[f].byId))
      t.deepEqual(
        rules,
        got[f].nft.filter((r) => r.comment === id),
        `IPv${f} ${id}`,
      );
  }
});
