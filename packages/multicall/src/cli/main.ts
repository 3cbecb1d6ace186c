// The `cni-ts` command: cnitool's commands and environment (add, check, del, gc, status
// <network> <netns>; NETCONFPATH, CNI_PATH, CAP_ARGS, CNI_ARGS, CNI_IFNAME), output for people
// (tables) or scripts (--json), and `inspect` for what CNI left on this node.
import { existsSync } from 'node:fs';
import {
  type CniConfig,
  type CniResult,
  MultiError,
  type NetworkConfigList,
  pluginErrorOf,
  printResult,
} from '@cni-ts/libcni';
import { type CliArgs, UsageError, parseArgs } from './args.js';
import { type Env, cniFor, networkFor, runtimeFor } from './cnitool.js';
import { DEFAULT_DATA_DIR, analyse, observe } from './inspect.js';
import { renderReport } from './report.js';
import { showAttachment } from './show.js';

declare const __CNI_TS_VERSION__: string | undefined;

/** Where the command writes. */
export interface CliIO {
  out: (s: string) => void;
  err: (s: string) => void;
}

const stdio: CliIO = {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
};

/** Runs the command line; resolves with the exit code. */
export async function runCli(
  argv: readonly string[],
  env: Env,
  plugins: readonly string[],
  io = stdio,
): Promise<number> {
  let args: CliArgs;
  try {
    args = parseArgs(argv);
  } catch (e) {
    io.err(`cni-ts: ${(e as Error).message}\n${usage(plugins)}`);
    return 2;
  }
  if (args.help || args.command === 'help') {
    io.out(usage(plugins));
    return 0;
  }
  if (!args.command) {
    io.err(usage(plugins));
    return 1;
  }
  try {
    return await run(args, env, plugins, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`cni-ts: ${e.message}\n`);
      return 2;
    }
    if (args.json) io.out(`${JSON.stringify(errorJson(e))}\n`);
    io.err(`cni-ts ${args.command}: ${(e as Error).message}\n`);
    return 1;
  }
}

async function run(args: CliArgs, env: Env, plugins: readonly string[], io: CliIO): Promise<number> {
  const c = args.command as string;
  if (c === 'version') {
    const v = typeof __CNI_TS_VERSION__ === 'string' ? __CNI_TS_VERSION__ : 'version unknown';
    io.out(
      args.json ? `${JSON.stringify({ version: v, plugins })}\n` : `cni-ts ${v}\nplugins: ${plugins.join(', ')}\n`,
    );
    return 0;
  }
  if (c === 'inspect') return inspect(args, env, io);
  if (!['add', 'check', 'del', 'gc', 'status'].includes(c))
    throw new UsageError(`unknown command "${c}" (see cni-ts --help)`);
  const [network, netns] = args.positional;
  if (!network || (!netns && (c === 'add' || c === 'check' || c === 'del')))
    throw new UsageError(`usage: cni-ts ${c} <network> ${c === 'gc' || c === 'status' ? '[netns]' : '<netns>'}`);
  const cni = cniFor(env, args);
  const list = networkFor(network, env);
  if (c === 'status') {
    await cni.getStatusNetworkList(list);
    io.out(args.json ? '{"status":"ready"}\n' : `network ${list.name}: ready (every plugin answered STATUS)\n`);
    return 0;
  }
  if (c === 'gc') return gc(cni, list, args, io);
  const rt = runtimeFor(netns as string, env, args);
  if (c === 'add') {
    await preflight(cni, list);
    let result: CniResult | undefined;
    try {
      result = await cni.addNetworkList(list, rt);
    } catch (e) {
      // as a runtime must: DEL after a failed ADD, so the plugins that ran leave nothing behind
      await cni
        .delNetworkList(list, rt, { bestEffort: true })
        .catch((d: Error) => io.err(`cni-ts add: undoing the failed ADD, a DEL failed too: ${d.message}\n`));
      throw e;
    }
    io.out(args.json ? (result ? `${printResult(result)}\n` : '') : `${showAttachment(list, rt, result)}\n`);
  } else if (c === 'check') {
    await cni.checkNetworkList(list, rt);
    if (args.json) io.out('{"check":"ok"}\n');
    else io.out(`${list.name}: CHECK passed for ${rt.ifName} of ${rt.containerID} (${rt.netns})\n`);
  } else {
    await cni.delNetworkList(list, rt);
    if (!args.json) io.out(`${list.name}: deleted ${rt.ifName} of ${rt.containerID} (${rt.netns})\n`);
  }
  return 0;
}

// GC keeps live attachments (netns still there) and --valid ones; --all keeps none, as cnitool
async function gc(cni: CniConfig, list: NetworkConfigList, args: CliArgs, io: CliIO): Promise<number> {
  const cached = cni.getCachedAttachments().filter((a) => a.network === list.name);
  const valid = args.all
    ? []
    : [
        ...cached
          .filter((a) => a.netns && existsSync(a.netns))
          .map((a) => ({ containerID: a.containerID, ifname: a.ifName })),
        ...args.valid.map(parseValid),
      ];
  const keep = new Set(valid.map((v) => `${v.containerID}/${v.ifname}`));
  const stale = cached.filter((a) => !keep.has(`${a.containerID}/${a.ifName}`));
  let failure: unknown;
  try {
    await cni.gcNetworkList(list, { validAttachments: valid });
  } catch (e) {
    failure = e;
  }
  const report = {
    network: list.name,
    removed: stale.map((a) => ({ containerID: a.containerID, ifname: a.ifName, netns: a.netns })),
    kept: valid,
    gcVerb: list.disableGC ? 'disabled' : versionHasGc(list.cniVersion) ? 'sent' : 'not in this cniVersion',
  };
  if (args.json) io.out(`${JSON.stringify(report)}\n`);
  else {
    const lines = [`${list.name}: GC kept ${valid.length} attachment(s), removed ${stale.length} stale one(s)`];
    for (const a of stale) lines.push(`  removed ${a.containerID} ${a.ifName} (${a.netns || 'no netns'})`);
    lines.push(`  GC verb: ${report.gcVerb}`);
    io.out(`${lines.join('\n')}\n`);
  }
  if (failure) throw failure;
  return 0;
}

// every plugin must speak the list's version: asked first (VERSION), so a mismatch fails before any plugin ran
async function preflight(cni: CniConfig, list: NetworkConfigList): Promise<void> {
  for (const p of list.plugins) {
    const info = await cni.getVersionInfo(p.network.type);
    const want = list.cniVersion || '0.1.0';
    if (!info.supportedVersions.includes(want))
      throw new Error(
        `plugin ${p.network.type} (${cni.exec.findInPath(p.network.type, cni.path)}) does not support cniVersion ${want}; ` +
          `it supports ${info.supportedVersions.join(', ')}: set the list's cniVersion to one every plugin supports`,
      );
  }
}

function versionHasGc(v: string): boolean {
  const [a = 0, b = 0] = v.split('.').map(Number);
  return a > 1 || (a === 1 && b >= 1);
}

function parseValid(s: string): { containerID: string; ifname: string } {
  const i = s.lastIndexOf('/');
  if (i <= 0 || i === s.length - 1) throw new UsageError(`--valid wants <containerID>/<ifname>, got "${s}"`);
  return { containerID: s.slice(0, i), ifname: s.slice(i + 1) };
}

async function inspect(args: CliArgs, env: Env, io: CliIO): Promise<number> {
  const report = analyse(
    await observe({
      cacheDir: args.cacheDir ?? '/var/lib/cni',
      netconfpath: env.NETCONFPATH || '/etc/cni/net.d',
      dataDirs: args.dataDirs,
    }),
  );
  io.out(args.json ? `${JSON.stringify(report, null, 2)}\n` : `${renderReport(report)}\n`);
  return args.check && report.leaks > 0 ? 1 : 0;
}

function errorJson(e: unknown): { code: number; msg: string; details?: string } {
  const first = e instanceof MultiError ? e.errors[0] : e;
  const pe = pluginErrorOf(first);
  const out: { code: number; msg: string; details?: string } = { code: pe?.code ?? 0, msg: (e as Error).message };
  if (pe?.details) out.details = pe.details;
  return out;
}

/** The help text. */
export function usage(plugins: readonly string[]): string {
  return `cni-ts: run CNI network configurations, as cnitool does, and see what CNI left on this node

  cni-ts add    <network> <netns>   attach the netns to the network (ADD through every plugin)
  cni-ts check  <network> <netns>   CHECK the attachment
  cni-ts del    <network> <netns>   detach it (DEL in reverse order, with the cached result)
  cni-ts gc     <network> [netns]   DEL cached attachments whose netns is gone, then GC every plugin
  cni-ts status <network> [netns]   ask every plugin whether it is ready (STATUS)
  cni-ts inspect                    cached attachments, IPAM reservations, CNI iptables chains, nft
                                    tables and ifb devices on this node; leaks flagged
  cni-ts version

options:
  --json             output for scripts: the result as cnitool prints it, errors as {"code","msg"}
  -i, --ifname NAME  the interface in the netns (default: CNI_IFNAME, else eth0)
  --cache-dir DIR    libcni's result cache (default /var/lib/cni)
  gc --all           keep no attachment (cnitool's gc); gc --valid ID/IFNAME keeps one more
  inspect --check    exit 1 when something leaked
  inspect --data-dir DIR  the host-local store to read instead of ${DEFAULT_DATA_DIR} (repeatable;
                     the dataDirs the configurations and cached attachments name are read too)

environment (as cnitool): NETCONFPATH (default /etc/cni/net.d), CNI_PATH (default /opt/cni/bin),
CAP_ARGS (capability args as JSON, e.g. {"portMappings":[…]}), CNI_ARGS ("K=V;K=V"), CNI_IFNAME.
The container ID is cnitool's: "cnitool-" + the first 20 hex of sha512(<netns path>).

As a plugin, this executable runs when invoked by a plugin's name: ${plugins.join(', ')}.
`;
}
