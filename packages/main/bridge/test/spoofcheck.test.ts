import test from 'ava';
import type { NftListing } from '@cni-ts/nftables';
import { checkSpoof, planSpoofGc, planSpoofTeardown } from '../src/plan-spoofcheck.js';

const jump = (handle: number, ref: string, iif: string) => ({
  family: 'bridge',
  table: 'nat',
  chain: 'PREROUTING',
  handle,
  comment: `macspoofchk-${ref}`,
  expr: [
    { match: { op: '==', left: { meta: { key: 'iifname' } }, right: iif } },
    { jump: { target: `cni-br-iface-${ref}` } },
  ],
});
const chains = (ref: string) =>
  [`cni-br-iface-${ref}`, `cni-br-iface-${ref}-mac`].map((name, i) => ({
    family: 'bridge',
    table: 'nat',
    name,
    handle: 50 + i,
  }));
const macRules = (ref: string, mac: string) => [
  {
    family: 'bridge',
    table: 'nat',
    chain: `cni-br-iface-${ref}-mac`,
    handle: 60,
    comment: `macspoofchk-${ref}`,
    expr: [
      { match: { op: '==', left: { payload: { protocol: 'ether', field: 'saddr' } }, right: mac } },
      { return: null },
    ],
  },
  {
    family: 'bridge',
    table: 'nat',
    chain: `cni-br-iface-${ref}-mac`,
    handle: 61,
    comment: `macspoofchk-${ref}`,
    expr: [{ drop: null }],
  },
];
const L: NftListing = {
  chains: [...chains('c1-eth0'), ...chains('c2-eth0')],
  rules: [jump(4, 'c1-eth0', 'veth1'), jump(5, 'c2-eth0', 'veth2'), ...macRules('c1-eth0', '0a:58:00:00:00:01')],
};

test('teardown deletes the jump by handle, then flushes and deletes both chains; nothing left means nothing to do', (t) => {
  t.is(
    planSpoofTeardown(L, 'c1', 'eth0'),
    'delete rule bridge nat PREROUTING handle 4\n' +
      'flush chain bridge nat cni-br-iface-c1-eth0\ndelete chain bridge nat cni-br-iface-c1-eth0\n' +
      'flush chain bridge nat cni-br-iface-c1-eth0-mac\ndelete chain bridge nat cni-br-iface-c1-eth0-mac\n',
  );
  t.is(planSpoofTeardown(L, 'c9', 'eth0'), '');
});

test('GC removes only checks that are not valid and whose veth is gone', (t) => {
  t.is(
    planSpoofGc(L, [{ containerID: 'c1', ifname: 'eth0' }], new Set(['veth2'])),
    '',
    'c1 is valid, veth2 still exists',
  );
  t.regex(
    planSpoofGc(L, [], new Set(['veth1'])),
    /^delete rule bridge nat PREROUTING handle 5\n.*cni-br-iface-c2-eth0-mac\n$/s,
  );
});

test('check: jump for the host veth, the MAC allowed, a drop rule', (t) => {
  t.deepEqual(checkSpoof(L, 'c1', 'eth0', 'veth1', '0A:58:00:00:00:01'), []);
  t.deepEqual(checkSpoof(L, 'c1', 'eth0', 'vethX', '0a:58:00:00:00:02'), [
    'no PREROUTING rule sends vethX to cni-br-iface-c1-eth0',
    'chain cni-br-iface-c1-eth0-mac does not allow 0a:58:00:00:00:02',
  ]);
  t.is(checkSpoof(L, 'c2', 'eth0', 'veth2', '0a:58:00:00:00:02').length, 2);
});
