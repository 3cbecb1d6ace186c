// The nftables plan: the script upstream's knftables layout would send, and the readers (CHECK,
// DEL's conntrack flows, re-ADD cleanup, GC) against `nft -j list table` output of nftables 1.0.6
// (test/fixtures/nft-*.json, listed after applying a dual-stack ADD with four mappings).
import test from 'ava';
import { parseNftJson } from '@cni-ts/nftables';
import { type Context, decodeNetConf } from '@cni-ts/skel';
import {
  type PortmapConf,
  containerNets,
  describeNftRule,
  nftCheck,
  nftGc,
  nftSetup,
  nftTeardown,
  nftUdpForwards,
} from '../src/index.js';
import { loadConfNow } from '../src/config-schema.js';
import { fixture } from './helpers.js';

function conf(extra: Record<string, unknown>): PortmapConf {
  const stdin = JSON.stringify({ cniVersion: '1.0.0', name: 'podnet', type: 'portmap', ...extra });
  return loadConfNow({ conf: decodeNetConf(stdin) } as Context);
}
const MAPPINGS = {
  runtimeConfig: {
    portMappings: [
      { hostPort: 8080, containerPort: 80, protocol: 'tcp' },
      { hostPort: 8053, containerPort: 53, protocol: 'udp' },
      { hostPort: 9090, containerPort: 90, protocol: 'sctp', hostIP: '192.168.77.1' },
      { hostPort: 9091, containerPort: 91, protocol: 'tcp', hostIP: 'fd00::1' },
    ],
  },
};
const [v4, v6] = containerNets(
  { cniVersion: '1.0.0', ips: [{ address: '10.22.0.5/24' }, { address: 'fd00:22::5/64' }] },
  'eth0',
) as [any, any];
const LIST = {
  4: parseNftJson(fixture('nft-ip-cni_hostport.json')),
  6: parseNftJson(fixture('nft-ip6-cni_hostport.json')),
};
const EMPTY = { chains: [], rules: [] };

test('ADD script on a fresh node: the knftables layout of upstream v1.9+, then our localnet chain, then the rules', (t) => {
  t.is(
    nftSetup(conf({ runtimeConfig: { portMappings: [MAPPINGS.runtimeConfig.portMappings[0]] } }), 'ctr1', v4, EMPTY),
    [
      'add table ip cni_hostport { comment "CNI portmap plugin" ; }',
      'add chain ip cni_hostport hostports',
      'add chain ip cni_hostport hostip_hostports',
      'add chain ip cni_hostport hostports_all',
      'flush chain ip cni_hostport hostports_all',
      'add rule ip cni_hostport hostports_all jump hostip_hostports',
      'add rule ip cni_hostport hostports_all jump hostports',
      'add chain ip cni_hostport prerouting { type nat hook prerouting priority -100 ; }',
      'flush chain ip cni_hostport prerouting',
      'add rule ip cni_hostport prerouting fib daddr type local jump hostports_all',
      'add chain ip cni_hostport output { type nat hook output priority -100 ; }',
      'flush chain ip cni_hostport output',
      'add rule ip cni_hostport output fib daddr type local jump hostports_all',
      'add chain ip cni_hostport masquerading { type nat hook postrouting priority 100 ; }',
      'add chain ip cni_hostport localnet { type filter hook input priority 0 ; }',
      'flush chain ip cni_hostport localnet',
      'add rule ip cni_hostport localnet iifname != "lo" ip saddr != 127.0.0.0/8 ip daddr 127.0.0.0/8 ct state != { established, related } ct status & dnat == 0 drop',
      'add rule ip cni_hostport hostports tcp dport 8080 dnat to 10.22.0.5:80 comment "ctr1"',
      'add rule ip cni_hostport masquerading ip saddr 10.22.0.5 ip daddr 10.22.0.5 masquerade comment "ctr1"',
      'add rule ip cni_hostport masquerading ip saddr 127.0.0.1 ip daddr 10.22.0.5 masquerade comment "ctr1"',
      '',
    ].join('\n'),
  );
});

test('IPv6: [addr]:port targets, ip6 matches, no localhost masquerade and no localnet chain', (t) => {
  const s = nftSetup(conf(MAPPINGS), 'ctr1', v6, EMPTY);
  const rules = s.split('\n').filter((l) => / (hostports|masquerading) /.test(l) && l.startsWith('add rule'));
  t.deepEqual(rules, [
    'add rule ip6 cni_hostport hostports tcp dport 8080 dnat to [fd00:22::5]:80 comment "ctr1"',
    'add rule ip6 cni_hostport hostports udp dport 8053 dnat to [fd00:22::5]:53 comment "ctr1"',
    'add rule ip6 cni_hostport hostports ip6 daddr fd00::1 tcp dport 9091 dnat to [fd00:22::5]:91 comment "ctr1"',
    'add rule ip6 cni_hostport masquerading ip6 saddr fd00:22::5 ip6 daddr fd00:22::5 masquerade comment "ctr1"',
  ]);
  t.false(s.includes('localnet'));
});

test('conditions go in front of the entry rules of their family; masqAll masquerades any source; snat false none', (t) => {
  const s = nftSetup(conf({ ...MAPPINGS, conditionsV4: ['iifname', '"eth0"'], masqAll: true }), 'ctr1', v4, EMPTY);
  t.true(s.includes('add rule ip cni_hostport prerouting iifname "eth0" fib daddr type local jump hostports_all\n'));
  t.true(s.includes('add rule ip cni_hostport output iifname "eth0" fib daddr type local jump hostports_all\n'));
  t.true(s.includes('masquerading ip saddr 0.0.0.0/0 ip daddr 10.22.0.5 masquerade'));
  t.false(s.includes('127.0.0.1 ip daddr'));
  t.false(nftSetup(conf({ ...MAPPINGS, snat: false }), 'ctr1', v4, EMPTY).includes('masquerad'));
});

test('a repeated ADD deletes this container’s rules for the same address first; other addresses and containers stay', (t) => {
  const again = nftSetup(conf(MAPPINGS), 'ctr1', v4, LIST[4]);
  t.deepEqual(
    again.split('\n').filter((l) => l.startsWith('delete')),
    [14, 15, 16]
      .map((h) => `delete rule ip cni_hostport hostports handle ${h}`)
      .concat([17, 18].map((h) => `delete rule ip cni_hostport masquerading handle ${h}`)),
  );
  const moved = { ...v4, ip: '10.22.0.6' };
  t.false(nftSetup(conf(MAPPINGS), 'ctr1', moved, LIST[4]).includes('delete'));
  t.false(nftSetup(conf(MAPPINGS), 'ctr2', v4, LIST[4]).includes('delete'));
});

test('DEL deletes every rule of the container by handle in both families; GC those not kept', (t) => {
  const both: Array<[4 | 6, any]> = [
    [4, LIST[4]],
    [6, LIST[6]],
  ];
  t.is(
    nftTeardown(both, 'ctr1'),
    [
      ...[14, 15, 16].map((h) => `delete rule ip cni_hostport hostports handle ${h}`),
      ...[17, 18].map((h) => `delete rule ip cni_hostport masquerading handle ${h}`),
      ...[11, 12, 13].map((h) => `delete rule ip6 cni_hostport hostports handle ${h}`),
      'delete rule ip6 cni_hostport masquerading handle 14',
      '',
    ].join('\n'),
  );
  t.is(nftTeardown(both, 'ctr2'), '');
  t.is(nftGc(both, new Set(['ctr1'])), '');
  t.is(nftGc(both, new Set(['ctr2'])), nftTeardown(both, 'ctr1'));
});

test('the UDP flows DEL flushes come from the hostports rules', (t) => {
  t.deepEqual(nftUdpForwards(LIST[4], 'ctr1'), [{ port: 8053, podIP: '10.22.0.5' }]);
  t.deepEqual(nftUdpForwards(LIST[6], 'ctr1'), [{ port: 8053, podIP: 'fd00:22::5' }]);
});

test('rules read back from nft -j print as the rule text ADD wrote', (t) => {
  t.deepEqual(LIST[4].rules.filter((r) => r.comment === 'ctr1').map(describeNftRule), [
    'tcp dport 8080 dnat to 10.22.0.5:80',
    'udp dport 8053 dnat to 10.22.0.5:53',
    'ip daddr 192.168.77.1 sctp dport 9090 dnat to 10.22.0.5:90',
    'ip saddr 10.22.0.5 ip daddr 10.22.0.5 masquerade',
    'ip saddr 127.0.0.1 ip daddr 10.22.0.5 masquerade',
  ]);
});

test('CHECK passes on the listed rules and names what is missing', (t) => {
  t.deepEqual(nftCheck(conf(MAPPINGS), 'ctr1', v4, LIST[4]), []);
  t.deepEqual(nftCheck(conf(MAPPINGS), 'ctr1', v6, LIST[6]), []);
  const without = { ...LIST[4], rules: LIST[4].rules.filter((r) => r.handle !== 15) };
  t.deepEqual(nftCheck(conf(MAPPINGS), 'ctr1', v4, without), [
    'rule "udp dport 8053 dnat to 10.22.0.5:53" with comment "ctr1" is missing from ip cni_hostport hostports',
  ]);
  t.is(nftCheck(conf(MAPPINGS), 'ctr2', v4, LIST[4]).length, 5);
  t.deepEqual(nftCheck(conf(MAPPINGS), 'ctr1', v4, EMPTY).slice(0, 1), [
    'chain prerouting is missing from table ip cni_hostport',
  ]);
});
