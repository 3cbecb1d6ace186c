// The per-port and per-bridge options against the kernel and real traffic: spoof check, hairpin,
// port isolation, promiscuous mode, MTU, the container MAC, disableContainerInterface; GC and STATUS.
import anyTest, { type TestFn } from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type World, worldTest, links, mustAdd, natRules, netConf, nftRules, pings, run } from './kit.js';

const test = worldTest(anyTest as TestFn<{ w: World }>, 'bo', 'bridge features integration');

const port = async (w: World, name: string) => (await links(w.node.node)).find((l) => l.ifname === name);

test('macspoofchk: frames from the pod with a forged source MAC are dropped; the real MAC passes', async (t) => {
  const { w } = t.context;
  const conf = netConf(w, { isGateway: true, macspoofchk: true });
  const a = await w.node.addPod('a');
  const b = await w.node.addPod('b');
  const ra = await mustAdd(t, w, a, conf, { containerId: 'a' });
  await mustAdd(t, w, b, conf, { containerId: 'b' });
  t.true(await pings(a, '10.22.0.3'), 'the real MAC passes');
  const real = ra.interfaces[2].mac;
  t.regex(await nftRules(w.node.node), new RegExp(`ether saddr ${real} return comment "macspoofchk-a-eth0"`));
  await a.exec('ip', ['link', 'set', 'dev', 'eth0', 'address', '0a:58:de:ad:be:ef']);
  t.false(await pings(a, '10.22.0.3'), 'a forged MAC is dropped');
  await a.exec('ip', ['link', 'set', 'dev', 'eth0', 'address', real]);
  t.true(await pings(a, '10.22.0.3'), 'back to the real MAC');
  await run(w, 'DEL', a, conf, { containerId: 'a' });
  t.notRegex(await nftRules(w.node.node), /macspoofchk-a-eth0/);
});

test('hairpinMode: a pod reaches itself through a DNATed address bridged back out of its own port', async (t) => {
  const { w } = t.context;
  // kube-proxy's hairpin case: br_netfilter DNAT in the bridge path sends the frame back out of the port it came in
  await w.node.node.exec('sh', ['-c', 'echo 1 > /proc/sys/net/bridge/bridge-nf-call-iptables']);
  await w.node.node.exec('iptables', [
    '-t',
    'nat',
    '-A',
    'PREROUTING',
    '-d',
    '10.96.0.10',
    '-j',
    'DNAT',
    '--to-destination',
    '10.22.0.2',
  ]);
  await w.node.node.exec('iptables', [
    '-t',
    'nat',
    '-A',
    'POSTROUTING',
    '-s',
    '10.22.0.2',
    '-d',
    '10.22.0.2',
    '-j',
    'MASQUERADE',
  ]);
  const off = await w.node.addPod('off');
  const r0 = await mustAdd(t, w, off, netConf(w, { isDefaultGateway: true }), { containerId: 'off' });
  t.false((await port(w, r0.interfaces[1].name)).linkinfo.info_slave_data.hairpin);
  t.false(await pings(off, '10.96.0.10'), 'without hairpin the frame cannot leave by the port it came in');
  await run(w, 'DEL', off, netConf(w, { isDefaultGateway: true }), { containerId: 'off' });
  const on = await w.node.addPod('on');
  // the same address again (a network of its own, so host-local starts over)
  const r1 = await mustAdd(t, w, on, netConf(w, { isDefaultGateway: true, hairpinMode: true, name: 'hairpin' }), {
    containerId: 'on',
  });
  t.deepEqual(r1.ips[0].address, '10.22.0.2/24');
  t.true((await port(w, r1.interfaces[1].name)).linkinfo.info_slave_data.hairpin);
  t.true(await pings(on, '10.96.0.10'), 'with hairpin it can');
});

test('portIsolation: isolated pods cannot reach each other but reach the gateway', async (t) => {
  const { w } = t.context;
  const conf = netConf(w, { isGateway: true, portIsolation: true });
  const a = await w.node.addPod('a');
  const b = await w.node.addPod('b');
  const ra = await mustAdd(t, w, a, conf, { containerId: 'a' });
  await mustAdd(t, w, b, conf, { containerId: 'b' });
  t.true((await port(w, ra.interfaces[1].name)).linkinfo.info_slave_data.isolated);
  t.true(await pings(a, '10.22.0.1'));
  t.false(await pings(a, '10.22.0.3'));
});

test('promiscMode, mtu and the container MAC (runtimeConfig.mac over CNI_ARGS MAC)', async (t) => {
  const { w } = t.context;
  const a = await w.node.addPod('a');
  const conf = netConf(w, {
    isGateway: true,
    promiscMode: true,
    mtu: 1400,
    runtimeConfig: { mac: '0a:58:0a:16:00:99' },
  });
  const r = await mustAdd(t, w, a, conf, { cniArgs: 'IgnoreUnknown=1;MAC=0a:58:0a:16:00:11;K8S_POD_NAME=x' });
  const node = await links(w.node.node);
  const br = node.find((l) => l.ifname === 'cni0');
  t.true(br.flags.includes('PROMISC'));
  t.is(br.mtu, 1400);
  t.is(node.find((l) => l.ifname === r.interfaces[1].name).mtu, 1400);
  const [eth0] = (await links(a)).filter((l) => l.ifname === 'eth0');
  t.is(eth0.mtu, 1400);
  t.is(eth0.address, '0a:58:0a:16:00:99');
  t.is(r.interfaces[2].mac, '0a:58:0a:16:00:99');
  const check = await run(
    w,
    'CHECK',
    a,
    { ...conf, prevResult: r },
    { cniArgs: 'IgnoreUnknown=1;MAC=0a:58:0a:16:00:11' },
  );
  t.is(check.exitCode, 0, check.stdout);
});

test('disableContainerInterface: an L2 port whose pod end stays down', async (t) => {
  const { w } = t.context;
  const a = await w.node.addPod('a');
  const conf = { cniVersion: '1.0.0', name: 'l2', type: 'bridge', bridge: 'br-l2', disableContainerInterface: true };
  const r = await mustAdd(t, w, a, conf);
  const [eth0] = (await links(a)).filter((l) => l.ifname === 'eth0');
  t.false(eth0.flags.includes('UP'));
  t.is(r.interfaces[2].name, 'eth0');
  t.is((await run(w, 'DEL', a, conf)).exitCode, 0);
});

test('GC (cniVersion 1.1.0) forwards to IPAM and removes the masquerade chains of attachments that are no longer valid', async (t) => {
  const { w } = t.context;
  const conf = netConf(w, { isGateway: true, ipMasq: true });
  const a = await w.node.addPod('a');
  const b = await w.node.addPod('b');
  await mustAdd(t, w, a, conf, { containerId: 'a' });
  await mustAdd(t, w, b, conf, { containerId: 'b' });
  // also a chain of another network, which GC of podnet must not touch
  const other = {
    ...netConf(w, { isGateway: true, ipMasq: true, name: 'othernet', bridge: 'cni1' }, [[{ subnet: '10.33.0.0/24' }]]),
  };
  const c = await w.node.addPod('c');
  await mustAdd(t, w, c, other, { containerId: 'a' });
  const log = join(w.dir, 'gc.log');
  const gcConf = {
    ...conf,
    cniVersion: '1.1.0',
    ipam: { type: 'cts-ipam-static' },
    'cni.dev/valid-attachments': [{ containerID: 'b', ifname: 'eth0' }],
  };
  const gc = await run(w, 'GC', '', gcConf, { env: { CTS_IPAM_LOG: log } });
  t.is(gc.exitCode, 0, gc.stdout);
  t.is(gc.stdout, '');
  t.regex(readFileSync(log, 'utf8'), /^GC /);
  const rules = await natRules(w.node.node);
  t.false(
    rules.some((l) => l.includes('name: \\"podnet\\" id: \\"a\\"')),
    "a's chain is gone",
  );
  t.is(rules.filter((l) => l.includes('name: \\"podnet\\" id: \\"b\\"')).length, 3, "b's rules stay");
  t.is(rules.filter((l) => l.includes('name: \\"othernet\\" id: \\"a\\"')).length, 3, 'other networks are untouched');
  const status = await run(w, 'STATUS', '', gcConf, { env: { CTS_IPAM_LOG: log } });
  t.is(status.exitCode, 0);
  t.regex(readFileSync(log, 'utf8'), /\nSTATUS /);
});
