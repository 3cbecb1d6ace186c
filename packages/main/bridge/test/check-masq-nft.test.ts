// CHECK's masquerade check read through nfnetlink (check-masq.ts: rulesPresentNft, no process)
// against the iptables-save reading (apply-masq.ts' checkMasqRules), on the real kernel in a fresh
// user+network namespace (`unshare -rn`, no root). Two attachments' rules are written by the
// bridge's ADD (through nf_tables, or through iptables-restore), then put in every shape CHECK must
// tell apart — all there, a chain rule, a masquerade rule or a jump missing, the chain missing in
// one family or both, a rule altered in its mask, address or comment, extra rules — and the
// nfnetlink reading must say exactly what the iptables-save reading says (the same words), and
// CHECK's answer (masqCheckProblems) too, with and without CNI_TS_NETLINK=0; where nothing is
// missing it starts no process. A rule iptables-save prints as ours but encoded otherwise (as
// another iptables version may write it) reads as missing through nfnetlink, and CHECK then
// takes iptables-save's word.
import anyTest from 'ava';
import { runInUserNetns, userNetnsTest } from '@cni-ts/testutils';
import { restoreIsNft } from '@cni-ts/iptables';

const probed = userNetnsTest(anyTest, import.meta.url, ['iptables-nft-save', '-t', 'nat']);
const test = restoreIsNft(4) && restoreIsNft(6) ? probed : probed.skip;
const src = (p: string) => JSON.stringify(new URL(p, import.meta.url).href);

const A = { network: 'n1', containerId: 'ctr-a', ifname: 'eth0', addresses: ['10.22.0.5/20', 'fd00:22::5/60'] };
const B = { network: 'n1', containerId: 'ctr-b', ifname: 'eth0', addresses: ['10.23.0.6/16'] };

const driver = `import { spawnSync } from 'node:child_process';
import { systemExecutor } from ${src('../../../../process/dist/src/index.js')};
import { applyNft, restore, xtExprs } from ${src('../../../../iptables/dist/src/index.js')};
import { masqChain, masqRules, planMasqCreate } from ${src('../src/plan-masq-iptables.js')};
import { checkMasqRules } from ${src('../src/apply-masq.js')};
import { masqCheckProblems, masqProblemsNft } from ${src('../src/check-masq.js')};
const { pods, shapes, writer } = JSON.parse(process.argv[2]);
const execs = [];
const exec = Object.create(systemExecutor);
exec.run = (file, args, opts) => { execs.push(file); return systemExecutor.run(file, args, opts); };
const sh = (args) => {
  const r = spawnSync(args[0], args.slice(1), { encoding: 'utf8' });
  if (r.status) throw new Error(args.join(' ') + ': ' + r.stderr);
};
const families = (p) => [4, 6].filter((f) => p.addresses.some((a) => a.includes(':') === (f === 6)));
const own = (p, f) => p.addresses.filter((a) => a.includes(':') === (f === 6));
function setup() {
  for (const p of pods) for (const f of families(p)) {
    const changes = planMasqCreate(p.network, p.containerId, own(p, f));
    if (writer === 'nft') { if (applyNft(exec, f, changes) !== 'done') throw new Error('applyNft'); }
    else restore(exec, f, changes);
  }
}
function teardown() {
  for (const f of [4, 6]) {
    const t = f === 4 ? 'iptables' : 'ip6tables';
    spawnSync(t, ['-t', 'nat', '-F']);
    spawnSync(t, ['-t', 'nat', '-X']);
  }
}
// the rule of pod p in family f: its chain's rules then its jumps, in masqRules' order
const ruleOf = (p, f, i) => { const r = masqRules(p.network, p.containerId, own(p, f)); return [...r.chain, ...r.jumps][i]; };
const ipt = (f) => (f === 4 ? 'iptables' : 'ip6tables');
function apply(step) {
  const p = pods[step.pod ?? 0];
  const chain = masqChain(p.network, p.containerId);
  if (step.do === 'delete') { const r = ruleOf(p, step.f, step.rule); sh([ipt(step.f), '-t', 'nat', '-D', r.chain, ...r.spec]); }
  else if (step.do === 'replace') {
    const r = ruleOf(p, step.f, step.rule);
    sh([ipt(step.f), '-t', 'nat', '-R', r.chain, String(step.at), ...r.spec.map((w) => step.swap[w] ?? w)]);
  } else if (step.do === 'dropChain') {
    const { jumps } = masqRules(p.network, p.containerId, own(p, step.f));
    for (const j of jumps) sh([ipt(step.f), '-t', 'nat', '-D', j.chain, ...j.spec]);
    sh([ipt(step.f), '-t', 'nat', '-F', chain]);
    sh([ipt(step.f), '-t', 'nat', '-X', chain]);
  } else if (step.do === 'run') sh(step.cmd.map((w) => (w === '$CHAIN' ? chain : w)));
  else if (step.do === 'reencode') {
    // the rule deleted and written again with its prefix loaded whole and masked (a bitwise
    // over 4 bytes), as an older iptables-nft wrote byte-aligned prefixes: iptables-save prints it the same
    const r = ruleOf(p, step.f, step.rule);
    sh([ipt(step.f), '-t', 'nat', '-D', r.chain, ...r.spec]);
    const exprs = xtExprs(step.f, r.spec, new Set([chain]));
    const at = exprs.findIndex((e) => e.expr === 'payload');
    const cmp = exprs[at + 1];
    const whole = [
      { expr: 'payload', base: 1, offset: exprs[at].offset, len: 4 },
      { expr: 'bitwise', len: 4, mask: Uint8Array.of(...Array.from({ length: 4 }, (_, i) => (i < cmp.data.length ? 255 : 0))), xor: new Uint8Array(4) },
      { expr: 'cmp', op: cmp.op, data: Uint8Array.of(...Array.from({ length: 4 }, (_, i) => cmp.data[i] ?? 0)) },
    ];
    const out = exec.nftTransaction('ip', 'nat', () => [{ op: 'newRule', chain: r.chain, exprs: [...exprs.slice(0, at), ...whole, ...exprs.slice(at + 2)], compat: { proto: 0, flags: 0 } }]);
    if (!out?.ok) throw new Error('reencode: ' + JSON.stringify(out));
  }
}
const results = [];
for (const shape of shapes) {
  teardown();
  setup();
  for (const step of shape.steps) apply(step);
  const p = pods[shape.ask ?? 0];
  const o = { network: p.network, containerId: p.containerId, ifname: p.ifname };
  const conf = {};
  const iptables = checkMasqRules(exec, conf, o, p.addresses);
  const nft = masqProblemsNft(exec, o, p.addresses) ?? null;
  execs.length = 0;
  const check = masqCheckProblems(exec, conf, o, p.addresses);
  const checkExecs = [...execs];
  process.env.CNI_TS_NETLINK = '0';
  execs.length = 0;
  const checkOff = masqCheckProblems(exec, conf, o, p.addresses);
  const offExecs = [...execs];
  delete process.env.CNI_TS_NETLINK;
  results.push({ name: shape.name, iptables, nft, check, checkExecs, checkOff, offExecs });
}
process.stdout.write(JSON.stringify(results));
`;

interface Shape {
  name: string;
  steps: Array<Record<string, unknown>>;
  /** The nfnetlink reading differs from iptables-save's (see the rule re-encoded). */
  nftDiffers?: boolean;
  /** Index into PODS of the attachment asked about (default A). */
  ask?: number;
}

const COMMENT_A = 'name: "n1" id: "ctr-a"';
// rules by index into masqRules' [...chain, ...jumps]: IPv4 of A: 0 ACCEPT, 1 MASQUERADE, 2 the jump
const SHAPES: Shape[] = [
  { name: 'all present', steps: [] },
  { name: 'the ACCEPT rule missing (IPv4)', steps: [{ do: 'delete', f: 4, rule: 0 }] },
  { name: 'the MASQUERADE rule missing (IPv6)', steps: [{ do: 'delete', f: 6, rule: 1 }] },
  { name: 'the POSTROUTING jump missing (IPv4)', steps: [{ do: 'delete', f: 4, rule: 2 }] },
  { name: 'the chain missing (IPv6)', steps: [{ do: 'dropChain', f: 6 }] },
  {
    name: 'the chain missing in both families',
    steps: [
      { do: 'dropChain', f: 4 },
      { do: 'dropChain', f: 6 },
    ],
  },
  {
    name: "the MASQUERADE rule's mask altered (224.0.0.0/3)",
    steps: [{ do: 'replace', f: 4, rule: 1, at: 2, swap: { '224.0.0.0/4': '224.0.0.0/3' } }],
  },
  {
    name: "the ACCEPT rule's prefix altered (/21)",
    steps: [{ do: 'replace', f: 4, rule: 0, at: 1, swap: { '10.22.0.0/20': '10.22.0.0/21' } }],
  },
  {
    name: "the IPv6 ACCEPT rule's address altered",
    steps: [{ do: 'replace', f: 6, rule: 0, at: 1, swap: { 'fd00:22::/60': 'fd00:23::/60' } }],
  },
  {
    name: "the ACCEPT rule's comment altered",
    steps: [{ do: 'replace', f: 4, rule: 0, at: 1, swap: { [COMMENT_A]: `${COMMENT_A} ` } }],
  },
  {
    name: 'the jump altered (another source)',
    steps: [{ do: 'replace', f: 4, rule: 2, at: 1, swap: { '10.22.0.5/32': '10.22.0.9/32' } }],
  },
  {
    name: 'extra rules in the chain and extra jumps to it',
    steps: [
      { do: 'run', cmd: ['iptables', '-t', 'nat', '-A', '$CHAIN', '-d', '10.99.0.0/16', '-j', 'ACCEPT'] },
      { do: 'run', cmd: ['iptables', '-t', 'nat', '-I', 'POSTROUTING', '1', '-s', '10.1.1.1/32', '-j', '$CHAIN'] },
      { do: 'run', cmd: ['ip6tables', '-t', 'nat', '-I', '$CHAIN', '1', '-j', 'RETURN'] },
    ],
  },
  { name: "another attachment's rule missing (B's jump)", steps: [{ do: 'delete', f: 4, rule: 2, pod: 1 }] },
  {
    name: "B's ACCEPT rule encoded as an older iptables-nft did (a masked whole address)",
    steps: [{ do: 'reencode', f: 4, rule: 0, pod: 1 }],
    ask: 1,
    nftDiffers: true,
  },
];

interface Result {
  name: string;
  iptables: string[];
  nft: string[] | null;
  check: string[];
  checkExecs: string[];
  checkOff: string[];
  offExecs: string[];
}

for (const writer of ['nft', 'restore'] as const) {
  test(`CHECK's masquerade problems read through nfnetlink are iptables-save's, rules written ${writer === 'nft' ? 'through nf_tables' : 'by iptables-restore'}`, (t) => {
    const res = runInUserNetns<Result[]>(t, driver, { input: { pods: [A, B], shapes: SHAPES, writer } });
    t.is(res.length, SHAPES.length);
    for (const [i, r] of res.entries()) {
      const s = SHAPES[i]!;
      const healthy =
        s.name === 'all present' || s.name.startsWith('extra') || s.name.startsWith('another') || !!s.nftDiffers;
      // the shapes are what they say: iptables-save finds problems exactly where something is missing or altered
      t.is(r.iptables.length === 0, healthy, `${r.name}: iptables-save reads ${JSON.stringify(r.iptables)}`);
      if (s.nftDiffers) {
        t.true(!!r.nft && r.nft.length > 0, `${r.name}: nfnetlink reads the rule as missing`);
      } else t.deepEqual(r.nft, r.iptables, `${r.name}: the nfnetlink reading`);
      t.deepEqual(r.check, r.iptables, `${r.name}: CHECK's words`);
      t.deepEqual(r.checkOff, r.iptables, `${r.name}: CHECK's words with CNI_TS_NETLINK=0`);
      // CHECK reads through nfnetlink alone where nothing is missing or a chain is; else iptables-save tells
      const alone = r.iptables.every((p) => p.startsWith('chain ')) && !s.nftDiffers;
      t.deepEqual(r.checkExecs.length === 0, alone, `${r.name}: processes ${JSON.stringify(r.checkExecs)}`);
      t.true(
        r.offExecs.some((e) => e.endsWith('tables-save')),
        `${r.name}: CNI_TS_NETLINK=0 reads iptables-save`,
      );
    }
  });
}
