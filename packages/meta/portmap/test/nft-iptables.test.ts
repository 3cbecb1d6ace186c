// portmap's iptables rules written straight to nf_tables (applyChangesNft, removeChainsNft)
// against iptables-nft itself, on the real kernel, each run in a fresh user+network namespace
// (`unshare -rn`, no root): the plugin's ADD and DEL run through skel as the executable runs them,
// once on the nfnetlink path and once with CNI_TS_NETLINK=0 (every batch through
// iptables-restore, as before), and must leave the same `iptables-save`, the same `nft
// --debug=netlink list table` and the same expression bytes in the kernel's rule dump; each must
// remove the other's rules, and Go's portmap (/usr/lib/cni/portmap) ours and ours Go's; the
// nfnetlink path must start no iptables process where it writes, and must stand aside on a
// legacy iptables. (Where unshare -rn or iptables-nft cannot run, or the iptables on PATH is
// legacy, the tests skip, saying so, except as root: CI runs them.)
import anyTest, { type ExecutionContext } from 'ava';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { restoreIsNft } from '@cni-ts/iptables';
import { SYSTEM_PATH, isRoot, runInUserNetns, skippingTest, userNetnsTest } from '@cni-ts/testutils';

const GO = '/usr/lib/cni/portmap';

const inNetns = userNetnsTest(anyTest, import.meta.url, ['iptables-nft-save', '-t', 'nat']);
/** inNetns, or (not as root) skipped, saying why, when `needs` does not hold. */
function gated(needs: boolean, why: string) {
  if (needs || isRoot()) return inNetns;
  process.stderr.write(`# SKIP ${import.meta.url}: ${why}\n`);
  return skippingTest(inNetns);
}
// the iptables on PATH is iptables-nft (what the path writes for)
const nft = restoreIsNft(4) && restoreIsNft(6);
const test = gated(nft, 'the iptables-restore on PATH is not iptables-nft');
const testGo = gated(nft && existsSync(GO), `no ${GO}, or the iptables on PATH is not iptables-nft`);

const DRIVER = `import { spawnSync } from 'node:child_process';
import { systemExecutor } from ${JSON.stringify(import.meta.resolve('@cni-ts/process'))};
import { openNetlink } from ${JSON.stringify(new URL('netlink/socket.js', import.meta.resolve('@cni-ts/process')).href)};
import { Builder, attrText, attrs } from ${JSON.stringify(new URL('netlink/message.js', import.meta.resolve('@cni-ts/process')).href)};
import { dispatch } from ${JSON.stringify(import.meta.resolve('@cni-ts/skel'))};
import { makePortmap } from ${JSON.stringify(new URL('../src/index.js', import.meta.url).href)};
const sh = (cmd, args, input, env) => spawnSync(cmd, args, { input, encoding: 'utf8', env: env ?? process.env });
const execs = [];
const exec = Object.create(systemExecutor);
exec.run = (file, args, opts) => { execs.push(file); return systemExecutor.run(file, args, opts); };
const host = { routeDevice: () => undefined, writeSysctl() {}, async lock() { return { release() {} }; } };
// the kernel's rule dump of one table (NFT_MSG_GETRULE, NLM_F_DUMP), each rule's chain and expression bytes
function dump(fam, table) {
  const sock = openNetlink(12);
  const req = new Builder((10 << 8) | 7, 0x301, 7, 64).u8(fam).u8(0).u16(0).attrString(1, table).done();
  let answers = [];
  try { answers = sock.exchange({ msg: req, answer: 'dump' }); } catch {}
  sock.close();
  const hex = (d) => Buffer.from(d.buffer, d.byteOffset, d.byteLength).toString('hex');
  return answers.map((a) => { const at = attrs(a.body, 4); return { chain: attrText(at.get(2)), exprs: hex(at.get(4)) }; });
}
function state(f) {
  const fam = f === 4 ? 'ip' : 'ip6';
  const out = {};
  for (const table of ['nat', 'filter']) {
    out[table + '.save'] = sh(f === 4 ? 'iptables-save' : 'ip6tables-save', ['-t', table]).stdout
      .split('\\n').filter((l) => l && !l.startsWith('#')).join('\\n');
    out[table + '.nft'] = sh('nft', ['--debug=netlink', 'list', 'table', fam, table]).stdout
      .split('\\n').filter((l) => l && !l.startsWith('#')).map((l) => l.replace(/^(ip6? \\S+ \\S+) \\d+( \\d+)?$/, '$1')).join('\\n');
    // rule by rule per chain (the chains' order is their creation order, which differs with history)
    const rules = {};
    for (const r of dump(f === 4 ? 2 : 10, table)) (rules[r.chain] ??= []).push(r.exprs);
    out[table + '.dump'] = Object.fromEntries(Object.entries(rules).sort(([a], [b]) => (a < b ? -1 : 1)));
  }
  return out;
}
function stdin(s) {
  const prev = s.addrs && { cniVersion: '1.0.0', interfaces: [{ name: 'eth0', sandbox: '/x' }],
    ips: s.addrs.map((address) => ({ address, interface: 0 })) };
  return JSON.stringify({ cniVersion: '1.0.0', name: 'podnet', type: 'portmap', ...(s.conf ?? {}),
    ...(s.mappings ? { runtimeConfig: { portMappings: s.mappings } } : {}), ...(prev ? { prevResult: prev } : {}) });
}
async function verb(s) {
  let err = '';
  const env = { CNI_COMMAND: s.cmd, CNI_CONTAINERID: s.id, CNI_NETNS: '/proc/self/ns/net', CNI_IFNAME: 'eth0', CNI_PATH: '/usr/lib/cni' };
  if (s.path === 'restore') process.env.CNI_TS_NETLINK = '0'; else delete process.env.CNI_TS_NETLINK;
  execs.length = 0;
  const code = await dispatch(makePortmap(host), { env, readStdin: () => stdin(s), stdout() {}, stderr: (t) => { err += t; },
    exec, probeNetns: () => undefined });
  delete process.env.CNI_TS_NETLINK;
  return { code, err: code ? err : '', execs: execs.filter((e) => /tables/.test(e)) };
}
const out = [];
for (const s of JSON.parse(process.argv[2])) {
  if (s.do === 'verb') out.push(await verb(s));
  else if (s.do === 'go') {
    const env = { ...process.env, CNI_COMMAND: s.cmd, CNI_CONTAINERID: s.id, CNI_NETNS: '/proc/self/ns/net', CNI_IFNAME: 'eth0', CNI_PATH: '/usr/lib/cni' };
    const r = sh(${JSON.stringify(GO)}, [], stdin(s), env);
    out.push({ code: r.status, err: r.status ? r.stdout + r.stderr : '' });
  } else if (s.do === 'run') out.push(sh(s.cmd[0], s.cmd.slice(1), s.input).status);
  else if (s.do === 'state') out.push(state(s.f ?? 4));
}
process.stdout.write(JSON.stringify(out));
`;

type Step = Record<string, unknown>;
type State = Record<string, unknown>;
interface Verb {
  code: number;
  err: string;
  execs?: string[];
}

// The steps in a fresh user and network namespace, with the system's tools on PATH (or `path`).
const run = (t: ExecutionContext, steps: Step[], path = SYSTEM_PATH) =>
  runInUserNetns<unknown[]>(t, DRIVER, { input: steps, env: { PATH: path } });

const TCP = { hostPort: 8080, containerPort: 80, protocol: 'tcp' };
const MAPS = (f: 4 | 6) => [
  TCP,
  { hostPort: 8443, containerPort: 443, protocol: 'tcp', hostIP: f === 4 ? '192.0.2.1' : 'fd00:1::1' },
  { hostPort: 5353, containerPort: 53, protocol: 'udp' },
];
const pod = (id: string, addrs: string[], extra: Step = {}) => ({ id, addrs, mappings: [TCP], ...extra });
const BOTH = [
  { do: 'state', f: 4 },
  { do: 'state', f: 6 },
];
const add = (path: string, p: Step) => ({ do: 'verb', cmd: 'ADD', path, ...p });
const del = (path: string, p: Step) => ({ do: 'verb', cmd: 'DEL', path, ...p });

const CASES: Array<{ name: string; f: 4 | 6; pods: Step[]; setup?: Step[] }> = [
  {
    name: 'IPv4, one TCP mapping, then a second pod',
    f: 4,
    pods: [pod('ctr1', ['10.22.0.5/24']), pod('ctr2', ['10.22.0.6/24'])],
  },
  {
    name: 'IPv4, TCP, a host IP and UDP, two pods',
    f: 4,
    pods: [pod('ctr1', ['10.22.0.5/24'], { mappings: MAPS(4) }), pod('ctr2', ['10.22.0.6/24'], { mappings: MAPS(4) })],
  },
  {
    name: 'IPv6, TCP, a host IP and UDP, two pods',
    f: 6,
    pods: [
      pod('ctr1', ['fd00:22::5/64'], { mappings: MAPS(6) }),
      pod('ctr2', ['fd00:22::6/64'], { mappings: MAPS(6) }),
    ],
  },
  {
    name: 'IPv4 without snat (no mark chains, no guard)',
    f: 4,
    pods: [
      pod('ctr1', ['10.22.0.5/24'], { conf: { snat: false } }),
      pod('ctr2', ['10.22.0.6/24'], { conf: { snat: false } }),
    ],
  },
  {
    name: 'IPv4 with masqAll and markMasqBit 13',
    f: 4,
    pods: [
      pod('ctr1', ['10.22.0.5/16'], { conf: { masqAll: true, markMasqBit: 13 } }),
      pod('ctr2', ['10.22.0.6/16'], { conf: { masqAll: true, markMasqBit: 13 } }),
    ],
  },
  {
    name: "IPv4 with kube-proxy's KUBE-MARK-MASQ (externalSetMarkChain)",
    f: 4,
    setup: [{ do: 'run', cmd: ['iptables', '-t', 'nat', '-N', 'KUBE-MARK-MASQ'] }],
    pods: [
      pod('ctr1', ['10.22.0.5/24'], { conf: { externalSetMarkChain: 'KUBE-MARK-MASQ' } }),
      pod('ctr2', ['10.22.0.6/24'], { conf: { externalSetMarkChain: 'KUBE-MARK-MASQ' } }),
    ],
  },
  {
    name: 'dual-stack pods',
    f: 6,
    pods: [
      pod('ctr1', ['10.22.0.5/24', 'fd00:22::5/64'], { mappings: MAPS(6) }),
      pod('ctr2', ['10.22.0.6/24', 'fd00:22::6/64'], { mappings: MAPS(6) }),
    ],
  },
];

function ok(t: { deepEqual: (a: unknown, b: unknown, m?: string) => void }, verbs: unknown[], m: string) {
  t.deepEqual(
    (verbs as Verb[]).map((v) => [v.code, v.err]),
    verbs.map(() => [0, '']),
    m,
  );
}

for (const c of CASES) {
  test(`ADD: the same kernel state as through iptables-restore, no iptables process for the second pod: ${c.name}`, (t) => {
    const families = c.name.startsWith('dual') ? [4, 6] : [c.f];
    const states = families.map((f) => ({ do: 'state', f }));
    const setup = c.setup ?? [];
    const ours = run(t, [...setup, ...c.pods.map((p) => add('ours', p)), ...states]).slice(setup.length);
    const theirs = run(t, [...setup, ...c.pods.map((p) => add('restore', p)), ...states]).slice(setup.length);
    ok(t, ours.slice(0, c.pods.length), 'ours');
    ok(t, theirs.slice(0, c.pods.length), 'iptables-restore');
    // the first pod of a fresh node reads the tables (per family, and again under the lock); the second writes without a process
    t.deepEqual(
      (ours as Verb[]).slice(0, c.pods.length).map((v) => v.execs),
      [families.flatMap((f) => Array<string>(2).fill(f === 4 ? 'iptables-save' : 'ip6tables-save')), []],
    );
    t.true(
      (theirs[0] as Verb).execs!.some((e) => e.endsWith('tables-restore')),
      'the restore path restores',
    );
    families.forEach((f, i) => {
      const [a, b] = [ours[c.pods.length + i] as State, theirs[c.pods.length + i] as State];
      t.true(String(b['nat.save']).includes('-A CNI-HOSTPORT-DNAT'), 'iptables-restore wrote the rules');
      t.deepEqual(a, b, `IPv${f}`);
    });
  });
}

test('DEL: ours removes what iptables-restore wrote and the restore path what ours wrote, to the same state', (t) => {
  const p1 = pod('ctr1', ['10.22.0.5/24', 'fd00:22::5/64'], { mappings: MAPS(6) });
  const p2 = pod('ctr2', ['10.22.0.6/24', 'fd00:22::6/64'], { mappings: MAPS(6) });
  const base = run(t, [add('restore', p1), ...BOTH]);
  const ours = run(t, [add('restore', p1), add('restore', p2), del('ours', p2), ...BOTH]);
  const theirs = run(t, [add('ours', p1), add('ours', p2), del('restore', p2), ...BOTH]);
  ok(t, ours.slice(0, 3), 'ours');
  ok(t, theirs.slice(0, 3), 'restore');
  t.deepEqual((ours[2] as Verb).execs, [], 'our DEL starts no iptables process');
  t.deepEqual(ours.slice(3), base.slice(1));
  t.deepEqual(theirs.slice(3), base.slice(1));
});

test('DEL with the pod gone, half there, or without mappings: succeeds and leaves no rule of the pod', (t) => {
  const p = pod('ctr1', ['10.22.0.5/24'], { mappings: MAPS(4) });
  const bare = { id: 'ctr1', addrs: ['10.22.0.5/24'] };
  const r = run(t, [
    add('ours', pod('ctr0', ['10.22.0.4/24'])),
    { do: 'state', f: 4 },
    // nothing there: nothing to do, no process
    del('ours', p),
    del('ours', bare),
    // half there: the chain without its jumps (an interrupted DEL of another version)
    add('ours', p),
    { do: 'run', cmd: ['iptables', '-t', 'nat', '-F', 'CNI-HOSTPORT-DNAT'] },
    {
      do: 'run',
      cmd: [
        'iptables',
        '-t',
        'nat',
        '-A',
        'CNI-HOSTPORT-DNAT',
        '-p',
        'tcp',
        '-m',
        'multiport',
        '--dports',
        '8080',
        '-j',
        'CNI-DN-ee871de47c845415462cc',
      ],
    },
    del('ours', p),
    // without mappings (the runtime did not resend them): found by name, read and removed
    add('ours', p),
    del('ours', bare),
    del('ours', bare),
    { do: 'state', f: 4 },
  ]);
  const verbs = [r[2], r[3], r[4], r[7], r[8], r[9], r[10]] as Verb[];
  ok(t, verbs, 'every verb');
  t.deepEqual(verbs[0]!.execs, []);
  t.deepEqual(verbs[1]!.execs, []);
  t.deepEqual(r[5], 0);
  t.deepEqual(r[6], 0);
  // the pod ctr0's jump went with the flush above; its chain and the shared ones are what is left
  const end = r[11] as State;
  t.false(JSON.stringify(end).includes('ctr1'), 'no rule names ctr1');
  t.notRegex(String(end['nat.save']), /CNI-DN-ee871de47c845415462cc/);
  t.regex(String(end['nat.save']), /:CNI-HOSTPORT-DNAT/);
});

test('a batch refused by the kernel applied nothing: an ADD whose chain exists reads and repairs it', (t) => {
  const p = pod('ctr1', ['10.22.0.5/24'], { mappings: MAPS(4) });
  const r = run(t, [
    add('ours', pod('ctr0', ['10.22.0.4/24'])),
    // the pod's chain is there (a leftover) with a stray rule: the batch's NEWCHAIN gets EEXIST
    { do: 'run', cmd: ['iptables', '-t', 'nat', '-N', 'CNI-DN-ee871de47c845415462cc'] },
    { do: 'run', cmd: ['iptables', '-t', 'nat', '-A', 'CNI-DN-ee871de47c845415462cc', '-j', 'RETURN'] },
    add('ours', p),
    { do: 'state', f: 4 },
  ]);
  const theirs = run(t, [add('restore', pod('ctr0', ['10.22.0.4/24'])), add('restore', p), { do: 'state', f: 4 }]);
  ok(t, [r[0], r[3]], 'ours');
  t.deepEqual((r[3] as Verb).execs, ['iptables-save', 'iptables-restore'], 'refused, then read and planned');
  t.deepEqual(r[4], theirs[2]);
});

testGo("Go's portmap removes our rules, ours remove Go's; the shared rules stay once", (t) => {
  const p = pod('ctr1', ['10.22.0.5/24', 'fd00:22::5/64'], { mappings: MAPS(6) });
  const q = pod('ctr2', ['10.22.0.6/24', 'fd00:22::6/64'], { mappings: MAPS(6) });
  const go = (cmd: string, s: Step) => ({ do: 'go', cmd, ...s });
  const base = run(t, [go('ADD', p), ...BOTH]);
  const a = run(t, [go('ADD', p), add('ours', q), go('DEL', q), ...BOTH]);
  const b = run(t, [go('ADD', p), go('ADD', q), del('ours', q), ...BOTH]);
  ok(t, base.slice(0, 1), 'Go ADD');
  ok(t, a.slice(0, 3), 'Go, ours, Go DEL');
  ok(t, b.slice(0, 3), 'Go, Go, our DEL');
  // a Go-built node has no 127/8 guard: our first ADD there reads the IPv4 tables (again under the lock) and adds it
  t.deepEqual((a[1] as Verb).execs, ['iptables-save', 'iptables-save'], 'our ADD on a Go-built node');
  t.deepEqual((b[2] as Verb).execs, [], 'our DEL of a Go-written pod starts no process');
  // our ADD adds the 127/8 guard a Go-built node lacks; otherwise the nat tables are Go's
  for (const [i, f] of [4, 6].entries()) {
    const [x, y, z] = [a[3 + i], b[3 + i], base[1 + i]] as State[];
    t.deepEqual(y, z, `IPv${f}: ours removed Go's pod`);
    for (const k of ['nat.save', 'nat.nft', 'nat.dump']) t.deepEqual(x![k], z![k], `IPv${f} ${k}: Go removed ours`);
  }
});

test('legacy iptables on PATH, or CNI_TS_NETLINK=0: iptables-restore writes, as before', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cts-pm-nft-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const bin = join(dir, 'legacy');
  mkdirSync(bin, { recursive: true });
  for (const tool of [
    'iptables',
    'iptables-save',
    'iptables-restore',
    'ip6tables',
    'ip6tables-save',
    'ip6tables-restore',
  ])
    symlinkSync(`/usr/sbin/${tool.replace(/^(ip6?tables)/, '$1-legacy')}`, join(bin, tool));
  const r = run(
    t,
    [add('ours', pod('ctr1', ['10.22.0.5/24'])), add('ours', pod('ctr2', ['10.22.0.6/24']))],
    `${bin}:${SYSTEM_PATH}`,
  );
  ok(t, r, 'legacy');
  t.true((r[1] as Verb).execs!.includes('iptables-restore'));
  const n = run(t, [add('restore', pod('ctr1', ['10.22.0.5/24'])), add('restore', pod('ctr2', ['10.22.0.6/24']))]);
  t.deepEqual((n[1] as Verb).execs, ['iptables-restore']);
});

// Jumps whose conditions hold a mask that is not whole bytes: the kernel dumps their bitwise with
// an NFTA_BITWISE_OP the rules were written without, which removeChainsNft's comparison of the
// expected jumps must see past (before, DEL fell back to iptables-restore on every such pod).
test('DEL of a pod whose jumps carry masked conditions: no iptables process, the same state as the restore path', (t) => {
  const conf = { conditionsV4: ['-s', '10.0.0.0/12'], conditionsV6: ['-s', 'fd00::/60'] };
  const p = pod('ctr1', ['10.22.0.5/24', 'fd00:22::5/64'], { conf, mappings: MAPS(6) });
  const q = pod('ctr2', ['10.22.0.6/24', 'fd00:22::6/64'], { conf, mappings: MAPS(6) });
  const ours = run(t, [add('ours', p), add('ours', q), del('ours', q), ...BOTH]);
  const theirs = run(t, [add('ours', p), add('ours', q), del('restore', q), ...BOTH]);
  ok(t, ours.slice(0, 3), 'ours');
  ok(t, theirs.slice(0, 3), 'restore');
  t.deepEqual((ours[2] as Verb).execs, [], 'our DEL starts no iptables process');
  t.true(
    (theirs[2] as Verb).execs!.some((e) => e.endsWith('tables-restore')),
    'the restore path restores',
  );
  t.deepEqual(ours.slice(3), theirs.slice(3));
  t.false(JSON.stringify(ours.slice(3)).includes('ctr2'), 'no rule names ctr2');
  t.true(JSON.stringify(ours.slice(3)).includes('ctr1'), 'ctr1 stays');
});
