// What the netlink tc path (netlink/tc-batch.ts) puts on stderr when the kernel refuses a
// command, against what tc 6.1 prints for the same refusal: each case's text is checked against
// the real tool (tc, or ip for an error answer without an extended message: both print
// libnetlink's line) in a fresh `unshare -rn` namespace, and tcErrorText must give it from the
// errno and extended-ack message the kernel answers with (net/sched/sch_api.c, cls_api.c; the
// errno shows only when there is no message).
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { tcErrorText } from '../src/netlink/tc-batch.js';

const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const EINVAL = 22;
const ENOENT = 2;
const EEXIST = 17;
const EOPNOTSUPP = 95;
const TBF = 'tbf rate 1000Bps burst 3000 limit 6000';

interface Case {
  errno: number;
  extack?: string;
  filter: boolean;
  /** What the real tool prints; the text tcErrorText must give. */
  stderr: string;
  /** Shell commands in a namespace holding veth0, the last of which fails with `stderr`. */
  live?: string[];
}

const CASES: Record<string, Case> = {
  'a qdisc refused with an extended message (libnetlink adds the period)': {
    errno: ENOENT,
    extack: 'Cannot delete qdisc with handle of zero',
    filter: false,
    stderr: 'Error: Cannot delete qdisc with handle of zero.\n',
    live: ['tc qdisc del dev veth0 root'],
  },
  'a second exclusive qdisc add': {
    errno: EEXIST,
    extack: 'Exclusivity flag on, cannot modify',
    filter: false,
    stderr: 'Error: Exclusivity flag on, cannot modify.\n',
    live: [`tc qdisc add dev veth0 root handle 1: ${TBF}`, `tc qdisc add dev veth0 root handle 1: ${TBF}`],
  },
  'a filter refused: tc adds its own line': {
    errno: EINVAL,
    extack: "Parent Qdisc doesn't exists",
    filter: true,
    stderr: "Error: Parent Qdisc doesn't exists.\nWe have an error talking to the kernel\n",
    live: ['tc filter add dev veth0 parent ffff: protocol all prio 1 u32 match u32 0 0 flowid 1:1'],
  },
  'a filter del of a chain that is not there': {
    errno: ENOENT,
    extack: 'Cannot find specified filter chain',
    filter: true,
    stderr: 'Error: Cannot find specified filter chain.\nWe have an error talking to the kernel\n',
    live: ['tc qdisc add dev veth0 handle ffff: ingress', 'tc filter del dev veth0 parent ffff: prio 3'],
  },
  'no extended message: strerror, as ip prints it': {
    errno: EEXIST,
    filter: false,
    stderr: 'RTNETLINK answers: File exists\n',
    live: ['ip link add veth0 type dummy'],
  },
  'no extended message, a filter': {
    errno: EOPNOTSUPP,
    filter: true,
    stderr: 'RTNETLINK answers: Operation not supported\nWe have an error talking to the kernel\n',
  },
  'an extended message that ends in a period gets no second one': {
    errno: EINVAL,
    extack: 'Invalid handle.',
    filter: false,
    stderr: 'Error: Invalid handle.\n',
  },
};

for (const [name, c] of Object.entries(CASES)) {
  test(`tcErrorText: ${name}`, (t) => {
    t.is(tcErrorText(c.errno, c.extack, c.filter), c.stderr);
  });
  const live = c.live;
  if (live)
    test(`the real tool prints it: ${name}`, (t) => {
      const script = ['ip link add veth0 type veth peer name pod0', ...live.slice(0, -1)].join(' && ');
      const r = spawnSync('unshare', ['-rn', '--', 'sh', '-c', `${script} && exec ${live.at(-1)}`], {
        encoding: 'utf8',
        env: { PATH: SYSTEM_PATH },
      });
      t.is(r.status, 2, `${live.at(-1)} fails as the kernel refusing it (${r.error?.message ?? r.stderr})`);
      t.is(r.stderr, c.stderr);
    });
}
