import test from 'ava';
import type { NodeInfo } from '../src/nodes.js';
import { diffRoutes, planRoutes } from '../src/plan-routes.js';

const nodes: NodeInfo[] = [
  { name: 'n1', podCIDRs: ['10.244.1.0/24', 'fd00:10:244:1::/64'], internalIPs: ['192.168.0.1', 'fd00::1'] },
  { name: 'n2', podCIDRs: ['10.244.2.9/24', 'fd00:10:244:2::/64'], internalIPs: ['fd00:0:0::2', '192.168.0.2'] },
  { name: 'n3', podCIDRs: ['10.244.3.0/24', 'fd00:10:244:3::/64'], internalIPs: ['192.168.0.3'] },
  { name: 'n4', podCIDRs: [], internalIPs: ['192.168.0.4'] },
];

test('every other node: each pod CIDR via its InternalIP of the same family; self is skipped', (t) => {
  const { routes, skipped } = planRoutes('n1', nodes);
  t.deepEqual(routes, [
    { dst: '10.244.2.0/24', via: '192.168.0.2', node: 'n2' },
    { dst: 'fd00:10:244:2::/64', via: 'fd00::2', node: 'n2' },
    { dst: '10.244.3.0/24', via: '192.168.0.3', node: 'n3' },
  ]);
  t.deepEqual(skipped, [{ node: 'n3', cidr: 'fd00:10:244:3::/64', reason: 'no IPv6 InternalIP' }]);
});

test('a node alone routes nothing', (t) => {
  t.deepEqual(planRoutes('n1', nodes.slice(0, 1)).routes, []);
});

test('diff: missing routes are replaced in, foreign gateways fixed, stale ones deleted, equal ones left', (t) => {
  const want = planRoutes('n1', nodes).routes;
  const have = [
    { dst: '10.244.2.0/24', gateway: '192.168.0.2' }, // right
    { dst: '10.244.3.0/24', gateway: '192.168.0.99' }, // wrong gateway
    { dst: '10.244.9.0/24', gateway: '192.168.0.9' }, // a deleted node
  ];
  t.deepEqual(diffRoutes(want, have, 202), [
    ['route', 'del', '10.244.9.0/24', 'proto', '202'],
    ['route', 'replace', 'fd00:10:244:2::/64', 'via', 'fd00::2', 'proto', '202'],
    ['route', 'replace', '10.244.3.0/24', 'via', '192.168.0.3', 'proto', '202'],
  ]);
  const settled = want.map((r) => ({ dst: r.dst, gateway: r.via }));
  t.deepEqual(diffRoutes(want, settled, 202), []);
});
