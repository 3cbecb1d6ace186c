// Typed rtnetlink work for a plugin that knows what it asks (bandwidth): a link by name, an ifb
// made and brought up, a link deleted, tc commands run and tc listings decoded straight into
// records — without the batch text, the generic `ip` steps and the documents `ip -j` / `tc -j`
// print. Every value is still checked as the batch text would check it (iprouteBatchText: a value
// ip or tc could not read is refused on every path, before anything runs), so a refusal stays one.
// The requests are the batch path's own (links.ts' and tc-commands.ts' builders, in the
// same order), and a failure is reported in the batch path's words (the stderr and status
// netlink/batch.ts and tc-batch.ts would give), so ipBatch's and tcBatch's error (netlinkError)
// is the same ProcessError. Each call is undefined when a command is outside the subset: the
// caller runs its batch.
import { iprouteBatchText } from '../ip.js';
import type { NetlinkFailure, NetlinkOutcome } from './batch.js';
import { linkByName, stepOf } from './commands.js';
import { ifinfo } from './links.js';
import { Builder, F_ACK, F_REQUEST, type Request } from './message.js';
import { type LinksOutcome, kernelWords, linkBriefOf, linkNamed } from './link-dump.js';
import { RtnlError, withRtnl } from './socket.js';
import { type TcStep, tcStepOf } from './tc-commands.js';
import { type TcDecoder, tcNetlinkSteps } from './tc-batch.js';
import { type TcFilter, type TcQdisc, filterRecords, qdiscRecords } from './tc-docs.js';
import { type IngressPlan, type TeardownOutcome, tcTeardown } from './tc-teardown.js';
import { sendAsync } from './uring.js';

const ENODEV = 19;
const RTM_DELLINK = 17;
const IFLA_IFNAME = 3;

/** What the plugin asks of rtnetlink directly (Executor.typedNetlink). */
export interface NetlinkDirect {
  /** `ip -d link show dev <name>` in the namespace at `netns`: no links when there is none. */
  link(name: string, netns?: string): LinksOutcome;
  /**
   * `link add name X … type ifb` then `link set dev X …` (as ipBatch would run them), in our
   * namespace: the new link's MAC, read from the lookup the set needs (no `link show`).
   */
  addAndSet(add: readonly string[], set: readonly string[]): { mac: string } | { failure: NetlinkFailure } | undefined;
  /**
   * `link del dev X` in our namespace: one RTM_DELLINK naming the link (the kernel finds it by
   * name, as the lookup ip makes first would), so no lookup.
   */
  del(name: string): { failure: NetlinkFailure } | undefined;
  /**
   * del's request handed to an io-wq thread of the kernel (netlink/uring.ts), so that its wait in
   * the kernel runs while the caller does other work; `wait()` returns what del would. Undefined
   * where io_uring cannot be used (nothing was sent: the caller calls del).
   */
  delAsync(name: string): { wait(): { failure: NetlinkFailure } | undefined } | undefined;
  /**
   * tc commands (no show) in our namespace, as tcBatch runs them (with -force: on past a failure);
   * `indices` holds devices' indices known already (tcListing's), which are not looked up again.
   */
  tc(
    commands: ReadonlyArray<readonly string[]>,
    force?: boolean,
    indices?: ReadonlyMap<string, number>,
  ): NetlinkOutcome | undefined;
  /**
   * `qdisc show dev X` and `filter show dev X parent ffff:` (tc -j -raw), as records, with the
   * device's index (for `tc`'s `indices`); a device a filter redirects to is looked up once.
   */
  tcListing(
    dev: string,
  ): { qdiscs: TcQdisc[]; filters: TcFilter[]; index: number } | { failure: NetlinkFailure } | undefined;
  /**
   * bandwidth's shaping taken off `dev` without reading a qdisc (netlink/tc-teardown.ts): the
   * checked delete of the root tbf 1:, the device's ingress filters, then what `plan` makes of them.
   */
  teardown(dev: string, plan: (filters: TcFilter[]) => IngressPlan): TeardownOutcome | undefined;
}

const failed = (msg: string, line: number): { failure: NetlinkFailure } => ({
  failure: { stderr: `${msg}\nCommand failed -:${line}\n`, status: 1 },
});

function addAndSet(add: readonly string[], set: readonly string[]) {
  iprouteBatchText([add, set]);
  const create = stepOf(add);
  const change = stepOf(set);
  const name = change?.dev;
  if (!create || !change || name === undefined || change.master !== undefined || create.netns !== undefined)
    return undefined;
  return withRtnl(undefined, (sock): { mac: string } | { failure: NetlinkFailure } => {
    let line = 1;
    try {
      let seq = 1;
      for (const r of create.requests({ index: 0 }, seq++)) sock.exchange(r);
      line = 2;
      let found: ReturnType<typeof sock.exchange>[number] | undefined;
      try {
        [found] = sock.exchange(linkByName(name, seq++));
      } catch (e) {
        if (!(e instanceof RtnlError) || e.errno !== ENODEV) throw e;
      }
      if (!found) return failed(`Cannot find device "${name}"`, line);
      for (const r of change.requests({ index: found.body.getInt32(4, true) }, seq++)) sock.exchange(r);
      return { mac: linkBriefOf(found).mac };
    } catch (e) {
      if (e instanceof RtnlError) return failed(kernelWords(e), line);
      throw e;
    }
  });
}

/**
 * RTM_DELLINK of the link named `name` (ifi_index 0, IFLA_IFNAME): rtnl_dellink finds it by name
 * (its altnames too, as the RTM_GETLINK by name ip sends first), ENODEV when there is none.
 */
export function linkDelByName(name: string, seq: number): Request {
  return {
    msg: ifinfo(new Builder(RTM_DELLINK, F_REQUEST | F_ACK, seq))
      .attrString(IFLA_IFNAME, name)
      .done(),
    answer: 'ack',
  };
}

/** What `ip link del dev <name>` reports for the kernel's error answer to linkDelByName. */
export function delFailure(name: string, e: RtnlError): { failure: NetlinkFailure } {
  return failed(e.errno === ENODEV ? `Cannot find device "${name}"` : kernelWords(e), 1);
}

function del(name: string): { failure: NetlinkFailure } | undefined {
  iprouteBatchText([['link', 'del', 'dev', name]]);
  return withRtnl(undefined, (sock): { failure: NetlinkFailure } | undefined => {
    try {
      sock.exchange(linkDelByName(name, 1));
      return undefined;
    } catch (e) {
      if (e instanceof RtnlError) return delFailure(name, e);
      throw e;
    }
  });
}

function stepsOf(commands: ReadonlyArray<readonly string[]>): TcStep[] | undefined {
  iprouteBatchText(commands);
  const steps: TcStep[] = [];
  for (const c of commands) {
    const s = tcStepOf(c);
    if (!s) return undefined;
    steps.push(s);
  }
  return steps;
}

// a device a filter redirects to named once per dump (the Go plugin's filter redirects twice to its ifb)
const records: TcDecoder = (step, answers, dev, nameOf) => {
  if (step.show === 'qdisc') return qdiscRecords(answers, dev);
  const names = new Map<number, string>();
  return filterRecords(answers, (ix) => names.get(ix) ?? names.set(ix, nameOf(ix)).get(ix)!);
};

function delAsync(name: string): { wait(): { failure: NetlinkFailure } | undefined } | undefined {
  iprouteBatchText([['link', 'del', 'dev', name]]);
  const inFlight = sendAsync(linkDelByName(name, 1).msg, 1);
  if (!inFlight) return undefined;
  return {
    wait() {
      let answer: { errno: number; extack?: string };
      try {
        answer = inFlight.wait();
      } catch {
        // the completion could not be reaped (io_uring_enter failed): ask again ourselves; the
        // first request, if it ran, leaves ENODEV (a missing link, which del's callers take)
        return del(name);
      }
      return answer.errno === 0 ? undefined : delFailure(name, new RtnlError(answer.errno, answer.extack));
    },
  };
}

/** The direct operations (in Bun; callers fall back to their batches where one is undefined). */
export const netlinkDirect: NetlinkDirect = {
  link(name, netns) {
    iprouteBatchText([['link', 'show', 'dev', name]]);
    return linkNamed(name, netns) ?? { links: [] };
  },
  addAndSet,
  del,
  delAsync,
  tc(commands, force = false, indices) {
    const steps = stepsOf(commands);
    if (!steps || steps.some((s) => s.show)) return undefined;
    return tcNetlinkSteps(steps, undefined, records, force, new Map(indices));
  },
  tcListing(dev) {
    const steps = stepsOf([
      ['qdisc', 'show', 'dev', dev],
      ['filter', 'show', 'dev', dev, 'parent', 'ffff:'],
    ]);
    if (!steps) return undefined;
    const indices = new Map<string, number | undefined>();
    const out = tcNetlinkSteps(steps, undefined, records, false, indices);
    if (!out || 'failure' in out) return out;
    // the listing succeeded, so its device was found
    return { qdiscs: out.docs[0] as TcQdisc[], filters: out.docs[1] as TcFilter[], index: indices.get(dev)! };
  },
  teardown(dev, plan) {
    iprouteBatchText([['qdisc', 'show', 'dev', dev]]);
    return tcTeardown(dev, plan);
  },
};
