// Golden tests of DEL: what runs with and without the sandbox, and that it is tolerant.
import test from 'ava';
import type { CniError } from '@cni-ts/types';
import { makeBridge } from '../src/index.js';
import { FakeHost, NETNS, type Scenario, ScriptedExec, context } from './helpers.js';

const CH = 'CNI-ee871de47c845415462ccc60';
const C = '-m comment --comment "name: \\"podnet\\" id: \\"ctr1\\""';
// the nat table as ADD leaves it, and as an older ADD may have (no comments)
const SAVED =
  `*nat\n:POSTROUTING ACCEPT [0:0]\n:${CH} - [0:0]\n-A POSTROUTING -s 10.22.0.2/32 ${C} -j ${CH}\n` +
  `-A ${CH} -d 10.22.0.0/24 ${C} -j ACCEPT\n-A ${CH} ! -d 224.0.0.0/4 ${C} -j MASQUERADE\nCOMMIT\n`;
const SAVED_OLD = `*nat\n:POSTROUTING ACCEPT [0:0]\n:${CH} - [0:0]\n-A POSTROUTING -s 10.22.0.2/32 -j ${CH}\n-A ${CH} -j MASQUERADE\nCOMMIT\n`;
const PREV = {
  cniVersion: '1.0.0',
  interfaces: [{ name: 'cni0' }, { name: 'veth01020304' }, { name: 'eth0', sandbox: NETNS }],
  ips: [{ address: '10.22.0.2/24', interface: 2 }],
};
const L3 = { ipMasq: true, ipam: { type: 'host-local' } };

async function del(config: Record<string, unknown>, s: Scenario, over: { netns?: string; links?: string[] } = {}) {
  const exec = new ScriptedExec(s);
  const host = new FakeHost(over.links ?? []);
  let error: CniError | undefined;
  try {
    await makeBridge(host).del(context(exec, config, { command: 'DEL', netns: over.netns ?? NETNS }));
  } catch (e) {
    error = e as CniError;
  }
  return { exec, error };
}

test('DEL with the sandbox: the interface read, its rules removed without reading the table (nftables first), then the interface deleted; IPAM released last', async (t) => {
  const { exec, error } = await del(
    { ...L3, prevResult: PREV },
    {
      pod: {
        eth0: {
          addrs: [
            ['10.22.0.2', 24],
            ['fe80::1', 64],
          ],
        },
      },
      iptables: { 4: SAVED },
    },
  );
  t.is(error, undefined);
  t.deepEqual(exec.script(), [
    `nsenter --net=${NETNS} -- ip -j -batch - << addr show dev eth0`,
    'nft -j list chain inet cni_plugins_masquerade masq_checks',
    `iptables-restore --noflush -w 5 << *nat ; -D POSTROUTING -s 10.22.0.2/32 ${C} -j ${CH} ; -F ${CH} ; -X ${CH} ; COMMIT`,
    `nsenter --net=${NETNS} -- ip -j -batch - << link del dev eth0`,
    'IPAM DEL',
  ]);
});

test('DEL of rules not as this ADD writes them (no comments): the table is read and what jumps to the chain removed', async (t) => {
  const { exec, error } = await del({ ...L3, prevResult: PREV }, { iptables: { 4: SAVED_OLD } });
  t.is(error, undefined);
  t.deepEqual(exec.script().slice(2, 5), [
    `iptables-restore --noflush -w 5 << *nat ; -D POSTROUTING -s 10.22.0.2/32 ${C} -j ${CH} ; -F ${CH} ; -X ${CH} ; COMMIT`,
    'iptables-save -t nat',
    `iptables-restore --noflush -w 5 << *nat ; -D POSTROUTING -s 10.22.0.2/32 -j ${CH} ; -F ${CH} ; -X ${CH} ; COMMIT`,
  ]);
});

test('DEL after the sandbox is gone still removes the rules (no netns needed) and releases IPAM — without prevResult, both families', async (t) => {
  const { exec, error } = await del(L3, { iptables: { 4: SAVED } }, { netns: '/run/netns/cts-gone-away' });
  t.is(error, undefined);
  t.deepEqual(
    exec.script().map((l) => l.split(' << ')[0]),
    [
      'nft -j list chain inet cni_plugins_masquerade masq_checks',
      'iptables-save -t nat',
      'iptables-restore --noflush -w 5',
      'ip6tables-save -t nat',
      'IPAM DEL',
    ],
  );
});

test('DEL with a prevResult that is not a result cleans as without one (both families, IPAM released)', async (t) => {
  const broken = { cniVersion: '1.0.0', ips: [{ address: 'not-an-address' }], interfaces: 'cni0' };
  const { exec, error } = await del(
    { ...L3, prevResult: broken },
    { iptables: { 4: SAVED } },
    { netns: '/run/netns/cts-gone-away' },
  );
  t.is(error, undefined);
  t.deepEqual(
    exec.script().map((l) => l.split(' << ')[0]),
    [
      'nft -j list chain inet cni_plugins_masquerade masq_checks',
      'iptables-save -t nat',
      'iptables-restore --noflush -w 5',
      'ip6tables-save -t nat',
      'IPAM DEL',
    ],
  );
});

test('DEL reads prevResult leniently: the addresses that parse (ips[].address, or 0.2.0 ip4.ip), the rest skipped', async (t) => {
  const known = `iptables-restore --noflush -w 5 << *nat ; -D POSTROUTING -s 10.22.0.2/32 ${C} -j ${CH} ; -F ${CH} ; -X ${CH} ; COMMIT`;
  for (const prevResult of [
    { cniVersion: '1.0.0', ips: [{ address: '10.22.0.2/24' }, { address: 'bogus' }, 7, { Address: 5 }], interfaces: 3 },
    { cniVersion: '1.0.0', IPs: [{ Address: '10.22.0.2/24' }], routes: 'not a list' },
    { cniVersion: '0.2.0', ip4: { ip: '10.22.0.2/24', gateway: 'x' }, ip6: { ip: 'nope' } },
  ]) {
    const { exec, error } = await del(
      { ...L3, prevResult },
      { iptables: { 4: SAVED } },
      { netns: '/run/netns/cts-gone-away' },
    );
    t.is(error, undefined);
    t.deepEqual(
      exec.script(),
      ['nft -j list chain inet cni_plugins_masquerade masq_checks', known, 'IPAM DEL'],
      JSON.stringify(prevResult),
    );
  }
});

test('DEL without the sandbox removes a host veth left behind, if it is still a veth on our bridge', async (t) => {
  const node = { veth01020304: { kind: 'veth', master: 'cni0' } };
  const { exec } = await del({ prevResult: PREV }, { node }, { netns: '', links: ['veth01020304'] });
  t.deepEqual(exec.script(), [
    'ip -d -j -batch - << addr show dev veth01020304',
    'ip -j -batch - << link del dev veth01020304',
  ]);
  const elsewhere = await del(
    { prevResult: PREV },
    { node: { veth01020304: { kind: 'veth', master: 'br9' } } },
    { netns: '', links: ['veth01020304'] },
  );
  t.deepEqual(elsewhere.exec.script(), ['ip -d -j -batch - << addr show dev veth01020304']);
});

test('repeated DEL: nothing left is fine (the restore of the known rules is refused, the table shows nothing)', async (t) => {
  const { exec, error } = await del({ ...L3, prevResult: PREV }, {});
  t.is(error, undefined);
  t.deepEqual(
    exec.script().map((l) => l.split(' << ')[0]),
    [
      'nsenter --net=/proc/self/ns/net -- ip -j -batch -',
      'nft -j list chain inet cni_plugins_masquerade masq_checks',
      'iptables-restore --noflush -w 5',
      'iptables-save -t nat',
      'IPAM DEL',
    ],
  );
});

test('an IPAM DEL failure is returned, but the rules are removed anyway', async (t) => {
  const { exec, error } = await del(
    { ...L3, prevResult: PREV },
    {
      iptables: { 4: SAVED },
      fail: (_c, verb) =>
        verb === 'DEL' ? { status: 1, stdout: '{"code":11,"msg":"store is locked"}', stderr: '' } : undefined,
    },
  );
  t.is(error?.code, 11);
  t.true(exec.script().some((l) => l.startsWith('iptables-restore')));
});

test('macspoofchk: its chains are removed; L2 DEL needs no IPAM and no iptables', async (t) => {
  const { exec } = await del(
    { macspoofchk: true },
    {
      pod: {},
      nft: {
        'table bridge nat': [
          { chain: { family: 'bridge', table: 'nat', name: 'cni-br-iface-ctr1-eth0-mac', handle: 3 } },
        ],
      },
    },
  );
  t.deepEqual(exec.script().slice(1), [
    'nft -j list table bridge nat',
    'nft -f - << flush chain bridge nat cni-br-iface-ctr1-eth0-mac ; delete chain bridge nat cni-br-iface-ctr1-eth0-mac',
  ]);
});

test('nftables backend configured: nft failures count; iptables missing from the node does not', async (t) => {
  const { error } = await del(
    { ...L3, ipMasqBackend: 'nftables' },
    {
      fail: (c) =>
        c.file.endsWith('tables-save')
          ? { status: 1, stderr: 'x' }
          : c.file === 'nft'
            ? { status: 1, stderr: 'Error: Operation not permitted' }
            : undefined,
    },
    { netns: '' },
  );
  t.regex(error!.message, /failed to remove masquerade rules: nft -j list/);
  t.notRegex(error!.message, /iptables-save/);
});

// Each of these makes ADD fail with code 7; DEL must still find and remove what an earlier ADD made.
const NO_LONGER_VALID: Array<[string, Record<string, unknown>]> = [
  ['an unknown ipMasqBackend', { ipMasqBackend: 'xdp' }],
  ['an mtu of the wrong type', { mtu: '1500' }],
  ['an mtu out of range', { mtu: 10 }],
  ['hairpinMode with promiscMode', { hairpinMode: true, promiscMode: true }],
  ['a VLAN out of range', { vlan: 5000 }],
  ['a bridge name that is too long', { bridge: 'a-very-long-bridge-name' }],
  ['a bad runtimeConfig.mac', { runtimeConfig: { mac: 'zz' } }],
  ['disableContainerInterface with IPAM', { disableContainerInterface: true }],
  ['a switch written as a string', { ipMasq: 'true', macspoofchk: 'yes' }],
  ['a key of the wrong shape', { dns: 'none', vlanTrunk: 3 }],
];
const SCENARIO: Scenario = {
  pod: { eth0: { addrs: [['10.22.0.2', 24]] } },
  iptables: { 4: SAVED },
  nft: {
    'table bridge nat': [{ chain: { family: 'bridge', table: 'nat', name: 'cni-br-iface-ctr1-eth0-mac', handle: 3 } }],
  },
};

for (const [what, change] of NO_LONGER_VALID) {
  test(`DEL after a config change to ${what} removes everything ADD made, as with the valid config`, async (t) => {
    const valid = await del({ ...L3, macspoofchk: true }, SCENARIO);
    t.is(valid.error, undefined);
    const logs: string[] = [];
    const exec = new ScriptedExec(SCENARIO);
    const ctx = context(exec, { ...L3, macspoofchk: true, ...change }, { command: 'DEL' });
    ctx.log = (m) => logs.push(m);
    await t.notThrowsAsync(async () => makeBridge(new FakeHost()).del(ctx));
    const script = exec.script();
    t.deepEqual(script, valid.exec.script(), 'the same interface, spoof check, masquerade rules and IPAM reservation');
    t.true(script.includes('IPAM DEL'));
    t.true(script.some((l) => l.startsWith('iptables-restore') && l.includes(`-X ${CH}`)));
    t.regex(logs.join('\n'), /^the configuration no longer validates \(.+\); DEL cleans up with what it can read$/);
  });
}
