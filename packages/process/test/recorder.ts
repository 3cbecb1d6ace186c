// A recording executor for the process layer's own contract tests (testutils depends on this package, so its FakeExecutor cannot be used here).
import type { Executor, RunOptions, RunResult } from '../src/index.js';

/** One recorded call. */
export interface Call {
  file: string;
  args: string[];
  input: string;
}

type Responder = (call: Call) => Partial<RunResult> | undefined;

/** Records calls; each responder may answer a call, the first answer wins, default is success. */
export class FakeExecutor implements Executor {
  readonly calls: Call[] = [];
  private readonly responders: Responder[] = [];

  /** Adds a responder; returns this for chaining. */
  on(match: (call: Call) => boolean, result: Partial<RunResult> | ((call: Call) => Partial<RunResult>)): this {
    this.responders.push((c) => (match(c) ? (typeof result === 'function' ? result(c) : result) : undefined));
    return this;
  }

  run(file: string, args: readonly string[], opts: RunOptions = {}): RunResult {
    const call = { file, args: [...args], input: opts.input ?? '' };
    this.calls.push(call);
    for (const r of this.responders) {
      const a = r(call);
      if (a) return { status: 0, stdout: '', stderr: '', ...a };
    }
    return { status: 0, stdout: '', stderr: '' };
  }

  /** Every call as one printable line (stdin lines appended after '<<'). */
  lines(): string[] {
    return this.calls.map(
      (c) => [c.file, ...c.args].join(' ') + (c.input ? ` << ${c.input.trim().split('\n').join(' ; ')}` : ''),
    );
  }
}
