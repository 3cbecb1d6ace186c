// Differential tests: our dist/bin/bridge against Debian's Go bridge v1.1.1 (/usr/lib/cni/bridge)
// with the same config, each in its own node netns with one pod. The resulting links, addresses,
// routes, sysctls, iptables and nft rules in node and pod must match (random veth names and MACs
// aside), and the results must have the same shape per cniVersion. Where we differ on purpose,
// the test asserts both sides of the difference. Go v1.1.1 speaks cniVersion up to 1.0.0 and
// knows neither ipMasqBackend, portIsolation, vlanTrunk nor preserveDefaultVlan, so those are
// compared nowhere here (they have their own integration tests). Each bridge delegates to its
// own host-local (ours to dist/bin, Go's to /usr/lib/cni), as on a node that switched wholesale;
// one test runs our bridge with Go's host-local.
import anyTest, { type TestFn } from 'ava';
import { existsSync } from 'node:fs';
import { type Netns, rootTest } from '@cni-ts/testutils';
import {
  GO,
  GO_IPAM_DIR,
  OURS,
  type World,
  dropWorld,
  linkNames,
  links,
  makeWorld,
  natRules,
  netConf,
  nftRules,
  reservations,
  run,
  sysctls,
} from './kit.js';

const test = rootTest(anyTest as TestFn<{ ours: World; go: World }>, 'bridge differential');

test.before((t) => {
  if (!existsSync(GO)) t.fail(`${GO} is missing: install Debian's containernetworking-plugins (.ci/run does)`);
});
test.beforeEach(async (t) => {
  t.context.ours = await makeWorld('dfo');
  t.context.go = await makeWorld('dfg');
});
test.afterEach.always(async (t) => {
  await dropWorld(t.context.ours);
  await dropWorld(t.context.go);
});

const VETH = /veth[0-9a-f]{8}/g;
const MAC = /\b[0-9a-f]{2}(:[0-9a-f]{2}){5}\b/g;
const VOLATILE = /timer|_id$|^designated_|^id$|^no$|^bridge_id|^root_/;

function stable(o: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (!o) return undefined;
  return Object.fromEntries(Object.entries(o).filter(([k]) => !VOLATILE.test(k)));
}

/** A link with names and random values made neutral. */
function normLink(l: any) {
  return {
    name: String(l.ifname).replace(VETH, 'veth*'),
    kind: l.linkinfo?.info_kind,
    flags: [...l.flags].sort(),
    mtu: l.mtu,
    master: l.master,
    operstate: l.operstate,
    txqlen: l.txqlen ?? 0,
    promiscuity: l.promiscuity,
    data: stable(l.linkinfo?.info_data),
    port: stable(l.linkinfo?.info_slave_data),
    addrs: (l.addr_info ?? [])
      .filter((a: any) => a.scope !== 'link')
      .map(
        (a: any) =>
          `${a.local}/${a.prefixlen}${a.broadcast ? ` brd ${a.broadcast}` : ''}${a.tentative ? ' tentative' : ''}`,
      ),
  };
}

async function routes(ns: Netns): Promise<string[]> {
  const out: string[] = [];
  for (const fam of ['-4', '-6']) {
    for (const r of await ns.ipJson<any[]>([fam, 'route', 'show', 'table', 'all'])) {
      const line = `${r.type ?? 'unicast'} ${r.dst} via ${r.gateway ?? '-'} dev ${r.dev} table ${r.table ?? 'main'} proto ${r.protocol ?? '-'} scope ${r.scope ?? '-'} metric ${r.metric ?? '-'}`;
      out.push(line.replace(VETH, 'veth*').replace(/fe80::[0-9a-f:]+/g, 'fe80::*'));
    }
  }
  return out.sort();
}

const POD_SYSCTLS = [
  'net/ipv6/conf/eth0/accept_dad',
  'net/ipv6/conf/eth0/enhanced_dad',
  'net/ipv4/conf/eth0/arp_notify',
  'net/ipv6/conf/eth0/disable_ipv6',
  'net/ipv6/conf/lo/disable_ipv6',
  'net/ipv6/conf/eth0/keep_addr_on_down',
];

/** Everything the plugin may have changed, neutral of random names. */
async function state(w: World, pod: Netns, result: any) {
  const veth = result?.interfaces?.[1]?.name ?? 'none';
  const node = await sysctls(w.node.node, [
    'net/ipv4/ip_forward',
    'net/ipv6/conf/all/forwarding',
    'net/ipv6/conf/cni0/accept_ra',
    `net/ipv6/conf/${veth}/accept_ra`,
  ]);
  return {
    nodeLinks: (await links(w.node.node)).map(normLink).sort((a, b) => a.name.localeCompare(b.name)),
    podLinks: (await links(pod)).map(normLink),
    nodeRoutes: await routes(w.node.node),
    podRoutes: await routes(pod),
    nodeSysctls: Object.values(node),
    podSysctls: await sysctls(pod, POD_SYSCTLS),
    nat4: await natRules(w.node.node, 4),
    nat6: await natRules(w.node.node, 6),
    nft: (await nftRules(w.node.node))
      .replace(VETH, 'veth*')
      .replace(MAC, 'MAC')
      .split('\n')
      .filter((l) => !l.startsWith('# Warning'))
      .join('\n'),
  };
}

/**
 * Reads both states until they agree or 4 s pass, and returns the last reads: IPv6 DAD on the
 * bridge and a port-less bridge losing carrier settle asynchronously, and the two plugins finish
 * at different moments. A lasting difference still fails the comparison.
 */
async function settledStates(
  o: { w: World; pod: Netns; r: any },
  g: { w: World; pod: Netns; r: any },
  fix: (o: any, g: any) => void = () => {},
) {
  for (let i = 0; ; i++) {
    const so = await state(o.w, o.pod, o.r);
    const sg = await state(g.w, g.pod, g.r);
    fix(so, sg);
    if (i >= 40 || JSON.stringify(so) === JSON.stringify(sg)) return [so, sg];
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A result with random values neutral; Go v1.1.1's empty 1.x dns dropped as newer libcni does. */
function normResult(r: any, pod: Netns): any {
  const j = JSON.parse(
    JSON.stringify(r ?? null)
      .replaceAll(pod.path, '<netns>')
      .replace(VETH, 'veth*')
      .replace(MAC, 'MAC'),
  );
  if (j && String(j.cniVersion).startsWith('1.') && j.dns && Object.keys(j.dns).length === 0) delete j.dns;
  return j;
}

/** Runs ADD with the same config under both plugins (each with its own host-local unless `oursIpam`); returns results and states. */
async function both(t: any, config: (w: World) => Record<string, unknown>, oursIpam?: string) {
  const out: Record<'ours' | 'go', { w: World; pod: Netns; r: any; s: any; conf: Record<string, unknown> }> = {} as any;
  for (const side of ['ours', 'go'] as const) {
    const w = t.context[side] as World;
    const pod = await w.node.addPod('pod');
    const conf = config(w);
    const add = await run(w, 'ADD', pod, conf, {
      plugin: side === 'ours' ? OURS : GO,
      ...(side === 'ours' && oursIpam ? { cniPath: [oursIpam] } : {}),
    });
    t.is(add.exitCode, 0, `${side} ADD: ${add.stdout}${add.stderr}`);
    out[side] = { w, pod, r: add.json, s: await state(w, pod, add.json), conf };
  }
  return out;
}

/** Our veths keep the kernel's txqueuelen (1000); Go v1.1.1's netlink sets 0. Asserts it, then evens it out. */
function evenTxqlen(t: any, o: any, g: any) {
  for (const [ours, go] of [
    [o.nodeLinks, g.nodeLinks],
    [o.podLinks, g.podLinks],
  ] as const) {
    for (const [i, l] of ours.entries()) {
      if (l.kind !== 'veth') continue;
      t.is(l.txqlen, 1000, `our ${l.name} txqlen`);
      t.is(go[i]?.txqlen, 0, `Go's ${go[i]?.name} txqlen`);
      go[i].txqlen = 1000;
    }
  }
}

const SCENARIOS: Array<[string, (w: World) => Record<string, unknown>, boolean?]> = [
  ['IPv4 gateway + ipMasq', (w) => netConf(w, { isGateway: true, ipMasq: true })],
  [
    'IPv4 default gateway, hairpin, mtu, MAC',
    (w) =>
      netConf(w, { isDefaultGateway: true, hairpinMode: true, mtu: 1400, runtimeConfig: { mac: '0a:58:0a:16:00:42' } }),
  ],
  ['promiscuous bridge, forceAddress', (w) => netConf(w, { isGateway: true, promiscMode: true, forceAddress: true })],
  ['macspoofchk', (w) => netConf(w, { isGateway: true, macspoofchk: true })],
  [
    'dual-stack default gateway + ipMasq',
    (w) =>
      netConf(w, { isDefaultGateway: true, ipMasq: true }, [
        [{ subnet: '10.22.0.0/24' }],
        [{ subnet: 'fd00:22::/64' }],
      ]),
    true,
  ],
  [
    'IPv6 only with enabledad',
    (w) => netConf(w, { isGateway: true, enabledad: true }, [[{ subnet: 'fd00:22::/64' }]]),
    true,
  ],
  ['L2 only', () => ({ cniVersion: '1.0.0', name: 'l2net', type: 'bridge', bridge: 'br-l2' })],
];

for (const [name, config, v6] of SCENARIOS) {
  test(`same kernel state and result as Go: ${name}`, async (t) => {
    const { ours: o, go: g } = await both(t, config);
    const known = (so: any, sg: any) => {
      evenTxqlen(t, so, sg);
      if (v6) {
        // keep_addr_on_down=1 came with upstream v1.7.0; Debian's v1.1.1 predates it
        t.is(so.podSysctls['net/ipv6/conf/eth0/keep_addr_on_down'], '1');
        t.is(sg.podSysctls['net/ipv6/conf/eth0/keep_addr_on_down'], '0');
        sg.podSysctls['net/ipv6/conf/eth0/keep_addr_on_down'] = '1';
      }
    };
    const [so, sg] = await settledStates(o, g, known);
    t.deepEqual(so, sg);
    t.deepEqual(normResult(o.r, o.pod), normResult(g.r, g.pod));

    for (const side of [o, g]) {
      const del = await run(
        side.w,
        'DEL',
        side.pod,
        { ...side.conf, prevResult: side.r },
        { plugin: side === o ? OURS : GO },
      );
      t.is(del.exitCode, 0, del.stdout);
    }
    const [ao, ag] = await settledStates(o, g);
    t.deepEqual(ao, ag, 'after DEL');
    t.deepEqual(await linkNames(o.pod), ['lo']);
  });
}

for (const v of ['0.3.1', '0.4.0', '1.0.0']) {
  test(`results have the same shape as Go's for cniVersion ${v}; CHECK agrees`, async (t) => {
    const { ours: o, go: g } = await both(t, (w) =>
      netConf(w, { cniVersion: v, isDefaultGateway: true, ipMasq: true }),
    );
    t.deepEqual(normResult(o.r, o.pod), normResult(g.r, g.pod));
    t.is(o.r.cniVersion, v);
    if (v.startsWith('0.')) {
      t.deepEqual(Object.keys(o.r), Object.keys(g.r), 'struct order, as Go prints 0.x results');
      t.deepEqual(Object.keys(o.r.ips[0]), Object.keys(g.r.ips[0]));
    } else {
      // newer libcni (plugins ≥ v1.6.0) sorts 1.x keys; Debian's v1.1.1 prints struct order
      t.deepEqual(Object.keys(o.r), [...Object.keys(o.r)].sort());
      t.deepEqual(new Set(Object.keys(o.r)), new Set(Object.keys(g.r).filter((k) => k !== 'dns')));
    }
    if (v !== '0.3.1') {
      const co = await run(o.w, 'CHECK', o.pod, { ...o.conf, prevResult: o.r });
      const cg = await run(g.w, 'CHECK', g.pod, { ...g.conf, prevResult: g.r }, { plugin: GO });
      t.deepEqual([co.exitCode, cg.exitCode], [0, 0], co.stdout + cg.stdout);
    }
  });
}

test("our bridge delegating to Go's host-local (a node that replaced only bridge) matches Go's bridge", async (t) => {
  const { ours: o, go: g } = await both(
    t,
    (w) =>
      netConf(w, { isDefaultGateway: true, ipMasq: true }, [
        [{ subnet: '10.22.0.0/24' }],
        [{ subnet: 'fd00:22::/64' }],
      ]),
    GO_IPAM_DIR,
  );
  t.deepEqual(normResult(o.r, o.pod), normResult(g.r, g.pod));
  const co = await run(o.w, 'CHECK', o.pod, { ...o.conf, prevResult: o.r }, { cniPath: [GO_IPAM_DIR] });
  t.is(co.exitCode, 0, co.stdout);
  const del = await run(o.w, 'DEL', o.pod, { ...o.conf, prevResult: o.r }, { cniPath: [GO_IPAM_DIR] });
  t.is(del.exitCode, 0, del.stdout);
  t.deepEqual(reservations(o.w), [], "Go's host-local released the addresses");
  t.deepEqual(await natRules(o.w.node.node), []);
});

test('known difference: CHECK of an L2-only network passes for us and fails for Go ("no plugin name provided")', async (t) => {
  const { ours: o, go: g } = await both(t, () => ({
    cniVersion: '1.0.0',
    name: 'l2net',
    type: 'bridge',
    bridge: 'br-l2',
  }));
  const co = await run(o.w, 'CHECK', o.pod, { ...o.conf, prevResult: o.r });
  const cg = await run(g.w, 'CHECK', g.pod, { ...g.conf, prevResult: g.r }, { plugin: GO });
  t.is(co.exitCode, 0, co.stdout);
  t.is(cg.exitCode, 1);
  t.regex(cg.json.msg, /no plugin name provided/);
});

test('known difference: DEL after the netns is gone — Go leaks the masquerade rules (plugins#810), we remove them', async (t) => {
  const { ours: o, go: g } = await both(t, (w) => netConf(w, { isGateway: true, ipMasq: true }));
  for (const side of [o, g]) {
    await side.w.node.removePod(side.pod);
    const del = await run(
      side.w,
      'DEL',
      side.pod,
      { ...side.conf, prevResult: side.r },
      { plugin: side === o ? OURS : GO },
    );
    t.is(del.exitCode, 0, del.stdout);
    t.deepEqual(reservations(side.w), [], 'both release the address');
  }
  t.deepEqual(await natRules(o.w.node.node), []);
  t.is((await natRules(g.w.node.node)).length, 4, "Go's chain and jump are still there");
});

test('known difference: an ADD that fails after the veth exists — Go leaves the veth behind, we leave nothing', async (t) => {
  const out: Record<string, { node: string[]; pod: string[]; code: number }> = {};
  for (const side of ['ours', 'go'] as const) {
    const w = t.context[side];
    const pod = await w.node.addPod('pod');
    const conf = netConf(w, { isGateway: true });
    (conf.ipam as any).routes = [{ dst: '10.99.0.0/16', gw: '192.168.77.1' }];
    const r = await run(w, 'ADD', pod, conf, { plugin: side === 'ours' ? OURS : GO });
    out[side] = {
      node: (await linkNames(w.node.node)).map((n) => n.replace(VETH, 'veth*')),
      pod: await linkNames(pod),
      code: r.exitCode,
    };
    t.deepEqual(reservations(w), [], `${side} releases the address`);
  }
  t.deepEqual([out.ours!.code, out.go!.code], [1, 1]);
  t.deepEqual(out.ours!.node, ['lo', 'cni0']);
  t.deepEqual(out.ours!.pod, ['lo']);
  t.deepEqual(out.go!.node, ['lo', 'cni0', 'veth*']);
  t.deepEqual(out.go!.pod, ['lo', 'eth0']);
});
