// portmap's verbs against the real iptables and nft of a node netns (no pods needed: the rules
// only depend on prevResult): 30 parallel ADDs on a fresh node, DEL without mappings, prevResult
// or netns, repeated DEL, CHECK on a single-stack pod of a dual-stack node, GC, STATUS, and a
// rejected ADD that leaves nothing, not even a shared chain. Every batch we write is fed to the
// real iptables-restore / nft here.
import anyTest, { type TestFn } from 'ava';
import { type World, portmap, prev, rulesOf, saved, worldTest } from './kit.js';

const test = worldTest(anyTest as TestFn<{ w: World }>, 'pml', 'portmap lifecycle');
const TCP = { runtimeConfig: { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }] } };
const DUAL = prev('10.22.0.5/24', 'fd00:22::5/64');

// a table's text without its packet counters (ND and MLD traffic on the node's eth0 moves them)
const uncounted = (lines: string) =>
  lines.replace(/\[\d+:\d+\]/g, '[]').replace(/counter packets \d+ bytes \d+/g, 'counter');

/** Everything of the node's that portmap may touch: every iptables table of both families, and the nft ruleset. */
async function snapshot(w: World) {
  const ns = w.node.node;
  return {
    ip4: uncounted(await ns.exec('iptables-save', []))
      .split('\n')
      .filter((l) => !l.startsWith('#')),
    ip6: uncounted(await ns.exec('ip6tables-save', []))
      .split('\n')
      .filter((l) => !l.startsWith('#')),
    nft: uncounted(await ns.exec('nft', ['list', 'ruleset'])).split('\n'),
  };
}

test('30 parallel ADDs on a fresh node all succeed; the shared rules exist exactly once', async (t) => {
  const { w } = t.context;
  const results = await parallelAdds(w, {});
  for (const r of results) t.is(r.exitCode, 0, r.stdout);
  for (const f of [4, 6] as const) {
    const rules = await rulesOf(w.node.node, f);
    const count = (re: RegExp) => rules.filter((l) => re.test(l)).length;
    t.is(count(/^-A PREROUTING .*-j CNI-HOSTPORT-DNAT$/), 1, `IPv${f} PREROUTING jump once`);
    t.is(count(/^-A OUTPUT .*-j CNI-HOSTPORT-DNAT$/), 1, `IPv${f} OUTPUT jump once`);
    t.is(count(/^-A POSTROUTING .*-j CNI-HOSTPORT-MASQ$/), 1, `IPv${f} POSTROUTING jump once`);
    t.is(count(/^-A CNI-HOSTPORT-SETMARK /), 1);
    t.is(count(/^-A CNI-HOSTPORT-MASQ /), 1);
    t.is(count(/^-A CNI-HOSTPORT-DNAT .*-j CNI-DN-/), 30, `IPv${f}: one jump per pod`);
    t.is(count(/-j DNAT --to-destination/), 30);
  }
  t.is((await rulesOf(w.node.node, 4, 'filter')).filter((l) => l.startsWith('-A INPUT')).length, 1);
});

test('nftables: 30 parallel ADDs on a fresh node all succeed; each pod’s rules once, the entry rules once', async (t) => {
  const { w } = t.context;
  const results = await parallelAdds(w, { backend: 'nftables' });
  for (const r of results) t.is(r.exitCode, 0, r.stdout);
  for (const [family, masq] of [
    ['ip', 60],
    ['ip6', 30],
  ] as const) {
    const table = await w.node.node.exec('nft', ['list', 'table', family, 'cni_hostport']);
    const count = (re: RegExp) => table.split('\n').filter((l) => re.test(l)).length;
    t.is(count(/^\s*fib daddr type local jump hostports_all$/), 2, `${family}: prerouting and output, one rule each`);
    t.is(count(/^\s*jump (hostip_)?hostports$/), 2, `${family}: hostports_all holds its two jumps once`);
    t.is(count(/ dnat (ip6? )?to /), 30, `${family}: one DNAT rule per pod`);
    t.is(count(/ masquerade comment "par\d+"$/), masq, `${family}: the pods' masquerade rules`);
    for (let i = 0; i < 30; i++)
      t.is(count(new RegExp(` dnat (ip6? )?to .* comment "par${i}"$`)), 1, `${family} par${i}`);
    t.is(count(/ drop$/), family === 'ip' ? 1 : 0, `${family}: the 127/8 guard once`);
  }
  t.false(
    (await rulesOf(w.node.node, 4)).some((l) => l.includes('CNI-')),
    'nothing in iptables',
  );
});

// 30 ADDs of 30 pods (a dual-stack address and a hostPort each) started at once on the fresh node
function parallelAdds(w: World, config: Record<string, unknown>) {
  return Promise.all(
    Array.from({ length: 30 }, (_, i) =>
      portmap(
        w,
        'ADD',
        {
          ...config,
          runtimeConfig: { portMappings: [{ hostPort: 10000 + i, containerPort: 80, protocol: 'tcp' }] },
          prevResult: prev(`10.22.0.${i + 2}/24`, `fd00:22::${(i + 2).toString(16)}/64`),
        },
        { containerId: `par${i}` },
      ),
    ),
  );
}

// Every way a runtime may send DEL: with the mappings or without, with prevResult or without (the
// netns, /run/netns/none, never exists). The node must end byte for byte as before the pod's ADD.
for (const backend of ['iptables', 'nftables'] as const) {
  test(`${backend}: DEL with and without mappings and prevResult leaves the node exactly as before the pod’s ADD`, async (t) => {
    const { w } = t.context;
    const mappings = [
      { hostPort: 8080, containerPort: 80, protocol: 'tcp' },
      { hostPort: 8053, containerPort: 53, protocol: 'udp' },
      { hostPort: 9090, containerPort: 90, protocol: 'tcp', hostIP: 'fd00:77::1' },
    ];
    const conf = { backend, runtimeConfig: { portMappings: mappings } };
    const other = { backend, ...TCP, prevResult: prev('10.22.0.9/24', 'fd00:22::9/64') };
    t.is((await portmap(w, 'ADD', other, { containerId: 'other' })).exitCode, 0, 'a pod that stays');
    const before = await snapshot(w);
    for (const [withMappings, withPrev] of [
      [true, true],
      [true, false],
      [false, true],
      [false, false],
    ]) {
      const what = `${withMappings ? 'with' : 'without'} mappings, ${withPrev ? 'with' : 'without'} prevResult`;
      const add = await portmap(w, 'ADD', { ...conf, prevResult: DUAL });
      t.is(add.exitCode, 0, add.stdout);
      t.notDeepEqual(await snapshot(w), before, `${what}: ADD wrote the pod's rules`);
      const del = await portmap(w, 'DEL', {
        backend,
        ...(withMappings ? { runtimeConfig: { portMappings: mappings } } : {}),
        ...(withPrev ? { prevResult: DUAL } : {}),
      });
      t.is(del.exitCode, 0, `${what}: ${del.stdout}`);
      t.deepEqual(await snapshot(w), before, `${what}: the node as before the ADD`);
    }
  });
}

test('DEL without mappings and without prevResult removes the rules of both families; a second DEL succeeds', async (t) => {
  const { w } = t.context;
  t.is((await portmap(w, 'ADD', { ...TCP, prevResult: DUAL })).exitCode, 0);
  const shared = { 4: await rulesOf(w.node.node, 4), 6: await rulesOf(w.node.node, 6) };
  t.true(shared[4].some((l) => l.includes('CNI-DN-')));
  for (let i = 0; i < 2; i++) {
    const r = await portmap(w, 'DEL', {});
    t.is(r.exitCode, 0, r.stdout);
  }
  for (const f of [4, 6] as const) {
    const left = await saved(w.node.node, f);
    t.false(
      left.some((l) => l.includes('CNI-DN-')),
      `IPv${f}: ${left.join('\n')}`,
    );
    t.true(left.includes('-A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT'), 'shared chains stay');
  }
});

test('CHECK: passes for an IPv4-only pod on a dual-stack node; fails naming a rule an operator deleted', async (t) => {
  const { w } = t.context;
  const v4 = { ...TCP, prevResult: prev('10.22.0.5/24') };
  t.is((await portmap(w, 'ADD', { ...TCP, prevResult: DUAL }, { containerId: 'other' })).exitCode, 0);
  t.is((await portmap(w, 'ADD', v4)).exitCode, 0);
  const ok = await portmap(w, 'CHECK', v4);
  t.is(ok.exitCode, 0, ok.stdout);
  await w.node.node.exec('iptables', [
    '-t',
    'nat',
    '-D',
    'OUTPUT',
    '-m',
    'addrtype',
    '--dst-type',
    'LOCAL',
    '-j',
    'CNI-HOSTPORT-DNAT',
  ]);
  const bad = await portmap(w, 'CHECK', v4);
  t.is(bad.json?.code, 100, bad.stdout);
  t.regex(
    bad.json.msg,
    /-A OUTPUT -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT" is missing from the IPv4 nat table/,
  );
  const withConditions = { ...v4, conditionsV4: ['!', '-s', '192.0.2.0/24'] };
  t.is((await portmap(w, 'ADD', withConditions, { containerId: 'cond' })).exitCode, 0);
  // an ADD that finds its chains in place reads nothing, so it does not see the missing entry rule
  t.is((await portmap(w, 'CHECK', v4)).json?.code, 100, 'a new pod’s ADD does not look at the entry rules');
  t.is((await portmap(w, 'ADD', v4)).exitCode, 0);
  t.is((await portmap(w, 'CHECK', v4)).exitCode, 0, 'the repeated ADD (it reads the table) repaired the shared rule');
  const cond = await portmap(w, 'CHECK', withConditions, { containerId: 'cond' });
  t.is(cond.exitCode, 0, `conditioned jumps are checked with iptables -C: ${cond.stdout}`);
  const jump = (await rulesOf(w.node.node, 4)).find((l) => l.includes('id: \\"cond\\"'))!;
  await w.node.node.exec('iptables-restore', ['--noflush', '-w'], `*nat\n${jump.replace('-A', '-D')}\nCOMMIT\n`);
  const gone = await portmap(w, 'CHECK', withConditions, { containerId: 'cond' });
  t.is(gone.json?.code, 100, gone.stdout);
  t.regex(gone.json.msg, /! -s 192\.0\.2\.0\/24 -j CNI-DN-/);
});

test('GC removes the chains of attachments that are gone, only of this network; STATUS is ready', async (t) => {
  const { w } = t.context;
  for (const id of ['keep', 'gone'])
    t.is((await portmap(w, 'ADD', { ...TCP, prevResult: DUAL }, { containerId: id })).exitCode, 0);
  t.is((await portmap(w, 'ADD', { ...TCP, name: 'othernet', prevResult: DUAL }, { containerId: 'gone' })).exitCode, 0);
  const gc = await portmap(w, 'GC', {
    cniVersion: '1.1.0',
    'cni.dev/valid-attachments': [{ containerID: 'keep', ifname: 'eth0' }],
  });
  t.is(gc.exitCode, 0, gc.stdout);
  for (const f of [4, 6] as const) {
    const comments = (await rulesOf(w.node.node, f)).filter((l) => l.includes('dnat name'));
    t.deepEqual(
      comments.map((l) => /name: \\"(\w+)\\" id: \\"(\w+)\\"/.exec(l)!.slice(1).join('/')),
      ['podnet/keep', 'othernet/gone'],
    );
  }
  t.is((await portmap(w, 'STATUS', { cniVersion: '1.1.0' })).exitCode, 0);
  t.is((await portmap(w, 'STATUS', { cniVersion: '1.1.0', backend: 'nftables' })).exitCode, 0);
});

test('a rejected ADD changes nothing on the node, not even a shared chain', async (t) => {
  const { w } = t.context;
  const before = [await saved(w.node.node, 4), await saved(w.node.node, 6), await saved(w.node.node, 4, 'filter')];
  const bad = [
    {
      runtimeConfig: {
        portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp', hostIP: '1.2.3.4 -j ACCEPT' }],
      },
    },
    { ...TCP, conditionsV4: ['-d', '1.2.3.4\nCOMMIT\n*filter\n-P INPUT DROP'] },
    { ...TCP, conditionsV6: ['-j', 'ACCEPT'] },
    { ...TCP, externalSetMarkChain: 'KUBE-MARK-MASQ' },
    { ...TCP, backend: 'nftables', conditionsV4: ['ip', 'saddr', '1.2.3.4;', 'flush', 'ruleset'] },
  ];
  for (const b of bad) {
    const r = await portmap(w, 'ADD', { ...b, prevResult: DUAL });
    t.is(r.json?.code, 7, `${JSON.stringify(b)}: ${r.stdout}`);
  }
  t.deepEqual(
    [await saved(w.node.node, 4), await saved(w.node.node, 6), await saved(w.node.node, 4, 'filter')],
    before,
  );
  t.false((await w.node.node.exec('nft', ['list', 'tables'])).includes('cni_hostport'));
});

// Values only iptables-restore or nft can judge (an option no match has, an address that does
// not parse, a set that does not exist): the refusal of the one batch changed nothing (a
// dual-stack ADD tries the IPv6 conditions with --test before writing IPv4); code 7 naming the value.
test('conditions iptables-restore or nft refuses: code 7 naming the value, on a fresh node and a busy one; nothing changed', async (t) => {
  const { w } = t.context;
  const state = async () => [
    await saved(w.node.node, 4),
    await saved(w.node.node, 6),
    await saved(w.node.node, 4, 'filter'),
    await w.node.node.exec('nft', ['list', 'ruleset']),
  ];
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [
      { backend: 'nftables', conditionsV4: ['tcp', 'dport', '99999'] },
      /^conditionsV4 "99999": refused by nft: Service out of range$/,
    ],
    [
      { backend: 'nftables', conditionsV6: ['meta', 'nosuch'] },
      /^conditionsV6 "meta nosuch": refused by nft: syntax error, unexpected nosuch/,
    ],
    [
      { conditionsV4: ['--10.0.0.1'] },
      /^conditionsV4 "--10\.0\.0\.1": refused by iptables-restore: unknown option "--10\.0\.0\.1"$/,
    ],
    [
      { conditionsV4: ['-s', '10.0.0.1.5'] },
      /^conditionsV4 "10\.0\.0\.1\.5": refused by iptables-restore: host\/network `10\.0\.0\.1\.5' not found$/,
    ],
    [
      { conditionsV6: ['-m', 'set', '--match-set', 'no-such-set', 'src'] },
      /^conditionsV6 "no-such-set": refused by ip6tables-restore: Set no-such-set doesn't exist\.$/,
    ],
  ];
  for (const node of ['a fresh node', 'a node with the shared chains and a pod']) {
    const before = await state();
    for (const [extra, msg] of cases) {
      const r = await portmap(w, 'ADD', { ...TCP, ...extra, prevResult: DUAL });
      t.is(r.json?.code, 7, `${node}, ${JSON.stringify(extra)}: ${r.stdout}`);
      t.regex(r.json?.msg ?? '', msg);
      t.deepEqual(await state(), before, `${node}, ${JSON.stringify(extra)}: nothing changed`);
    }
    t.is((await portmap(w, 'ADD', { ...TCP, prevResult: DUAL }, { containerId: 'other' })).exitCode, 0);
    const nft = { ...TCP, backend: 'nftables', prevResult: DUAL };
    t.is((await portmap(w, 'ADD', nft, { containerId: 'other-nft' })).exitCode, 0);
  }
});

test('nftables: DEL without mappings or prevResult, repeated; CHECK on a single-stack pod; GC', async (t) => {
  const { w } = t.context;
  const nft = { ...TCP, backend: 'nftables' };
  t.is((await portmap(w, 'ADD', { ...nft, prevResult: DUAL }, { containerId: 'gone' })).exitCode, 0);
  t.is((await portmap(w, 'ADD', { ...nft, prevResult: prev('10.22.0.6/24') })).exitCode, 0);
  const check = await portmap(w, 'CHECK', { ...nft, prevResult: prev('10.22.0.6/24') });
  t.is(check.exitCode, 0, check.stdout);
  const gc = await portmap(w, 'GC', {
    cniVersion: '1.1.0',
    backend: 'nftables',
    'cni.dev/valid-attachments': [{ containerID: 'ctr1', ifname: 'eth0' }],
  });
  t.is(gc.exitCode, 0, gc.stdout);
  const list = () => w.node.node.exec('nft', ['list', 'ruleset']);
  t.false((await list()).includes('comment "gone"'));
  t.true((await list()).includes('comment "ctr1"'));
  for (let i = 0; i < 2; i++) t.is((await portmap(w, 'DEL', {})).exitCode, 0);
  t.false((await list()).includes('comment "ctr1"'));
  const again = await portmap(w, 'CHECK', { ...nft, prevResult: prev('10.22.0.6/24') });
  t.is(again.json?.code, 100);
});
