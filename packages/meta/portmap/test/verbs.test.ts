// The verbs through skel on a scripted node (its iptables-restore refuses a batch as the real one
// does, helpers.refusal): which commands run, in what order, with what input; ADD and DEL reading
// nothing when the node is as expected and reading only when refused; that a rejected ADD runs
// nothing; the lock only for shared changes; the -N compare-and-swap retried; DEL without
// mappings, prevResult or netns; route_localnet; conntrack.
import test from 'ava';
import { ALL_VERSIONS } from '@cni-ts/types';
import { dnatChainName } from '../src/index.js';
import { EMPTY_SAVE, FakeHost, Node, fixture, mappings, prevResult, run } from './helpers.js';

const GO4 = fixture('go-v1.1.1-dualstack-ipv4.save');
const GO6 = fixture('go-v1.1.1-dualstack-ipv6.save');
// Go's nat rules plus our filter chain: what a node looks like after an ADD of ours.
const OURS4 = `${GO4}*filter
:INPUT ACCEPT [0:0]
:CNI-HOSTPORT-LOCALNET - [0:0]
-A INPUT -m comment --comment "CNI portfwd: no new connections to 127/8 from off the node" -j CNI-HOSTPORT-LOCALNET
-A CNI-HOSTPORT-LOCALNET ! -s 127.0.0.0/8 -d 127.0.0.0/8 ! -i lo -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP
COMMIT
`;
const GO_MAPPINGS = JSON.parse(fixture('go-v1.1.1-dualstack.conf.json')).runtimeConfig;
const TCP = mappings({ hostPort: 8080, containerPort: 80, protocol: 'tcp' });
const UDP = mappings(
  { hostPort: 8053, containerPort: 53, protocol: 'udp' },
  { hostPort: 9, containerPort: 9, protocol: 'tcp' },
);
const PREV4 = prevResult('10.22.0.5/24');
const PREV46 = prevResult('10.22.0.5/24', 'fd00:22::5/64');

test('ADD on a fresh node: the first batch is refused, then a read, the lock, a second read under it, one restore', async (t) => {
  const node = new Node();
  const host = new FakeHost('cni0');
  const r = await run(node, host, 'ADD', { ...TCP, prevResult: PREV4 });
  t.is(r.code, 0, r.stdout);
  t.deepEqual(r.json.ips, [{ address: '10.22.0.5/24', interface: 1 }], 'prevResult passed through');
  t.deepEqual(
    node.calls.map((c) => [c.file, ...c.args].join(' ')),
    ['iptables-restore --noflush -w 5', 'iptables-save', 'iptables-save', 'iptables-restore --noflush -w 5'],
  );
  t.is(host.locks, 1);
  t.is(host.held, 0, 'the lock is released');
  t.regex(node.restores(4)[0]!, /^\*filter\n-C INPUT /, 'the first batch, refused: no localnet guard yet');
  t.regex(node.restores(4)[1]!, /^\*nat\n-N CNI-HOSTPORT-SETMARK\n/);
  t.deepEqual(host.sysctls, [['net/ipv4/conf/cni0/route_localnet', '1']]);
});

test('ADD where the shared chains exist: no read, no lock, one restore per family (dual-stack: IPv4 first)', async (t) => {
  const node = new Node({ save: { 4: OURS4, 6: GO6 } });
  const host = new FakeHost();
  const r = await run(node, host, 'ADD', { ...TCP, prevResult: PREV46 }, { containerId: 'ctr2' });
  t.is(r.code, 0, r.stdout);
  t.is(host.locks, 0);
  t.deepEqual(
    node.calls.map((c) => c.file),
    ['iptables-restore', 'ip6tables-restore'],
  );
  const dn = dnatChainName({ network: 'podnet', containerId: 'ctr2' });
  t.is(
    node.restores(6)[0],
    [
      '*nat',
      `-N ${dn}`,
      `-A ${dn} -j CNI-HOSTPORT-SETMARK`,
      `-A ${dn} -j CNI-HOSTPORT-MASQ`,
      `-F ${dn}`,
      `-A ${dn} -s fd00:22::/64 -p tcp -m tcp --dport 8080 -j CNI-HOSTPORT-SETMARK`,
      `-A ${dn} -p tcp -m tcp --dport 8080 -j DNAT --to-destination [fd00:22::5]:80`,
      `-A CNI-HOSTPORT-DNAT -p tcp -m comment --comment "dnat name: \\"podnet\\" id: \\"ctr2\\"" -m multiport --dports 8080 -j ${dn}`,
      'COMMIT',
      '',
    ].join('\n'),
  );
});

test('ADD on a node where Go set up the nat chains: the missing localnet guard refuses the first batch and is added', async (t) => {
  const node = new Node({ save: { 4: GO4 } });
  const host = new FakeHost();
  const r = await run(node, host, 'ADD', { ...TCP, prevResult: PREV4 }, { containerId: 'ctr2' });
  t.is(r.code, 0, r.stdout);
  t.deepEqual(
    node.calls.map((c) => c.file),
    ['iptables-restore', 'iptables-save', 'iptables-save', 'iptables-restore'],
  );
  t.is(host.locks, 1);
  t.regex(node.restores(4)[1]!, /\*filter\n-N CNI-HOSTPORT-LOCALNET\n/);
});

test('a repeated ADD (the chain exists): the first batch is refused at -N, the chain refilled after a read', async (t) => {
  const node = new Node({ save: { 4: OURS4 } });
  const r = await run(node, new FakeHost(), 'ADD', { ...TCP, prevResult: PREV4 });
  t.is(r.code, 0, r.stdout);
  t.deepEqual(
    node.calls.map((c) => c.file),
    ['iptables-restore', 'iptables-save', 'iptables-restore'],
  );
  t.regex(node.restores(4)[1]!, /^\*nat\n:CNI-DN-ee871de47c845415462cc - \[0:0\]\n/);
});

test('a lost -N race (someone created the chain meanwhile) re-reads and retries without it', async (t) => {
  const node = new Node();
  let restores = 0;
  node.scenario.fail = (c) => {
    if (c.file === 'iptables-restore' && ++restores === 2) {
      node.scenario.save = { 4: `${GO4}*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n` };
      return { stderr: 'iptables-restore: line 3 failed: Chain already exists.' };
    }
    return undefined;
  };
  const r = await run(node, new FakeHost(), 'ADD', { ...TCP, prevResult: PREV4 }, { containerId: 'ctr2' });
  t.is(r.code, 0, r.stdout);
  const batches = node.restores(4);
  t.is(batches.length, 3, 'the first try, refused; the planned batch, refused; the re-planned one');
  t.true(batches[1]!.includes('-N CNI-HOSTPORT-DNAT'));
  t.false(batches[2]!.includes('-N CNI-HOSTPORT-DNAT'), 'the retry sees the chain and does not create it');
});

test('a rejected ADD runs nothing at all', async (t) => {
  const bad = [
    mappings({ hostPort: 8080, containerPort: 80, protocol: 'tcp', hostIP: 'not-an-ip' }),
    mappings({ hostPort: 0, containerPort: 80, protocol: 'tcp' }),
    { ...TCP, conditionsV4: ['-d', '1.2.3.4\nCOMMIT'] },
    { ...TCP, externalSetMarkChain: 'KUBE MARK' },
    { ...TCP, backend: 'nftables', conditionsV4: ['-d', '1.2.3.4'] },
  ];
  for (const extra of bad) {
    const node = new Node();
    const r = await run(node, new FakeHost(), 'ADD', { ...extra, prevResult: PREV4 });
    t.is(r.code, 1);
    t.is(r.json.code, 7, r.stdout);
    t.deepEqual(node.calls, [], JSON.stringify(extra));
  }
});

test('a missing externalSetMarkChain refuses the first batch, then is named after a read; nothing stays changed', async (t) => {
  const withMark = (save: string) => save.replace(':CNI-HOSTPORT-DNAT', ':KUBE-MARK-MASQ - [0:0]\n:CNI-HOSTPORT-DNAT');
  const conf = { ...TCP, externalSetMarkChain: 'KUBE-MARK-MASQ', prevResult: PREV46 };
  const node = new Node({ save: { 4: EMPTY_SAVE, 6: withMark(GO6) } });
  const r = await run(node, new FakeHost(), 'ADD', conf);
  t.is(r.json.code, 7);
  t.regex(r.json.msg, /externalSetMarkChain "KUBE-MARK-MASQ" does not exist in the IPv4 nat table/);
  t.deepEqual(
    node.calls.map((c) => c.file),
    ['iptables-restore', 'iptables-save'],
    'the refused batch changed nothing',
  );
  // IPv4 has it, IPv6 not: the IPv4 rules written are taken back, exactly as written
  const dual = new Node({ save: { 4: withMark(OURS4), 6: GO6 } });
  const r2 = await run(dual, new FakeHost(), 'ADD', conf, { containerId: 'ctr2' });
  t.is(r2.json.code, 7);
  t.regex(r2.json.msg, /does not exist in the IPv6 nat table/);
  t.deepEqual(
    dual.calls.map((c) => c.file),
    ['iptables-restore', 'ip6tables-restore', 'ip6tables-save', 'iptables-restore'],
  );
  const dn = dnatChainName({ network: 'podnet', containerId: 'ctr2' });
  t.is(
    dual.restores(4)[1],
    `*nat\n-F ${dn}\n-D CNI-HOSTPORT-DNAT -p tcp -m comment --comment "dnat name: \\"podnet\\" id: \\"ctr2\\"" -m multiport --dports 8080 -j ${dn}\n-X ${dn}\nCOMMIT\n`,
  );
});

test('ADD without prevResult is refused; without mappings prevResult is passed through untouched', async (t) => {
  const none = await run(new Node(), new FakeHost(), 'ADD', TCP);
  t.is(none.json.code, 7);
  t.is(none.json.msg, 'must be called as chained plugin');
  const node = new Node();
  const pass = await run(node, new FakeHost(), 'ADD', { prevResult: PREV4 });
  t.is(pass.code, 0);
  t.is(pass.json.ips[0].address, '10.22.0.5/24');
  t.deepEqual(node.calls, []);
});

test('only the address on CNI_IFNAME in the sandbox is mapped', async (t) => {
  const prev = {
    cniVersion: '1.0.0',
    interfaces: [
      { name: 'cni0' },
      { name: 'eth0', sandbox: '/run/netns/pod' },
      { name: 'net1', sandbox: '/run/netns/pod' },
    ],
    ips: [
      { address: '10.99.0.1/24', interface: 0 },
      { address: '10.98.0.2/24', interface: 2 },
      { address: '10.22.0.5/24', interface: 1 },
      { address: '10.22.0.6/24', interface: 1 },
    ],
  };
  const node = new Node({ save: { 4: GO4 } });
  await run(node, new FakeHost(), 'ADD', { ...TCP, prevResult: prev }, { containerId: 'ctr2' });
  t.regex(node.restores(4)[0]!, /--to-destination 10\.22\.0\.5:80\n/);
});

test('a failing IPv6 batch takes back the IPv4 rules and reports the error', async (t) => {
  const dn = dnatChainName({ network: 'podnet', containerId: 'ctr2' });
  const withCtr2 = OURS4.replace(
    ':CNI-HOSTPORT-DNAT - [0:0]\n',
    `:CNI-HOSTPORT-DNAT - [0:0]\n:${dn} - [0:0]\n-A CNI-HOSTPORT-DNAT -p tcp -m comment --comment "dnat name: \\"podnet\\" id: \\"ctr2\\"" -m multiport --dports 8080 -j ${dn}\n`,
  );
  const node = new Node({ save: { 4: OURS4, 6: GO6 } });
  node.scenario.fail = (c) => {
    if (c.file !== 'ip6tables-restore') return undefined;
    node.scenario.save = { 4: withCtr2, 6: GO6 }; // the IPv4 batch went through
    return { stderr: 'ip6tables-restore: line 4 failed: No chain/target/match by that name.' };
  };
  const r = await run(node, new FakeHost(), 'ADD', { ...TCP, prevResult: PREV46 }, { containerId: 'ctr2' });
  t.is(r.code, 1);
  t.regex(r.json.msg, /^failed to set up the IPv6 port mappings: ip6tables-restore/);
  const files = node.calls.map((c) => c.file);
  t.deepEqual(files.slice(0, 3), ['iptables-restore', 'ip6tables-restore', 'ip6tables-save']);
  t.deepEqual(files.slice(-1), ['iptables-restore'], 'IPv4 undone last, without a read');
  t.is(
    node.restores(4).at(-1),
    `*nat\n-F ${dn}\n-D CNI-HOSTPORT-DNAT -p tcp -m comment --comment "dnat name: \\"podnet\\" id: \\"ctr2\\"" -m multiport --dports 8080 -j ${dn}\n-X ${dn}\nCOMMIT\n`,
  );
});

test('UDP mappings: stale conntrack entries for their host ports are deleted after the rules', async (t) => {
  const node = new Node({ save: { 4: GO4 } });
  await run(node, new FakeHost(), 'ADD', { ...UDP, prevResult: PREV4 }, { containerId: 'ctr2' });
  t.deepEqual(node.calls.map((c) => [c.file, ...c.args].join(' ')).slice(-1), [
    'conntrack -D -f ipv4 -p udp --orig-port-dst 8053',
  ]);
});

test('DEL without mappings, prevResult or netns removes the chains of both families found by name (then not nftables)', async (t) => {
  const node = new Node({ save: { 4: GO4, 6: GO6 } });
  const r = await run(node, new FakeHost(), 'DEL', {});
  t.is(r.code, 0, r.stdout);
  t.deepEqual(
    node.calls.map((c) => [c.file, ...c.args].join(' ')),
    [
      'iptables-restore --noflush -w 5',
      'iptables-save -t nat',
      'iptables-restore --noflush -w 5',
      'ip6tables-restore --noflush -w 5',
      'ip6tables-save -t nat',
      'ip6tables-restore --noflush -w 5',
      'conntrack -D -f ipv4 -p udp --orig-port-dst 8053 --reply-src 10.22.0.5',
      'conntrack -D -f ipv6 -p udp --orig-port-dst 8053 --reply-src fd00:22::5',
    ],
  );
  t.is(
    node.restores(6)[0],
    '*nat\n-F CNI-DN-ee871de47c845415462cc\n-N CNI-DN-ee871de47c845415462cc\nCOMMIT\n',
    'the probe, refused',
  );
  t.regex(node.restores(6)[1]!, /-X CNI-DN-ee871de47c845415462cc\nCOMMIT\n$/);
});

test('DEL with a prevResult that is not a result still cleans both families', async (t) => {
  const node = new Node({ save: { 4: GO4, 6: GO6 } });
  const r = await run(node, new FakeHost(), 'DEL', { prevResult: { ips: 'bogus' } });
  t.is(r.code, 0, r.stdout);
  t.is(node.restores().length, 4, 'per family the refused probe and the removal');
  t.regex(r.log, /ignoring prevResult/);
});

test('DEL when everything is gone: one restore refused at its first line, no read; prevResult narrows it to its families', async (t) => {
  const node = new Node();
  t.is((await run(node, new FakeHost(), 'DEL', { ...TCP, prevResult: PREV4 })).code, 0);
  t.deepEqual(
    node.calls.map((c) => [c.file, ...c.args].join(' ')),
    ['iptables-restore --noflush -w 5', 'nft -j list table ip cni_hostport', 'nft -j list table ip6 cni_hostport'],
  );
  // without the mappings: the probe, refused at its first line (nothing there, nothing changed)
  const bare = new Node();
  t.is((await run(bare, new FakeHost(), 'DEL', { prevResult: PREV4 })).code, 0);
  t.deepEqual(
    bare.calls.map((c) => c.file),
    ['iptables-restore', 'nft', 'nft'],
  );
});

test('DEL with the mappings ADD had: one restore removing exactly its rules; no read, no nft, the UDP flows from prevResult', async (t) => {
  const node = new Node({ save: { 4: GO4, 6: GO6 } });
  const r = await run(node, new FakeHost(), 'DEL', { runtimeConfig: GO_MAPPINGS, prevResult: PREV46 });
  t.is(r.code, 0, r.stdout);
  t.deepEqual(
    node.calls.map((c) => [c.file, ...c.args].join(' ')),
    [
      'iptables-restore --noflush -w 5',
      'ip6tables-restore --noflush -w 5',
      'conntrack -D -f ipv4 -p udp --orig-port-dst 8053 --reply-src 10.22.0.5',
      'conntrack -D -f ipv6 -p udp --orig-port-dst 8053 --reply-src fd00:22::5',
    ],
  );
  const dn = 'CNI-DN-ee871de47c845415462cc';
  const jump = (proto: string, ports: string) =>
    `-D CNI-HOSTPORT-DNAT -p ${proto} -m comment --comment "dnat name: \\"podnet\\" id: \\"ctr1\\"" -m multiport --dports ${ports} -j ${dn}`;
  t.is(
    node.restores(4)[0],
    `*nat\n-F ${dn}\n${jump('tcp', '8080,9090,9091')}\n${jump('udp', '8053')}\n-X ${dn}\nCOMMIT\n`,
  );
});

test('DEL after the config changed (other ports): the exact removal is refused, then the table is read and cleaned', async (t) => {
  const node = new Node({ save: { 4: GO4 } });
  const r = await run(node, new FakeHost(), 'DEL', { ...TCP, prevResult: PREV4 });
  t.is(r.code, 0, r.stdout);
  t.deepEqual(
    node.calls.map((c) => c.file),
    ['iptables-restore', 'iptables-save', 'iptables-restore', 'conntrack'],
    'the rules were in iptables: nftables is not looked at',
  );
  t.regex(node.restores(4)[1]!, /--dports 8053 -j CNI-DN-ee871de47c845415462cc\n-F CNI-DN-ee871de47c845415462cc\n-X /);
});

test('DEL with UDP mappings but no prevResult reads the rules (the conntrack flush needs the pod address)', async (t) => {
  const node = new Node({ save: { 4: GO4, 6: GO6 } });
  t.is((await run(node, new FakeHost(), 'DEL', { runtimeConfig: GO_MAPPINGS })).code, 0);
  t.deepEqual(
    node.calls.filter((c) => c.file.endsWith('tables-save')).map((c) => c.file),
    ['iptables-save', 'ip6tables-save'],
  );
  t.true(node.calls.some((c) => c.file === 'conntrack' && c.args.includes('10.22.0.5')));
});

test('DEL after the rules are gone still flushes the UDP flows of the mappings the runtime resent', async (t) => {
  const node = new Node();
  t.is((await run(node, new FakeHost(), 'DEL', { ...UDP, prevResult: PREV4 })).code, 0);
  t.deepEqual(
    node.calls.filter((c) => c.file === 'conntrack').map((c) => c.args.join(' ')),
    ['-D -f ipv4 -p udp --orig-port-dst 8053 --reply-src 10.22.0.5'],
  );
});

test('DEL: an unusable ip6tables is skipped when the family was only guessed, reported when prevResult had it', async (t) => {
  const fail = (c: { file: string }) =>
    c.file.startsWith('ip6tables-') ? { stderr: `${c.file}: can't initialize` } : undefined;
  t.is((await run(new Node({ fail }), new FakeHost(), 'DEL', {})).code, 0);
  const r = await run(new Node({ fail }), new FakeHost(), 'DEL', { prevResult: PREV46 });
  t.is(r.code, 1);
  t.regex(r.json.msg, /read the IPv6 iptables rules/);
});

test('DEL also removes nftables rules of the container (a node that switched backend)', async (t) => {
  const rule = (chain: string, handle: number, comment: string) => ({
    rule: { family: 'ip', table: 'cni_hostport', chain, handle, comment, expr: [] },
  });
  const node = new Node({
    nft: { 4: [rule('hostports', 7, 'ctr1'), rule('hostports', 8, 'ctr9'), rule('masquerading', 9, 'ctr1')] },
  });
  t.is((await run(node, new FakeHost(), 'DEL', { prevResult: PREV4 })).code, 0);
  const nft = node.calls.find((c) => c.file === 'nft' && c.args[0] === '-f');
  t.is(
    nft?.input,
    'delete rule ip cni_hostport hostports handle 7\ndelete rule ip cni_hostport masquerading handle 9\n',
  );
});

test('CHECK passes on the rules Go v1.1.1 wrote; an IPv4-only pod is not checked in IPv6 (#819)', async (t) => {
  const node = new Node({ save: { 4: GO4 } });
  const ok = await run(node, new FakeHost(), 'CHECK', { runtimeConfig: GO_MAPPINGS, prevResult: PREV4 });
  t.is(ok.code, 0, ok.stdout);
  t.false(node.calls.some((c) => c.file.startsWith('ip6')));
  const bad = await run(new Node({ save: { 4: GO4.replace(/-A OUTPUT.*\n/, '') } }), new FakeHost(), 'CHECK', {
    runtimeConfig: GO_MAPPINGS,
    prevResult: PREV4,
  });
  t.is(bad.json.code, 100);
  t.regex(bad.json.msg, /-A OUTPUT -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT" is missing/);
});

test('GC removes chains of this network not in cni.dev/valid-attachments, and nothing without the list', async (t) => {
  const node = new Node({ save: { 4: GO4, 6: GO6 } });
  const r = await run(node, new FakeHost(), 'GC', {
    cniVersion: '1.1.0',
    'cni.dev/valid-attachments': [{ containerID: 'ctr7', ifname: 'eth0' }],
  });
  t.is(r.code, 0, r.stdout);
  t.is(node.restores().length, 2);
  t.true(node.restores().every((x) => x.includes('-X CNI-DN-ee871de47c845415462cc')));
  const none = new Node({ save: { 4: GO4 } });
  await run(none, new FakeHost(), 'GC', { cniVersion: '1.1.0' });
  t.deepEqual(none.calls, []);
});

test('STATUS: ready when the backend works, code 50 when it does not', async (t) => {
  t.is((await run(new Node(), new FakeHost(), 'STATUS', { cniVersion: '1.1.0' })).code, 0);
  const broken = new Node({ fail: (c) => ({ stderr: `${c.file}: not usable` }) });
  const r = await run(broken, new FakeHost(), 'STATUS', { cniVersion: '1.1.0', backend: 'nftables' });
  t.is(r.json.code, 50);
  t.regex(r.json.msg, /nftables backend is not usable/);
});

for (const version of ALL_VERSIONS) {
  test(`cniVersion ${version}: ADD maps the port and prints prevResult in the config's version; DEL and CHECK run`, async (t) => {
    const node = new Node({ save: { 4: OURS4 } });
    // results before 0.3.0 carry ip4/ip6 instead of ips and interfaces
    const prev =
      version < '0.3.0' ? { cniVersion: version, ip4: { ip: '10.22.0.5/24' } } : { ...PREV4, cniVersion: version };
    const add = await run(
      node,
      new FakeHost(),
      'ADD',
      { cniVersion: version, ...TCP, prevResult: prev },
      { containerId: 'ctr2' },
    );
    t.is(add.code, 0, add.stdout);
    t.is(add.json.cniVersion, version);
    t.deepEqual(version < '0.3.0' ? add.json.ip4.ip : add.json.ips[0].address, '10.22.0.5/24');
    t.is(node.restores(4).length, 1);
    t.is(
      (await run(node, new FakeHost(), 'DEL', { cniVersion: version, prevResult: prev }, { containerId: 'ctr2' })).code,
      0,
    );
    const check = await run(new Node({ save: { 4: OURS4 } }), new FakeHost(), 'CHECK', {
      cniVersion: version,
      runtimeConfig: GO_MAPPINGS,
      prevResult: prev,
    });
    t.is(check.code, version < '0.4.0' ? 1 : 0, check.stdout);
  });
}
