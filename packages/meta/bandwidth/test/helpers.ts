// A scripted node for contract tests: a FakeExecutor that answers ip, nsenter and tc from plain
// data (links of the node and the pod, qdiscs and filters), and a fake Host. Nothing here touches
// the machine.
import { type Call, FakeExecutor } from '@cni-ts/testutils';
import { type Context, decodeNetConf, decodePrevResult, withLazyPrevResult } from '@cni-ts/skel';
import type { Host } from '../src/index.js';

/** A netns path that always exists (requireNetns passes without root). */
export const NETNS = '/proc/self/ns/net';

/** A link as `ip -j -d link show` reports it. */
export interface FakeLink {
  ifindex: number;
  kind?: string;
  peer?: number;
  mtu?: number;
  mac?: string;
  alias?: string;
}

/** The simulated node: links in the node and the pod, and `tc -j -raw` answers per show command. */
export interface Scenario {
  node?: Record<string, FakeLink>;
  pod?: Record<string, FakeLink>;
  /** Answers to tc show commands, by the batch line ("qdisc show dev veth1"). */
  tc?: Record<string, unknown[]>;
  /** Make a call fail when it matches. */
  fail?: (c: Call) => { status?: number; stdout?: string; stderr: string } | undefined;
}

export function linkDoc(name: string, l: FakeLink): object {
  return {
    ifindex: l.ifindex,
    ifname: name,
    mtu: l.mtu ?? 1500,
    address: l.mac ?? '02:00:00:00:00:01',
    ...(l.peer !== undefined ? { link_index: l.peer } : {}),
    ...(l.alias ? { ifalias: l.alias } : {}),
    ...(l.kind ? { linkinfo: { info_kind: l.kind } } : {}),
  };
}

const lines = (c: Call) => c.input.trim().split('\n');

function answerIp(links: Record<string, FakeLink>, c: Call) {
  const out: string[] = [];
  const ls = lines(c);
  for (let i = 0; i < ls.length; i++) {
    const dev = /^link show dev (\S+)$/.exec(ls[i]!);
    const type = /^link show type (\S+)$/.exec(ls[i]!);
    const added = /^link add name (\S+) .*type (\S+)$/.exec(ls[i]!);
    const deleted = /^link del dev (\S+)$/.exec(ls[i]!);
    if (added && links[added[1]!])
      return { status: 2, stderr: `RTNETLINK answers: File exists\nCommand failed -:${i + 1}\n` };
    if (added)
      links[added[1]!] = { ifindex: 100 + Object.keys(links).length, kind: added[2]!, mac: '0e:00:00:00:00:0f' };
    else if (deleted && !links[deleted[1]!])
      return { status: 1, stderr: `Cannot find device "${deleted[1]}"\nCommand failed -:${i + 1}\n` };
    else if (deleted) delete links[deleted[1]!];
    else if (dev) {
      const l = links[dev[1]!];
      if (!l) return { status: 1, stderr: `Device "${dev[1]}" does not exist.\nCommand failed -:${i + 1}\n` };
      out.push(JSON.stringify([linkDoc(dev[1]!, l)]));
    } else if (type) {
      out.push(
        JSON.stringify(
          Object.entries(links)
            .filter(([, l]) => l.kind === type[1])
            .map(([n, l]) => linkDoc(n, l)),
        ),
      );
    }
  }
  return { stdout: out.map((o) => `${o}\n`).join('') };
}

function answerTc(s: Scenario, c: Call) {
  const out: string[] = [];
  for (const l of lines(c)) if (/ show /.test(` ${l} `)) out.push(JSON.stringify(s.tc?.[l] ?? []));
  return { stdout: out.map((o) => `${o}\n`).join('') };
}

/** A FakeExecutor that plays a scenario. */
export class ScriptedExec extends FakeExecutor {
  constructor(s: Scenario) {
    super();
    const node = { ...s.node }; // `ip link add/del` change it
    this.on(
      () => true,
      (c) => {
        const failed = s.fail?.(c);
        if (failed) return { status: failed.status ?? 1, stdout: failed.stdout ?? '', stderr: failed.stderr };
        const argv = c.file === 'nsenter' ? c.args.slice(2) : [c.file, ...c.args];
        if (argv[0] === 'ip') return answerIp(c.file === 'nsenter' ? (s.pod ?? {}) : node, c);
        if (argv[0] === 'tc') return answerTc(s, c);
        return { stdout: '' };
      },
    );
  }
}

/** A fake host whose netns holds the given link names; sysfs shows none of them unless given. */
export class FakeHost implements Host {
  constructor(
    readonly links: string[] = [],
    readonly sysfs: Record<string, Record<string, string>> = {},
  ) {}
  /** How many times the node's link list was read (/proc/net/dev: it grows with the pods). */
  listed = 0;
  linkNames() {
    this.listed++;
    return new Set(this.links);
  }
  readLinkAttr(name: string, attr: string) {
    return this.sysfs[name]?.[attr];
  }
}

/** A Context for a verb and config (network "bwnet", container "c1", eth0 in NETNS). */
export function context(
  exec: FakeExecutor,
  config: Record<string, unknown>,
  over: { command?: Context['command']; containerId?: string; netns?: string; name?: string } = {},
): Context {
  const stdin = JSON.stringify({ cniVersion: '1.0.0', name: over.name ?? 'bwnet', type: 'bandwidth', ...config });
  const conf = decodeNetConf(stdin);
  const ctx: Omit<Context, 'prevResult'> = {
    command: over.command ?? 'ADD',
    stdin,
    conf,
    exec,
    log: () => {},
    env: { PATH: '/usr/bin' },
    args: {
      containerId: over.containerId ?? 'c1',
      netns: over.netns ?? NETNS,
      ifname: 'eth0',
      args: '',
      path: ['/opt/cni/bin'],
      netnsOverride: false,
    },
  };
  return withLazyPrevResult(ctx, () => decodePrevResult(conf)); // decoded only if read, as skel does
}

/** The config's limits as loadConf reads them, for a raw config. */
export function confOf(config: Record<string, unknown>): Context {
  return context(new FakeExecutor(), config);
}
