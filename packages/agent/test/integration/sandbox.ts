// The sandbox cluster for the agent's integration tests: node network namespaces on one L2
// segment (a bridge in a "lan" namespace), a fake Kubernetes API server inside the lan namespace,
// and one agent process per node, run inside its node namespace as the DaemonSet runs it on the
// host network. Every node has its own CNI bin dir, conf dir and IPAM store under a temp dir.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ResultPromise, execa } from 'execa';
import { CniRuntime, type ConfList, Netns, SYSTEM_PATH, binDir, repoRoot, sh } from '@cni-ts/testutils';
import { stringify } from 'yaml';

// the bundle the container image runs (dist/bundle, built by the package's build)
export const AGENT_MAIN = join(repoRoot, 'packages', 'agent', 'dist', 'bundle', 'cni-ts-agent.mjs');
const APISERVER = join(repoRoot, 'packages', 'agent', 'dist', 'test', 'fixtures', 'apiserver-main.js');

/** Addresses of the sandbox: node i is 192.168.78.i and fd00:78::i; its pods 10.245.i.0/24 and fd00:10:245:i::/64. */
export const CLUSTER_CIDRS = ['10.245.0.0/16', 'fd00:10:245::/56'];
const LAN4 = (i: number) => `192.168.78.${i}`;
const LAN6 = (i: number) => `fd00:78::${i}`;
export const API_IP = LAN4(254);

/** One sandbox node. */
export interface SandboxNode {
  name: string;
  index: number;
  ns: Netns;
  dir: string;
  binDir: string;
  confDir: string;
  dataDir: string;
  cacheDir: string;
  configPath: string;
  ip4: string;
  ip6: string;
  podCIDRs: string[];
  runtime: CniRuntime;
  agent?: AgentProcess;
}

/** A running agent: its output lines and its exit. */
export interface AgentProcess {
  proc: ResultPromise;
  lines: string[];
  /** Resolves with the first log line whose msg matches. */
  waitFor(msg: RegExp, ms?: number): Promise<Record<string, unknown>>;
}

/** The whole sandbox; `destroy` removes everything, also after failures. */
export class Sandbox {
  readonly nodes = new Map<string, SandboxNode>();
  private readonly namespaces: Netns[] = [];
  private api: ResultPromise | undefined;
  private apiLines: string[] = [];
  apiUrl = '';
  readonly work = mkdtempSync(join(tmpdir(), 'cts-agent-it-'));
  private linkNo = 0;

  constructor(readonly prefix: string) {}

  /** Creates the lan namespace with its bridge and starts the API server in it. */
  async start(): Promise<void> {
    const lan = await this.netns('lan');
    await lan.exec('ip', ['link', 'add', 'br0', 'type', 'bridge']);
    await lan.exec('ip', ['addr', 'add', `${API_IP}/24`, 'dev', 'br0']);
    await lan.exec('ip', ['link', 'set', 'br0', 'up']);
    this.api = execa('ip', ['netns', 'exec', lan.name, process.execPath, APISERVER, API_IP, '0'], {
      env: { PATH: SYSTEM_PATH },
      stdin: 'pipe',
      buffer: false,
    });
    this.api.stdout?.on('data', (d: Buffer) => this.apiLines.push(...d.toString().split('\n').filter(Boolean)));
    this.apiUrl = await this.until(
      () => this.apiLines.find((l) => l.startsWith('listening '))?.slice(10),
      'the API server to listen',
    );
  }

  /** Sends one command to the API server and waits for its acknowledgement. */
  async apiCommand(cmd: object): Promise<void> {
    const before = this.apiLines.filter((l) => l.startsWith('ok ')).length;
    this.api?.stdin?.write(`${JSON.stringify(cmd)}\n`);
    await this.until(
      () => this.apiLines.filter((l) => l.startsWith('ok ')).length > before || undefined,
      'the API server',
    );
  }

  /** Publishes node i in the API (as the node controller does once it assigned podCIDRs). */
  async publishNode(n: SandboxNode): Promise<void> {
    await this.apiCommand({ set: { name: n.name, podCIDRs: n.podCIDRs, internalIPs: [n.ip4, n.ip6] } });
  }

  /** Creates node i: its namespace on the lan, its dirs and its agent config. */
  async addNode(index: number, extra: Record<string, unknown> = {}): Promise<SandboxNode> {
    const name = `node${index}`;
    const ns = await this.netns(name);
    const up = `${this.prefix.slice(0, 9)}${++this.linkNo}`;
    await sh('ip', [
      'link',
      'add',
      'eth0',
      'netns',
      ns.name,
      'type',
      'veth',
      'peer',
      'name',
      up,
      'netns',
      `${this.prefix}-lan`,
    ]);
    await sh('ip', ['-n', `${this.prefix}-lan`, 'link', 'set', up, 'master', 'br0', 'up']);
    await ns.exec('ip', ['addr', 'add', `${LAN4(index)}/24`, 'dev', 'eth0']);
    await ns.exec('ip', ['-6', 'addr', 'add', `${LAN6(index)}/64`, 'dev', 'eth0', 'nodad']);
    await ns.exec('ip', ['link', 'set', 'eth0', 'up']);
    await ns.exec('sysctl', ['-qw', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1']);
    const dir = join(this.work, name);
    const node: SandboxNode = {
      name,
      index,
      ns,
      dir,
      binDir: join(dir, 'opt-cni-bin'),
      confDir: join(dir, 'etc-cni-net.d'),
      dataDir: join(dir, 'var-lib-cni-networks'),
      configPath: join(dir, 'agent.yaml'),
      ip4: LAN4(index),
      ip6: LAN6(index),
      podCIDRs: [`10.245.${index}.0/24`, `fd00:10:245:${index}::/64`],
      cacheDir: join(dir, 'var-lib-cni'),
      // the node's runtime caches results where the node's agent reads them for GC
      runtime: new CniRuntime({
        cniPath: [join(dir, 'opt-cni-bin')],
        inNetns: ns.name,
        cacheDir: join(dir, 'var-lib-cni'),
      }),
    };
    mkdirSync(node.confDir, { recursive: true });
    this.writeConfig(node, extra);
    this.nodes.set(name, node);
    return node;
  }

  /** The agent config of a node, as the DaemonSet's ConfigMap would hold it. */
  writeConfig(n: SandboxNode, extra: Record<string, unknown> = {}): void {
    const config = {
      nodeName: n.name,
      nodes: { source: 'kubernetes', apiServer: this.apiUrl },
      clusterCIDRs: CLUSTER_CIDRS,
      cni: { sourceBinDir: binDir, binDir: n.binDir, confDir: n.confDir },
      conflist: {
        dataDir: n.dataDir,
        portmap: existsSync(join(binDir, 'portmap')),
        bandwidth: existsSync(join(binDir, 'bandwidth')),
      },
      metrics: { address: '127.0.0.1:9309' },
      ...(extra.gc ? {} : { gc: { cacheDir: n.cacheDir } }),
      resyncSeconds: 2,
      ...extra,
    };
    writeFileSync(n.configPath, stringify(config));
  }

  /** Starts the agent of a node inside its namespace. */
  startAgent(n: SandboxNode): AgentProcess {
    const proc = execa(
      'ip',
      ['netns', 'exec', n.ns.name, process.execPath, AGENT_MAIN, 'run', '--config', n.configPath],
      {
        env: { PATH: SYSTEM_PATH },
        reject: false,
        buffer: false,
      },
    );
    const lines: string[] = [];
    let partial = '';
    proc.stdout?.on('data', (d: Buffer) => {
      const parts = (partial + d.toString()).split('\n');
      partial = parts.pop() ?? '';
      lines.push(...parts);
    });
    proc.stderr?.on('data', (d: Buffer) => lines.push(`stderr: ${d.toString()}`));
    const waitFor = (msg: RegExp, ms = 15_000) =>
      this.until(
        () => {
          for (const l of lines) {
            try {
              const o = JSON.parse(l) as Record<string, unknown>;
              if (msg.test(String(o.msg))) return o;
            } catch {
              // stderr or a partial line
            }
          }
          return undefined;
        },
        () => `agent ${n.name} to log ${msg}; it logged:\n${lines.join('\n')}`,
        ms,
      );
    n.agent = { proc, lines, waitFor };
    return n.agent;
  }

  /** Stops a node's agent with SIGTERM; resolves with its exit code. */
  async stopAgent(n: SandboxNode): Promise<number | undefined> {
    const a = n.agent;
    if (!a) return undefined;
    // `ip netns exec` execs the command, so the pid is the agent's own
    a.proc.kill('SIGTERM');
    const r = await a.proc;
    n.agent = undefined;
    return r.exitCode;
  }

  /** The node's conflist as the agent wrote it. */
  conflist(n: SandboxNode): ConfList {
    return JSON.parse(readFileSync(join(n.confDir, '10-cni-ts.conflist'), 'utf8'));
  }

  /** GET a path of the node agent's HTTP server (inside the node's namespace). */
  async http(n: SandboxNode, path: string): Promise<{ status: number; body: string }> {
    const r = await execa(
      'ip',
      ['netns', 'exec', n.ns.name, 'curl', '-s', '-w', '\n%{http_code}', `http://127.0.0.1:9309${path}`],
      {
        reject: false,
      },
    );
    const i = r.stdout.lastIndexOf('\n');
    return { status: Number(r.stdout.slice(i + 1)), body: r.stdout.slice(0, i) };
  }

  /** A metric's value from the node agent's /metrics (0 when absent). */
  async metric(n: SandboxNode, name: string, labels = ''): Promise<number> {
    const { body } = await this.http(n, '/metrics');
    const line = body.split('\n').find((l) => l.startsWith(`cni_ts_agent_${name}${labels} `));
    return line ? Number(line.split(' ')[1]) : 0;
  }

  /** Creates a named namespace of this sandbox. */
  async netns(name: string, opts: { loUp?: boolean } = {}): Promise<Netns> {
    const ns = await Netns.create(`${this.prefix}-${name}`, opts);
    this.namespaces.push(ns);
    return ns;
  }

  /** Polls `fn` until it returns something other than undefined. */
  async until<T>(
    fn: () => T | undefined | Promise<T | undefined>,
    what: string | (() => string),
    ms = 15_000,
  ): Promise<T> {
    const end = Date.now() + ms;
    while (true) {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
      if (Date.now() > end) throw new Error(`timed out waiting for ${typeof what === 'string' ? what : what()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async destroy(): Promise<void> {
    for (const n of this.nodes.values()) if (n.agent) await this.stopAgent(n).catch(() => undefined);
    this.api?.stdin?.end();
    this.api?.kill('SIGTERM');
    await this.api?.catch(() => undefined);
    for (const ns of this.namespaces.reverse()) await ns.destroy();
    rmSync(this.work, { recursive: true, force: true });
  }
}

/** Routes of the agent's protocol in a node namespace, as "dst via gw" lines (IPv4 then IPv6). */
export async function agentRoutes(ns: Netns, proto = 202): Promise<string[]> {
  const out: string[] = [];
  for (const fam of ['-4', '-6']) {
    const rows = JSON.parse(
      (await sh('ip', ['-n', ns.name, fam, '-j', 'route', 'show', 'proto', String(proto)])) || '[]',
    );
    for (const r of rows as Array<{ dst: string; gateway: string }>) out.push(`${r.dst} via ${r.gateway}`);
  }
  return out.sort();
}

/** The masquerade chain and its jump in both families (iptables-save lines, counters stripped). */
export async function masqRules(ns: Netns): Promise<string[]> {
  const out: string[] = [];
  for (const tool of ['iptables-save', 'ip6tables-save']) {
    const text = await ns.exec(tool, ['-t', 'nat']);
    for (const l of text.split('\n'))
      if (l.includes('CNI-TS-MASQ')) out.push(`${tool}: ${l.replace(/\[\d+:\d+\]/, '')}`);
  }
  return out;
}

/** Packets that hit the MASQUERADE rules of our chain (IPv4). */
export async function masqueradedPackets(ns: Netns): Promise<number> {
  const text = await ns.exec('iptables', ['-t', 'nat', '-L', 'CNI-TS-MASQ', '-v', '-x', '-n']);
  return text
    .split('\n')
    .filter((l) => /\bMASQUERADE\b/.test(l))
    .reduce((sum, l) => sum + Number(l.trim().split(/\s+/)[0]), 0);
}

/** One ping that must be answered within 5 s. */
export async function ping(from: Netns, to: string): Promise<void> {
  const r = await execa('ip', ['netns', 'exec', from.name, 'ping', '-c', '1', '-w', '5', to], { reject: false });
  if (r.exitCode !== 0)
    throw new Error(`ping ${to} from ${from.name} failed: ${r.stdout.split('\n').slice(-2).join(' ')}`);
}
