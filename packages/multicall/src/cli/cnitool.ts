// cnitool's interface: the network from NETCONFPATH, plugins from CNI_PATH, CAP_ARGS as JSON
// capability args, CNI_ARGS as "K=V;K=V", CNI_IFNAME (or -i) defaulting to eth0, and the
// container ID cnitool derives from the netns path, so both tools address the same attachment.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { sha512Hex } from '@cni-ts/iptables';
import { CniConfig, type NetworkConfigList, RawExec, type RuntimeConf, loadConfList } from '@cni-ts/libcni';
import { type CliArgs, UsageError } from './args.js';

/** cnitool's default configuration directory. */
export const DEFAULT_NETCONFPATH = '/etc/cni/net.d';
/** Where plugins are looked up when CNI_PATH is unset (cnitool has no default; operators install here). */
export const DEFAULT_CNI_PATH = '/opt/cni/bin';

export type Env = Readonly<Record<string, string | undefined>>;

/** Parses CNI_ARGS as cnitool does: `;`-separated `KEY=VALUE` pairs, neither part empty. */
export function parseCniArgs(s: string): Array<[string, string]> {
  return s.split(';').map((pair) => {
    const kv = pair.split('=');
    if (kv.length !== 2 || !kv[0] || !kv[1]) throw new UsageError(`invalid CNI_ARGS pair "${pair}"`);
    return [kv[0], kv[1]];
  });
}

/** The container ID cnitool uses for a netns: "cnitool-" and the first 10 bytes of sha512(path) in hex. */
export function containerIdFor(netnsPath: string): string {
  return `cnitool-${sha512Hex(netnsPath).slice(0, 20)}`;
}

/** The absolute netns path: a path as given (made absolute), or a bare name of /run/netns when only that exists. */
export function netnsPath(arg: string): string {
  if (!arg.includes('/') && !existsSync(arg) && existsSync(`/run/netns/${arg}`)) return `/run/netns/${arg}`;
  return resolve(arg);
}

/** A libcni instance for the tool's environment. */
export function cniFor(env: Env, args: CliArgs): CniConfig {
  const path = (env.CNI_PATH || DEFAULT_CNI_PATH).split(':').filter((p) => p !== '');
  return new CniConfig({
    path,
    ...(args.cacheDir ? { cacheDir: args.cacheDir } : {}),
    exec: new RawExec({ env: { ...env } }),
  });
}

/** The network named on the command line, from NETCONFPATH. */
export function networkFor(name: string, env: Env): NetworkConfigList {
  return loadConfList(env.NETCONFPATH || DEFAULT_NETCONFPATH, name);
}

/** The runtime arguments for `<network> <netns>` from cnitool's environment variables. */
export function runtimeFor(netnsArg: string, env: Env, args: CliArgs): RuntimeConf {
  const netns = netnsPath(netnsArg);
  const rt: RuntimeConf = {
    containerID: containerIdFor(netns),
    netns,
    ifName: args.ifname || env.CNI_IFNAME || 'eth0',
  };
  if (env.CNI_ARGS) rt.args = parseCniArgs(env.CNI_ARGS);
  if (env.CAP_ARGS) {
    let caps: unknown;
    try {
      caps = JSON.parse(env.CAP_ARGS);
    } catch (e) {
      throw new UsageError(`CAP_ARGS is not JSON: ${(e as Error).message}`);
    }
    if (typeof caps !== 'object' || caps === null || Array.isArray(caps))
      throw new UsageError('CAP_ARGS must be a JSON object, e.g. {"portMappings":[…]}');
    rt.capabilityArgs = caps as Record<string, unknown>;
  }
  return rt;
}
