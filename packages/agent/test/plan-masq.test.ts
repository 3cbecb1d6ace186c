import { parseSave, renderRestore } from '@cni-ts/iptables';
import test from 'ava';
import { MASQ_CHAIN, chainRules, jumpRule, planMasq, planMasqRemoval } from '../src/plan-masq.js';

const spec = {
  clusterCIDRs: ['10.244.0.0/16', 'fd00:10:244::/56'],
  nonMasqueradeCIDRs: ['192.168.0.0/24'],
  randomFully: false,
};

const EMPTY = parseSave('*nat\n:PREROUTING ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\nCOMMIT\n', 'nat');

test('on an empty table: our chain declared and filled, the jump appended, in one restore', (t) => {
  t.is(
    renderRestore(planMasq(EMPTY, spec, 4)),
    [
      '*nat',
      ':CNI-TS-MASQ - [0:0]',
      '-A CNI-TS-MASQ -d 10.244.0.0/16 -j RETURN',
      '-A CNI-TS-MASQ -d 192.168.0.0/24 -j RETURN',
      '-A CNI-TS-MASQ -s 10.244.0.0/16 -j MASQUERADE',
      '-A POSTROUTING -m comment --comment "cni-ts: masquerade pod traffic leaving the cluster" -m addrtype ! --dst-type LOCAL -j CNI-TS-MASQ',
      'COMMIT',
      '',
    ].join('\n'),
  );
});

test('IPv6 gets the IPv6 CIDRs only, with --random-fully when asked', (t) => {
  t.deepEqual(
    chainRules({ ...spec, randomFully: true }, 6).map((r) => r.spec.join(' ')),
    ['-d fd00:10:244::/56 -j RETURN', '-s fd00:10:244::/56 -j MASQUERADE --random-fully'],
  );
});

function saved(rules: string[]): ReturnType<typeof parseSave> {
  return parseSave(
    ['*nat', ':POSTROUTING ACCEPT [0:0]', `:${MASQ_CHAIN} - [0:0]`, ...rules, 'COMMIT'].join('\n'),
    'nat',
  );
}

const current = [
  '-A POSTROUTING -m comment --comment "cni-ts: masquerade pod traffic leaving the cluster" -m addrtype ! --dst-type LOCAL -j CNI-TS-MASQ',
  '-A CNI-TS-MASQ -d 10.244.0.0/16 -j RETURN',
  '-A CNI-TS-MASQ -d 192.168.0.0/24 -j RETURN',
  '-A CNI-TS-MASQ -s 10.244.0.0/16 -j MASQUERADE',
];

test('a table that already matches needs no change (a restart changes nothing)', (t) => {
  t.deepEqual(planMasq(saved(current), spec, 4), []);
});

test('a changed CIDR refills our chain in one transaction and keeps the jump', (t) => {
  const changes = planMasq(saved(current), { ...spec, nonMasqueradeCIDRs: [] }, 4);
  t.deepEqual(
    changes.map((c) => c.op),
    ['declare', 'append', 'append'],
  );
});

test('a jump of an older version is replaced, a missing one added', (t) => {
  const old = ['-A POSTROUTING -j CNI-TS-MASQ', ...current.slice(1)];
  const changes = planMasq(saved(old), spec, 4);
  t.deepEqual(changes, [
    { op: 'delete', rule: { table: 'nat', chain: 'POSTROUTING', spec: ['-j', 'CNI-TS-MASQ'] } },
    { op: 'append', rule: jumpRule() },
  ]);
});

test('removal deletes the jump, flushes and deletes the chain; nothing when absent', (t) => {
  t.deepEqual(
    planMasqRemoval(saved(current)).map((c) => c.op),
    ['delete', 'flush', 'deleteChain'],
  );
  t.deepEqual(planMasqRemoval(EMPTY), []);
  t.deepEqual(planMasq(saved(current), { ...spec, clusterCIDRs: ['fd00:10:244::/56'] }, 4).length, 3);
});
