// Root integration tests of dist/bin/bridge: the pod network on one node, end to end.
import anyTest, { type TestFn } from 'ava';
import {
  type World,
  worldTest,
  addrsOf,
  linkNames,
  links,
  mustAdd,
  natRules,
  netConf,
  nftRules,
  pings,
  reservations,
  run,
  sysctls,
} from './kit.js';

const test = worldTest(anyTest as TestFn<{ w: World }>, 'br', 'bridge integration');

test('two pods on one bridge reach each other and the gateway; the node state is what ADD reported', async (t) => {
  const { w } = t.context;
  const conf = netConf(w, { isGateway: true });
  const a = await w.node.addPod('a');
  const b = await w.node.addPod('b');
  const ra = await mustAdd(t, w, a, conf, { containerId: 'ctr-a' });
  const rb = await mustAdd(t, w, b, conf, { containerId: 'ctr-b' });
  t.deepEqual(ra.ips, [{ address: '10.22.0.2/24', gateway: '10.22.0.1', interface: 2 }]);
  t.deepEqual(rb.ips, [{ address: '10.22.0.3/24', gateway: '10.22.0.1', interface: 2 }]);
  t.true(await pings(a, '10.22.0.3'), 'a → b');
  t.true(await pings(b, '10.22.0.2'), 'b → a');
  t.true(await pings(a, '10.22.0.1'), 'a → gateway');

  const node = await links(w.node.node);
  const br = node.find((l) => l.ifname === 'cni0');
  t.is(br.linkinfo.info_kind, 'bridge');
  t.deepEqual(addrsOf(br), ['10.22.0.1/24']);
  t.is(br.address, ra.interfaces[0].mac);
  for (const r of [ra, rb]) {
    const veth = node.find((l) => l.ifname === r.interfaces[1].name);
    t.regex(veth.ifname, /^veth[0-9a-f]{8}$/);
    t.is(veth.master, 'cni0');
    t.is(veth.operstate, 'UP');
    t.is(veth.address, r.interfaces[1].mac);
  }
  const [eth0] = (await links(a)).filter((l) => l.ifname === 'eth0');
  t.is(eth0.address, ra.interfaces[2].mac);
  t.deepEqual(addrsOf(eth0), ['10.22.0.2/24']);
  t.is(ra.interfaces[2].sandbox, a.path);
  const sys = await sysctls(w.node.node, [
    'net/ipv4/ip_forward',
    'net/ipv6/conf/cni0/accept_ra',
    `net/ipv6/conf/${ra.interfaces[1].name}/accept_ra`,
  ]);
  t.deepEqual(Object.values(sys), ['1', '0', '0']);
  t.deepEqual(await sysctls(a, ['net/ipv6/conf/eth0/accept_dad', 'net/ipv4/conf/eth0/arp_notify']), {
    'net/ipv6/conf/eth0/accept_dad': '0',
    'net/ipv4/conf/eth0/arp_notify': '1',
  });
});

test('isDefaultGateway: the pod gets a default route via the bridge', async (t) => {
  const { w } = t.context;
  const a = await w.node.addPod('a');
  const r = await mustAdd(t, w, a, netConf(w, { isDefaultGateway: true }));
  t.deepEqual(r.routes, [{ dst: '0.0.0.0/0', gw: '10.22.0.1' }]);
  const routes = await a.ipJson<any[]>(['route', 'show']);
  t.true(routes.some((x) => x.dst === 'default' && x.gateway === '10.22.0.1' && x.dev === 'eth0'));
});

test('masquerade rules exist after ADD, match upstream names and comments, and go away on DEL', async (t) => {
  const { w } = t.context;
  const conf = netConf(w, { isGateway: true, ipMasq: true, name: 'mynet' });
  const a = await w.node.addPod('a');
  await mustAdd(t, w, a, conf, { containerId: 'ctr1' });
  const C = '"name: \\"mynet\\" id: \\"ctr1\\""';
  t.deepEqual(await natRules(w.node.node), [
    ':CNI-5145007e2a8415ce07579739 - [0:0]',
    `-A POSTROUTING -s 10.22.0.2/32 -m comment --comment ${C} -j CNI-5145007e2a8415ce07579739`,
    `-A CNI-5145007e2a8415ce07579739 -d 10.22.0.0/24 -m comment --comment ${C} -j ACCEPT`,
    `-A CNI-5145007e2a8415ce07579739 ! -d 224.0.0.0/4 -m comment --comment ${C} -j MASQUERADE`,
  ]);
  const del = await run(w, 'DEL', a, conf, { containerId: 'ctr1' });
  t.is(del.exitCode, 0, del.stdout);
  t.deepEqual(await natRules(w.node.node), []);
  t.false((await linkNames(w.node.node)).some((n) => n.startsWith('veth')));
  t.deepEqual(await linkNames(a), ['lo']);
  t.deepEqual(reservations(w, 'mynet'), []);
  const again = await run(w, 'DEL', a, conf, { containerId: 'ctr1' });
  t.is(again.exitCode, 0, `repeated DEL: ${again.stdout}`);
});

test("masquerade really rewrites: a pod reaches an address beyond the node with the node's address as source", async (t) => {
  const { w } = t.context;
  // an "outside" netns linked to the node; it only knows the node's uplink address, no route to pods
  const out = await w.node.addPod('out');
  await w.node.node.exec('ip', ['link', 'add', 'up0', 'type', 'veth', 'peer', 'name', 'up1', 'netns', out.path]);
  await w.node.node.exec('ip', ['addr', 'add', '192.0.2.1/24', 'dev', 'up0']);
  await w.node.node.exec('ip', ['link', 'set', 'up0', 'up']);
  await out.exec('ip', ['addr', 'add', '192.0.2.2/24', 'dev', 'up1']);
  await out.exec('ip', ['link', 'set', 'up1', 'up']);
  const a = await w.node.addPod('a');
  const conf = netConf(w, { isDefaultGateway: true, ipMasq: true });
  await mustAdd(t, w, a, conf);
  t.true(await pings(a, '192.0.2.2'), 'masqueraded traffic comes back');
  await run(w, 'DEL', a, conf);
  const b = await w.node.addPod('b');
  await mustAdd(t, w, b, netConf(w, { isDefaultGateway: true }), { containerId: 'ctr-b' });
  t.false(await pings(b, '192.0.2.2'), 'without masquerade the outside cannot answer');
});

test('nftables masquerade backend: rules in inet cni_plugins_masquerade, removed on DEL', async (t) => {
  const { w } = t.context;
  const conf = netConf(w, { isGateway: true, ipMasq: true, ipMasqBackend: 'nftables' });
  const a = await w.node.addPod('a');
  await mustAdd(t, w, a, conf);
  const rules = await nftRules(w.node.node);
  t.regex(rules, /table inet cni_plugins_masquerade \{/);
  t.regex(
    rules,
    /ip saddr 10\.22\.0\.2 ip daddr != 10\.22\.0\.0\/24 masquerade comment "[0-9a-f]{16}-[0-9a-f]{16}, net: podnet, if: eth0, id: ctr1"/,
  );
  t.deepEqual(await natRules(w.node.node), [], 'no iptables rules');
  await run(w, 'DEL', a, conf);
  t.notRegex(await nftRules(w.node.node), /masquerade comment/);
});

test('CHECK passes after ADD and reports what was changed behind its back', async (t) => {
  const { w } = t.context;
  const conf = netConf(w, { isDefaultGateway: true, ipMasq: true });
  const a = await w.node.addPod('a');
  const r = await mustAdd(t, w, a, conf);
  const ok = await run(w, 'CHECK', a, { ...conf, prevResult: r });
  t.is(ok.exitCode, 0, ok.stdout);
  await a.exec('ip', ['route', 'del', 'default']);
  await w.node.node.exec('iptables', ['-t', 'nat', '-F', 'POSTROUTING']);
  const bad = await run(w, 'CHECK', a, { ...conf, prevResult: r });
  t.is(bad.exitCode, 1);
  t.is(bad.json.code, 100);
  t.regex(bad.json.msg, /expected route 0\.0\.0\.0\/0 via 10\.22\.0\.1 not found in routing table/);
  t.regex(bad.json.msg, /rule "-A POSTROUTING -s 10\.22\.0\.2\/32 .*" is missing/);
});

test('an L2-only network: no addresses, the pod end is up, CHECK passes (upstream fails it), DEL cleans up', async (t) => {
  const { w } = t.context;
  const conf = { cniVersion: '1.0.0', name: 'l2net', type: 'bridge', bridge: 'br-l2' };
  const a = await w.node.addPod('a');
  const r = await mustAdd(t, w, a, conf);
  t.is(r.ips, undefined);
  const [eth0] = (await links(a)).filter((l) => l.ifname === 'eth0');
  t.true(eth0.flags.includes('UP'));
  t.deepEqual(addrsOf(eth0), []);
  const check = await run(w, 'CHECK', a, { ...conf, prevResult: r });
  t.is(check.exitCode, 0, check.stdout);
  t.is((await run(w, 'DEL', a, conf)).exitCode, 0);
  t.deepEqual(await linkNames(a), ['lo']);
});

test('ADD, CHECK and DEL work with the capitalised keys real runtimes send', async (t) => {
  const { w } = t.context;
  const conf = {
    CNIVersion: '1.0.0',
    cniVersion: '1.0.0',
    Name: 'podnet',
    name: 'podnet',
    Type: 'bridge',
    Bridge: 'cni9',
    IsGateway: true,
    IPMasq: true,
    IPAM: { type: 'host-local', ranges: [[{ subnet: '10.22.0.0/24' }]], dataDir: `${w.dir}/ipam` },
  };
  const a = await w.node.addPod('a');
  const r = await mustAdd(t, w, a, conf);
  t.is(r.interfaces[0].name, 'cni9');
  t.is((await natRules(w.node.node)).length, 4);
});

test('parallel ADDs on a fresh node (racing to create the bridge and its gateway address) all succeed, then parallel DELs clean up', async (t) => {
  const { w } = t.context;
  const conf = netConf(w, { isGateway: true, ipMasq: true });
  const pods = await Promise.all(['a', 'b', 'c', 'd', 'e', 'f'].map((n) => w.node.addPod(n)));
  const adds = await Promise.all(pods.map((p, i) => run(w, 'ADD', p, conf, { containerId: `ctr-${i}` })));
  for (const r of adds) t.is(r.exitCode, 0, r.stdout);
  const ips = adds.map((r) => r.json.ips[0].address).sort();
  t.is(new Set(ips).size, 6);
  t.true(await pings(pods[0]!, adds[5]!.json.ips[0].address.split('/')[0]));
  const [br] = (await links(w.node.node)).filter((l) => l.ifname === 'cni0');
  t.deepEqual(addrsOf(br), ['10.22.0.1/24']);
  t.is((await natRules(w.node.node)).filter((l) => l.startsWith('-A POSTROUTING')).length, 6);
  const dels = await Promise.all(pods.map((p, i) => run(w, 'DEL', p, conf, { containerId: `ctr-${i}` })));
  for (const r of dels) t.is(r.exitCode, 0, r.stdout);
  t.deepEqual(await natRules(w.node.node), []);
  t.deepEqual(reservations(w), []);
});
