// Throwaway network namespaces for root integration tests: a "node" netns plays the host and
// pod netns play sandboxes. Everything made here is removed by destroy(), also after failures;
// what a killed worker could not destroy is removed with its run's scratch parent
// (tools/test-runner/run-dir.mjs), where each namespace is recorded until destroyed.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { SYSTEM_PATH } from './paths.js';

let counter = 0;

/** A name prefix unique to this process and call, short enough for link names. */
export function uniquePrefix(tag: string): string {
  counter += 1;
  return `ct${tag}${process.pid.toString(36)}${counter.toString(36)}`;
}

/** True when we can create namespaces and change kernel state. */
export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** Runs a command (system PATH); throws with stderr on failure. */
export async function sh(file: string, args: string[], input?: string): Promise<string> {
  const r = await execa(file, args, {
    env: { PATH: SYSTEM_PATH },
    extendEnv: false,
    input: input ?? '',
    reject: false,
  });
  if (r.exitCode !== 0) throw new Error(`${file} ${args.join(' ')} failed (${r.exitCode}): ${r.stderr || r.stdout}`);
  return r.stdout;
}

/** A named network namespace under /run/netns. */
export class Netns {
  constructor(readonly name: string) {}

  /** The path a runtime would pass as CNI_NETNS. */
  get path(): string {
    return `/run/netns/${this.name}`;
  }

  /** Creates the namespace; `lo` is brought up unless loUp is false (loopback tests want it down). */
  static async create(name: string, opts: { loUp?: boolean } = {}): Promise<Netns> {
    await sh('ip', ['netns', 'add', name]);
    record(name);
    const ns = new Netns(name);
    if (opts.loUp !== false) await ns.exec('ip', ['link', 'set', 'lo', 'up']);
    return ns;
  }

  /** Runs a command inside the namespace. */
  exec(file: string, args: string[], input?: string): Promise<string> {
    return sh('ip', ['netns', 'exec', this.name, file, ...args], input);
  }

  /** Runs `ip -j …` inside the namespace and parses the JSON. */
  async ipJson<T = any>(args: string[]): Promise<T> {
    const out = await sh('ip', ['-n', this.name, '-j', ...args]);
    return (out.trim() ? JSON.parse(out) : []) as T;
  }

  async destroy(): Promise<void> {
    await execa('ip', ['netns', 'del', this.name], { reject: false, env: { PATH: SYSTEM_PATH } });
    unrecord(this.name);
  }
}

/** The file recording a netns in this run's scratch parent (CTS_RUN_DIR, set by the ava configs), if any. */
function recordOf(name: string): string | undefined {
  const run = process.env.CTS_RUN_DIR;
  return run ? join(run, 'netns', name) : undefined;
}

function record(name: string): void {
  const file = recordOf(name);
  if (!file) return;
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, '');
}

function unrecord(name: string): void {
  const file = recordOf(name);
  if (file) rmSync(file, { force: true });
}

/** A test node: one "node" netns and any number of pod netns, all removed by destroy(). */
export class TestNode {
  readonly pods: Netns[] = [];
  private constructor(
    readonly prefix: string,
    readonly node: Netns,
  ) {}

  /** Creates the node namespace `<prefix>-node` (forwarding off, as a fresh netns has it). */
  static async create(prefix: string): Promise<TestNode> {
    const node = await Netns.create(`${prefix}-node`);
    return new TestNode(prefix, node);
  }

  /** Creates a pod namespace `<prefix>-<name>`. */
  async addPod(name: string, opts: { loUp?: boolean } = {}): Promise<Netns> {
    const pod = await Netns.create(`${this.prefix}-${name}`, opts);
    this.pods.push(pod);
    return pod;
  }

  /** Removes one pod namespace early (e.g. to test DEL after the sandbox is gone). */
  async removePod(pod: Netns): Promise<void> {
    await pod.destroy();
  }

  async destroy(): Promise<void> {
    for (const p of this.pods) await p.destroy();
    await this.node.destroy();
  }
}
