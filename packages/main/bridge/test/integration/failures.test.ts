// Nothing left behind: ADD that fails (IPAM, a conflicting address, the kernel, the rules)
// undoes all it did, and DEL after the sandbox is gone still removes every rule.
import anyTest, { type TestFn } from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Netns } from '@cni-ts/testutils';
import {
  IPAM_DIR,
  type World,
  worldTest,
  addrsOf,
  linkNames,
  links,
  mustAdd,
  natRules,
  netConf,
  nftRules,
  reservations,
  run,
} from './kit.js';

const test = worldTest(anyTest as TestFn<{ w: World }>, 'bf', 'bridge failure integration');

/** Asserts the node has no veth, the pod only lo, no rules, no reservation. */
async function nothingLeft(t: any, w: World, pod: Netns, network = 'podnet') {
  t.deepEqual(
    (await linkNames(w.node.node)).filter((n) => n.startsWith('veth')),
    [],
    'no veth in the node',
  );
  t.deepEqual(await linkNames(pod), ['lo'], 'nothing in the pod');
  t.deepEqual(await natRules(w.node.node, 4), [], 'no iptables rules');
  t.deepEqual(await natRules(w.node.node, 6), [], 'no ip6tables rules');
  t.notRegex(await nftRules(w.node.node), /cni-br-iface|masquerade comment/, 'no nft rules');
  t.deepEqual(reservations(w, network), [], 'no IPAM reservation');
}

/** The nat lines of one container: its chain's declaration and every rule that names it or jumps to it. */
function rulesOf(lines: string[], id: string): string[] {
  const chain = lines.find((l) => l.startsWith('-A POSTROUTING') && l.includes(`id: \\"${id}\\"`))?.split(' -j ')[1];
  if (!chain) return [];
  return lines.filter((l) => l.startsWith(`:${chain} `) || l.includes(`id: \\"${id}\\"`));
}

for (const v of ['0.1.0', '0.2.0']) {
  test(`an L2-only network at cniVersion ${v} is refused (code 1) before anything is created`, async (t) => {
    const { w } = t.context;
    const a = await w.node.addPod('a');
    const r = await run(w, 'ADD', a, { cniVersion: v, name: 'l2net', type: 'bridge', bridge: 'cni0' });
    t.is(r.exitCode, 1);
    t.deepEqual([r.json.code, r.json.msg], [1, `cannot convert result to version ${v}: no valid IP addresses`]);
    t.deepEqual(await linkNames(w.node.node), ['lo'], 'not even the bridge');
    t.deepEqual(await linkNames(a), ['lo']);
  });
}

for (const [mangle, code] of [
  ['garbage', 6],
  ['crash', 999],
] as const) {
  test(`host-local's reservation is released when its answer is ${mangle === 'garbage' ? 'not a result' : 'a crash'} (code ${code})`, async (t) => {
    const { w } = t.context;
    const a = await w.node.addPod('a');
    const log = join(w.dir, 'ipam.log');
    const conf = netConf(w, { isGateway: true, ipMasq: true });
    (conf.ipam as any).type = 'cts-ipam-mangle';
    const r = await run(w, 'ADD', a, conf, {
      env: { CTS_IPAM_LOG: log, CTS_IPAM_MANGLE: mangle, CTS_IPAM_REAL: join(IPAM_DIR, 'host-local') },
    });
    t.is(r.exitCode, 1);
    t.is(r.json.code, code, r.stdout);
    t.is(readFileSync(log, 'utf8'), 'ADD ctr1 0\nDEL ctr1 0\n', 'host-local reserved, then released');
    await nothingLeft(t, w, a);
  });
}

test('ADD with a failing IPAM changes nothing at all and passes the IPAM error on', async (t) => {
  const { w } = t.context;
  const a = await w.node.addPod('a');
  const log = join(w.dir, 'ipam.log');
  const r = await run(
    w,
    'ADD',
    a,
    netConf(w, { isGateway: true, ipMasq: true, macspoofchk: true, ipam: { type: 'cts-ipam-fail' } }),
    { env: { CTS_IPAM_LOG: log } },
  );
  t.is(r.exitCode, 1);
  t.deepEqual([r.json.code, r.json.msg], [11, 'no IP addresses available in range set']);
  t.deepEqual(await linkNames(w.node.node), ['lo'], 'not even the bridge');
  await nothingLeft(t, w, a);
  t.is(readFileSync(log, 'utf8'), 'ADD ctr1\n', 'a failed reservation is not released');
});

test('ADD when host-local runs out of addresses leaves nothing for that pod', async (t) => {
  const { w } = t.context;
  const conf = netConf(w, { isGateway: true, ipMasq: true }, [
    [{ subnet: '10.22.0.0/24', rangeStart: '10.22.0.2', rangeEnd: '10.22.0.2' } as any],
  ]);
  const a = await w.node.addPod('a');
  const b = await w.node.addPod('b');
  await mustAdd(t, w, a, conf, { containerId: 'a' });
  const before = await natRules(w.node.node);
  const r = await run(w, 'ADD', b, conf, { containerId: 'b' });
  t.is(r.exitCode, 1);
  t.regex(r.json.msg, /no IP addresses available/);
  t.deepEqual(await linkNames(b), ['lo']);
  t.is((await linkNames(w.node.node)).filter((n) => n.startsWith('veth')).length, 1, "only a's veth");
  t.deepEqual(await natRules(w.node.node), before);
  t.deepEqual(reservations(w), ['10.22.0.2']);
});

test('ADD onto a bridge that has another address: code 7 naming it, nothing created, reservation released; forceAddress replaces it', async (t) => {
  const { w } = t.context;
  await w.node.node.exec('ip', ['link', 'add', 'cni0', 'type', 'bridge']);
  await w.node.node.exec('ip', ['addr', 'add', '10.99.0.1/16', 'dev', 'cni0']);
  const a = await w.node.addPod('a');
  const conf = netConf(w, { isGateway: true, ipMasq: true });
  const r = await run(w, 'ADD', a, conf);
  t.is(r.exitCode, 1);
  t.deepEqual([r.json.code, r.json.msg], [7, '"cni0" already has an IP address different from 10.22.0.1/24']);
  await nothingLeft(t, w, a);
  const [br] = (await links(w.node.node)).filter((l) => l.ifname === 'cni0');
  t.deepEqual(addrsOf(br), ['10.99.0.1/16'], 'the bridge is untouched');
  await mustAdd(t, w, a, { ...conf, forceAddress: true });
  const [after] = (await links(w.node.node)).filter((l) => l.ifname === 'cni0');
  t.deepEqual(addrsOf(after), ['10.22.0.1/24']);
});

test("ADD onto a link with the bridge's name that is not a bridge is refused before IPAM", async (t) => {
  const { w } = t.context;
  await w.node.node.exec('ip', ['link', 'add', 'cni0', 'type', 'veth', 'peer', 'name', 'cni0p']);
  const a = await w.node.addPod('a');
  const r = await run(w, 'ADD', a, netConf(w));
  t.deepEqual([r.json.code, r.json.msg], [7, '"cni0" already exists but is not a bridge']);
  await nothingLeft(t, w, a);
});

test('a failure after the veth exists (a route the kernel refuses) removes the veth and releases the address', async (t) => {
  const { w } = t.context;
  const a = await w.node.addPod('a');
  const conf = netConf(w, { isGateway: true, ipMasq: true, macspoofchk: true });
  (conf.ipam as any).routes = [{ dst: '10.99.0.0/16', gw: '192.168.77.1' }];
  const r = await run(w, 'ADD', a, conf);
  t.is(r.exitCode, 1);
  t.regex(
    r.json.msg,
    /^failed to configure eth0 in .*: ip route add 10\.99\.0\.0\/16 via 192\.168\.77\.1 dev eth0 .*Nexthop has invalid gateway/,
  );
  await nothingLeft(t, w, a);
});

test('a failure in the last step (masquerade) also removes the spoof check set up before it', async (t) => {
  const { w } = t.context;
  // a foreign chain named like ours with another type makes the nft masquerade transaction fail
  await w.node.node.exec('nft', ['add table inet cni_plugins_masquerade']);
  await w.node.node.exec('nft', [
    'add chain inet cni_plugins_masquerade postrouting { type filter hook postrouting priority 0 ; }',
  ]);
  const a = await w.node.addPod('a');
  const r = await run(
    w,
    'ADD',
    a,
    netConf(w, { isGateway: true, ipMasq: true, ipMasqBackend: 'nftables', macspoofchk: true }),
  );
  t.is(r.exitCode, 1);
  // the message names the script line nft refused
  t.regex(
    r.json.msg,
    /^failed to set up masquerading: nft add chain inet cni_plugins_masquerade postrouting \{ type nat .*: Error: .*Operation not supported/,
  );
  await nothingLeft(t, w, a);
});

for (const withPrev of [true, false]) {
  test(`DEL after the netns is gone leaves no rule (${withPrev ? 'with' : 'without'} prevResult): masquerade and spoof check`, async (t) => {
    const { w } = t.context;
    const conf = netConf(w, { isGateway: true, ipMasq: true, macspoofchk: true });
    const a = await w.node.addPod('a');
    const b = await w.node.addPod('b');
    const ra = await mustAdd(t, w, a, conf, { containerId: 'a' });
    await mustAdd(t, w, b, conf, { containerId: 'b' });
    const bRules = rulesOf(await natRules(w.node.node), 'b');
    t.is(bRules.length, 4, "b's chain and its three rules");
    await w.node.removePod(a);
    const del = await run(w, 'DEL', a, withPrev ? { ...conf, prevResult: ra } : conf, { containerId: 'a' });
    t.is(del.exitCode, 0, del.stdout);
    t.deepEqual(await natRules(w.node.node), bRules, "a's chain and rules are gone, b's are as they were");
    const nft = await nftRules(w.node.node);
    t.notRegex(nft, /macspoofchk-a-eth0/);
    t.regex(nft, /macspoofchk-b-eth0/);
    t.deepEqual(reservations(w), ['10.22.0.3']);
    t.is((await run(w, 'DEL', a, conf, { containerId: 'a' })).exitCode, 0, 'and again');
  });
}

test('DEL with an empty CNI_NETNS (the runtime lost it) also removes the rules', async (t) => {
  const { w } = t.context;
  const conf = netConf(w, { isGateway: true, ipMasq: true });
  const a = await w.node.addPod('a');
  await mustAdd(t, w, a, conf);
  await w.node.removePod(a);
  const del = await run(w, 'DEL', '', conf);
  t.is(del.exitCode, 0, del.stdout);
  t.deepEqual(await natRules(w.node.node), []);
});

for (const [what, change] of [
  ['an unknown ipMasqBackend', { ipMasqBackend: 'xdp' }],
  ['hairpinMode with promiscMode and a bad mtu', { hairpinMode: true, promiscMode: true, mtu: 10 }],
  ['broken ranges and a switch written as a string', { ipMasq: 'yes', ipamRanges: [[{ subnet: 'nonsense' }]] }],
] as const) {
  test(`DEL after the config changed to ${what} removes the veth, the rules and the reservation; again, and without the netns`, async (t) => {
    const { w } = t.context;
    const conf = netConf(w, { isGateway: true, ipMasq: true, macspoofchk: true });
    const a = await w.node.addPod('a');
    const b = await w.node.addPod('b');
    const ra = await mustAdd(t, w, a, conf, { containerId: 'a' });
    await mustAdd(t, w, b, conf, { containerId: 'b' });
    const { ipamRanges, ...rest } = change as Record<string, unknown>;
    const changed = { ...conf, ...rest } as Record<string, any>;
    if (ipamRanges) changed.ipam = { ...changed.ipam, ranges: ipamRanges };
    t.is((await run(w, 'ADD', a, changed, { containerId: 'x' })).json?.code, 7, 'ADD refuses this config');
    const del = await run(w, 'DEL', a, { ...changed, prevResult: ra }, { containerId: 'a' });
    t.is(del.exitCode, 0, del.stdout);
    t.regex(del.stderr, /the configuration no longer validates/);
    t.deepEqual(await linkNames(a), ['lo']);
    t.false((await natRules(w.node.node)).some((l) => l.includes('id: \\"a\\"')));
    t.notRegex(await nftRules(w.node.node), /macspoofchk-a-eth0/);
    t.regex(await nftRules(w.node.node), /macspoofchk-b-eth0/, "b's spoof check stays");
    t.deepEqual(reservations(w), ['10.22.0.3'], "only b's address is left");
    t.is((await run(w, 'DEL', a, changed, { containerId: 'a' })).exitCode, 0, 'a second DEL');
    await w.node.removePod(b);
    const delB = await run(w, 'DEL', b, changed, { containerId: 'b' });
    t.is(delB.exitCode, 0, delB.stdout);
    t.deepEqual(await natRules(w.node.node), [], 'b removed without its netns and without prevResult');
    t.notRegex(await nftRules(w.node.node), /macspoofchk-/);
    t.deepEqual(reservations(w), []);
  });
}
