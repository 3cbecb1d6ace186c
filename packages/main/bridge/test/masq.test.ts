// Masquerade plans: the iptables chain layout and its idempotency, teardown by name, GC by
// comment, and the nftables comments and scripts.
import test from 'ava';
import { createHash } from 'node:crypto';
import { parseSave, renderRestore } from '@cni-ts/iptables';
import type { NftListing } from '@cni-ts/nftables';
import { checkMasq, masqChain, planMasqGc, planMasqSetup, planMasqTeardown } from '../src/plan-masq-iptables.js';
import {
  checkNftMasq,
  nftInstanceHash,
  nftMasqComment,
  planNftMasqGc,
  planNftMasqSetup,
  planNftMasqTeardown,
} from '../src/plan-masq-nft.js';

const EMPTY = parseSave('*nat\n:POSTROUTING ACCEPT [0:0]\nCOMMIT\n', 'nat');
const CH = masqChain('mynet', 'ctr1');
const C = '"name: \\"mynet\\" id: \\"ctr1\\""';

test('the chain name is the one Debian Go bridge v1.1.1 created for the same network and container', (t) => {
  t.is(CH, 'CNI-5145007e2a8415ce07579739');
});

test('setup on an empty table: own chain declared, ACCEPT for the subnets, then MASQUERADE, one POSTROUTING jump per address', (t) => {
  t.is(
    renderRestore(planMasqSetup(EMPTY, 'mynet', 'ctr1', ['10.22.0.2/24', '10.23.0.9/16'])),
    [
      '*nat',
      `:${CH} - [0:0]`,
      `-A ${CH} -d 10.22.0.0/24 -m comment --comment ${C} -j ACCEPT`,
      `-A ${CH} -d 10.23.0.0/16 -m comment --comment ${C} -j ACCEPT`,
      `-A ${CH} ! -d 224.0.0.0/4 -m comment --comment ${C} -j MASQUERADE`,
      `-A POSTROUTING -s 10.22.0.2/32 -m comment --comment ${C} -j ${CH}`,
      `-A POSTROUTING -s 10.23.0.9/32 -m comment --comment ${C} -j ${CH}`,
      'COMMIT',
      '',
    ].join('\n'),
  );
  t.regex(
    renderRestore(planMasqSetup(EMPTY, 'mynet', 'ctr1', ['fd00::2/64'])),
    /-d fd00::\/64 .*! -d ff00::\/8 .*-A POSTROUTING -s fd00::2\/128 /s,
  );
});

test('setup again on its own result changes nothing outside its own chain; a stale jump is replaced', (t) => {
  const once = renderRestore(planMasqSetup(EMPTY, 'mynet', 'ctr1', ['10.22.0.2/24']));
  const saved = parseSave(`*nat\n:POSTROUTING ACCEPT [0:0]\n${once.split('\n').slice(1).join('\n')}`, 'nat');
  const again = planMasqSetup(saved, 'mynet', 'ctr1', ['10.22.0.2/24']);
  t.deepEqual(
    again.map((c) => c.op),
    ['declare', 'append', 'append'],
    'only the own chain is rebuilt; the jump stays',
  );
  const moved = planMasqSetup(saved, 'mynet', 'ctr1', ['10.22.0.7/24']);
  t.deepEqual(
    moved.slice(3).map((c) => [c.op, 'rule' in c ? c.rule.spec[1] : '']),
    [
      ['delete', '10.22.0.2/32'],
      ['append', '10.22.0.7/32'],
    ],
  );
});

const SAVED = parseSave(
  `*nat
:POSTROUTING ACCEPT [0:0]
:${CH} - [0:0]
:CNI-ffffffffffffffffffffffff - [0:0]
-A POSTROUTING -s 10.22.0.2/32 -m comment --comment "name: \\"mynet\\" id: \\"ctr1\\"" -j ${CH}
-A POSTROUTING -s 10.22.0.2 -j ${CH}
-A ${CH} -d 10.22.0.0/24 -m comment --comment "name: \\"mynet\\" id: \\"ctr1\\"" -j ACCEPT
-A ${CH} ! -d 224.0.0.0/4 -m comment --comment "name: \\"mynet\\" id: \\"ctr1\\"" -j MASQUERADE
-A CNI-ffffffffffffffffffffffff -m comment --comment "name: \\"mynet\\" id: \\"forged\\"" -j MASQUERADE
COMMIT
`,
  'nat',
);

test('teardown finds the chain by name: every jump to it (any form), then flush and delete; nothing when absent', (t) => {
  t.is(
    renderRestore(planMasqTeardown(SAVED, 'mynet', 'ctr1')),
    [
      '*nat',
      `-D POSTROUTING -s 10.22.0.2/32 -m comment --comment ${C} -j ${CH}`,
      `-D POSTROUTING -s 10.22.0.2 -j ${CH}`,
      `-F ${CH}`,
      `-X ${CH}`,
      'COMMIT',
      '',
    ].join('\n'),
  );
  t.deepEqual(planMasqTeardown(EMPTY, 'mynet', 'ctr1'), []);
});

test('GC removes chains of this network whose container is not kept, and only chains named by the hash', (t) => {
  t.deepEqual(
    planMasqGc(SAVED, 'mynet', new Set(['ctr1'])),
    [],
    'ctr1 is kept; the forged comment does not match its chain name',
  );
  t.deepEqual(planMasqGc(SAVED, 'othernet', new Set()), []);
  t.deepEqual(
    planMasqGc(SAVED, 'mynet', new Set()).map((c) => c.op),
    ['delete', 'delete', 'flush', 'deleteChain'],
  );
});

test('check lists what is missing', (t) => {
  t.deepEqual(checkMasq(SAVED, 'mynet', 'ctr1', ['10.22.0.2/24']), []);
  t.deepEqual(checkMasq(SAVED, 'mynet', 'ctr1', ['10.22.0.3/24']), [
    `rule "-A POSTROUTING -s 10.22.0.3/32 -m comment --comment name: "mynet" id: "ctr1" -j ${CH}" is missing`,
  ]);
  t.deepEqual(checkMasq(EMPTY, 'mynet', 'ctr1', ['10.22.0.2/24']), [`chain ${CH} is missing from the nat table`]);
});

const sha = (s: string) => createHash('sha512').update(s).digest('hex').slice(0, 16);

test('nftables comment: sha512(network) and sha512(ifname:containerID) prefixes, then a readable tail, at most 128 characters', (t) => {
  t.is(nftInstanceHash('mynet', 'eth0', 'ctr1'), `${sha('mynet')}-${sha('eth0:ctr1')}`);
  t.is(nftMasqComment('mynet', 'eth0', 'ctr1'), `${sha('mynet')}-${sha('eth0:ctr1')}, net: mynet, if: eth0, id: ctr1`);
  t.is(nftMasqComment('n', 'eth0', 'c'.repeat(200)).length, 128);
});

const listing = (comments: string[]): NftListing => ({
  chains: [],
  rules: comments.map((comment, i) => ({
    family: 'inet',
    table: 'cni_plugins_masquerade',
    chain: 'masq_checks',
    handle: 10 + i,
    comment,
    expr: [{ match: { op: '==', left: { payload: { protocol: 'ip', field: 'saddr' } }, right: '10.22.0.2' } }],
  })),
});

test("nftables setup deletes the attachment's stale rules in the same transaction", (t) => {
  const mine = nftMasqComment('mynet', 'eth0', 'ctr1');
  const other = nftMasqComment('mynet', 'eth0', 'ctr2');
  const s = planNftMasqSetup(listing([mine, other]), 'mynet', 'eth0', 'ctr1', ['10.22.0.2/24']);
  t.true(s.includes('flush chain inet cni_plugins_masquerade postrouting\n'));
  t.true(s.includes('add rule inet cni_plugins_masquerade postrouting ip daddr == 224.0.0.0/4  return\n'));
  t.true(s.includes('delete rule inet cni_plugins_masquerade masq_checks handle 10\n'));
  t.false(s.includes('handle 11'));
  t.true(
    s.endsWith(
      `add rule inet cni_plugins_masquerade masq_checks ip saddr == 10.22.0.2 ip daddr != 10.22.0.0/24 masquerade comment "${mine}"\n`,
    ),
  );
  t.is(
    planNftMasqTeardown(listing([other, mine]), 'mynet', 'eth0', 'ctr1'),
    'delete rule inet cni_plugins_masquerade masq_checks handle 11\n',
  );
  t.is(
    planNftMasqGc(listing([mine, other, nftMasqComment('elsewhere', 'eth0', 'x')]), 'mynet', [
      { containerID: 'ctr2', ifname: 'eth0' },
    ]),
    'delete rule inet cni_plugins_masquerade masq_checks handle 10\n',
  );
  t.deepEqual(checkNftMasq(listing([mine]), 'mynet', 'eth0', 'ctr1', ['10.22.0.2/24']), []);
  t.is(checkNftMasq(listing([other]), 'mynet', 'eth0', 'ctr1', ['10.22.0.2/24']).length, 1);
});
