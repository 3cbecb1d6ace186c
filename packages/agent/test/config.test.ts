import test from 'ava';
import { parseConfig } from '../src/config.js';

test('defaults, with the node name from NODE_NAME', (t) => {
  const c = parseConfig('clusterCIDRs: [10.244.0.0/16]', { NODE_NAME: 'worker-1' });
  t.is(c.nodeName, 'worker-1');
  t.is(c.nodes.source, 'kubernetes');
  t.is(c.cni.binDir, '/host/opt/cni/bin');
  t.is(c.cni.confName, '10-cni-ts.conflist');
  t.is(c.routes.protocol, 202);
  t.false(c.gc.enabled);
  t.is(c.metrics.address, '0.0.0.0:9309');
});

test('nodeName in the file wins over NODE_NAME; JSON is YAML too', (t) => {
  const c = parseConfig('{"nodeName": "a", "clusterCIDRs": ["10.244.0.0/16"]}', { NODE_NAME: 'b' });
  t.is(c.nodeName, 'a');
});

test('cluster CIDRs are normalised to their network', (t) => {
  const c = parseConfig('clusterCIDRs: [10.244.3.4/16, "fd00:10:244::1/56"]', { NODE_NAME: 'n' });
  t.deepEqual(c.clusterCIDRs, ['10.244.0.0/16', 'fd00:10:244::/56']);
});

const bad: Array<[string, string, RegExp]> = [
  ['no node name', 'clusterCIDRs: [10.244.0.0/16]', /NODE_NAME is not set/],
  ['masquerade without cluster CIDRs', 'nodeName: n', /clusterCIDRs is empty/],
  ['a bad CIDR', 'nodeName: n\nclusterCIDRs: [10.244.0.0]', /clusterCIDRs\.0: expected a CIDR/],
  [
    'static without a file',
    'nodeName: n\nmasquerade: {enabled: false}\nnodes: {source: static}',
    /nodes\.file is not set/,
  ],
  ['an unknown source', 'nodeName: n\nmasquerade: {enabled: false}\nnodes: {source: etcd}', /nodes\.source/],
  [
    'a conflist name that is a path',
    'nodeName: n\nmasquerade: {enabled: false}\ncni: {confName: ../x.conflist}',
    /cni\.confName/,
  ],
  ['not YAML', 'nodeName: [', /not valid YAML/],
  [
    'a bad metrics address',
    'nodeName: n\nmasquerade: {enabled: false}\nmetrics: {address: "9309"}',
    /metrics\.address/,
  ],
];
for (const [name, text, message] of bad) {
  test(`refused: ${name}`, (t) => {
    t.throws(() => parseConfig(text, {}), { message });
  });
}
