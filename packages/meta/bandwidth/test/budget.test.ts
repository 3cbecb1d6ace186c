// The run's one time budget (budget.ts): the work's processes leave the undo its reserve, the undo
// gets what is left, and a process that would start with nothing left fails as a timeout (code 11).
import test from 'ava';
import { type Executor, ProcessError, TOOL_TIMEOUT_MS } from '@cni-ts/process';
import type { Context } from '@cni-ts/skel';
import { RUN_BUDGET_MS, UNDO_RESERVE_MS, undoExecutor, withBudget } from '../src/budget.js';

// An executor that records the timeout each process got and lets `ms` pass per call.
function clocked(msPerCall: number) {
  let now = 1_000_000;
  const timeouts: number[] = [];
  const exec: Executor = {
    run(_file, _args, opts = {}) {
      timeouts.push(opts.timeoutMs ?? -1);
      now += Math.min(msPerCall, opts.timeoutMs ?? msPerCall);
      return { status: 0, stdout: '', stderr: '' };
    },
  };
  return { exec, timeouts, now: () => now };
}

test('the work leaves the reserve, the undo gets the rest; nothing outlives the budget', (t) => {
  const c = clocked(5_000);
  const ctx = withBudget({ exec: c.exec } as Context, RUN_BUDGET_MS, c.now);
  const undo = undoExecutor(ctx.exec);
  t.not(undo, ctx.exec);
  ctx.exec.run('tc', []); // 5 s pass
  ctx.exec.run('tc', []); // 5 s more
  ctx.exec.run('tc', []); // gets what is left of the work's share: 15 - 2 - 10 = 3 s, and uses it
  t.deepEqual(c.timeouts, [RUN_BUDGET_MS - UNDO_RESERVE_MS, RUN_BUDGET_MS - UNDO_RESERVE_MS - 5_000, 3_000]);
  const e = t.throws(() => ctx.exec.run('tc', ['-batch', '-']), { instanceOf: ProcessError });
  t.is(e.kind, 'timeout');
  t.is(e.cniCode, 11);
  t.regex(e.message, /^tc -batch -: not started: the plugin's 15 s were spent/);
  undo.run('ip', []); // the undo still has its 2 s
  t.is(c.timeouts.at(-1), UNDO_RESERVE_MS);
  t.throws(() => undo.run('tc', []), { instanceOf: ProcessError, message: /not started/ });
  t.is(c.timeouts.length, 4, 'no process was started without time left');
});

test('a tool timeout shorter than what is left is kept; the rtnetlink hooks pass through', (t) => {
  const c = clocked(1);
  const hooked: Executor = {
    ...c.exec,
    tcNetlink: () => ({ docs: ['x'] }),
    ipNetlink: () => undefined,
    linksOfKind: (kind) => ({ links: [{ name: kind, ifindex: 3, mtu: 1500, mac: '' }] }),
  };
  const ctx = withBudget({ exec: hooked } as Context, 60_000, c.now);
  ctx.exec.run('unshare', [], { timeoutMs: 10_000 });
  ctx.exec.run('ip', []);
  t.deepEqual(c.timeouts, [10_000, TOOL_TIMEOUT_MS]);
  t.deepEqual(ctx.exec.tcNetlink?.([], undefined, []), { docs: ['x'] });
  t.is(ctx.exec.ipNetlink?.([], undefined, [], { details: false }), undefined);
  t.deepEqual(ctx.exec.linksOfKind?.('veth'), { links: [{ name: 'veth', ifindex: 3, mtu: 1500, mac: '' }] });
  t.is(undoExecutor(c.exec), c.exec, 'an executor without a budget undoes on itself');
});
