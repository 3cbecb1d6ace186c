// The masquerade rules written straight to nf_tables (applyNft, removeChainNft) against
// iptables-nft itself, on the real kernel, each run in a fresh user+network namespace
// (`unshare -rn`, no root): the same rules set up by iptables-restore and by our batch must leave
// the same `iptables-save -t nat`, the same `nft --debug=netlink list table` and the same
// expression bytes in the kernel's rule dump; ours must be deleted by `iptables -D/-F/-X` as the
// Go bridge's DEL does, and iptables-restore's by ours; and the path must stand aside where it is
// not what iptables-restore would do (a legacy iptables on PATH, CNI_TS_NETLINK=0).
import anyTest, { type ExecutionContext } from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatComment } from '@cni-ts/iptables';
import { SYSTEM_PATH, runInUserNetns, userNetnsTest } from '@cni-ts/testutils';
import { masqChain } from '../src/plan-masq-iptables.js';

const test = userNetnsTest(anyTest, import.meta.url, ['iptables-nft-save', '-t', 'nat']);

const url = (p: string) => JSON.stringify(new URL(p, import.meta.url).href);
const driver = `import { spawnSync } from 'node:child_process';
import { systemExecutor } from ${JSON.stringify(import.meta.resolve('@cni-ts/process'))};
import { openNetlink } from ${JSON.stringify(new URL('netlink/socket.js', import.meta.resolve('@cni-ts/process')).href)};
import { applyNft, removeChainNft, renderRestore } from ${JSON.stringify(import.meta.resolve('@cni-ts/iptables'))};
import { planMasqCreate, masqChain } from ${url('../src/plan-masq-iptables.js')};
const sh = (cmd, args, input) => spawnSync(cmd, args, { input, encoding: 'utf8' });
function dump(fam) {
  const sock = openNetlink(12);
  const m = new Uint8Array(28); const v = new DataView(m.buffer);
  v.setUint32(0, 28, true); v.setUint16(4, (10 << 8) | 7, true); v.setUint16(6, 0x301, true); v.setUint32(8, 7, true);
  m[16] = fam; v.setUint16(20, 8, true); v.setUint16(22, 1, true); m.set([110, 97, 116, 0], 24);
  let answers = [];
  try { answers = sock.exchange({ msg: m, answer: 'dump' }); } catch {}
  sock.close();
  return answers.map((a) => {
    const out = {};
    for (let off = 4; off + 4 <= a.body.byteLength; ) {
      const len = a.body.getUint16(off, true), type = a.body.getUint16(off + 2, true) & 0x3fff;
      const bytes = Buffer.from(a.body.buffer, a.body.byteOffset + off + 4, len - 4);
      if (type === 2) out.chain = bytes.toString('latin1').replace(/\\0.*/s, '');
      if (type === 4) out.exprs = bytes.toString('hex');
      off += (len + 3) & ~3;
    }
    return out;
  });
}
function state(f) {
  const save = sh(f === 4 ? 'iptables-save' : 'ip6tables-save', ['-t', 'nat']).stdout
    .split('\\n').filter((l) => l && !l.startsWith('#')).join('\\n');
  const nft = sh('nft', ['--debug=netlink', 'list', 'table', f === 4 ? 'ip' : 'ip6', 'nat']).stdout
    .split('\\n').filter((l) => l && !l.startsWith('#')).map((l) => l.replace(/^(ip6? nat \\S+) \\d+( \\d+)?$/, '$1')).join('\\n');
  // rule by rule per chain (the chains' order is their creation order, which differs with history)
  const rules = {};
  for (const r of dump(f === 4 ? 2 : 10)) (rules[r.chain] ??= []).push(r.exprs);
  return { save, nft, dump: Object.fromEntries(Object.entries(rules).sort(([a], [b]) => (a < b ? -1 : 1))) };
}
const out = [];
for (const s of JSON.parse(process.argv[2])) {
  const f = s.f ?? 4;
  if (s.do === 'ours') out.push(applyNft(systemExecutor, f, planMasqCreate(s.net, s.id, s.addrs)) ?? null);
  else if (s.do === 'restore') {
    const r = sh(f === 4 ? 'iptables-restore' : 'ip6tables-restore', ['--noflush'], renderRestore(planMasqCreate(s.net, s.id, s.addrs)));
    out.push(r.status === 0 ? 'done' : r.stderr);
  } else if (s.do === 'remove') out.push(removeChainNft(systemExecutor, f, 'nat', masqChain(s.net, s.id), ['POSTROUTING']) ?? null);
  else if (s.do === 'run') out.push(sh(s.cmd[0], s.cmd.slice(1)).status);
  else if (s.do === 'state') out.push(state(f));
}
process.stdout.write(JSON.stringify(out));
`;

type Step = Record<string, unknown>;
interface State {
  save: string;
  nft: string;
  dump: Record<string, string[]>;
}

function run(t: ExecutionContext, steps: Step[], env: Record<string, string> = {}): unknown[] {
  return runInUserNetns<unknown[]>(t, driver, { input: steps, env });
}

const nftOnPath = spawnSync('sh', ['-c', 'readlink -f "$(command -v iptables-restore)"'], {
  encoding: 'utf8',
  env: { PATH: SYSTEM_PATH },
}).stdout.trim();
// the path under test is taken only where iptables-restore is iptables-nft
const maybe = nftOnPath.endsWith('/xtables-nft-multi') ? test : test.skip;

const pod = (id: string, addrs: string[], f: 4 | 6 = 4) => ({ net: 'mynet', id, addrs, f });
const C1 = formatComment('mynet', 'ctr1');
const CH1 = masqChain('mynet', 'ctr1');

const CASES: Array<{ name: string; pods: Array<ReturnType<typeof pod>> }> = [
  { name: 'one pod, IPv4 /24', pods: [pod('ctr1', ['10.22.0.5/24'])] },
  {
    name: 'two pods (the second finds POSTROUTING), /20 subnet',
    pods: [pod('ctr1', ['10.22.16.5/20']), pod('ctr2', ['10.22.16.6/20'])],
  },
  { name: 'one pod with two IPv4 addresses', pods: [pod('ctr1', ['10.22.0.5/16', '10.23.0.9/24'])] },
  {
    name: 'IPv6 /64 and a second pod',
    pods: [pod('ctr1', ['fd00:10:22::5/64'], 6), pod('ctr2', ['fd00:10:22::6/64'], 6)],
  },
  { name: 'IPv6 /52 (not byte-aligned)', pods: [pod('ctr1', ['fd00:10:22:1::5/52'], 6)] },
];

for (const c of CASES) {
  maybe(`same kernel state as iptables-nft-restore: ${c.name}`, (t) => {
    const f = c.pods[0]!.f;
    const ours = run(t, [...c.pods.map((p) => ({ do: 'ours', ...p })), { do: 'state', f }]);
    const theirs = run(t, [...c.pods.map((p) => ({ do: 'restore', ...p })), { do: 'state', f }]);
    t.deepEqual(
      ours.slice(0, -1),
      c.pods.map(() => 'done'),
    );
    t.deepEqual(
      theirs.slice(0, -1),
      c.pods.map(() => 'done'),
    );
    const [a, b] = [ours.at(-1) as State, theirs.at(-1) as State];
    t.true(b.save.includes(`-A POSTROUTING -s`), 'iptables-restore wrote the rules');
    t.is(a.save, b.save);
    t.is(a.nft, b.nft);
    t.deepEqual(a.dump, b.dump);
  });
}

maybe("ours are removed by iptables -D, -F and -X as the Go bridge's DEL does, and read by iptables -C", (t) => {
  const spec = ['-s', '10.22.0.5/32', '-m', 'comment', '--comment', C1, '-j', CH1];
  const r = run(t, [
    { do: 'ours', ...pod('ctr1', ['10.22.0.5/24']) },
    { do: 'run', cmd: ['iptables', '-t', 'nat', '-C', 'POSTROUTING', ...spec] },
    {
      do: 'run',
      cmd: [
        'iptables',
        '-t',
        'nat',
        '-C',
        CH1,
        '!',
        '-d',
        '224.0.0.0/4',
        '-m',
        'comment',
        '--comment',
        C1,
        '-j',
        'MASQUERADE',
      ],
    },
    { do: 'run', cmd: ['iptables', '-t', 'nat', '-D', 'POSTROUTING', ...spec] },
    { do: 'run', cmd: ['iptables', '-t', 'nat', '-F', CH1] },
    { do: 'run', cmd: ['iptables', '-t', 'nat', '-X', CH1] },
    { do: 'state' },
  ]);
  t.deepEqual(r.slice(0, 6), ['done', 0, 0, 0, 0, 0]);
  t.deepEqual((r[6] as State).dump, {});
  t.false((r[6] as State).save.includes('CNI-'));
});

maybe("iptables-restore's are removed by ours, and only that pod's", (t) => {
  const [removed, left, only] = [
    run(t, [
      { do: 'restore', ...pod('ctr1', ['10.22.0.5/24']) },
      { do: 'restore', ...pod('ctr2', ['10.22.0.6/24']) },
      { do: 'remove', ...pod('ctr1', []) },
      { do: 'remove', ...pod('ctr1', []) },
      { do: 'state' },
    ]),
    run(t, [{ do: 'restore', ...pod('ctr2', ['10.22.0.6/24']) }, { do: 'state' }]),
    run(t, [
      { do: 'restore', ...pod('ctr1', ['fd00::5/64'], 6) },
      { do: 'remove', ...pod('ctr1', [], 6) },
      { do: 'state', f: 6 },
    ]),
  ];
  t.deepEqual(removed.slice(0, 4), ['done', 'done', 'done', 'done'], 'a second removal finds nothing and is done');
  const [a, b] = [removed[4] as State, left[1] as State];
  t.is(a.save, b.save);
  t.deepEqual(a.dump, b.dump);
  t.is(only[1], 'done');
  t.deepEqual((only[2] as State).dump, {});
});

maybe(
  'a chain that exists already is "exists", nothing applied; a chain still jumped to elsewhere is left to restore',
  (t) => {
    const r = run(t, [
      { do: 'restore', ...pod('ctr1', ['10.22.0.5/24']) },
      { do: 'state' },
      { do: 'ours', ...pod('ctr1', ['10.22.0.7/24']) },
      { do: 'state' },
      { do: 'run', cmd: ['iptables', '-t', 'nat', '-N', 'OTHER'] },
      { do: 'run', cmd: ['iptables', '-t', 'nat', '-A', 'OTHER', '-j', CH1] },
      { do: 'state' },
      { do: 'remove', ...pod('ctr1', []) },
      { do: 'state' },
    ]);
    t.is(r[2], 'exists');
    t.deepEqual(r[3], r[1], 'the refused batch changed nothing');
    t.is(r[7], null);
    t.deepEqual(r[8], r[6], 'the refused removal changed nothing');
  },
);

maybe(
  'stands aside where iptables-restore would not write nf_tables: legacy iptables on PATH, CNI_TS_NETLINK=0',
  (t) => {
    const legacy = mkdtempSync(join(tmpdir(), 'cts-masq-legacy-'));
    try {
      for (const tool of ['iptables-restore', 'ip6tables-restore'])
        symlinkSync('/usr/sbin/xtables-legacy-multi', join(legacy, tool));
      const steps = [
        { do: 'ours', ...pod('ctr1', ['10.22.0.5/24']) },
        { do: 'remove', ...pod('ctr1', []) },
        { do: 'state' },
      ];
      const envs: Array<Record<string, string>> = [{ PATH: `${legacy}:${SYSTEM_PATH}` }, { CNI_TS_NETLINK: '0' }];
      for (const env of envs) {
        const r = run(t, steps, env);
        t.deepEqual(r.slice(0, 2), [null, null], JSON.stringify(env));
        t.deepEqual((r[2] as State).dump, {});
      }
    } finally {
      rmSync(legacy, { recursive: true, force: true });
    }
  },
);
