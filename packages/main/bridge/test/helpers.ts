// A scripted node for golden tests: a FakeExecutor that answers ip, nsenter, iptables, nft and
// the IPAM plugin from plain data, and a fake Host. Nothing here touches the machine.
import { fileURLToPath } from 'node:url';
import { chainExists, parseSave, splitArgs } from '@cni-ts/iptables';
import type { RunOptions, RunResult } from '@cni-ts/process';
import { type Call, FakeExecutor } from '@cni-ts/testutils';
import { type Context, decodeNetConf, decodePrevResult, withLazyPrevResult } from '@cni-ts/skel';
import type { Host } from '../src/index.js';

/** A netns path that always exists (requireNetns passes without root). */
export const NETNS = '/proc/self/ns/net';

/** A directory on CNI_PATH holding executables named like IPAM plugins (FakeExecutor answers them; never run). */
export const IPAM_DIR = fileURLToPath(new URL('../../test/fixtures/bin', import.meta.url));

/** A link for `ip -j addr show` answers. */
export interface FakeLink {
  ifindex?: number;
  kind?: string;
  mac?: string;
  flags?: string[];
  operstate?: string;
  master?: string;
  peer?: number;
  addrs?: Array<[string, number]>;
  tentative?: boolean;
  info?: Record<string, unknown>;
  slave?: Record<string, unknown>;
}

export function linkDoc(name: string, l: FakeLink): object {
  return {
    ifindex: l.ifindex ?? 7,
    ifname: name,
    flags: l.flags ?? ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP'],
    mtu: 1500,
    operstate: l.operstate ?? 'UP',
    address: l.mac ?? '02:00:00:00:00:01',
    ...(l.master ? { master: l.master } : {}),
    ...(l.peer !== undefined ? { link_index: l.peer } : {}),
    linkinfo: {
      info_kind: l.kind ?? 'veth',
      ...(l.info ? { info_data: l.info } : {}),
      ...(l.slave ? { info_slave_data: l.slave } : {}),
    },
    addr_info: (l.addrs ?? []).map(([local, prefixlen]) => ({
      family: local.includes(':') ? 'inet6' : 'inet',
      local,
      prefixlen,
      scope: local.startsWith('fe80') ? 'link' : 'global',
      ...(l.tentative && local.includes(':') ? { tentative: true } : {}),
    })),
  };
}

/** The simulated node: links in the node and in the pod, saved iptables text, nft listings, IPAM answers. */
export interface Scenario {
  node?: Record<string, FakeLink>;
  pod?: Record<string, FakeLink>;
  iptables?: { 4?: string; 6?: string };
  nft?: Record<string, object[]>;
  ipam?: object;
  /** Make a call fail (or answer differently) when it matches; `verb` is the call's CNI_COMMAND. */
  fail?: (c: Call, verb: string) => { status?: number; stdout?: string; stderr: string } | undefined;
}

const batchLines = (c: Call) => c.input.trim().split('\n');

function answerIp(links: Record<string, FakeLink>, c: Call) {
  const out: string[] = [];
  const lines = batchLines(c);
  for (let i = 0; i < lines.length; i++) {
    const m = /^(?:addr|link) show dev (\S+)$/.exec(lines[i]!);
    const master = /^link show master (\S+)$/.exec(lines[i]!);
    if (m) {
      const l = links[m[1]!];
      if (!l) return { status: 1, stderr: `Device "${m[1]}" does not exist.\nCommand failed -:${i + 1}\n` };
      out.push(JSON.stringify([linkDoc(m[1]!, l)]));
    } else if (master) {
      out.push(
        JSON.stringify(
          Object.entries(links)
            .filter(([, l]) => l.master === master[1])
            .map(([n, l]) => linkDoc(n, l)),
        ),
      );
    } else if (/^route show/.test(lines[i]!)) {
      out.push('[]');
    }
  }
  return { stdout: out.map((o) => `${o}\n`).join('') };
}

/** A FakeExecutor that plays the scenario and also records each call's CNI_COMMAND (IPAM calls). */
export class ScriptedExec extends FakeExecutor {
  /** CNI_COMMAND of every call that had one (the delegated IPAM plugin), in order. */
  readonly verbs: string[] = [];
  private verb = '';

  constructor(s: Scenario) {
    super();
    this.on(
      () => true,
      (c) => this.answer(s, c),
    );
  }

  override run(file: string, args: readonly string[], opts: RunOptions = {}): RunResult {
    this.verb = opts.env?.CNI_COMMAND ?? '';
    if (this.verb) this.verbs.push(this.verb);
    return super.run(file, args, opts);
  }

  /** The calls as lines, the IPAM plugin shown as "IPAM <VERB>" without its stdin. */
  script(): string[] {
    let v = 0;
    return this.calls.map((c, i) => (c.file.startsWith(IPAM_DIR) ? `IPAM ${this.verbs[v++]}` : this.lines()[i]!));
  }

  private answer(s: Scenario, c: Call): Partial<RunResult> {
    const failed = s.fail?.(c, this.verb);
    if (failed) return { status: failed.status ?? 1, stdout: failed.stdout ?? '', stderr: failed.stderr };
    let argv = c.file === 'nsenter' ? c.args.slice(2) : [c.file, ...c.args];
    // `sh -c '<write sysctls>; exec "$@"' sh k v … -- ip …` runs the command after "--"
    if (argv[0] === 'sh' && argv.indexOf('--', 3) > 0) argv = argv.slice(argv.indexOf('--', 3) + 1);
    const tool = argv[0]!;
    if (tool === 'ip') return answerIp((c.file === 'nsenter' ? s.pod : s.node) ?? {}, c);
    if (tool.endsWith('tables-save')) return { stdout: s.iptables?.[tool.startsWith('ip6') ? 6 : 4] ?? EMPTY_NAT };
    if (tool.endsWith('tables-restore'))
      return restoreAnswer(s.iptables?.[tool.startsWith('ip6') ? 6 : 4] ?? EMPTY_NAT, c.input);
    if (tool === 'nft' && argv[1] === '-j') {
      const items = s.nft?.[argv.slice(3).join(' ')];
      return items ? { stdout: JSON.stringify({ nftables: items }) } : { status: 1, stderr: nftMissing(argv) };
    }
    if (c.file.startsWith(IPAM_DIR) && this.verb === 'ADD') return { stdout: JSON.stringify(s.ipam ?? {}) };
    return { stdout: '' };
  }
}

// iptables-restore --noflush against the saved nat table: refuses, as the real tool does, -N of a
// chain that exists, -D of a rule that is not there and -F/-X of a chain that is not there (the
// whole batch then changes nothing); anything else is accepted and not remembered.
function restoreAnswer(saved: string, input: string): Partial<RunResult> {
  const state = parseSave(saved, 'nat');
  const created = new Set<string>();
  const lines = input.split('\n');
  for (const [i, line] of lines.entries()) {
    const [op, chain, ...spec] = splitArgs(line);
    if (!chain) continue;
    const exists = chainExists(state, chain) || created.has(chain);
    const fail = (why: string) => ({ status: 1, stderr: `iptables-restore: line ${i + 1} failed: ${why}.\n` });
    if (op === '-N' && exists) return fail('Chain already exists');
    if (op === '-N') created.add(chain);
    if ((op === '-F' || op === '-X') && !exists) return fail('No chain/target/match by that name');
    if (op === '-D' && !state.rules.some((r) => r.chain === chain && r.spec.join('\0') === spec.join('\0')))
      return fail('Bad rule (does a matching rule exist in that chain?)');
  }
  return { stdout: '' };
}

// What nft prints when the table or chain listed does not exist: the command, the name marked.
function nftMissing(argv: readonly string[]): string {
  const cmd = argv.slice(2).join(' ');
  const name = argv[argv.length - 1]!;
  return `Error: No such file or directory\n${cmd}\n${' '.repeat(cmd.length - name.length)}${'^'.repeat(name.length)}\n`;
}

/** iptables-save of an empty nat table. */
export const EMPTY_NAT = '*nat\n:PREROUTING ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\nCOMMIT\n';

/** The deterministic fake host: random bytes count up, sysctl writes and sleeps are recorded. */
export class FakeHost implements Host {
  readonly sysctls: Array<[string, string]> = [];
  readonly sleeps: number[] = [];
  private n = 0;
  constructor(
    private readonly links: string[] = [],
    private readonly ipv6 = true,
  ) {}
  linkNames() {
    return new Set(this.links);
  }
  hasLink(name: string) {
    return this.links.includes(name);
  }
  writeSysctl(k: string, v: string) {
    this.sysctls.push([k, v]);
  }
  /** Written without a read first (recorded with a "!" so tests see which way each went). */
  setSysctl(k: string, v: string) {
    this.sysctls.push([`!${k}`, v]);
  }
  readSysctl() {
    return undefined;
  }
  /** Attributes /sys/class/net answers with (none by default, so read-back goes through ip). */
  readonly sysfs: Record<string, Record<string, string>> = {};
  readLinkAttr(name: string, attr: string) {
    return this.sysfs[name]?.[attr];
  }
  hasIpv6() {
    return this.ipv6;
  }
  random(n: number) {
    return Buffer.from(Array.from({ length: n }, () => 0xa0 + (this.n++ % 16)));
  }
  sleep(ms: number) {
    this.sleeps.push(ms);
  }
}

/** A Context for a verb, config and CNI_* values. */
export function context(
  exec: FakeExecutor,
  config: Record<string, unknown>,
  over: { command?: Context['command']; containerId?: string; ifname?: string; netns?: string; cniArgs?: string } = {},
): Context {
  const stdin = JSON.stringify({ cniVersion: '1.0.0', name: 'podnet', type: 'bridge', ...config });
  const conf = decodeNetConf(stdin);
  const ctx: Omit<Context, 'prevResult'> = {
    command: over.command ?? 'ADD',
    stdin,
    conf,
    exec,
    log: () => {},
    env: { PATH: '/usr/bin' },
    args: {
      containerId: over.containerId ?? 'ctr1',
      netns: over.netns ?? NETNS,
      ifname: over.ifname ?? 'eth0',
      args: over.cniArgs ?? '',
      path: [IPAM_DIR],
      netnsOverride: false,
    },
  };
  return withLazyPrevResult(ctx, () => decodePrevResult(conf)); // decoded only if read, as skel does
}
