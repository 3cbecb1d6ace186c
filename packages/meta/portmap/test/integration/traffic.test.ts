// hostPorts end to end through the built executables: the seed's conflist shape (our bridge and
// host-local, then portmap with the portMappings capability, cniVersion 0.4.0) in a node netns.
// A listener in pod a is reached at nodeIP:hostPort from an outside client (keeping its source
// address), from pod b and from pod a itself (hairpin, masqueraded), and at 127.0.0.1:hostPort
// from the node; IPv4 and IPv6; with kube-proxy's KUBE-MARK-MASQ, with our own mark chain, and
// with the nftables backend. CHECK passes, DEL leaves no rule of the pods behind.
import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import { CniRuntime, binDir } from '@cni-ts/testutils';
import {
  CLIENT_IP,
  GO,
  NODE_IP,
  type World,
  addPod,
  conflist,
  dial,
  dropWorld,
  kubeProxyChains,
  makeWorld,
  mapping,
  rulesOf,
  serve,
  settled,
  worldTest,
} from './kit.js';

const test = worldTest(anyTest as TestFn<{ w: World }>, 'pmt', 'portmap traffic');

// nftables masquerades only a pod reaching itself (and 127.0.0.1), as upstream's nft layout does;
// iptables masquerades every pod of the subnet, so another pod is seen as the gateway there.
async function reachAll(t: ExecutionContext, w: World, list: ReturnType<typeof conflist>, subnetMasq: boolean) {
  const a = await addPod(w, list, 'a', [mapping(8080, 80), mapping(8053, 53, 'udp')]);
  const b = await addPod(w, list, 'b', []);
  await serve(w, a.pod, 'pod-a', 80);
  await serve(w, a.pod, 'pod-a', 53);
  await settled(w);
  for (const f of [4, 6] as const) {
    t.is(
      await dial(w.client, 'tcp', NODE_IP[f], 8080),
      `pod-a ${CLIENT_IP[f]}`,
      `client → node:8080 IPv${f} keeps its address`,
    );
    t.is(await dial(w.client, 'udp', NODE_IP[f], 8053), `pod-a ${CLIENT_IP[f]}`, `client → node:8053/udp IPv${f}`);
    const gw = f === 4 ? '10.22.0.1' : 'fd00:22::1';
    const bAddr = subnetMasq ? gw : f === 4 ? '10.22.0.3' : 'fd00:22::3';
    t.is(await dial(b.pod, 'tcp', NODE_IP[f], 8080), `pod-a ${bAddr}`, `pod b → node:8080 IPv${f}`);
    t.is(
      await dial(a.pod, 'tcp', NODE_IP[f], 8080),
      `pod-a ${gw}`,
      `pod a → itself through node:8080 IPv${f} (hairpin)`,
    );
  }
  t.regex(await dial(w.node.node, 'tcp', '127.0.0.1', 8080), /^pod-a 10\.22\.0\.1$/, 'node → 127.0.0.1:8080');
  t.regex(await dial(w.client, 'tcp', NODE_IP[4], 8081, undefined, 500), /^ERR/, 'an unmapped port is not forwarded');
  await w.rt.check(list, a.a);
  await w.rt.del(list, a.a);
  await w.rt.del(list, b.a);
  t.regex(await dial(w.client, 'tcp', NODE_IP[4], 8080, undefined, 500), /^ERR/, 'nothing after DEL');
}

test('iptables with kube-proxy’s KUBE-MARK-MASQ (externalSetMarkChain): every path, both families', async (t) => {
  const { w } = t.context;
  await kubeProxyChains(w.node.node);
  const before = { 4: await rulesOf(w.node.node, 4), 6: await rulesOf(w.node.node, 6) };
  await reachAll(t, w, conflist(w, { externalSetMarkChain: 'KUBE-MARK-MASQ' }), true);
  for (const f of [4, 6] as const) {
    const after = await rulesOf(w.node.node, f);
    t.deepEqual(
      after.filter((l) => !before[f].includes(l)),
      [
        '-A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT',
        '-A OUTPUT -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT',
      ],
      `IPv${f}: only the shared entry rules stay after DEL; no SETMARK/MASQ chains with an external mark chain`,
    );
  }
});

test('iptables with our own mark chain (markMasqBit 13), IPv4 localhost through route_localnet', async (t) => {
  const { w } = t.context;
  await reachAll(t, w, conflist(w), true);
  t.is((await w.node.node.exec('sysctl', ['-n', 'net.ipv4.conf.cni0.route_localnet'])).trim(), '1');
  t.false(
    (await rulesOf(w.node.node, 4)).some((l) => l.includes('CNI-DN-')),
    'no per-pod rule left',
  );
  t.true((await rulesOf(w.node.node, 4, 'filter')).some((l) => l.startsWith('-A CNI-HOSTPORT-LOCALNET')));
});

test('nftables backend: every path, both families; DEL leaves the tables without a pod rule', async (t) => {
  const { w } = t.context;
  await reachAll(t, w, conflist(w, { backend: 'nftables' }), false);
  const ruleset = await w.node.node.exec('nft', ['list', 'ruleset']);
  t.false(/comment "a"|comment "b"/.test(ruleset), ruleset);
  t.regex(ruleset, /table ip cni_hostport[\s\S]*chain hostports \{\s*\}/);
  t.false(
    (await rulesOf(w.node.node, 4)).some((l) => l.includes('CNI-')),
    'nothing in iptables',
  );
});

for (const backend of ['iptables', 'nftables'] as const) {
  test(`${backend}: UDP keeps working after the mapping moves to another pod: stale conntrack entries are deleted on DEL and ADD`, async (t) => {
    const { w } = t.context;
    const list = conflist(w, { backend }, false);
    const a = await addPod(w, list, 'a', [mapping(5353, 53, 'udp')]);
    await serve(w, a.pod, 'pod-a', 53);
    t.is(await dial(w.client, 'udp', NODE_IP[4], 5353, 40000), `pod-a ${CLIENT_IP[4]}`);
    const entries = async () =>
      (await w.node.node.exec('conntrack', ['-L', '-p', 'udp', '--orig-port-dst', '5353'])).trim();
    t.regex(await entries(), /src=10\.22\.0\.2 /, 'the flow is tracked, answered by pod a');
    await w.rt.del(list, a.a);
    t.notRegex(await entries(), /src=10\.22\.0\.2 /, 'DEL deleted the flow that led to the gone pod');
    const b = await addPod(w, list, 'b', [mapping(5353, 53, 'udp')]);
    await serve(w, b.pod, 'pod-b', 53);
    t.is(
      await dial(w.client, 'udp', NODE_IP[4], 5353, 40000),
      `pod-b ${CLIENT_IP[4]}`,
      'the same client flow reaches b',
    );
    await w.rt.del(list, b.a);
  });
}

// A pod that sends to 127.0.0.1 through the node, as anything on cni0 can once route_localnet is
// on there; returns the peers a UDP service bound to 127.0.0.1 on the node heard from.
async function localnetProbe(w: World, rt: CniRuntime): Promise<string[]> {
  const list = conflist(w, {}, false);
  const pod = await w.node.addPod('a');
  const a = {
    containerId: 'a',
    netns: pod.path,
    ifname: 'eth0',
    capabilityArgs: { portMappings: [mapping(8080, 80)] },
  };
  const result = await rt.add(list, a);
  const ip = String(result.ips[0].address).split('/')[0]!;
  const heard = await serve(w, w.node.node, 'node-lo', 9998, '127.0.0.1');
  await pod.exec('ip', ['route', 'del', '127.0.0.0/8', 'dev', 'lo', 'table', 'local']);
  await pod.exec('ip', ['route', 'del', 'local', '127.0.0.1', 'dev', 'lo', 'table', 'local']);
  await pod.exec('ip', ['route', 'add', '127.0.0.1/32', 'via', '10.22.0.1', 'dev', 'eth0', 'src', ip]);
  await pod.exec('sysctl', ['-qw', 'net.ipv4.conf.eth0.route_localnet=1']);
  await dial(pod, 'udp', '127.0.0.1', 9998, undefined, 500);
  await rt.del(list, a);
  return heard();
}

test('127/8 guard: with Go v1.1.1 a pod reaches a node service bound to 127.0.0.1 (upstream #481); with ours it does not', async (t) => {
  t.deepEqual(await localnetProbe(t.context.w, t.context.w.rt), [], 'ours: the datagram is dropped');
  const g = await makeWorld('pmg');
  try {
    const goBin = join(g.dir, 'go-bin');
    mkdirSync(goBin);
    symlinkSync(GO, join(goBin, 'portmap'));
    const goRt = new CniRuntime({ cniPath: [goBin, binDir], inNetns: g.node.node.name });
    t.deepEqual(await localnetProbe(g, goRt), ['10.22.0.2'], 'Go: the service on 127.0.0.1 got it');
  } finally {
    await dropWorld(g);
  }
});
