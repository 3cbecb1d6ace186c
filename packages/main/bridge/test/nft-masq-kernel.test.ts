// ADD's and DEL's read of an attachment's masquerade rules through the kernel (nft-masq-kernel.ts:
// one nfnetlink dump of `masq_checks`, rules picked by their comment's first bytes, Bun only)
// against `nft -j list chain` on the real kernel, in a fresh user+network namespace (`unshare -rn`,
// no root). After ADDs planned by the bridge itself (two networks, dual stack, two interfaces of
// one container, a container ID whose comment is cut at 128 characters) and extra rules (one of
// an attachment with another comment tail, as another writer may write it; one without a comment;
// one whose comment is the bare hash, one the hash cut short), every attachment's rules must come
// back rule for rule as nft lists them, and the setup and teardown scripts planned from either
// read must be the same.
import anyTest, { type ExecutionContext } from 'ava';
import { runInUserNetns, userNetnsTest } from '@cni-ts/testutils';

const test = userNetnsTest(anyTest, import.meta.url, ['nft', 'list', 'tables']);
const src = (p: string) => JSON.stringify(new URL(p, import.meta.url).href);

const LONG_ID = `ctr-${'x'.repeat(120)}`;
interface Pod {
  network: string;
  ifname: string;
  containerId: string;
  addresses: string[];
}
const PODS: Pod[] = [
  { network: 'n1', ifname: 'eth0', containerId: 'ctr-a', addresses: ['10.22.0.5/24', 'fd00:22::5/64'] },
  { network: 'n1', ifname: 'eth0', containerId: 'ctr-b', addresses: ['10.22.0.6/24'] },
  { network: 'n1', ifname: 'net1', containerId: 'ctr-a', addresses: ['10.23.0.5/16'] },
  { network: 'n2', ifname: 'eth0', containerId: 'ctr-a', addresses: ['192.168.5.9/24', 'fd00:5::9/80'] },
  { network: 'n1', ifname: 'eth0', containerId: LONG_ID, addresses: ['10.22.0.7/24'] },
];
// whose rules are asked for: every pod, and attachments with no rules
const ASKED = [...PODS, { network: 'n3', ifname: 'eth0', containerId: 'ctr-a', addresses: ['10.9.0.2/24'] }];

// Runs in the namespace: applies the ADD scripts, extra rules, then reads both ways per attachment.
const driver = `import { spawnSync } from 'node:child_process';
import { systemExecutor } from ${src('../../../../process/dist/src/index.js')};
import { nftList } from ${src('../../../../nftables/dist/src/index.js')};
import { MASQ_LIST, nftInstanceHash, planNftMasqSetup, planNftMasqTeardown } from ${src('../src/plan-masq-nft.js')};
import { ownNftMasq } from ${src('../src/nft-masq-kernel.js')};
const [pods, extra, asked] = JSON.parse(process.argv[2]);
const noKernel = { ...systemExecutor, nftChainRules: undefined, nftTableExists: undefined };
const nft = (script) => {
  const r = spawnSync('nft', ['-f', '-'], { input: script, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr + script);
};
for (const p of pods) nft(planNftMasqSetup(nftList(noKernel, MASQ_LIST), p.network, p.ifname, p.containerId, p.addresses));
for (const [p, comment] of extra) {
  const hash = nftInstanceHash(p.network, p.ifname, p.containerId);
  const c = comment === 'HASH' ? hash : comment === 'SHORT' ? hash.slice(0, 20) : comment === 'TAIL' ? hash + ', net: ' + p.network + ', if: (another writer)' : undefined;
  nft('add rule inet cni_plugins_masquerade masq_checks ip saddr 10.99.0.1 masquerade' + (c ? ' comment ' + JSON.stringify(c) : '') + '\\n');
}
const all = nftList(noKernel, MASQ_LIST).rules;
const out = asked.map((p) => {
  const kernel = systemExecutor.nftChainRules('inet', 'cni_plugins_masquerade', ['masq_checks'], { prefix: nftInstanceHash(p.network, p.ifname, p.containerId) }) ? ownNftMasq(systemExecutor, p) : null;
  const listed = nftList(noKernel, MASQ_LIST);
  return {
    hash: nftInstanceHash(p.network, p.ifname, p.containerId),
    kernel: kernel?.rules ?? null,
    nft: listed.rules,
    setup: [kernel && planNftMasqSetup(kernel, p.network, p.ifname, p.containerId, p.addresses), planNftMasqSetup(listed, p.network, p.ifname, p.containerId, p.addresses)],
    teardown: [kernel && planNftMasqTeardown(kernel, p.network, p.ifname, p.containerId), planNftMasqTeardown(listed, p.network, p.ifname, p.containerId)],
  };
});
process.stdout.write(JSON.stringify({ all, out }));
`;

interface Read {
  hash: string;
  kernel: Array<Record<string, unknown>> | null;
  nft: Array<{ comment?: string; handle: number; chain: string; family: string; table: string; expr?: unknown }>;
  setup: [string | null, string];
  teardown: [string | null, string];
}

function run(t: ExecutionContext, pods: Pod[], extra: Array<[Pod, string]>, asked: Pod[]) {
  return runInUserNetns<{ all: Read['nft']; out: Read[] }>(t, driver, { input: [pods, extra, asked] });
}

test("the kernel read of an attachment's masquerade rules equals nft -j list chain, rule for rule", (t) => {
  const none = run(t, [], [], ASKED);
  for (const r of none.out) {
    t.deepEqual(r.kernel, [], 'no table: no rules, and no error');
    t.deepEqual(r.nft, []);
  }
  const extra: Array<[Pod, string]> = [
    [PODS[0]!, 'TAIL'], // the same attachment, another writer's comment tail: it is that attachment's
    [PODS[1]!, 'HASH'], // the bare hash as the whole comment
    [PODS[1]!, 'NONE'], // an operator's rule without a comment
    [PODS[1]!, 'SHORT'], // a comment that is the start of the hash: not the attachment's
  ];
  const got = run(t, PODS, extra, ASKED);
  // one rule per address, plus the extra ones
  t.is(got.all.length, PODS.flatMap((p) => p.addresses).length + extra.length, 'the ADDs wrote their rules');
  const counts: number[] = [];
  for (const [i, p] of ASKED.entries()) {
    const r = got.out[i]!;
    // the kernel read leaves out the expressions (only CHECK reads them, and CHECK lists with nft)
    const want = r.nft.filter((x) => x.comment?.startsWith(r.hash)).map(({ expr: _, ...x }) => x);
    t.deepEqual(r.kernel, want, `${p.network} ${p.ifname} ${p.containerId}: the rules`);
    t.is(r.setup[0], r.setup[1], `${p.network} ${p.ifname} ${p.containerId}: the setup script`);
    t.is(r.teardown[0], r.teardown[1], `${p.network} ${p.ifname} ${p.containerId}: the teardown script`);
    counts.push(want.length);
  }
  // what each attachment owns: its addresses, the extra rules of pods 0 and 1, none for the absent one
  t.deepEqual(counts, [3, 2, 1, 2, 1, 0]);
  t.true(
    got.all.some((r) => r.comment?.includes('(another writer)')),
    "the other writer's rule is in the chain",
  );
});
