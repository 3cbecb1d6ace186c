import { FakeExecutor } from '@cni-ts/testutils';
import { type Plugin, type PluginIO, dispatch } from '../src/index.js';
import type { Context } from '../src/index.js';
import { ALL_VERSIONS, newResult } from '@cni-ts/types';

export interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
  json: any;
  calls: Context[];
}

export const BASE_ENV = {
  CNI_CONTAINERID: 'ctr1',
  CNI_NETNS: '/var/run/netns/pod',
  CNI_IFNAME: 'eth0',
  CNI_PATH: '/opt/cni/bin',
};

/** A plugin that records the contexts it was called with. */
export function recordingPlugin(over: Partial<Plugin> = {}): { plugin: Plugin; calls: Context[] } {
  const calls: Context[] = [];
  const plugin: Plugin = {
    name: 'rec',
    versions: ALL_VERSIONS,
    add: (ctx) => {
      calls.push(ctx);
      return ctx.prevResult ?? newResult({ ips: [{ address: '10.0.0.2/24' }] });
    },
    del: (ctx) => {
      calls.push(ctx);
    },
    check: (ctx) => {
      calls.push(ctx);
    },
    ...over,
  };
  return { plugin, calls };
}

/** Runs dispatch with injected env/stdin and captures everything. */
export async function run(
  plugin: Plugin,
  env: Record<string, string | undefined>,
  stdin: unknown,
  io: Partial<PluginIO> = {},
): Promise<Omit<Outcome, 'calls'>> {
  let stdout = '';
  let stderr = '';
  const code = await dispatch(plugin, {
    env,
    readStdin: () => (typeof stdin === 'string' ? stdin : JSON.stringify(stdin)),
    stdout: (s) => {
      stdout += s;
    },
    stderr: (s) => {
      stderr += s;
    },
    exec: new FakeExecutor(),
    probeNetns: () => 'ok',
    ...io,
  });
  let json: any;
  try {
    json = stdout ? JSON.parse(stdout) : undefined;
  } catch {
    json = undefined;
  }
  return { code, stdout, stderr, json };
}
