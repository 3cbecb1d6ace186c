import test from 'ava';
import { parseConfig } from '../src/config.js';
import { conflistText, pluginTypes, renderConflist } from '../src/conflist.js';

const conf = (yaml = '') => parseConfig(`clusterCIDRs: [10.244.0.0/16]\n${yaml}`, { NODE_NAME: 'n1' }).conflist;

test('dual-stack podCIDRs give one host-local range set per family, in the given order', (t) => {
  const list = renderConflist(conf(), ['fd00:10:244:1::/64', '10.244.1.0/24']) as any;
  t.deepEqual(list.plugins[0].ipam.ranges, [[{ subnet: 'fd00:10:244:1::/64' }], [{ subnet: '10.244.1.0/24' }]]);
  t.is(list.plugins[0].ipMasq, false);
  t.true(list.plugins[0].isDefaultGateway);
  t.deepEqual(
    list.plugins.map((p: any) => p.type),
    ['bridge', 'portmap', 'bandwidth'],
  );
  t.is(list.plugins[1].externalSetMarkChain, 'KUBE-MARK-MASQ');
  t.deepEqual(list.plugins[2].capabilities, { bandwidth: true });
});

test('a CIDR with host bits set is written as its network', (t) => {
  const list = renderConflist(conf(), ['10.244.1.7/24']) as any;
  t.deepEqual(list.plugins[0].ipam.ranges, [[{ subnet: '10.244.1.0/24' }]]);
});

test('options: no portmap mark chain, no bandwidth, an MTU, another name and store', (t) => {
  const c = conf(
    'conflist: {name: pods, externalSetMarkChain: null, bandwidth: false, mtu: 1450, dataDir: /srv/ipam, bridge: br-pods}',
  );
  const list = renderConflist(c, ['10.244.1.0/24']) as any;
  t.is(list.name, 'pods');
  t.is(list.plugins.length, 2);
  t.false('externalSetMarkChain' in list.plugins[1]);
  t.is(list.plugins[0].mtu, 1450);
  t.is(list.plugins[0].bridge, 'br-pods');
  t.is(list.plugins[0].ipam.dataDir, '/srv/ipam');
  t.deepEqual(pluginTypes(list).sort(), ['bridge', 'host-local', 'portmap']);
});

test('no podCIDRs, or two of one family, is refused', (t) => {
  t.throws(() => renderConflist(conf(), []), { message: /no podCIDRs/ });
  t.throws(() => renderConflist(conf(), ['10.244.1.0/24', '10.245.1.0/24']), { message: /two CIDRs of one family/ });
  t.throws(() => renderConflist(conf(), ['10.244.1.0']), { message: /invalid CIDR/ });
});

test('the file text is stable JSON with a final newline', (t) => {
  const text = conflistText(renderConflist(conf(), ['10.244.1.0/24']));
  t.true(text.endsWith('}\n'));
  t.deepEqual(JSON.parse(text).plugins[0].ipam.ranges, [[{ subnet: '10.244.1.0/24' }]]);
  t.is(text, conflistText(renderConflist(conf(), ['10.244.1.0/24'])));
});
