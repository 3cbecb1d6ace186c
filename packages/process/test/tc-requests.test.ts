// The rtnetlink requests of netlink/tc-commands.ts are the ones `tc` sends for the same commands,
// byte for byte: tc runs each batch under `strace -e write=3` (its netlink socket) in a fresh
// `unshare -rn` namespace holding a veth and an ifb, and every request it sends but the link
// lookups (tc dumps every link once; we ask for the one named) must equal ours, the sequence
// number and port id aside. (At the end, the same for the link dump of netlink/link-dump.ts against ip's.)
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { linkDumpOfKind } from '../src/netlink/link-dump.js';
import { tcStepOf } from '../src/netlink/tc-commands.js';
import { normal, written } from './strace.js';

const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const RTM_GETLINK = 18;
const dir = mkdtempSync(join(tmpdir(), 'cts-tc-requests-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

const TBF = ['root', 'handle', '1:', 'tbf', 'rate', '12500000Bps', 'burst', '125000', 'limit', '437500'];
const REDIRECT = [
  ...['parent', 'ffff:', 'protocol', 'all', 'prio', '1', 'u32', 'match', 'u32', '0', '0', 'flowid', '1:1'],
  ...['action', 'mirred', 'egress', 'redirect', 'dev', 'ifb0'],
];
const BATCHES: Record<string, string[][]> = {
  "bandwidth's ADD": [
    ['qdisc', 'add', 'dev', 'ifb0', ...TBF],
    ['qdisc', 'add', 'dev', 'veth0', 'handle', 'ffff:', 'ingress'],
    ['filter', 'add', 'dev', 'veth0', ...REDIRECT],
    ['qdisc', 'add', 'dev', 'veth0', ...TBF],
  ],
  'a slow rate with a large burst, and one above 2^32 B/s': [
    ['qdisc', 'add', 'dev', 'ifb0', 'root', 'handle', '1:', 'tbf', 'rate', '125Bps', 'burst', '3028', 'limit', '6056'],
    ['qdisc', 'add', 'dev', 'veth0', ...TBF.slice(0, 5), '5000000000Bps', 'burst', '50000000', 'limit', '175000000'],
  ],
  'the listings, then the teardown': [
    ['qdisc', 'add', 'dev', 'veth0', 'handle', 'ffff:', 'ingress'],
    ['filter', 'add', 'dev', 'veth0', ...REDIRECT.map((a, i) => (i === 5 ? '2' : a))],
    ['qdisc', 'show', 'dev', 'veth0'],
    ['filter', 'show', 'dev', 'veth0', 'parent', 'ffff:'],
    ['filter', 'del', 'dev', 'veth0', 'parent', 'ffff:', 'prio', '2'],
    ['qdisc', 'add', 'dev', 'veth0', ...TBF],
    ['qdisc', 'del', 'dev', 'veth0', 'root', 'handle', '1:'],
    ['qdisc', 'del', 'dev', 'veth0', 'handle', 'ffff:', 'ingress'],
  ],
};

for (const [name, batch] of Object.entries(BATCHES)) {
  test(`tc's requests, byte for byte: ${name}`, (t) => {
    const file = join(dir, `${name.replace(/\W+/g, '-')}.batch`);
    writeFileSync(file, `${batch.map((c) => c.join(' ')).join('\n')}\n`);
    const trace = `${file}.trace`;
    const script = [
      'set -e',
      'ip link add veth0 type veth peer name pod0',
      'ip link add ifb0 type ifb',
      `ip -j link show > ${file}.links`,
      `strace -qq -f -e trace=sendmsg,sendto -e write=3 -o ${trace} tc -batch ${file}`,
    ].join('\n');
    const r = spawnSync('unshare', ['-rn', '--', 'sh', '-c', script], { encoding: 'utf8', env: { PATH: SYSTEM_PATH } });
    t.is(r.status, 0, `strace tc (strace comes with tools/setup-debian.sh): ${r.stderr}`);
    const index = new Map(
      (JSON.parse(readFileSync(`${file}.links`, 'utf8')) as Array<{ ifname: string; ifindex: number }>).map((l) => [
        l.ifname,
        l.ifindex,
      ]),
    );
    const theirs = written(readFileSync(trace, 'utf8')).filter((m) => m[4] !== RTM_GETLINK);
    const ours = batch.map((c, i) => {
      const step = tcStepOf(c);
      if (!step) throw new Error(`outside the subset: ${c.join(' ')}`);
      const target = step.target === undefined ? {} : { target: index.get(step.target)! };
      return step.request({ index: index.get(step.dev)!, ...target }, i + 1).msg;
    });
    t.is(theirs.length, batch.length, 'one request per command');
    t.deepEqual(ours.map(normal), theirs.map(normal));
  });
}

test('the comparison can fail: a different burst is a different request', (t) => {
  const a = tcStepOf(['qdisc', 'add', 'dev', 'ifb0', ...TBF])!.request({ index: 3 }, 1).msg;
  const b = tcStepOf(['qdisc', 'add', 'dev', 'ifb0', ...TBF.slice(0, 7), '125001', ...TBF.slice(8)])!.request(
    { index: 3 },
    1,
  ).msg;
  t.not(normal(a), normal(b));
});

// Not tc's, but captured the same way: the link dump bandwidth's DEL sends to find every veth of
// the node (netlink/link-dump.ts) is the one `ip -d link show type veth` sends, with the kind
// filter the kernel applies.
test("ip's requests, byte for byte: the link dump of `ip -d link show type veth`", (t) => {
  const trace = join(dir, 'link-dump.trace');
  const script = [
    'set -e',
    'ip link add veth0 type veth peer name pod0',
    `strace -qq -f -e trace=sendmsg,sendto -e write=3 -o ${trace} ip -d -j link show type veth > /dev/null`,
  ].join('\n');
  const r = spawnSync('unshare', ['-rn', '--', 'sh', '-c', script], { encoding: 'utf8', env: { PATH: SYSTEM_PATH } });
  t.is(r.status, 0, `strace ip: ${r.stderr}`);
  const dumps = written(readFileSync(trace, 'utf8')).filter((m) => m[4] === RTM_GETLINK);
  t.is(dumps.length, 1, 'one link dump');
  t.deepEqual(normal(linkDumpOfKind('veth', 7)), normal(dumps[0]!));
  t.not(normal(linkDumpOfKind('vet', 7)), normal(dumps[0]!));
});
