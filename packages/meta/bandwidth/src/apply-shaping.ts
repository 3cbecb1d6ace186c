// Applies a shaping plan in as few processes as possible (none in the executable: both batches go
// through rtnetlink): one `ip -batch` for the ifb (create, up, show) and one `tc -batch` for every
// qdisc and filter. A failure takes back what was done, on what is left of the run's budget
// (budget.ts): the ifb first (its tbf goes with it), then the tc commands on the veth that
// succeeded before the failing one, so a failed ADD leaves nothing.
import { type Executor, ProcessError, ipBatch, isKind, netlinkError, tcBatch } from '@cni-ts/process';
import { CniError, ErrorCode } from '@cni-ts/types';
import { undoExecutor } from './budget.js';
import { parseLinks } from './observe.js';
import { type ShapingPlan, ifbCommands, tcCommands } from './plan-shaping.js';
import { undoCommands } from './plan-teardown.js';

/** The interface ADD reports for the ifb. */
export interface IfbBrief {
  name: string;
  mac: string;
}

/** The plan's ifb is there already; nothing was created. The error as it is reported when ADD cannot replace it. */
export class IfbExists extends CniError {
  constructor(reported: CniError) {
    super(reported.code, reported.message, reported.details, { cause: reported.cause });
  }
}

/**
 * Creates the ifb and the qdiscs/filter of a plan; returns the ifb (when the plan has one). Throws
 * IfbExists, having changed nothing, when the ifb is there already.
 */
export function applyShaping(exec: Executor, plan: ShapingPlan, log: (msg: string) => void): IfbBrief | undefined {
  let ifb: IfbBrief | undefined;
  if (plan.egress) {
    const { ifb: name } = plan.egress;
    try {
      ifb = { name, mac: createIfb(exec, ifbCommands(plan.egress)) };
    } catch (e) {
      // an earlier ADD of this attachment left it: the caller takes that ADD's work off and tries again
      if (isKind(e, 'exists')) throw new IfbExists(kernelError(`create ifb device ${name}`, e));
      // the ifb may exist by now (a later command failed): remove it before reporting
      deleteLink(undoExecutor(exec), name, log);
      throw kernelError(`create ifb device ${name}`, e);
    }
  }
  const commands = tcCommands(plan);
  try {
    runTc(exec, commands);
  } catch (e) {
    // the commands before the failing one took effect; when tc did not say which one failed, all may have
    const done = e instanceof ProcessError && e.failed ? e.failed.index : commands.length;
    const undo = undoExecutor(exec);
    if (ifb) deleteLink(undo, ifb.name, log);
    undoTc(
      undo,
      commands.slice(0, done).filter((c) => c[3] !== ifb?.name),
      log,
    );
    throw kernelError(`set up traffic shaping on ${plan.veth}`, e);
  }
  return ifb;
}

// The ifb batch ([add, set, show]): the MAC of the new link. Through the executor's typed rtnetlink
// path where it has one (the lookup before the set has the MAC: no `link show`), else the batch.
function createIfb(exec: Executor, commands: string[][]): string {
  const direct = exec.typedNetlink?.()?.addAndSet(commands[0]!, commands[1]!);
  if (direct && 'failure' in direct) throw netlinkError('ip', commands, direct.failure);
  if (direct) return direct.mac;
  const docs = ipBatch(exec, commands);
  return parseLinks(docs[docs.length - 1])[0]?.mac ?? '';
}

/**
 * Runs tc commands (no listing) as tcBatch does, through the executor's typed rtnetlink path where
 * it has one (no batch text): the same requests, and the same ProcessError when one fails;
 * `indices` are devices' indices known already (a listing's), not looked up again on that path.
 */
export function runTc(
  exec: Executor,
  commands: ReadonlyArray<readonly string[]>,
  force = false,
  indices?: ReadonlyMap<string, number>,
): void {
  if (commands.length === 0) return;
  const direct = exec.typedNetlink?.()?.tc(commands, force, indices);
  if (direct && 'failure' in direct) throw netlinkError('tc', commands, direct.failure);
  if (!direct) tcBatch(exec, commands, force ? { options: ['-force'] } : {});
}

/** Runs the undo of tc commands that succeeded; failures are logged, never thrown. */
export function undoTc(exec: Executor, applied: ReadonlyArray<readonly string[]>, log: (msg: string) => void): void {
  const undo = undoCommands(applied);
  if (undo.length === 0) return;
  try {
    runTc(exec, undo, true);
  } catch (e) {
    log(`undo of tc commands failed: ${(e as Error).message}`);
  }
}

/** Deletes a link of our netns (typed rtnetlink where the executor has it); a missing one is fine, other failures are logged. */
export function deleteLink(exec: Executor, name: string, log: (msg: string) => void): void {
  const command = [['link', 'del', 'dev', name]];
  try {
    const direct = exec.typedNetlink?.();
    const failed = direct?.del(name);
    if (failed) throw netlinkError('ip', command, failed.failure);
    if (!direct) ipBatch(exec, command);
  } catch (e) {
    if (!isKind(e, 'missing')) log(`could not delete ${name}: ${(e as Error).message}`);
  }
}

/** A kernel refusal as a CNI error that says what failed; codes the lower layer set (busy → 11) are kept. */
export function kernelError(what: string, e: unknown): CniError {
  if (e instanceof CniError) return e;
  const code = (e as { cniCode?: number }).cniCode ?? ErrorCode.internal;
  return new CniError(code, `failed to ${what}: ${(e as Error).message}`, '', { cause: e });
}
