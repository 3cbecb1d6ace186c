// IPv6 and dual-stack on the bridge, with DAD as upstream (off on the pod end unless enabledad).
import anyTest, { type TestFn } from 'ava';
import {
  type World,
  worldTest,
  addrsOf,
  links,
  mustAdd,
  natRules,
  netConf,
  pings,
  reservations,
  run,
  sysctls,
} from './kit.js';

const test = worldTest(anyTest as TestFn<{ w: World }>, 'b6', 'bridge IPv6 integration');

const V6 = [[{ subnet: 'fd00:22::/64' }]];
const DUAL = [[{ subnet: '10.22.0.0/24' }], [{ subnet: 'fd00:22::/64' }]];

test('IPv6-only: pods reach each other and the gateway; DAD off on the pod end; keep_addr_on_down', async (t) => {
  const { w } = t.context;
  const conf = netConf(w, { isDefaultGateway: true }, V6);
  const a = await w.node.addPod('a');
  const b = await w.node.addPod('b');
  const ra = await mustAdd(t, w, a, conf, { containerId: 'a' });
  await mustAdd(t, w, b, conf, { containerId: 'b' });
  t.deepEqual(ra.ips, [{ address: 'fd00:22::2/64', gateway: 'fd00:22::1', interface: 2 }]);
  t.deepEqual(ra.routes, [{ dst: '::/0', gw: 'fd00:22::1' }]);
  const [eth0] = (await links(a)).filter((l) => l.ifname === 'eth0');
  t.deepEqual(addrsOf(eth0), ['fd00:22::2/64']);
  t.false(
    eth0.addr_info.some((x: any) => x.tentative),
    'no address left tentative',
  );
  t.true(await pings(a, 'fd00:22::3'));
  t.true(await pings(a, 'fd00:22::1'));
  t.deepEqual(
    await sysctls(a, [
      'net/ipv6/conf/eth0/accept_dad',
      'net/ipv6/conf/eth0/keep_addr_on_down',
      'net/ipv6/conf/eth0/disable_ipv6',
      'net/ipv6/conf/lo/disable_ipv6',
    ]),
    {
      'net/ipv6/conf/eth0/accept_dad': '0',
      'net/ipv6/conf/eth0/keep_addr_on_down': '1',
      'net/ipv6/conf/eth0/disable_ipv6': '0',
      'net/ipv6/conf/lo/disable_ipv6': '0',
    },
  );
  const node = await sysctls(w.node.node, ['net/ipv6/conf/all/forwarding', 'net/ipv4/ip_forward']);
  t.deepEqual(
    node,
    { 'net/ipv6/conf/all/forwarding': '1', 'net/ipv4/ip_forward': '0' },
    'only the family with a gateway forwards',
  );
  const routes = await a.ipJson<any[]>(['-6', 'route', 'show']);
  t.true(routes.some((r) => r.dst === 'default' && r.gateway === 'fd00:22::1'));
});

test('enabledad: DAD runs on the pod end and ADD returns only once the address is usable', async (t) => {
  const { w } = t.context;
  const a = await w.node.addPod('a');
  const b = await w.node.addPod('b');
  const conf = netConf(w, { isGateway: true, enabledad: true }, V6);
  await mustAdd(t, w, a, conf, { containerId: 'a' });
  t.deepEqual(await sysctls(a, ['net/ipv6/conf/eth0/accept_dad', 'net/ipv6/conf/eth0/enhanced_dad']), {
    'net/ipv6/conf/eth0/accept_dad': '1',
    'net/ipv6/conf/eth0/enhanced_dad': '1',
  });
  const [eth0] = (await links(a)).filter((l) => l.ifname === 'eth0');
  t.false(
    eth0.addr_info.some((x: any) => x.tentative || x.dadfailed),
    JSON.stringify(eth0.addr_info),
  );
  await mustAdd(t, w, b, conf, { containerId: 'b' });
  t.true(await pings(b, 'fd00:22::2'));
});

test('dual-stack: one address of each family, gateways on the bridge, masquerade in both iptables families, all removed on DEL', async (t) => {
  const { w } = t.context;
  const conf = netConf(w, { isDefaultGateway: true, ipMasq: true }, DUAL);
  const a = await w.node.addPod('a');
  const b = await w.node.addPod('b');
  const ra = await mustAdd(t, w, a, conf, { containerId: 'a' });
  await mustAdd(t, w, b, conf, { containerId: 'b' });
  t.deepEqual(
    ra.ips.map((i: any) => i.address),
    ['10.22.0.2/24', 'fd00:22::2/64'],
  );
  t.deepEqual(ra.routes, [
    { dst: '0.0.0.0/0', gw: '10.22.0.1' },
    { dst: '::/0', gw: 'fd00:22::1' },
  ]);
  const [br] = (await links(w.node.node)).filter((l) => l.ifname === 'cni0');
  t.deepEqual(addrsOf(br), ['10.22.0.1/24', 'fd00:22::1/64']);
  for (const ip of ['10.22.0.3', 'fd00:22::3', '10.22.0.1', 'fd00:22::1']) t.true(await pings(a, ip), ip);
  t.is((await natRules(w.node.node, 4)).length, 2 * 4);
  const v6 = await natRules(w.node.node, 6);
  t.true(v6.some((l) => /^-A POSTROUTING -s fd00:22::2\/128 .* -j CNI-/.test(l)));
  t.true(v6.some((l) => /! -d ff00::\/8 .* -j MASQUERADE$/.test(l)));
  for (const [pod, id] of [
    [a, 'a'],
    [b, 'b'],
  ] as const)
    t.is((await run(w, 'DEL', pod, conf, { containerId: id })).exitCode, 0);
  t.deepEqual(await natRules(w.node.node, 4), []);
  t.deepEqual(await natRules(w.node.node, 6), []);
  t.deepEqual(reservations(w), []);
});

test("dual-stack DEL after the netns is gone, without prevResult, still removes both families' rules", async (t) => {
  const { w } = t.context;
  const conf = netConf(w, { isGateway: true, ipMasq: true }, DUAL);
  const a = await w.node.addPod('a');
  await mustAdd(t, w, a, conf);
  await w.node.removePod(a);
  const del = await run(w, 'DEL', a, conf);
  t.is(del.exitCode, 0, del.stdout);
  t.deepEqual(await natRules(w.node.node, 4), []);
  t.deepEqual(await natRules(w.node.node, 6), []);
  t.deepEqual(reservations(w), []);
});
