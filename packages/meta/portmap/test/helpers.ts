// A scripted node for portmap's golden and contract tests: iptables-save answers per family
// (changeable between calls), nft listings, conntrack and restore outcomes, and a fake Host.
// The plugin runs through skel's dispatch, as the real executable does. Nothing touches the machine.
import { readFileSync } from 'node:fs';
import { BUILTIN_CHAINS, type TableName, hasRule, parseSave, splitArgs } from '@cni-ts/iptables';
import type { FileLock } from '@cni-ts/process';
import { dispatch } from '@cni-ts/skel';
import { type Call, FakeExecutor } from '@cni-ts/testutils';
import { type Host, makePortmap } from '../src/index.js';

/** A fixture file's text (test/fixtures). */
export function fixture(name: string): string {
  return readFileSync(new URL(`../../test/fixtures/${name}`, import.meta.url), 'utf8');
}

/** iptables-save of an untouched nat table (and filter, as a full iptables-save prints). */
export const EMPTY_SAVE = [
  '*filter',
  ':INPUT ACCEPT [0:0]',
  ':FORWARD ACCEPT [0:0]',
  ':OUTPUT ACCEPT [0:0]',
  'COMMIT',
  '*nat',
  ':PREROUTING ACCEPT [0:0]',
  ':INPUT ACCEPT [0:0]',
  ':OUTPUT ACCEPT [0:0]',
  ':POSTROUTING ACCEPT [0:0]',
  'COMMIT',
  '',
].join('\n');

/** The node's answers. */
export interface Scenario {
  /** iptables-save text per family (default EMPTY_SAVE). */
  save?: { 4?: string; 6?: string };
  /** `nft list tables` text (default: none), and `nft -j list table <fam> cni_hostport` items per family. */
  nftTables?: string;
  nft?: { 4?: object[]; 6?: object[] };
  /** Make a call fail when it matches. */
  fail?: (c: Call) => { status?: number; stderr: string } | undefined;
}

/** A FakeExecutor that plays a scenario; `scenario` may be changed between calls. */
export class Node extends FakeExecutor {
  constructor(public scenario: Scenario = {}) {
    super();
    this.on(
      () => true,
      (c) => this.answer(c),
    );
  }

  /** The stdin of every iptables-restore / ip6tables-restore call, in order. */
  restores(family?: 4 | 6): string[] {
    return this.calls
      .filter((c) => c.file.endsWith('tables-restore') && (!family || c.file.startsWith('ip6') === (family === 6)))
      .map((c) => c.input);
  }

  private answer(c: Call): { status?: number; stdout?: string; stderr?: string } {
    const failed = this.scenario.fail?.(c);
    if (failed) return { status: failed.status ?? 1, stderr: failed.stderr };
    const s = this.scenario;
    const save = s.save?.[c.file.startsWith('ip6') ? 6 : 4] ?? EMPTY_SAVE;
    if (c.file.endsWith('tables-save')) return { stdout: save };
    if (c.file.endsWith('tables-restore')) return refusal(save, c.input, c.file) ?? { stdout: '' };
    if (c.file === 'nft' && c.args[0] === 'list' && c.args[1] === 'tables') return { stdout: s.nftTables ?? '' };
    if (c.file === 'nft' && c.args[0] === '-j') {
      const items = s.nft?.[c.args[3] === 'ip6' ? 6 : 4];
      return items ? { stdout: JSON.stringify({ nftables: items }) } : { status: 1, stderr: nftMissing(c.args) };
    }
    if (c.file === 'conntrack')
      return { status: 1, stderr: 'conntrack v1.4.7 (conntrack-tools): 0 flow entries have been deleted.\n' };
    return { stdout: '' };
  }
}

/** The fake node: one route device, recorded sysctl writes and lock use. */
export class FakeHost implements Host {
  readonly sysctls: Array<[string, string]> = [];
  locks = 0;
  held = 0;
  constructor(private readonly dev: string | undefined = 'cni0') {}
  routeDevice() {
    return this.dev;
  }
  readSysctl() {
    return undefined;
  }
  writeSysctl(k: string, v: string) {
    this.sysctls.push([k, v]);
  }
  async lock(): Promise<FileLock> {
    this.locks++;
    this.held++;
    return {
      path: '/fake.lock',
      via: 'ffi',
      release: () => {
        this.held--;
      },
    };
  }
}

/** A prevResult with one sandbox interface eth0 and the given addresses. */
export function prevResult(...addresses: string[]): Record<string, unknown> {
  return {
    cniVersion: '1.0.0',
    interfaces: [
      { name: 'cni0', mac: '02:00:00:00:00:01' },
      { name: 'eth0', mac: '02:00:00:00:00:02', sandbox: '/run/netns/pod' },
    ],
    ips: addresses.map((address) => ({ address, interface: 1 })),
  };
}

/** One plugin run through skel: exit code, stdout (parsed when JSON) and what ran. */
export interface Outcome {
  code: number;
  stdout: string;
  json: any;
  log: string;
}

/** Runs a verb of portmap on the scripted node, as a runtime would (CNI_* env, config on stdin). */
export async function run(
  node: Node,
  host: FakeHost,
  command: string,
  config: Record<string, unknown>,
  over: { containerId?: string; ifname?: string } = {},
): Promise<Outcome> {
  let stdout = '';
  let log = '';
  const stdin = JSON.stringify({ cniVersion: '1.0.0', name: 'podnet', type: 'portmap', ...config });
  const code = await dispatch(makePortmap(host), {
    env: {
      CNI_COMMAND: command,
      CNI_CONTAINERID: over.containerId ?? 'ctr1',
      CNI_NETNS: '/run/netns/pod',
      CNI_IFNAME: over.ifname ?? 'eth0',
      CNI_PATH: '/opt/cni/bin',
    },
    readStdin: () => stdin,
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      log += t;
    },
    exec: node,
    probeNetns: () => 'ok',
  });
  let json: unknown;
  try {
    json = JSON.parse(stdout);
  } catch {
    json = undefined;
  }
  return { code, stdout, json, log };
}

/** runtimeConfig with port mappings. */
export function mappings(...m: Array<Record<string, unknown>>): Record<string, unknown> {
  return { runtimeConfig: { portMappings: m } };
}

// What nft prints when the table listed does not exist: the command, the name marked with carets.
function nftMissing(args: readonly string[]): string {
  const cmd = args.slice(1).join(' ');
  const name = args[args.length - 1]!;
  return `Error: No such file or directory\n${cmd}\n${' '.repeat(cmd.length - name.length)}${'^'.repeat(name.length)}\n`;
}

const TARGETS = new Set(['ACCEPT', 'DROP', 'RETURN', 'DNAT', 'SNAT', 'MASQUERADE', 'MARK', 'REJECT', 'LOG']);

/**
 * How iptables-nft-restore (1.8.9) refuses a --noflush batch against the tables in `save`, as
 * measured on the real tool: the first line that does not apply, worded as it words it (a jump to a
 * chain that does not exist is reported at the COMMIT of its table); undefined when it applies.
 * The tables are not changed (a scenario sets them).
 */
export function refusal(save: string, input: string, tool: string): { status: number; stderr: string } | undefined {
  const name = tool.replace(/^.*\//, '');
  const lines = input.split('\n');
  let table: TableName | undefined;
  let chains = new Set<string>();
  let state = parseSave(save, 'nat');
  let jumpsTo: Array<[string, number]> = [];
  const fail = (i: number, why: string) => ({ status: 1, stderr: `${name}: line ${i + 1} failed: ${why}.\n` });
  for (const [i, line] of lines.entries()) {
    if (line.startsWith('*')) {
      table = line.slice(1) as TableName;
      state = parseSave(save, table);
      chains = new Set([...state.chains, ...BUILTIN_CHAINS[table]]);
      jumpsTo = [];
      continue;
    }
    if (line === 'COMMIT') {
      const missing = jumpsTo.find(([t]) => !chains.has(t));
      if (missing)
        return {
          status: 2,
          stderr: `${name} v1.8.9 (nf_tables): Chain '${missing[0]}' does not exist\nError occurred at line: ${i + 1}\n`,
        };
      continue;
    }
    if (!table || line === '') continue;
    const [op, chain, ...spec] = splitArgs(line);
    if (!chain) continue;
    const r = { table, chain, spec };
    const target = spec[spec.indexOf('-j') + 1];
    if (op === '-N' && chains.has(chain)) return fail(i, 'Chain already exists');
    if (op === '-N') chains.add(chain);
    if (['-A', '-I', '-F', '-X'].includes(op!) && !chains.has(chain))
      return fail(i, 'No chain/target/match by that name');
    if ((op === '-D' || op === '-C') && !hasRule(state, r))
      return fail(i, 'Bad rule (does a matching rule exist in that chain?)');
    if (op === '-X') chains.delete(chain);
    if ((op === '-A' || op === '-I') && spec.includes('-j') && target && !TARGETS.has(target))
      jumpsTo.push([target, i]);
  }
  return undefined;
}
