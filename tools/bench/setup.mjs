// The bench's node: per implementation a "node" netns (its own bridge, iptables and IPAM store),
// pod netns made and removed in one `ip -batch` each, and the conflists a runtime would hold —
// the runtime's "lo" list with loopback, then the pod network: bridge + host-local (IPv4,
// gateway, masquerade, hairpin), portmap with one mapping, bandwidth when we have it.
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { systemExecutor } from '../../packages/process/dist/src/index.js';
import { warmExecutables } from '../../packages/agent/dist/src/warm.js';
import { SYSTEM_PATH, root } from './lib.mjs';

/** The implementations: each one's CNI_PATH. ours and Go always; variants of ours on request. */
export const IMPLS = {
  ours: join(root, 'dist', 'bin'),
  go: '/usr/lib/cni',
};

/** Extra environment per implementation (variants of ours that differ only in it). */
export const IMPL_ENV = {};

/** Extra fields of bench-runtime's op per implementation (variants that differ in how the runtime runs them). */
export const IMPL_OP = {};

/** What a variant is measured against: ours, unless it is a variant of Go's. */
export const VARIANT_OF = {};

/** The Go plugins the bench runs (and sizes). */
const GO_TYPES = ['loopback', 'bridge', 'host-local', 'portmap', 'bandwidth'];

// A copy of a directory of plugins (`cp -a`, which keeps our plugins' hard links), written back
// and dropped from the page cache, so that every implementation's executable is read back from
// disk by its first exec, as on a node after a reboot: how a file was written decides its page
// cache, and that its exec cost (bun's own output takes about 50 more page faults per start than
// the same bytes copied, 3-4% of the chain's CPU; docs/performance.md, "The executables' page
// cache"), so measuring files as their tools wrote them would compare write patterns.
function installed(from, to, only) {
  mkdirSync(to, { recursive: true });
  const files = only ? only.filter((t) => existsSync(join(from, t))).map((t) => join(from, t)) : [`${from}/.`];
  const run = (file, args) => {
    const r = spawnSync(file, args, { env: { PATH: SYSTEM_PATH }, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`bench: ${file} ${args.join(' ')} failed: ${r.stderr}`);
  };
  run('cp', ['-a', ...files, to]);
  // each file once (our plugins are hard links of one executable): written back, then dropped
  const seen = new Set();
  const paths = readdirSync(to)
    .map((f) => join(to, f))
    .filter((path) => {
      const { ino } = statSync(path);
      return !seen.has(ino) && seen.add(ino);
    });
  run('sync', paths);
  // GNU dd: with count=0, iflag=nocache drops the whole file's (clean) page cache
  for (const path of paths) run('dd', [`if=${path}`, 'iflag=nocache', 'count=0', 'status=none']);
  return to;
}

/**
 * Whether ours (and a bin= build) are warmed as the node agent warms them at its start
 * (packages/agent/src/warm.ts: dropped, then read back whole with read()); false with --cold, the
 * state of a node that runs our executables without the agent, after a reboot. Go's plugins are
 * left as exec reads them back either way (their start does not change with it).
 */
let warmOurs = true;

// the agent's own warm-up, on each distinct file of the copy
function warmed(to) {
  if (warmOurs)
    warmExecutables(
      systemExecutor,
      readdirSync(to).map((f) => join(to, f)),
    );
  return to;
}

/** Copies ours (dist/bin) and Go's plugins into the scratch directory, out of the page cache, and measures those copies. */
export function installCopies(dir, { warm = true } = {}) {
  warmOurs = warm;
  IMPLS.ours = warmed(installed(IMPLS.ours, join(dir, 'bin-ours')));
  IMPLS.go = installed(IMPLS.go, join(dir, 'bin-go'), GO_TYPES);
}

/** The implementations' names, ours and Go first. */
export const implNames = () => Object.keys(IMPLS);

/**
 * Adds a variant of ours to measure a means against (interleaved like the others):
 * "exec-ipam": CNI_PATH finds a copy of our executable as host-local first, so bridge execs it;
 * "ip-batch": CNI_TS_NETLINK=0, so every ip and tc batch spawns `ip` / `tc` instead of using rtnetlink;
 * "tc-batch": CNI_TS_NETLINK=ip, so only the tc batches spawn `tc` (the ip batches keep rtnetlink);
 * "bin=<dir>": another build of ours (a directory holding cni-ts and its plugin links, e.g. a copy
 * of dist/bin made before a change), named "base": the before/after A/B of a change;
 * "unwarmed": a second copy of ours that the agent's warm-up leaves alone, read back from disk by
 * exec (the warm-up's A/B);
 * "setns-only" / "go-setns-only": ours / Go's with the node entered by setns(CLONE_NEWNET) alone,
 * as the runtime did before, so the plugins see the root namespace's /sys instead of the node's.
 */
export function addVariant(name, dir) {
  if (name === 'setns-only' || name === 'go-setns-only') {
    const of = name === 'setns-only' ? 'ours' : 'go';
    IMPLS[name] = IMPLS[of];
    IMPL_OP[name] = { setnsOnly: true };
    VARIANT_OF[name] = of;
    return;
  }
  if (name === 'unwarmed') {
    IMPLS[name] = installed(join(root, 'dist', 'bin'), join(dir, 'bin-unwarmed'));
    return;
  }
  if (name.startsWith('bin=')) {
    IMPLS.base = warmed(installed(name.slice('bin='.length), join(dir, 'bin-base')));
    return;
  }
  if (name === 'ip-batch') {
    IMPLS[name] = IMPLS.ours;
    IMPL_ENV[name] = ['CNI_TS_NETLINK=0'];
    return;
  }
  if (name === 'tc-batch') {
    IMPLS[name] = IMPLS.ours;
    IMPL_ENV[name] = ['CNI_TS_NETLINK=ip'];
    return;
  }
  if (name !== 'exec-ipam')
    throw new Error(
      `unknown variant ${name} (known: exec-ipam, ip-batch, tc-batch, bin=<dir>, unwarmed, setns-only, go-setns-only)`,
    );
  const d = join(dir, name);
  mkdirSync(d, { recursive: true });
  copyFileSync(join(IMPLS.ours, 'cni-ts'), join(d, 'host-local'));
  chmodSync(join(d, 'host-local'), 0o755);
  IMPLS[name] = `${d}:${IMPLS.ours}`;
}

/** Runs `ip -batch -` with lines; throws with ip's message on failure. */
function ipBatch(lines, { force = false } = {}) {
  const r = spawnSync('ip', [...(force ? ['-force'] : []), '-batch', '-'], {
    input: `${lines.join('\n')}\n`,
    env: { PATH: SYSTEM_PATH },
    encoding: 'utf8',
  });
  if (r.status !== 0 && !force) throw new Error(`ip -batch failed: ${r.stderr}`);
}

/** Network namespaces made in bulk; `drop()` removes every one made (also after a failure). */
export class Namespaces {
  constructor(tag) {
    this.tag = tag;
    this.made = [];
  }

  /** Makes namespaces `<tag>-<name>` and returns their /run/netns paths. */
  add(names) {
    const full = names.map((n) => `${this.tag}-${n}`);
    this.made.push(...full);
    ipBatch(full.map((n) => `netns add ${n}`));
    return full.map((n) => `/run/netns/${n}`);
  }

  /** Removes namespaces made by add (all of them when none are named). */
  drop(paths) {
    const names = paths ? paths.map((p) => p.slice('/run/netns/'.length)) : this.made;
    if (!names.length) return;
    ipBatch(
      names.map((n) => `netns del ${n}`),
      { force: true },
    );
    this.made = this.made.filter((n) => !names.includes(n));
  }
}

/** Whether an implementation carries a plugin. */
export const has = (impl, type) => IMPLS[impl].split(':').some((d) => existsSync(join(d, type)));

/**
 * Writes each implementation's conflists into dir and returns, per impl, the lists a pod's ADD
 * runs ({list, ifname}), the CNI_PATH and cache directory, and the plugin types in the chain.
 */
export function writeConfigs(dir, { bandwidth }) {
  const out = {};
  for (const impl of Object.keys(IMPLS)) {
    const d = join(dir, impl);
    mkdirSync(d, { recursive: true });
    // Go v1.1.1 speaks up to 1.0.0, so both get 1.0.0
    const lo = { cniVersion: '1.0.0', name: 'pfbench-lo', plugins: [{ type: 'loopback' }] };
    const bridge = {
      type: 'bridge',
      bridge: 'cni0',
      isGateway: true,
      ipMasq: true,
      hairpinMode: true,
      ipam: { type: 'host-local', dataDir: join(d, 'ipam'), ranges: [[{ subnet: '10.88.0.0/16' }]] },
    };
    const portmap = { type: 'portmap', capabilities: { portMappings: true }, snat: true };
    const bw = {
      type: 'bandwidth',
      ingressRate: 100_000_000,
      ingressBurst: 10_000_000,
      egressRate: 100_000_000,
      egressBurst: 10_000_000,
    };
    const net = { cniVersion: '1.0.0', name: 'pfbench', plugins: [bridge, portmap, ...(bandwidth ? [bw] : [])] };
    const only = (plugins) => ({ ...net, plugins });
    const files = {
      lo: [lo, 'lo'],
      net: [net, 'eth0'],
      bridge: [only([bridge]), 'eth0'],
    };
    const lists = {};
    for (const [name, [conf, ifname]] of Object.entries(files)) {
      const list = join(d, `${name}.conflist`);
      writeFileSync(list, JSON.stringify(conf));
      lists[name] = { list, ifname };
    }
    out[impl] = { lists, cniPath: IMPLS[impl], cacheDir: join(d, 'cache') };
  }
  return out;
}

/** One operation for bench-runtime. */
export function op(conf, impl, cmd, lists, { id, node, pod, podIndex = 0, memory = false }) {
  const c = conf[impl];
  return {
    id,
    cmd,
    lists: lists.map((l) => c.lists[l]),
    node,
    cniPath: c.cniPath,
    env: IMPL_ENV[impl] ?? [],
    cacheDir: c.cacheDir,
    containerId: `pfbench-${podIndex}`,
    netns: pod,
    capabilityArgs: { portMappings: [{ hostPort: 20000 + podIndex, containerPort: 80, protocol: 'tcp' }] },
    memory,
    ...IMPL_OP[impl],
  };
}
