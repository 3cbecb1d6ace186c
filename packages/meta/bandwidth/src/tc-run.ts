// tc through one `tc -batch -` process per namespace, with JSON output parsed per command.
// Temporary: replaced by @cni-ts/process's tcBatch (issue 7) once it lands; it uses the existing
// iproute2 batch encoder (batchLine) rather than a copy of its own.
import { type Executor, ProcessError, batchLine, classifyStderr, inNetns } from '@cni-ts/process';

/** Options for a tc batch. */
export interface TcOptions {
  netns?: string;
  /** Global options before `-batch -` (e.g. ['-j', '-raw'] for shows). */
  options?: readonly string[];
}

/** A failed tc batch: which command failed (0-based index into the commands) and why. */
export class TcBatchError extends ProcessError {
  constructor(
    readonly line: number | undefined,
    command: string,
    message: string,
    init: { status: number; stderr: string },
  ) {
    super(classifyStderr(init.stderr), command, message, init);
  }
}

/** Runs every command in one `tc -batch -` process; returns the JSON documents shows printed, in order. */
export function tcBatch(exec: Executor, commands: ReadonlyArray<readonly string[]>, opts: TcOptions = {}): unknown[] {
  if (commands.length === 0) return [];
  const input = `${commands.map(batchLine).join('\n')}\n`;
  const [file, args] = inNetns(opts.netns, 'tc', [...(opts.options ?? []), '-batch', '-']);
  const r = exec.run(file, args, { input });
  if (r.status !== 0) {
    const m = /Command failed -:(\d+)/.exec(r.stderr);
    const line = m ? Number(m[1]) - 1 : undefined;
    const failed = line !== undefined ? commands[line] : undefined;
    const cmd = `tc ${failed ? failed.join(' ') : '-batch'}`;
    const why = r.stderr
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('Command failed'))
      .join('; ');
    throw new TcBatchError(line, cmd, `${cmd}: ${why || `exit status ${r.status}`}`, r);
  }
  const out: unknown[] = [];
  for (const l of r.stdout.split('\n')) if (l.trim()) out.push(JSON.parse(l));
  return out;
}
