import test from 'ava';
import { nodeFromKube, parseNodeList } from '../src/nodes.js';

test('a Node object: podCIDRs, InternalIPs only, podCIDR as fallback', (t) => {
  t.deepEqual(
    nodeFromKube({
      metadata: { name: 'w1' },
      spec: { podCIDR: '10.244.1.0/24', podCIDRs: ['10.244.1.0/24', 'fd00:10:244:1::/64'] },
      status: {
        addresses: [
          { type: 'InternalIP', address: '172.18.0.3' },
          { type: 'Hostname', address: 'w1' },
          { type: 'ExternalIP', address: '203.0.113.9' },
          { type: 'InternalIP', address: 'fc00:f853:ccd:e793::3' },
        ],
      },
    }),
    {
      name: 'w1',
      podCIDRs: ['10.244.1.0/24', 'fd00:10:244:1::/64'],
      internalIPs: ['172.18.0.3', 'fc00:f853:ccd:e793::3'],
    },
  );
  t.deepEqual(nodeFromKube({ metadata: { name: 'old' }, spec: { podCIDR: '10.244.9.0/24' } }), {
    name: 'old',
    podCIDRs: ['10.244.9.0/24'],
    internalIPs: [],
  });
  t.is(nodeFromKube({ spec: {} }), undefined);
});

test('static lists: our short form and a NodeList', (t) => {
  t.deepEqual(
    parseNodeList('nodes:\n  - {name: a, podCIDRs: [10.244.1.0/24], internalIPs: [10.0.0.1]}\n  - {name: b}\n'),
    [
      { name: 'a', podCIDRs: ['10.244.1.0/24'], internalIPs: ['10.0.0.1'] },
      { name: 'b', podCIDRs: [], internalIPs: [] },
    ],
  );
  const list = JSON.stringify({
    kind: 'NodeList',
    items: [{ metadata: { name: 'c' }, spec: { podCIDRs: ['10.244.3.0/24'] } }],
  });
  t.deepEqual(parseNodeList(list), [{ name: 'c', podCIDRs: ['10.244.3.0/24'], internalIPs: [] }]);
  t.throws(() => parseNodeList('nodes: [{name: 1}]'), { message: /nodes\[0\]: expected/ });
  t.throws(() => parseNodeList('hello: 1'), { message: /needs `nodes/ });
});
