// How the bridge decides on tool failures and on values the tools cannot read: on data (the
// error's kind, the object it names, the failing command's index), never on message text; and
// values refused before anything runs, with the code and field a person can act on.
import test from 'ava';
import type { CniError } from '@cni-ts/types';
import { goQuote } from '@cni-ts/iptables';
import { type NftListing, nftString } from '@cni-ts/nftables';
import { makeBridge } from '../src/index.js';
import { nftInstanceHash, nftMasqComment, planNftMasqGc } from '../src/plan-masq-nft.js';
import { planSpoofGc, planSpoofTeardown } from '../src/plan-spoofcheck.js';
import { IPAM_V4, NODE, POD } from './add-fixtures.js';
import { FakeHost, NETNS, type Scenario, ScriptedExec, context } from './helpers.js';

type Over = Parameters<typeof context>[2];

async function verb(
  which: 'add' | 'del' | 'check',
  config: Record<string, unknown>,
  s: Scenario,
  over: Over = {},
  hostLinks: string[] = [],
) {
  const exec = new ScriptedExec(s);
  const bridge = makeBridge(new FakeHost(hostLinks));
  const command = which.toUpperCase() as 'ADD' | 'DEL' | 'CHECK';
  const run = { add: bridge.add, del: bridge.del, check: bridge.check! }[which];
  try {
    await run(context(exec, config, { command, ...over }));
    return { exec, error: undefined };
  } catch (e) {
    return { exec, error: e as CniError };
  }
}

const L3 = { isGateway: true, ipam: { type: 'host-local' } };
const podBatch = (c: { file: string }) => c.file === 'nsenter';

test('DEL: the interface or the sandbox being gone is fine; any other failure is reported, even "No such file"', async (t) => {
  const gone = await verb('del', L3, {}, { netns: NETNS });
  t.is(gone.error, undefined, 'Device "eth0" does not exist: nothing to delete');
  const raced = await verb('del', L3, {
    fail: (c) => (podBatch(c) ? { stderr: `nsenter: cannot open ${NETNS}: No such file or directory\n` } : undefined),
  });
  t.is(raced.error, undefined, 'the sandbox went away between the look and the delete');
  for (const stderr of [
    'RTNETLINK answers: No such file or directory\nCommand failed -:2\n',
    'Cannot find device "eth9"\nCommand failed -:2\n',
    'nsenter: cannot open /run/netns/other: No such file or directory\n',
  ]) {
    const r = await verb('del', L3, { pod: POD, fail: (c) => (podBatch(c) ? { stderr } : undefined) });
    t.is(r.error?.code, 999, `swallowed: ${stderr}`);
    // the read and the delete both fail so; the delete is tried after the read failed
    t.regex(r.error!.message, /^failed to read eth0 in .*; failed to delete eth0 in /);
  }
});

test('ADD: only an "exists" on an address add is a concurrent ADD; one on another command is an error', async (t) => {
  const node = { cni0: { ...NODE.cni0, addrs: [['10.99.0.1', 24]] as Array<[string, number]> } };
  const s = (stderr: string): Scenario => ({
    node,
    pod: POD,
    ipam: IPAM_V4,
    fail: (c) => (c.file === 'ip' && c.input.startsWith('addr del') ? { stderr } : undefined),
  });
  // forceAddress: the gateway batch is `addr del <old>; addr add <gw>`; an exists on the del is not ours to skip
  const r = await verb(
    'add',
    { ...L3, forceAddress: true },
    s('RTNETLINK answers: File exists\nCommand failed -:1\n'),
    {},
    ['cni0'],
  );
  t.is(r.error?.code, 999);
  t.regex(r.error!.message, /^failed to set the gateway address on cni0: ip addr del 10\.99\.0\.1\/24 dev cni0: /);
});

test('a VLAN step the kernel does not support is code 7 saying so; "not supported" elsewhere is not about VLANs', async (t) => {
  const unsupported = 'RTNETLINK answers: Operation not supported\nCommand failed -:1\n';
  const vlan = await verb(
    'add',
    { ...L3, vlan: 5 },
    {
      pod: POD,
      ipam: IPAM_V4,
      fail: (c) => (c.file === 'ip' && c.input.includes('vlan_filtering') ? { stderr: unsupported } : undefined),
    },
  );
  t.is(vlan.error?.code, 7);
  t.regex(vlan.error!.message, /does not support bridge VLAN filtering/);
  const hairpin = await verb(
    'add',
    { ...L3, hairpinMode: true },
    {
      node: NODE,
      pod: POD,
      ipam: IPAM_V4,
      fail: (c) => (c.file === 'ip' && c.input.includes('hairpin on') ? { stderr: unsupported } : undefined),
    },
  );
  t.is(hairpin.error?.code, 999);
  t.notRegex(hairpin.error!.message, /VLAN/);
});

test('values the tools cannot read are refused before anything runs: code 4 for CNI_*, 7 for config keys', async (t) => {
  const cases: Array<[Record<string, unknown>, Over, number, RegExp]> = [
    [L3, { ifname: 'eth#0' }, 4, /^invalid CNI_IFNAME "eth#0": it cannot be written for ip -batch: it contains "#"/],
    [{ ...L3, bridge: 'br#0' }, {}, 7, /^invalid bridge "br#0": it cannot be written for ip -batch/],
    [
      { ...L3, macspoofchk: true },
      { ifname: 'eth@0' },
      4,
      /^invalid CNI_IFNAME "eth@0": it cannot be written for nft -f \(in "cni-br-iface-ctr1-eth@0"\): nft names/,
    ],
  ];
  for (const [config, over, code, msg] of cases) {
    for (const which of ['add', 'check'] as const) {
      const r = await verb(
        which,
        { ...config, prevResult: { cniVersion: '1.0.0' } },
        { node: NODE, pod: POD, ipam: IPAM_V4 },
        over,
      );
      t.is(r.error?.code, code, `${which} ${JSON.stringify(over)}`);
      t.regex(r.error!.message, msg);
      t.deepEqual(r.exec.calls, [], 'nothing ran, not even IPAM');
    }
  }
  // what the languages can carry goes through: quotes in an ifname reach ip as they are
  const ok = await verb('add', L3, { node: NODE, pod: { 'a"b': POD.eth0 }, ipam: IPAM_V4 }, { ifname: 'a"b' });
  t.is(ok.error, undefined, String(ok.error));
  t.true(ok.exec.calls.some((c) => c.input.includes('peer name a"b ')));
});

const listing = (rules: NftListing['rules'], chains: NftListing['chains'] = []): NftListing => ({ rules, chains });
const masqRule = (handle: number, comment: string) => ({
  family: 'inet',
  table: 'cni_plugins_masquerade',
  chain: 'masq_checks',
  handle,
  comment,
});

test('nft masquerade GC keeps a valid attachment by its hash, whoever wrote the readable tail', (t) => {
  const ours = nftMasqComment('mynet', 'eth0', 'ctr1');
  // the same attachment as Go's knftables writes it when the ifname holds a backslash (%q doubles it)
  const goTail = `${nftInstanceHash('mynet', 'e\\0', 'ctr2')}, net: mynet, if: e\\\\0, id: ctr2`;
  const stale = nftMasqComment('mynet', 'eth0', 'gone');
  const l = listing([masqRule(1, ours), masqRule(2, goTail), masqRule(3, stale)]);
  t.is(
    planNftMasqGc(l, 'mynet', [
      { containerID: 'ctr1', ifname: 'eth0' },
      { containerID: 'ctr2', ifname: 'e\\0' },
    ]),
    'delete rule inet cni_plugins_masquerade masq_checks handle 3\n',
  );
});

test('spoof-check teardown and GC skip names nft cannot carry (ADD never makes them)', (t) => {
  const comment = 'macspoofchk-ctr1-e@0';
  const l = listing(
    [
      {
        family: 'bridge',
        table: 'nat',
        chain: 'PREROUTING',
        handle: 4,
        comment,
        expr: [{ match: { right: 'vethgone' } }],
      },
    ],
    [{ family: 'bridge', table: 'nat', name: 'cni-br-iface-ctr1-e@0', handle: 5 }],
  );
  t.is(planSpoofTeardown(l, 'ctr1', 'e@0'), '');
  t.is(planSpoofGc(l, [], new Set()), '');
});

test("nft masquerade comments are written byte for byte as Go's knftables writes them (%q) for every value that can reach them without a backslash", (t) => {
  // network names and container IDs: [A-Za-z0-9_.-]; ifnames: printable ASCII but '/', ':' and blanks
  const ifnameChars = [...Array(95).keys()].map((i) => String.fromCharCode(32 + i)).filter((c) => !/[\s/:\\]/.test(c));
  let seed = 7;
  const pick = (chars: readonly string[], n: number) =>
    Array.from({ length: n }, () => chars[(seed = (seed * 1103515245 + 12345) % 2 ** 31) % chars.length]).join('');
  const idChars = [...'abcXYZ019_.-'];
  for (let i = 0; i < 300; i++) {
    const comment = nftMasqComment(`n${pick(idChars, 8)}`, pick(ifnameChars, 1 + (i % 15)), `c${pick(idChars, 12)}`);
    t.is(nftString(comment), goQuote(comment), comment);
  }
});
