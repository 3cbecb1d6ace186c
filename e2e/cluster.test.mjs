// The sandbox cluster demo as a test: every check of the Kubernetes network model must run, by
// name and in order, and pass. A check the demo stops running (or adds) fails this test.
import test from 'ava';
import { isRoot } from '@cni-ts/testutils';
import { runClusterDemo } from './demo/cluster.mjs';

const CHECKS = [
  'every pod has lo up with 127.0.0.1',
  'pod reaches its node gateway (IPv4)',
  'pods on one node reach each other (IPv4)',
  'pods on one node reach each other (IPv6)',
  'pods on different nodes reach each other without NAT (IPv4)',
  'pods on different nodes reach each other (IPv6)',
  "a pod reaches another node's address, which sees the pod's address",
  'a pod reaches a host outside the cluster, masqueraded to its node',
  'a pod on another node reaches the outside host through the cluster',
  'CHECK passes for every pod',
  'STATUS passes on every node',
  "GC releases the lost pod's addresses and keeps the live ones",
  'no veth, reservation or masquerade rule is left on any node',
];

const t0 = isRoot() ? test : test.skip;
if (!isRoot()) process.stderr.write('# SKIP e2e cluster demo: root integration tests need root\n');

t0('the sandbox cluster demo passes every check and leaves nothing behind', async (t) => {
  const lines = [];
  const { ok, checks } = await runClusterDemo({ prefix: `ctdt${process.pid.toString(36)}`, log: (l) => lines.push(l) });
  t.log(lines.join('\n'));
  t.deepEqual(
    checks.map((c) => c.name),
    CHECKS,
    'every named check ran, in order',
  );
  t.deepEqual(
    checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`),
    [],
  );
  t.true(ok);
});
