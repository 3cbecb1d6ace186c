// The iptables plan, pinned against what Debian's Go portmap v1.1.1 left in iptables-save for the
// same ADD (test/fixtures/go-v1.1.1-*.save, captured from /usr/lib/cni/portmap), and golden text
// for the cases the fixture does not cover.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { type Change, parseSave, renderRestore } from '@cni-ts/iptables';
import { type Context, decodeNetConf } from '@cni-ts/skel';
import {
  type ContainerNet,
  type PortmapConf,
  chainsOf,
  checkSetup,
  containerNets,
  dnatChainName,
  jumpComment,
  markOf,
  oldSnatChainName,
  planCreate,
  planGc,
  planSetup,
  planTeardown,
  setupProblem,
  udpForwards,
} from '../src/index.js';
import { loadConfNow } from '../src/config-schema.js';
import { EMPTY_SAVE, fixture } from './helpers.js';

function conf(extra: Record<string, unknown>): PortmapConf {
  const stdin = JSON.stringify({ cniVersion: '1.0.0', name: 'podnet', type: 'portmap', ...extra });
  return loadConfNow({ conf: decodeNetConf(stdin) } as Context);
}
const GO_CONF = JSON.parse(fixture('go-v1.1.1-dualstack.conf.json'));
const GO = {
  4: parseSave(fixture('go-v1.1.1-dualstack-ipv4.save'), 'nat'),
  6: parseSave(fixture('go-v1.1.1-dualstack-ipv6.save'), 'nat'),
};
const O = { network: 'podnet', containerId: 'ctr1' };
const DN = 'CNI-DN-ee871de47c845415462cc';
const empty = { nat: parseSave(EMPTY_SAVE, 'nat'), filter: parseSave(EMPTY_SAVE, 'filter') };
const v4: ContainerNet = containerNets({ cniVersion: '1.0.0', ips: [{ address: '10.22.0.5/24' }] }, 'eth0')[0]!;
const v6: ContainerNet = containerNets({ cniVersion: '1.0.0', ips: [{ address: 'fd00:22::5/64' }] }, 'eth0')[0]!;
const tcp8080 = { runtimeConfig: { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }] } };

// "-A chain spec" lines of a restore text or of iptables-save output, per chain, in order (an
// insert at position 1 into an empty chain counts as an append).
function rulesByChain(text: string, section = 'nat'): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  let current = '';
  for (const raw of text.split('\n')) {
    if (raw.startsWith('*')) current = raw.slice(1);
    const line = raw.replace(/^-I (\S+) 1 /, '-A $1 ');
    if (current !== section || !line.startsWith('-A ')) continue;
    const chain = line.split(' ')[1]!;
    (out[chain] ??= []).push(line);
  }
  return out;
}

test("the container's chain is named as the Go plugin named it for the same network and container", (t) => {
  t.is(dnatChainName(O), DN);
  t.true(GO[4].chains.includes(DN));
});

for (const [family, net] of [
  [4, v4],
  [6, v6],
] as const) {
  test(`ADD on a fresh node writes exactly the nat rules Go v1.1.1 left (IPv${family}, four mappings, mixed hostIPs)`, (t) => {
    const c = conf({ runtimeConfig: GO_CONF.runtimeConfig });
    const text = renderRestore(planSetup(family === 4 ? empty : { nat: empty.nat }, c, O, net).changes);
    const goText = fixture(`go-v1.1.1-dualstack-ipv${family}.save`);
    t.deepEqual(rulesByChain(text), rulesByChain(goText));
  });
}

test('ADD on a fresh node: every chain created with -N (a compare-and-swap), in the order Go creates them', (t) => {
  const plan = planSetup(empty, conf(tcp8080), O, v4);
  t.true(plan.shared);
  t.is(
    renderRestore(plan.changes),
    [
      '*nat',
      '-N CNI-HOSTPORT-SETMARK',
      '-A CNI-HOSTPORT-SETMARK -m comment --comment "CNI portfwd masquerade mark" -j MARK --set-xmark 0x2000/0x2000',
      '-N CNI-HOSTPORT-MASQ',
      '-A CNI-HOSTPORT-MASQ -m mark --mark 0x2000/0x2000 -j MASQUERADE',
      '-I POSTROUTING 1 -m comment --comment "CNI portfwd requiring masquerade" -j CNI-HOSTPORT-MASQ',
      '-N CNI-HOSTPORT-DNAT',
      '-A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT',
      '-A OUTPUT -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT',
      `-N ${DN}`,
      `-A ${DN} -s 10.22.0.0/24 -p tcp -m tcp --dport 8080 -j CNI-HOSTPORT-SETMARK`,
      `-A ${DN} -s 127.0.0.1/32 -p tcp -m tcp --dport 8080 -j CNI-HOSTPORT-SETMARK`,
      `-A ${DN} -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.22.0.5:80`,
      `-A CNI-HOSTPORT-DNAT -p tcp -m comment --comment "dnat name: \\"podnet\\" id: \\"ctr1\\"" -m multiport --dports 8080 -j ${DN}`,
      'COMMIT',
      '*filter',
      '-N CNI-HOSTPORT-LOCALNET',
      '-A CNI-HOSTPORT-LOCALNET ! -s 127.0.0.0/8 -d 127.0.0.0/8 ! -i lo -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP',
      '-I INPUT 1 -m comment --comment "CNI portfwd: no new connections to 127/8 from off the node" -j CNI-HOSTPORT-LOCALNET',
      'COMMIT',
      '',
    ].join('\n'),
  );
});

test('ADD where Go (or an earlier ADD) set everything up: nothing shared, own chain refilled, jumps kept', (t) => {
  const c = conf({ runtimeConfig: GO_CONF.runtimeConfig });
  const plan = planSetup({ nat: GO[6] }, c, O, v6);
  t.false(plan.shared);
  t.deepEqual(
    plan.changes.map((x) => x.op),
    ['declare', 'append', 'append', 'append', 'append', 'append', 'append'],
  );
});

test('a different set of ports replaces the jumps; other containers and shared rules are untouched', (t) => {
  const lines = renderRestore(planSetup({ nat: GO[6] }, conf(tcp8080), O, v6).changes).split('\n');
  const goJumps = fixture('go-v1.1.1-dualstack-ipv6.save')
    .split('\n')
    .filter((l) => l.startsWith('-A CNI-HOSTPORT-DNAT'))
    .map((l) => l.replace('-A', '-D'));
  t.is(goJumps.length, 2);
  t.deepEqual(
    lines.filter((l) => l.startsWith('-D ')),
    goJumps,
  );
  t.deepEqual(
    lines.filter((l) => l.startsWith('-A CNI-HOSTPORT-DNAT')),
    [
      `-A CNI-HOSTPORT-DNAT -p tcp -m comment --comment "dnat name: \\"podnet\\" id: \\"ctr1\\"" -m multiport --dports 8080 -j ${DN}`,
    ],
  );
  t.false(lines.some((l) => /^(-N|-I|-A CNI-HOSTPORT-(SETMARK|MASQ)|-A PREROUTING|-A OUTPUT)/.test(l)));
});

test('a missing shared rule is repaired without re-creating its chain; a missing chain entry is re-inserted first', (t) => {
  const text = fixture('go-v1.1.1-dualstack-ipv4.save')
    .split('\n')
    .filter((l) => !l.startsWith('-A POSTROUTING') && !l.startsWith('-A CNI-HOSTPORT-SETMARK'))
    .join('\n');
  const plan = planSetup({ nat: parseSave(text, 'nat'), filter: empty.filter }, conf(tcp8080), O, v4);
  t.true(plan.shared);
  const lines = renderRestore(plan.changes).split('\n');
  t.deepEqual(
    lines.filter((l) => /^(-N|-I|-A CNI-HOSTPORT-(SETMARK|MASQ)|-A PREROUTING|-A OUTPUT)/.test(l)),
    [
      '-A CNI-HOSTPORT-SETMARK -m comment --comment "CNI portfwd masquerade mark" -j MARK --set-xmark 0x2000/0x2000',
      '-I POSTROUTING 1 -m comment --comment "CNI portfwd requiring masquerade" -j CNI-HOSTPORT-MASQ',
      '-N CNI-HOSTPORT-LOCALNET',
      '-I INPUT 1 -m comment --comment "CNI portfwd: no new connections to 127/8 from off the node" -j CNI-HOSTPORT-LOCALNET',
    ],
  );
});

test('multiport rules hold at most 15 ports, protocols in name order, ports in mapping order (all families)', (t) => {
  const portMappings = [
    ...Array.from({ length: 16 }, (_, i) => ({ hostPort: 9000 + i, containerPort: 80, protocol: 'tcp' })),
    { hostPort: 53, containerPort: 53, protocol: 'UDP' },
    { hostPort: 7000, containerPort: 7, protocol: 'sctp', hostIP: 'fd00::1' },
  ];
  const jumps = planSetup(empty, conf({ runtimeConfig: { portMappings } }), O, v4)
    .changes.filter(
      (c): c is Extract<Change, { op: 'append' }> => c.op === 'append' && c.rule.chain === 'CNI-HOSTPORT-DNAT',
    )
    .map((c) => `${c.rule.spec[1]} ${c.rule.spec[c.rule.spec.indexOf('--dports') + 1]}`);
  t.deepEqual(jumps, [
    'sctp 7000',
    `tcp ${Array.from({ length: 15 }, (_, i) => 9000 + i).join(',')}`,
    'tcp 9015',
    'udp 53',
  ]);
});

test('conditions follow the multiport match in the jump rules of their family only', (t) => {
  const c = conf({ ...tcp8080, conditionsV4: ['!', '-s', '192.0.2.0/24'], conditionsV6: ['-d', 'fd00::1'] });
  const jump = (net: ContainerNet) =>
    renderRestore(planSetup(empty, c, O, net).changes)
      .split('\n')
      .find((l) => l.startsWith('-A CNI-HOSTPORT-DNAT'));
  t.regex(jump(v4)!, /--dports 8080 ! -s 192\.0\.2\.0\/24 -j CNI-DN-/);
  t.regex(jump(v6)!, /--dports 8080 -d fd00::1 -j CNI-DN-/);
});

test('externalSetMarkChain: hairpin and localhost rules jump to it; no SETMARK/MASQ chains; it must exist', (t) => {
  const c = conf({ ...tcp8080, externalSetMarkChain: 'KUBE-MARK-MASQ' });
  const text = renderRestore(planSetup(empty, c, O, v4).changes);
  t.false(text.includes('CNI-HOSTPORT-SETMARK'));
  t.false(text.includes('CNI-HOSTPORT-MASQ'));
  t.regex(text, /-s 10\.22\.0\.0\/24 -p tcp -m tcp --dport 8080 -j KUBE-MARK-MASQ\n/);
  t.regex(text, /-s 127\.0\.0\.1\/32 -p tcp -m tcp --dport 8080 -j KUBE-MARK-MASQ\n/);
  t.is(setupProblem(c, empty.nat, 4), 'externalSetMarkChain "KUBE-MARK-MASQ" does not exist in the IPv4 nat table');
  const kube = parseSave('*nat\n:PREROUTING ACCEPT [0:0]\n:KUBE-MARK-MASQ - [0:0]\nCOMMIT\n', 'nat');
  t.is(setupProblem(c, kube, 4), undefined);
});

test('masqAll: hairpin from any source (iptables-save drops "-s 0.0.0.0/0"), no localhost rule', (t) => {
  const text = renderRestore(planSetup(empty, conf({ ...tcp8080, masqAll: true }), O, v4).changes);
  t.regex(text, new RegExp(`-A ${DN} -p tcp -m tcp --dport 8080 -j CNI-HOSTPORT-SETMARK\n`));
  t.false(text.includes('127.0.0.1/32'));
});

test('snat false: only DNAT; no mark chains, no localnet rule', (t) => {
  const text = renderRestore(planSetup({ nat: empty.nat }, conf({ ...tcp8080, snat: false }), O, v4).changes);
  t.false(/SETMARK|MASQ|LOCALNET|\*filter/.test(text));
  t.regex(text, /-j DNAT --to-destination 10\.22\.0\.5:80/);
});

test('the mark is 1<<markMasqBit as Go prints it with %#x', (t) => {
  t.is(markOf(13), '0x2000/0x2000');
  t.is(markOf(0), '0x1/0x1');
  t.is(markOf(31), '0x80000000/0x80000000');
  t.regex(
    renderRestore(planSetup(empty, conf({ ...tcp8080, markMasqBit: 5 }), O, v4).changes),
    /--set-xmark 0x20\/0x20\n/,
  );
});

test('hostIP 0.0.0.0 restricts the family only; a hostIP of the other family skips the mapping', (t) => {
  const portMappings = [
    { hostPort: 1, containerPort: 1, protocol: 'tcp', hostIP: '0.0.0.0' },
    { hostPort: 2, containerPort: 2, protocol: 'tcp', hostIP: '::' },
  ];
  const c = conf({ runtimeConfig: { portMappings }, snat: false });
  const dnat = (net: ContainerNet) =>
    renderRestore(planSetup({ nat: empty.nat }, c, O, net).changes)
      .split('\n')
      .filter((l) => l.includes('-j DNAT'));
  t.deepEqual(dnat(v4), [`-A ${DN} -p tcp -m tcp --dport 1 -j DNAT --to-destination 10.22.0.5:1`]);
  t.deepEqual(dnat(v6), [`-A ${DN} -p tcp -m tcp --dport 2 -j DNAT --to-destination [fd00:22::5]:2`]);
});

test("teardown of Go's rules: every jump to the chain, then flush and delete; nothing when absent", (t) => {
  t.is(
    renderRestore(planTeardown(GO[4], O)),
    [
      '*nat',
      `-D CNI-HOSTPORT-DNAT -p tcp -m comment --comment "dnat name: \\"podnet\\" id: \\"ctr1\\"" -m multiport --dports 8080,9090,9091 -j ${DN}`,
      `-D CNI-HOSTPORT-DNAT -p udp -m comment --comment "dnat name: \\"podnet\\" id: \\"ctr1\\"" -m multiport --dports 8053 -j ${DN}`,
      `-F ${DN}`,
      `-X ${DN}`,
      'COMMIT',
      '',
    ].join('\n'),
  );
  t.deepEqual(planTeardown(GO[4], { network: 'podnet', containerId: 'other' }), []);
  t.deepEqual(planTeardown(empty.nat, O), []);
});

test('teardown also removes the per-container SNAT chain of old plugin versions', (t) => {
  const sn = oldSnatChainName(O);
  t.regex(sn, /^CNI-SN-[0-9a-f]{21}$/);
  const old = parseSave(
    `*nat\n:CNI-HOSTPORT-SNAT - [0:0]\n:${sn} - [0:0]\n-A CNI-HOSTPORT-SNAT -j ${sn}\nCOMMIT\n`,
    'nat',
  );
  t.deepEqual(
    planTeardown(old, O).map((c) => c.op),
    ['delete', 'flush', 'deleteChain'],
  );
});

test("the UDP flows DEL flushes come from the container's own DNAT rules", (t) => {
  t.deepEqual(udpForwards(GO[4], O), [{ port: 8053, podIP: '10.22.0.5' }]);
  t.deepEqual(udpForwards(GO[6], O), [{ port: 8053, podIP: 'fd00:22::5' }]);
});

test("CHECK passes on Go's rules and names every rule that is missing", (t) => {
  const c = conf({ runtimeConfig: GO_CONF.runtimeConfig });
  t.deepEqual(checkSetup({ nat: GO[4] }, c, O, v4), { problems: [], verify: [] });
  const broken = parseSave(
    fixture('go-v1.1.1-dualstack-ipv4.save')
      .split('\n')
      .filter((l) => !l.includes('--dport 8053 -j DNAT') && !l.startsWith('-A OUTPUT'))
      .join('\n'),
    'nat',
  );
  t.deepEqual(checkSetup({ nat: broken }, c, O, v4).problems, [
    `rule "-A ${DN} -p udp -m udp --dport 8053 -j DNAT --to-destination 10.22.0.5:53" is missing from the IPv4 nat table`,
    'rule "-A OUTPUT -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT" is missing from the IPv4 nat table',
  ]);
  const withConditions = conf({ runtimeConfig: GO_CONF.runtimeConfig, conditionsV4: ['-d', '192.0.2.1'] });
  t.is(checkSetup({ nat: GO[4] }, withConditions, O, v4).verify.length, 2, 'conditioned jumps go to iptables -C');
});

test('GC removes the chains of this network whose container is not kept, found by the jump comment', (t) => {
  t.deepEqual(planGc(GO[4], 'podnet', new Set(['ctr1'])), []);
  t.deepEqual(planGc(GO[4], 'othernet', new Set()), []);
  t.deepEqual(
    planGc(GO[4], 'podnet', new Set(['ctr2'])).map((c) => c.op),
    ['delete', 'delete', 'flush', 'deleteChain'],
  );
});

test('jump comments are cut to 255 characters as upstream does', (t) => {
  const long = jumpComment({ network: 'n'.repeat(300), containerId: 'c' });
  t.is(long.length, 256);
  t.true(long.endsWith('...'));
  t.is(jumpComment(O), 'dnat name: "podnet" id: "ctr1"');
});

test('reads parse the shared chains and the own chain only; plans on them equal plans on the whole table', (t) => {
  const text = fixture('go-v1.1.1-dualstack-ipv4.save');
  const other = parseSave(text, 'nat', chainsOf({ network: 'podnet', containerId: 'other' }));
  t.false(
    other.rules.some((r) => r.chain === DN),
    "another pod's chain is listed, not parsed",
  );
  t.true(other.chains.includes(DN));
  const own = parseSave(text, 'nat', chainsOf(O));
  t.deepEqual(planTeardown(own, O), planTeardown(GO[4], O));
  t.deepEqual(udpForwards(own, O), udpForwards(GO[4], O));
  const c = conf({ runtimeConfig: GO_CONF.runtimeConfig });
  t.deepEqual(planSetup({ nat: own }, c, O, v4), planSetup({ nat: GO[4] }, c, O, v4));
  t.deepEqual(checkSetup({ nat: own }, c, O, v4), { problems: [], verify: [] });
  t.false(
    other.rules.some((r) => r.chain === 'CNI-HOSTPORT-DNAT'),
    "another pod's jumps in CNI-HOSTPORT-DNAT are not parsed",
  );
});

test('on a node with many pods, reads parse only the own jumps of CNI-HOSTPORT-DNAT; plans equal plans on the whole table', (t) => {
  // the fixture's pod, and 50 more pods with the same mappings: their chains and their jumps
  const base = fixture('go-v1.1.1-dualstack-ipv4.save').split('\n');
  const podLines = base.filter((l) => l.includes(DN));
  const more = Array.from({ length: 50 }, (_, i) => {
    const o = { network: 'podnet', containerId: `pod${i}` };
    return podLines.map((l) =>
      l.replaceAll(DN, dnatChainName(o)).replace('id: \\"ctr1\\"', `id: \\"${o.containerId}\\"`),
    );
  }).flat();
  const text = [...base.slice(0, -2), ...more, ...base.slice(-2)].join('\n');
  const whole = parseSave(text, 'nat');
  t.is(whole.rules.filter((r) => r.chain === 'CNI-HOSTPORT-DNAT').length, 102, 'the table has every pod’s jumps');
  const c = conf({ runtimeConfig: GO_CONF.runtimeConfig });
  for (const o of [O, { network: 'podnet', containerId: 'pod7' }, { network: 'podnet', containerId: 'new' }]) {
    const read = parseSave(text, 'nat', chainsOf(o));
    const jumps = read.rules.filter((r) => r.chain === 'CNI-HOSTPORT-DNAT');
    t.is(jumps.length, o.containerId === 'new' ? 0 : 2, `${o.containerId}: only its own jumps are parsed`);
    t.deepEqual(read.chains, whole.chains, 'every chain is listed');
    t.deepEqual(planSetup({ nat: read }, c, o, v4), planSetup({ nat: whole }, c, o, v4), o.containerId);
    t.deepEqual(planTeardown(read, o), planTeardown(whole, o), o.containerId);
    t.deepEqual(udpForwards(read, o), udpForwards(whole, o), o.containerId);
    t.deepEqual(checkSetup({ nat: read }, c, o, v4), checkSetup({ nat: whole }, c, o, v4), o.containerId);
  }
  t.is(
    planTeardown(parseSave(text, 'nat', chainsOf({ network: 'podnet', containerId: 'pod7' })), {
      network: 'podnet',
      containerId: 'pod7',
    }).length,
    4,
  );
  const keep = new Set(['ctr1', 'pod3']);
  t.deepEqual(planGc(parseSave(text, 'nat', chainsOf()), 'podnet', keep), planGc(whole, 'podnet', keep));
  t.is(planGc(parseSave(text, 'nat', chainsOf()), 'podnet', keep).length, 49 * 4, 'GC still sees every pod');
});

// The batches whose bytes iptables-nft-restore sent are pinned in the iptables package's tests
// (its fixtures restore-portmap-*.txt and .hex): they must be what this planner writes.
for (const f of [4, 6] as const) {
  test(`IPv${f}: the fresh node's and the second pod's batches are the inputs of the captured nf_tables batches`, (t) => {
    const maps = [
      { hostPort: 8080, containerPort: 80, protocol: 'tcp' },
      { hostPort: 8443, containerPort: 443, protocol: 'tcp', hostIP: f === 4 ? '192.0.2.1' : 'fd00:1::1' },
      { hostPort: 5353, containerPort: 53, protocol: 'udp' },
    ];
    const c = conf({ runtimeConfig: { portMappings: maps } });
    const captured = (name: string) =>
      readFileSync(
        new URL(`../../../../iptables/test/fixtures/restore-portmap-${name}-ipv${f}.txt`, import.meta.url),
        'utf8',
      );
    const net = (ip: string) => containerNets({ cniVersion: '1.0.0', ips: [{ address: ip }] }, 'eth0')[0]!;
    const [a, b] = f === 4 ? ['10.22.0.5/24', '10.22.0.6/24'] : ['fd00:22::5/64', 'fd00:22::6/64'];
    t.is(renderRestore(planSetup(empty, c, O, net(a)).changes), captured('setup'));
    t.is(renderRestore(planCreate(c, { network: 'podnet', containerId: 'ctr2' }, net(b))), captured('create'));
  });
}
