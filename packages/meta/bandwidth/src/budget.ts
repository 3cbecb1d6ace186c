// One time budget for a whole plugin run. Every process a run starts is killed at the tool
// timeout (15 s) anyway, but one after another a hung `tc` made ADD answer after 30 s (the batch,
// then its undo). Here the run's processes share the 15 s from the start of the verb: the work
// leaves UNDO_RESERVE_MS for its undo, which gets whatever is left, so a failed ADD answers
// within the budget (code 11 when a tool hung) and has had time to take back what it made.
// The rtnetlink path (no process) is not timed: a request answers or waits for the rtnl lock,
// which no timeout can interrupt (docs/performance.md).
import { type Executor, ProcessError, TOOL_TIMEOUT_MS, describe } from '@cni-ts/process';
import type { Context } from '@cni-ts/skel';

/** What the whole run may take, from the start of the verb. */
export const RUN_BUDGET_MS = TOOL_TIMEOUT_MS;
/** What the work leaves for the undo of a failed ADD (deleting the ifb, the tc undo batch). */
export const UNDO_RESERVE_MS = 2_000;

const undoOf = new WeakMap<Executor, Executor>();

/** The context with its executor on the run's budget (the undo's executor: undoExecutor). */
export function withBudget(ctx: Context, budgetMs = RUN_BUDGET_MS, now: () => number = Date.now): Context {
  const deadline = now() + budgetMs;
  const work = budgeted(ctx.exec, () => deadline - now() - UNDO_RESERVE_MS);
  undoOf.set(
    work,
    budgeted(ctx.exec, () => deadline - now()),
  );
  // the descriptors, not a spread: a spread would decode the lazy prevResult (DEL tolerates a bad one)
  return Object.defineProperties(
    {},
    {
      ...Object.getOwnPropertyDescriptors(ctx),
      exec: { value: work, enumerable: true, writable: true, configurable: true },
    },
  ) as Context;
}

/** The executor an undo runs on: what is left of the budget of `exec`'s run (exec itself when it has none). */
export function undoExecutor(exec: Executor): Executor {
  return undoOf.get(exec) ?? exec;
}

function budgeted(exec: Executor, left: () => number): Executor {
  const out: Executor = {
    run(file, args, opts = {}) {
      const ms = Math.min(opts.timeoutMs ?? TOOL_TIMEOUT_MS, Math.floor(left()));
      if (ms < 1) {
        const command = describe(file, args);
        throw new ProcessError(
          'timeout',
          command,
          `${command}: not started: the plugin's ${RUN_BUDGET_MS / 1000} s were spent (a tool hangs or waits for a kernel lock); try again later`,
        );
      }
      return exec.run(file, args, { ...opts, timeoutMs: ms });
    },
  };
  if (exec.ipNetlink) out.ipNetlink = exec.ipNetlink.bind(exec);
  if (exec.tcNetlink) out.tcNetlink = exec.tcNetlink.bind(exec);
  if (exec.nftTableExists) out.nftTableExists = exec.nftTableExists.bind(exec);
  if (exec.linksOfKind) out.linksOfKind = exec.linksOfKind.bind(exec);
  if (exec.typedNetlink) out.typedNetlink = exec.typedNetlink.bind(exec);
  return out;
}
