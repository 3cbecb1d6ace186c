// GC's iptables masquerade cleanup read through nfnetlink (gc-masq-nft.ts: one dump of the nat
// table's rules and their comment matches, stale chains removed as DEL removes them) against the
// iptables-save path (CNI_TS_NETLINK=0), on the real kernel in a fresh user+network namespace
// (`unshare -rn`, no root): attachments of two networks written by the bridge's ADD, then GC of
// one network keeping some; both paths must leave the same `iptables-save` in both families, the
// nfnetlink one starting no process; where it cannot tell (a masquerade-shaped chain without a
// comment, a stale chain jumped to from another chain) it hands over to iptables-save, with the
// same end state.
import anyTest from 'ava';
import { restoreIsNft } from '@cni-ts/iptables';
import { runInUserNetns, userNetnsTest } from '@cni-ts/testutils';
import { masqChain } from '../src/plan-masq-iptables.js';

const probed = userNetnsTest(anyTest, import.meta.url, ['iptables-nft-save', '-t', 'nat']);
const test = restoreIsNft(4) && restoreIsNft(6) ? probed : probed.skip;
const src = (p: string) => JSON.stringify(new URL(p, import.meta.url).href);

const PODS = [
  { network: 'n1', containerId: 'ctr-a', addresses: ['10.22.0.5/20', 'fd00:22::5/60'] },
  { network: 'n1', containerId: 'ctr-b', addresses: ['10.22.0.6/20'] },
  { network: 'n1', containerId: 'ctr-c', addresses: ['10.22.0.7/20', 'fd00:22::7/60'] },
  { network: 'n2', containerId: 'ctr-a', addresses: ['10.30.0.5/24'] },
];

const driver = `import { spawnSync } from 'node:child_process';
import { systemExecutor } from ${src('../../../../process/dist/src/index.js')};
import { applyNft } from ${src('../../../../iptables/dist/src/index.js')};
import { masqChain, planMasqCreate } from ${src('../src/plan-masq-iptables.js')};
import { gcMasq } from ${src('../src/apply-masq.js')};
const { pods, extra, keep, path } = JSON.parse(process.argv[2]);
const execs = [];
const exec = Object.create(systemExecutor);
exec.run = (file, args, opts) => { execs.push(file); return systemExecutor.run(file, args, opts); };
const sh = (args) => { const r = spawnSync(args[0], args.slice(1), { encoding: 'utf8' }); if (r.status) throw new Error(args.join(' ') + ': ' + r.stderr); return r.stdout; };
for (const p of pods) for (const f of [4, 6]) {
  const own = p.addresses.filter((a) => a.includes(':') === (f === 6));
  if (own.length && applyNft(exec, f, planMasqCreate(p.network, p.containerId, own)) !== 'done') throw new Error('applyNft');
}
for (const c of extra) sh(c.map((w) => w.replace(/\\$CHAIN\\(([^)]*)\\)/, (_, id) => masqChain('n1', id))));
const save = () => [4, 6].map((f) => sh([f === 4 ? 'iptables-save' : 'ip6tables-save', '-t', 'nat']).split('\\n').filter((l) => l && !l.startsWith('#')).join('\\n'));
const before = save();
if (path === 'restore') process.env.CNI_TS_NETLINK = '0';
execs.length = 0;
const errors = gcMasq(exec, { name: 'n1' }, keep.map((id) => ({ containerID: id, ifname: 'eth0' })));
delete process.env.CNI_TS_NETLINK;
const tablesExecs = execs.filter((e) => /tables/.test(e));
process.stdout.write(JSON.stringify({ before, after: save(), errors: errors.map(String), execs: tablesExecs }));
`;

interface Out {
  before: string[];
  after: string[];
  errors: string[];
  execs: string[];
}

const SHAPES: Array<{ name: string; extra: string[][]; keep: string[]; handsOver?: boolean }> = [
  { name: 'two stale attachments of n1 (one dual-stack), one kept, n2 untouched', extra: [], keep: ['ctr-b'] },
  { name: 'nothing stale', extra: [], keep: ['ctr-a', 'ctr-b', 'ctr-c'] },
  { name: 'every attachment of n1 stale', extra: [], keep: [] },
  {
    name: 'a masquerade-shaped chain without a comment (read by iptables-save instead)',
    extra: [
      ['iptables', '-t', 'nat', '-N', 'CNI-0123456789abcdef01234567'],
      ['iptables', '-t', 'nat', '-A', 'CNI-0123456789abcdef01234567', '-j', 'RETURN'],
    ],
    keep: ['ctr-b'],
    handsOver: true,
  },
  {
    name: 'a stale chain also jumped to from another chain (removed by the iptables-save path)',
    extra: [
      ['iptables', '-t', 'nat', '-N', 'OTHER-CHAIN'],
      ['iptables', '-t', 'nat', '-A', 'OTHER-CHAIN', '-j', '$CHAIN(ctr-c)'],
    ],
    keep: ['ctr-b'],
    handsOver: true,
  },
];

for (const s of SHAPES) {
  test(`GC through nfnetlink leaves what the iptables-save path leaves: ${s.name}`, (t) => {
    const run = (path: string) =>
      runInUserNetns<Out>(t, driver, { input: { pods: PODS, extra: s.extra, keep: s.keep, path } });
    const ours = run('nft');
    const theirs = run('restore');
    t.deepEqual(ours.errors, [], 'nfnetlink path: no error');
    t.deepEqual(theirs.errors, [], 'iptables-save path: no error');
    t.deepEqual(ours.before, theirs.before, 'the same start');
    t.deepEqual(ours.after, theirs.after, 'the same end');
    t.true(theirs.execs.includes('iptables-save'), 'CNI_TS_NETLINK=0 reads iptables-save');
    if (s.handsOver) t.true(ours.execs.includes('iptables-save'), 'handed over to iptables-save');
    else t.deepEqual(ours.execs, [], 'no iptables process');
    // what GC removes: n1's containers not kept; n2's and kept ones stay
    const [v4, v6] = ours.after as [string, string];
    const chain = (id: string) => `:${masqChain('n1', id)} `;
    for (const id of ['ctr-a', 'ctr-b', 'ctr-c']) t.is(v4.includes(chain(id)), s.keep.includes(id), `IPv4 ${id}`);
    t.is(v6.includes(chain('ctr-a')), s.keep.includes('ctr-a'), 'IPv6 ctr-a');
    t.true(v4.includes(`:${masqChain('n2', 'ctr-a')} `), "n2's attachment stays");
    t.true(ours.before[0]!.includes(chain('ctr-b')), 'the start has the chains');
  });
}
