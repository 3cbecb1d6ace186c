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
import { type LinksOutcome, kernelWords, linkBriefOf, linkNamed } from './link-dump.js';
import { RtnlError, withRtnl } from './socket.js';
import { type TcStep, tcStepOf } from './tc-commands.js';
import { type TcDecoder, tcNetlinkSteps } from './tc-batch.js';
import { type TcFilter, type TcQdisc, filterRecords, qdiscRecords } from './tc-docs.js';

const ENODEV = 19;

/** What the plugin asks of rtnetlink directly (Executor.typedNetlink). */
export interface NetlinkDirect {
  /** `ip -d link show dev <name>` in the namespace at `netns`: no links when there is none. */
  link(name: string, netns?: string): LinksOutcome;
  /**
   * `link add name X … type ifb` then `link set dev X …` (as ipBatch would run them), in our
   * namespace: the new link's MAC, read from the lookup the set needs (no `link show`).
   */
  addAndSet(add: readonly string[], set: readonly string[]): { mac: string } | { failure: NetlinkFailure } | undefined;
  /** `link del dev X` in our namespace. */
  del(name: string): { failure: NetlinkFailure } | undefined;
  /** tc commands (no show) in our namespace, as tcBatch runs them (with -force: on past a failure). */
  tc(commands: ReadonlyArray<readonly string[]>, force?: boolean): NetlinkOutcome | undefined;
  /** `qdisc show dev X` and `filter show dev X parent ffff:` (tc -j -raw), as records. */
  tcListing(dev: string): { qdiscs: TcQdisc[]; filters: TcFilter[] } | { failure: NetlinkFailure } | undefined;
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

function del(name: string): { failure: NetlinkFailure } | undefined {
  const command = ['link', 'del', 'dev', name];
  iprouteBatchText([command]);
  const step = stepOf(command)!;
  const out = withRtnl(undefined, (sock): { failure: NetlinkFailure } | undefined => {
    try {
      let found: ReturnType<typeof sock.exchange>[number] | undefined;
      try {
        [found] = sock.exchange(linkByName(name, 1));
      } catch (e) {
        if (!(e instanceof RtnlError) || e.errno !== ENODEV) throw e;
      }
      if (!found) return failed(`Cannot find device "${name}"`, 1);
      for (const r of step.requests({ index: found.body.getInt32(4, true) }, 2)) sock.exchange(r);
      return undefined;
    } catch (e) {
      if (e instanceof RtnlError) return failed(kernelWords(e), 1);
      throw e;
    }
  });
  return out;
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

const records: TcDecoder = (step, answers, dev, nameOf) =>
  step.show === 'qdisc' ? qdiscRecords(answers, dev) : filterRecords(answers, nameOf);

/** The direct operations (in Bun; callers fall back to their batches where one is undefined). */
export const netlinkDirect: NetlinkDirect = {
  link(name, netns) {
    iprouteBatchText([['link', 'show', 'dev', name]]);
    return linkNamed(name, netns) ?? { links: [] };
  },
  addAndSet,
  del,
  tc(commands, force = false) {
    const steps = stepsOf(commands);
    if (!steps || steps.some((s) => s.show)) return undefined;
    return tcNetlinkSteps(steps, undefined, records, force);
  },
  tcListing(dev) {
    const steps = stepsOf([
      ['qdisc', 'show', 'dev', dev],
      ['filter', 'show', 'dev', dev, 'parent', 'ffff:'],
    ]);
    if (!steps) return undefined;
    const out = tcNetlinkSteps(steps, undefined, records);
    if (!out || 'failure' in out) return out;
    return { qdiscs: out.docs[0] as TcQdisc[], filters: out.docs[1] as TcFilter[] };
  },
};
