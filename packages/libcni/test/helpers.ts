// A fake Exec for contract tests: records every plugin run and answers from a script, as
// upstream libcni's tests use a fake invoke.Exec.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { type Exec, PluginError, findInPath } from '../src/index.js';

/** One recorded plugin run. */
export interface FakeCall {
  path: string;
  type: string;
  command: string;
  env: Record<string, string>;
  stdin: string;
  conf: any;
}

/** What the fake plugin answers: stdout text, or a CNI error it fails with. */
export type FakeAnswer = string | { fail: { code: number; msg: string; details?: string } } | undefined;

/** Records runs; `answer` decides each one's output (default: prevResult, or an empty result in the config's version). */
export class FakeExec implements Exec {
  readonly calls: FakeCall[] = [];
  constructor(private readonly answer: (call: FakeCall) => FakeAnswer = () => undefined) {}

  findInPath(plugin: string, paths: readonly string[]): string {
    if (paths.length === 1 && paths[0] === '/fake') {
      if (!plugin || plugin.includes('/')) return findInPath(plugin, paths);
      return `/fake/${plugin}`;
    }
    return findInPath(plugin, paths);
  }

  async execPlugin(path: string, stdin: Buffer, env: Record<string, string>): Promise<string> {
    const text = stdin.toString('utf8');
    const call: FakeCall = {
      path,
      type: path.slice(path.lastIndexOf('/') + 1),
      command: env.CNI_COMMAND ?? '',
      env,
      stdin: text,
      conf: JSON.parse(text),
    };
    this.calls.push(call);
    const a = this.answer(call);
    if (a && typeof a === 'object') {
      const run = { path, command: call.command, exitCode: 1, stdout: JSON.stringify(a.fail), stderr: '' };
      throw new PluginError(a.fail.code, a.fail.msg, a.fail.details ?? '', run);
    }
    if (typeof a === 'string') return a;
    if (call.command !== 'ADD') return '';
    return JSON.stringify(call.conf.prevResult ?? { cniVersion: call.conf.cniVersion });
  }

  /** The commands run, as "TYPE COMMAND". */
  get sequence(): string[] {
    return this.calls.map((c) => `${c.type} ${c.command}`);
  }
}

/** A temporary directory removed when the test ends. */
export function tempDir(t: ExecutionContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'lc-libcni-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
