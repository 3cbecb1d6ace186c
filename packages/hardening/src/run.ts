// Runs one plugin as a runtime does (CNI_* env, config on stdin, inside the node netns), with a
// deadline after which it counts as hung, and optionally a SIGKILL at a chosen moment.
import { existsSync } from 'node:fs';
import { execa } from 'execa';
import { SYSTEM_PATH } from '@cni-ts/testutils';
import type { Outcome } from './outcome.js';

const IP = ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip', '/bin/ip'].find((p) => existsSync(p)) ?? 'ip';

/** One invocation. Every CNI_* variable is given explicitly (undefined leaves it unset). */
export interface Invocation {
  plugin: string;
  /** Named netns the plugin runs in (the test node). */
  inNetns: string;
  env: Record<string, string | undefined>;
  /** stdin: an object is sent as JSON, a string as is. */
  config: unknown;
  /** A run still going after this is killed and reported as hung (default 30 s). */
  hangMs?: number;
  /** SIGKILL the plugin this many ms after it started (a crash at a random point). */
  killAfterMs?: number;
}

/** What the run did, with stdout parsed when it is JSON and whether the harness killed it on purpose. */
export interface Ran extends Outcome {
  json: any;
  killed: boolean;
  /** Wall time of the run. */
  ms: number;
}

/** Runs an invocation; never throws for the plugin's own failure. */
export async function invoke(inv: Invocation): Promise<Ran> {
  const env: Record<string, string> = { PATH: SYSTEM_PATH };
  for (const [k, v] of Object.entries(inv.env)) if (v !== undefined) env[k] = v;
  const input = typeof inv.config === 'string' ? inv.config : JSON.stringify(inv.config);
  // the system's ip by its path: PATH may start with shims meant for the plugin only
  const child = execa(IP, ['netns', 'exec', inv.inNetns, inv.plugin], {
    env,
    extendEnv: false,
    input,
    reject: false,
    timeout: inv.hangMs ?? 30_000,
    killSignal: 'SIGKILL',
    stripFinalNewline: false,
  });
  let killed = false;
  const start = performance.now();
  const timer =
    inv.killAfterMs !== undefined
      ? setTimeout(() => {
          killed = child.kill('SIGKILL');
        }, inv.killAfterMs)
      : undefined;
  const r = await child;
  if (timer) clearTimeout(timer);
  let json: unknown;
  try {
    json = r.stdout ? JSON.parse(String(r.stdout)) : undefined;
  } catch {
    json = undefined;
  }
  return {
    exitCode: r.exitCode ?? null,
    stdout: String(r.stdout ?? ''),
    stderr: String(r.stderr ?? ''),
    json,
    killed: killed && r.signal === 'SIGKILL',
    ms: performance.now() - start,
    timedOut: Boolean(r.timedOut),
  };
}

/** The CNI_* environment of a call. */
export function cniEnv(
  command: string,
  a: { containerId: string; netns: string; ifname: string; cniPath: string; args?: string },
): Record<string, string | undefined> {
  return {
    CNI_COMMAND: command,
    CNI_CONTAINERID: a.containerId,
    CNI_NETNS: a.netns,
    CNI_IFNAME: a.ifname,
    CNI_PATH: a.cniPath,
    CNI_ARGS: a.args,
  };
}
