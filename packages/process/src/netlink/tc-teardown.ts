// bandwidth's teardown of a veth without reading any qdisc: the root tbf 1: deleted by a request
// the kernel checks (netlink/tc-commands.ts' rootTbfDel: only a tbf with handle 1: goes), the
// veth's own ingress filters dumped (per device; a qdisc dump is of every qdisc of the node, so
// it grew with the pods), and then the ingress qdisc deleted by kind or only the filters the
// caller calls ours. All on one socket of our namespace, the veth looked up by name once; the
// batch path (tc processes) keeps its qdisc listing, as tc cannot name a kind on `qdisc del`.
import { linkIndex } from './batch.js';
import type { NetlinkFailure } from './batch.js';
import { linkByIndex } from './commands.js';
import { attrText, attrs } from './message.js';
import { type Rtnl, RtnlError, withRtnl } from './socket.js';
import { tcErrorText } from './tc-batch.js';
import { type TcStep, rootTbfDel, tcStepOf } from './tc-commands.js';
import { type TcFilter, filterRecords } from './tc-docs.js';

const ENOENT = 2;
const ENODEV = 19;
const EINVAL = 22;
const IFLA_IFNAME = 3;

/** What goes of the veth's ingress: the ingress qdisc (with every filter on it), or these filters only. */
export type IngressPlan = { qdisc: true } | { prios: readonly number[] };

/**
 * What the teardown did: whether it deleted anything, and the tc commands it ran (the checked root
 * delete written as tc's `qdisc del … root handle 1:`), or the failure in tc's batch words for those
 * commands (netlinkError('tc', commands, failure) makes the ProcessError tcBatch would throw).
 */
export type TeardownOutcome =
  | { removed: boolean; commands: string[][] }
  | { failure: NetlinkFailure; commands: string[][] };

/**
 * Takes bandwidth's shaping off `dev` in our namespace: its root tbf 1: (if that is what is
 * there), then, from the filters on its ingress (`plan`), the ingress qdisc ffff: (if there is
 * one of kind ingress) or the filters of the prios `plan` names. A device that is gone fails with
 * tc's `Cannot find device`; a root or ingress qdisc that is not ours or not there (EINVAL,
 * ENOENT) is left. A filter's redirect to an index no device has any more is named "" (not tc's
 * "if<N>", which a device could be called): the ifb may be going at the same time (bandwidth DEL
 * deletes it meanwhile), and a redirect to a device that is gone is ours without asking the node's
 * list of links. Undefined without bun:ffi.
 */
export function tcTeardown(dev: string, plan: (filters: TcFilter[]) => IngressPlan): TeardownOutcome | undefined {
  const commands: string[][] = [
    ['qdisc', 'del', 'dev', dev, 'root', 'handle', '1:'],
    ['filter', 'show', 'dev', dev, 'parent', 'ffff:'],
  ];
  const root = rootTbfDel(dev);
  const show = tcStepOf(commands[1]!);
  if (!root || !show) return undefined;
  const out = withRtnl(undefined, (sock): TeardownOutcome => {
    const seq = { next: 1 };
    let line = 0;
    const fail = (why: string): TeardownOutcome => ({
      failure: { stderr: `${why}Command failed -:${line + 1}\n`, status: 1 },
      commands,
    });
    try {
      const index = linkIndex(sock, dev, seq.next++);
      if (index === undefined) return fail(`Cannot find device "${dev}"\n`);
      // a checked delete: true when it deleted, false when what is there is not it (or nothing is)
      const checked = (step: TcStep): boolean => {
        try {
          sock.exchange(step.request({ index }, seq.next++));
          return true;
        } catch (e) {
          if (e instanceof RtnlError && (e.errno === EINVAL || e.errno === ENOENT)) return false;
          throw e;
        }
      };
      let removed = checked(root);
      line = 1;
      const names = new Map<number, string>();
      const nameOf = (ix: number) => names.get(ix) ?? names.set(ix, linkName(sock, ix, seq.next++)).get(ix)!;
      const filters = filterRecords(sock.exchange(show.request({ index }, seq.next++)), nameOf);
      const p = plan(filters);
      if ('qdisc' in p) {
        line = commands.push(['qdisc', 'del', 'dev', dev, 'handle', 'ffff:', 'ingress']) - 1;
        removed = checked(tcStepOf(commands[line]!)!) || removed;
      } else {
        for (const prio of p.prios) {
          line = commands.push(['filter', 'del', 'dev', dev, 'parent', 'ffff:', 'prio', String(prio)]) - 1;
          const step = tcStepOf(commands[line]!);
          if (!step) throw new Error(`not a filter priority: ${prio}`);
          sock.exchange(step.request({ index }, seq.next++));
          removed = true;
        }
      }
      return { removed, commands };
    } catch (e) {
      if (!(e instanceof RtnlError)) throw e;
      // the veth went away after its lookup: what tc's own lookup would then have said
      if (e.errno === ENODEV) return fail(`Cannot find device "${dev}"\n`);
      return fail(tcErrorText(e.errno, e.extack, commands[line]![0] === 'filter'));
    }
  });
  if (out && 'failure' in out && !('commands' in out)) return { ...out, commands };
  return out;
}

// The name of the link with this index; "" when there is none.
function linkName(sock: Rtnl, index: number, seq: number): string {
  try {
    const [m] = sock.exchange(linkByIndex(index, seq));
    return (m && attrText(attrs(m.body, 16).get(IFLA_IFNAME))) ?? '';
  } catch (e) {
    if (e instanceof RtnlError && (e.errno === ENODEV || e.errno === EINVAL)) return '';
    throw e;
  }
}
