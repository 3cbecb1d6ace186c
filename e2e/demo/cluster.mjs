// The main job: the sandbox cluster running the seed's whole chain on every node — bridge +
// host-local (ipMasq false, a node-level masquerade exempting the cluster CIDR), portmap with
// externalSetMarkChain KUBE-MARK-MASQ, bandwidth — through @cni-ts/libcni as containerd would
// (loopback first, then the default network, capability args as containerd's CRI sends them).
// It checks the Kubernetes network model point by point, live, then DELs everything and proves
// with `cni-ts inspect` that nothing is left. Needs root; touches only its own namespaces.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findInPath } from '@cni-ts/libcni';
import { CniRuntime, binDir, repoRoot } from '@cni-ts/testutils';
import { execa } from 'execa';
import { ProbeError, connect, connectSeeing, iperf, mbit, ping, startServer } from './probes.mjs';
import { OUTSIDE, buildSandbox, rootState } from './sandbox.mjs';

export const DEFAULT_CONFLIST = join(repoRoot, 'e2e', 'conf', '10-cni-ts.conflist');

/** Every check the demo makes, in order: [id, what it shows]. The e2e suite has one test per entry. */
export const CHECKS = [
  ['lo', 'every pod has lo up with 127.0.0.1'],
  ['gateway', "a pod reaches its node's gateway on the bridge"],
  ['same-node-v4', 'pods on one node reach each other with their own source (IPv4)'],
  ['same-node-v6', 'pods on one node reach each other with their own source (IPv6)'],
  ['cross-node-v4', 'pods on different nodes reach each other without NAT (IPv4)'],
  ['cross-node-v6', 'pods on different nodes reach each other without NAT (IPv6)'],
  ['node-to-pod', "nodes reach pods: a node its own pod, and the other node's pod"],
  ['pod-to-node', "a pod reaches another node's address, which sees the pod's address"],
  ['outside', 'a pod reaches a host outside the cluster, masqueraded to its node'],
  ['outside-via', 'a pod on the other node reaches the outside host through the cluster'],
  ['hostport-outside', 'hostPort from the outside client reaches the pod, source kept'],
  ['hostport-other-node', "hostPort from another node's pod reaches the pod, source kept"],
  ['hostport-hairpin', 'hostPort hairpin: a pod reaches itself through its node (KUBE-MARK-MASQ masquerades it)'],
  ['shaped', 'the pod annotated 1M is held to 1 Mbit/s ±20% in both directions'],
  ['unshaped', 'an unshaped pod on the same node is not limited'],
  ['check', 'CHECK passes for every pod'],
  ['status', 'STATUS passes on every node'],
  ['gc', 'GC of a vanished pod: cni-ts inspect finds its leaks, GC removes them, the live pods keep theirs'],
  ['teardown', 'DEL of every pod leaves nothing on any node (cni-ts inspect, links, qdiscs)'],
  [
    'root-ns',
    'no sandbox namespace is left and the root namespace is untouched (firewall, links, addresses, routes, rules)',
  ],
];

const TYPES = ['loopback', 'bridge', 'host-local', 'portmap', 'bandwidth'];
const HOST_PORT = 8080;
const POD_PORT = 80;
/** What containerd's CRI sends for `kubernetes.io/{ingress,egress}-bandwidth: 1M` (bursts of MaxUint32 bits). */
const SHAPED = {
  annotations: { 'kubernetes.io/ingress-bandwidth': '1M', 'kubernetes.io/egress-bandwidth': '1M' },
  bandwidth: { IngressRate: 1000000, IngressBurst: 4294967295, EgressRate: 1000000, EgressBurst: 4294967295 },
};

/** The default conflist with this node's pod CIDRs and store filled in (as kubenet/kindnet do with podCIDR). */
export function nodeConflist(base, node, dataDir) {
  const list = structuredClone(base);
  for (const p of list.plugins) {
    if (p.ipam?.type !== 'host-local') continue;
    p.ipam.ranges = p.ipam.ranges.map((set) =>
      set.map((r) => ({ ...r, subnet: r.subnet.includes(':') ? node.podV6 : node.podV4 })),
    );
    p.ipam.dataDir = dataDir;
  }
  return list;
}

/** Runs the demo; `log` receives each line as it happens. Returns {ok, checks: [{id, name, ok, pod, command, seen, detail}]}. */
export async function runClusterDemo({ prefix = `ctdemo${process.pid.toString(36)}`, log = console.log } = {}) {
  const started = Date.now();
  const base = JSON.parse(readFileSync(DEFAULT_CONFLIST, 'utf8'));
  const work = mkdtempSync(join(tmpdir(), 'cts-demo-'));
  const cniPath = [binDir];
  const checks = [];
  const pending = new Map(CHECKS);
  const check = async (id, fn) => {
    const name = pending.get(id);
    pending.delete(id);
    const n = CHECKS.findIndex(([i]) => i === id) + 1;
    const tag = `[${String(n).padStart(2)}/${CHECKS.length}]`;
    try {
      const r = (await fn()) ?? {};
      checks.push({ id, name, ok: true, ...r });
      log(`  ${tag} ✓ ${name}${r.detail ? ` — ${r.detail}` : ''}`);
    } catch (e) {
      const c = { id, name, ok: false, pod: e.pod, command: e.command, seen: e.seen, detail: e.message };
      checks.push(c);
      log(
        `  ${tag} ✗ ${name}\n        ${e.message}${e.pod ? `\n        pod: ${e.pod}` : ''}${e.command ? `\n        command: ${e.command}` : ''}${e.seen !== undefined ? `\n        seen: ${e.seen}` : ''}`,
      );
    }
  };
  const servers = [];
  const rootBefore = await rootState();
  let sandbox;
  let stopped;
  try {
    log(`sandbox cluster "${prefix}": 2 nodes × 2 pods and an outside host, conflist ${DEFAULT_CONFLIST}`);
    log('plugins (CNI_PATH = dist/bin: ours for every type, no Go plugin on the path):');
    for (const type of TYPES) log(`  ${type.padEnd(10)} ${ourPlugin(type)}`);
    sandbox = await buildSandbox(prefix);
    const { nodes, outside } = sandbox;
    const version = await preflight(base.cniVersion, cniPath, log);
    for (const node of nodes) {
      const dir = join(work, node.name);
      node.confDir = join(dir, 'net.d');
      node.cacheDir = join(dir, 'cache');
      node.dataDir = join(dir, 'networks');
      mkdirSync(node.confDir, { recursive: true });
      node.list = { ...nodeConflist(base, node, node.dataDir), cniVersion: version };
      writeFileSync(join(node.confDir, '10-cni-ts.conflist'), `${JSON.stringify(node.list, null, 2)}\n`);
      node.runtime = new CniRuntime({ cniPath, inNetns: node.ns.name, cacheDir: node.cacheDir });
      node.pods = [];
    }
    const [n1, n2] = nodes;

    log('creating pods as containerd does (loopback, then the default network):');
    const web = await addPod(
      sandbox,
      n1,
      'web',
      { portMappings: [{ hostPort: HOST_PORT, containerPort: POD_PORT, protocol: 'tcp' }] },
      log,
    );
    const shaped = await addPod(
      sandbox,
      n1,
      'shaped',
      { annotations: SHAPED.annotations, bandwidth: SHAPED.bandwidth },
      log,
    );
    const client = await addPod(sandbox, n2, 'client', {}, log);
    const lost = await addPod(sandbox, n2, 'lost', {}, log);
    for (const p of [web, shaped, client, lost]) servers.push(await startServer(p.ns, POD_PORT));

    log('checking the Kubernetes network model:');
    await check('lo', async () => {
      for (const p of [web, shaped, client, lost]) await withPod(p, () => ping(p.ns, '127.0.0.1'));
      return { detail: '4 pods' };
    });
    await check('gateway', () => withPod(web, () => ping(web.ns, web.gw4)).then((r) => ({ ...r, detail: web.gw4 })));
    await check('same-node-v4', () =>
      viaPod(web, () => connectSeeing(web.ns, shaped.v4, POD_PORT, web.v4, 'pods on one node keep their source')),
    );
    await check('same-node-v6', () =>
      viaPod(web, () => connectSeeing(web.ns, shaped.v6, POD_PORT, web.v6, 'pods on one node keep their source')),
    );
    await check('cross-node-v4', () =>
      viaPod(web, () => connectSeeing(web.ns, client.v4, POD_PORT, web.v4, 'no NAT between pods')),
    );
    await check('cross-node-v6', () =>
      viaPod(web, () => connectSeeing(web.ns, client.v6, POD_PORT, web.v6, 'no NAT between pods')),
    );
    await check('node-to-pod', async () => {
      const own = await connectSeeing(
        n1.ns,
        web.v4,
        POD_PORT,
        web.gw4,
        'a node reaches its pods from its bridge address',
      ).catch((e) => Promise.reject(Object.assign(e, { pod: `${n1.name} → ${web.label}` })));
      const other = await connectSeeing(n2.ns, web.v4, POD_PORT, n2.ip4, 'the other node keeps its address').catch(
        (e) => Promise.reject(Object.assign(e, { pod: `${n2.name} → ${web.label}` })),
      );
      return { command: other.command, seen: other.seen, detail: `${web.label} saw ${own.seen} and ${other.seen}` };
    });
    await check('pod-to-node', () =>
      viaPod(web, () => connectSeeingServer(n2.ns, n2.ip4, web.ns, web.v4, 'a node sees pods with their own address')),
    );
    await check('outside', () =>
      viaPod(web, () =>
        connectSeeingServer(outside, OUTSIDE.host, web.ns, OUTSIDE.node, "masqueraded to node1's uplink"),
      ),
    );
    await check('outside-via', () =>
      viaPod(client, () =>
        connectSeeingServer(outside, OUTSIDE.host, client.ns, n2.ip4, "masqueraded to node2's address"),
      ),
    );
    await check('hostport-outside', () =>
      viaPod(web, () =>
        connectSeeing(outside, OUTSIDE.node, HOST_PORT, OUTSIDE.host, 'DNAT only: the pod sees the client').catch((e) =>
          Promise.reject(Object.assign(e, { pod: `outside → ${OUTSIDE.node}:${HOST_PORT} → ${web.label}` })),
        ),
      ),
    );
    await check('hostport-other-node', () =>
      viaPod(client, () =>
        connectSeeing(client.ns, n1.ip4, HOST_PORT, client.v4, 'DNAT only: the pod sees the other pod'),
      ),
    );
    await check('hostport-hairpin', () =>
      viaPod(web, async () => {
        const r = await connect(web.ns, n1.ip4, HOST_PORT);
        if (r.seen === web.v4)
          throw new ProbeError(`the hairpin connection kept the pod's own source ${r.seen}: it was not masqueraded`, r);
        return { ...r, detail: `${web.label} → ${n1.ip4}:${HOST_PORT} → itself, seen from ${r.seen}` };
      }),
    );
    await check('shaped', () =>
      viaPod(shaped, async () => {
        const out = await iperf(shaped.ns, outside, OUTSIDE.host, { seconds: 3 });
        const back = await iperf(shaped.ns, outside, OUTSIDE.host, { seconds: 3, reverse: true });
        for (const [dir, r] of [
          ['egress (from the pod)', out],
          ['ingress (to the pod)', back],
        ])
          if (r.bps < 0.8e6 || r.bps > 1.2e6)
            throw new ProbeError(`${dir} ran at ${mbit(r.bps)}, not 1 Mbit/s ±20%`, {
              command: r.command,
              seen: `${mbit(r.bps)} (per second: ${r.intervals.map(mbit).join(', ')})`,
            });
        return {
          command: back.command,
          seen: mbit(back.bps),
          detail: `egress ${mbit(out.bps)}, ingress ${mbit(back.bps)}`,
        };
      }),
    );
    await check('unshaped', () =>
      viaPod(web, async () => {
        const out = await iperf(web.ns, outside, OUTSIDE.host, { seconds: 1 });
        const back = await iperf(web.ns, outside, OUTSIDE.host, { seconds: 1, reverse: true });
        for (const r of [out, back])
          if (r.bps < 5e6)
            throw new ProbeError(`ran at only ${mbit(r.bps)}`, { command: r.command, seen: mbit(r.bps) });
        return { detail: `egress ${mbit(out.bps)}, ingress ${mbit(back.bps)}` };
      }),
    );
    await check('check', async () => {
      for (const p of [web, shaped, client, lost])
        await withPod(p, () => runtimeOp(p, 'CHECK', () => p.node.runtime.check(p.node.list, p.a)));
      return { detail: '4 pods' };
    });
    await check('status', async () => {
      if (!atLeast(version, '1.1.0'))
        throw new ProbeError(`STATUS needs cniVersion 1.1.0; the chain runs at ${version}`, {});
      for (const n of nodes) await runtimeOp({ label: n.name }, 'STATUS', () => n.runtime.status(n.list));
      return { detail: `${nodes.length} nodes` };
    });

    log(`garbage collection: ${lost.label}'s sandbox vanishes without a DEL`);
    await lost.ns.destroy();
    n2.pods = n2.pods.filter((p) => p !== lost);
    await check('gc', async () => {
      const before = await inspect(n2);
      const leaks = before.findings.filter((f) => f.leak);
      const foreign = leaks.filter((f) => !f.owner.includes(lost.a.containerId));
      if (!leaks.some((f) => f.kind === 'attachment') || !leaks.some((f) => f.kind === 'reservation') || foreign.length)
        throw new ProbeError("cni-ts inspect did not report exactly the lost pod's attachment and addresses as leaks", {
          pod: lost.label,
          command: before.command,
          seen: JSON.stringify(leaks.map((f) => `${f.kind} ${f.what}`)),
        });
      const valid = n2.pods.map((p) => ({ containerId: p.a.containerId, ifname: 'eth0' }));
      await runtimeOp(lost, 'GC', () => n2.runtime.gc(n2.list, valid));
      await runtimeOp(lost, 'GC', () =>
        n2.runtime.gc(
          loopbackList(),
          n2.pods.map((p) => ({ containerId: p.a.containerId, ifname: 'lo' })),
        ),
      );
      const after = await inspect(n2);
      const left = after.findings.filter((f) => f.leak);
      if (left.length)
        throw new ProbeError('leaks left after GC', {
          pod: lost.label,
          command: after.command,
          seen: JSON.stringify(left),
        });
      const kept = after.findings.filter((f) => f.owner.includes(client.a.containerId) && f.kind === 'reservation');
      if (kept.length !== 2)
        throw new ProbeError("GC took the live pod's addresses", {
          pod: client.label,
          command: after.command,
          seen: JSON.stringify(after.findings),
        });
      return {
        command: after.command,
        detail: `${leaks.length} leaks found and removed; ${client.label} kept ${kept.length} addresses`,
      };
    });

    log('tearing down: DEL every pod');
    for (const node of nodes)
      for (const p of node.pods) {
        await runtimeOp(p, 'DEL', () => node.runtime.del(node.list, p.a)).catch((e) => log(`  ! ${e.message}`));
        await runtimeOp(p, 'DEL', () => node.runtime.del(loopbackList(), { ...p.a, ifname: 'lo' })).catch((e) =>
          log(`  ! ${e.message}`),
        );
      }
    await check('teardown', async () => {
      for (const node of nodes) {
        const r = await inspect(node);
        if (r.findings.length)
          throw new ProbeError(`${node.name} still has CNI state`, {
            pod: node.name,
            command: r.command,
            seen: JSON.stringify(r.findings),
          });
        const veths = (await node.ns.ipJson(['link', 'show', 'type', 'veth'])).filter(
          (l) => l.ifname !== node.underlay && !l.ifname.startsWith(prefix.slice(0, 9)),
        );
        if (veths.length)
          throw new ProbeError(`${node.name} still has pod veths`, {
            pod: node.name,
            command: `ip -n ${node.ns.name} link show type veth`,
            seen: veths.map((l) => l.ifname).join(' '),
          });
      }
      return { detail: 'no cached attachment, reservation, chain, nft rule, ifb or veth' };
    });
  } catch (e) {
    // a step outside any check failed (building the sandbox, an ADD): say where, then clean up
    stopped = e;
    log(
      `  ✗ the demo stopped: ${e.message}${e.pod ? `\n        pod: ${e.pod}` : ''}${e.command ? `\n        command: ${e.command}` : ''}${e.seen !== undefined ? `\n        seen: ${e.seen}` : ''}`,
    );
  } finally {
    for (const s of servers) s.stop();
    await sandbox?.destroy();
    rmSync(work, { recursive: true, force: true });
  }
  await check('root-ns', async () => {
    const left = (await execa('ip', ['netns', 'list'])).stdout
      .split('\n')
      .map((l) => l.split(' ')[0])
      .filter((n) => n.startsWith(`${prefix}-`));
    if (left.length)
      throw new ProbeError("the sandbox's network namespaces are still there", {
        command: 'ip netns list',
        seen: left.join(' '),
      });
    const after = await rootState();
    if (after !== rootBefore)
      throw new ProbeError('the root namespace changed while the demo ran', {
        command:
          'iptables-save; ip6tables-save; nft list ruleset; ip link; ip address; ip route; ip -6 route; ip rule; ip -6 rule',
        seen: diffLines(rootBefore, after),
      });
    return {
      detail: 'no netns left; iptables, ip6tables and nft rulesets, links, addresses, routes and rules as before',
    };
  });
  for (const [id, name] of pending)
    checks.push({
      id,
      name,
      ok: false,
      detail: `not reached: the demo stopped before it (${stopped?.message ?? 'unknown'})`,
    });
  const ok = checks.every((c) => c.ok);
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  log(
    ok
      ? `all ${checks.length} checks passed in ${secs} s`
      : `${checks.filter((c) => !c.ok).length} of ${checks.length} checks failed (${secs} s)`,
  );
  return { ok, checks, seconds: Number(secs) };
}

// ADD of one pod: loopback first (its own network, as containerd's CRI does), then the default network.
async function addPod(sandbox, node, name, { portMappings = [], annotations = {}, bandwidth } = {}, log) {
  const ns = await sandbox.make(`${node.name}-${name}`, { loUp: false });
  const containerId = `${ns.name}-0123456789abcdef`;
  const a = {
    containerId,
    netns: ns.path,
    ifname: 'eth0',
    cniArgs: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${name};K8S_POD_INFRA_CONTAINER_ID=${containerId}`,
    capabilityArgs: {
      portMappings,
      'io.kubernetes.cri.pod-annotations': annotations,
      ...(bandwidth ? { bandwidth } : {}),
    },
  };
  const pod = { label: `${node.name}/${name}`, node, ns, a };
  await runtimeOp(pod, 'ADD', () => node.runtime.add(loopbackList(), { ...a, ifname: 'lo', capabilityArgs: {} }));
  const result = await runtimeOp(pod, 'ADD', () => node.runtime.add(node.list, a));
  const ips = (result.ips ?? []).map((x) => x.address.split('/')[0]);
  Object.assign(pod, {
    result,
    v4: ips.find((x) => !x.includes(':')),
    v6: ips.find((x) => x.includes(':')),
    gw4: (result.ips ?? []).find((x) => !x.address.includes(':'))?.gateway,
  });
  node.pods.push(pod);
  const extras = [
    portMappings.length ? `hostPort ${portMappings.map((m) => `${m.hostPort}→${m.containerPort}`).join(', ')}` : '',
    Object.keys(annotations).length
      ? Object.entries(annotations)
          .map(([k, v]) => `${k}: ${v}`)
          .join(', ')
      : '',
  ].filter(Boolean);
  log(`  ${pod.label.padEnd(13)} ${ips.join(', ')}${extras.length ? `  (${extras.join('; ')})` : ''}`);
  return pod;
}

// our executable for a type, or a failure that says how to get it
function ourPlugin(type) {
  try {
    return findInPath(type, [binDir]);
  } catch {
    throw new Error(`${join(binDir, type)} is missing: run \`npm run build\` first (the demo runs only our plugins)`);
  }
}

// every plugin must speak the conflist's cniVersion (VERSION), as a runtime checks before the first ADD
async function preflight(version, cniPath, log) {
  const { CniConfig, RawExec } = await import('@cni-ts/libcni');
  const cni = new CniConfig({ path: cniPath, exec: new RawExec({ stderr: null }) });
  for (const type of TYPES) {
    const { supportedVersions } = await cni.getVersionInfo(type);
    if (!supportedVersions.includes(version))
      throw new Error(`${type} does not speak cniVersion ${version} (it speaks ${supportedVersions.join(', ')})`);
  }
  log(`  cniVersion ${version}, which every plugin speaks (VERSION)`);
  return version;
}

function cmpVersion(a, b) {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  return x[0] - y[0] || x[1] - y[1] || x[2] - y[2];
}

function atLeast(v, min) {
  return cmpVersion(v, min) >= 0;
}

function loopbackList() {
  return { cniVersion: '1.1.0', name: 'cni-loopback', plugins: [{ type: 'loopback' }] };
}

// a probe from a pod: its failure names the pod
async function withPod(pod, fn) {
  try {
    return await fn();
  } catch (e) {
    e.pod ??= pod.label;
    throw e;
  }
}

async function viaPod(pod, fn) {
  const r = await withPod(pod, fn);
  return { pod: pod.label, ...r, detail: r.detail ?? `${r.seen} seen` };
}

// a connection from clientNs to a server started for the occasion in serverNs, which reports the source it saw
async function connectSeeingServer(serverNs, ip, clientNs, expected, why) {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const s = await startServer(serverNs, port);
  try {
    return await connectSeeing(clientNs, ip, port, expected, why);
  } finally {
    s.stop();
  }
}

// a libcni operation whose failure carries the pod, the operation and the plugin's error
async function runtimeOp(pod, what, fn) {
  try {
    return await fn();
  } catch (e) {
    throw Object.assign(
      new ProbeError(`${what} failed: ${e.message}`, {
        command: `libcni ${what} (${pod.label})`,
        seen: e.outcome?.stdout || e.message,
      }),
      { pod: pod.label },
    );
  }
}

// `cni-ts inspect` inside the node, on its cache, store and configurations
async function inspect(node) {
  const args = ['inspect', '--json', '--cache-dir', node.cacheDir, '--data-dir', node.dataDir];
  const command = `NETCONFPATH=${node.confDir} ip netns exec ${node.ns.name} ${join(binDir, 'cni-ts')} ${args.join(' ')}`;
  const r = await execa('ip', ['netns', 'exec', node.ns.name, join(binDir, 'cni-ts'), ...args], {
    env: { NETCONFPATH: node.confDir },
    reject: false,
  });
  if (r.exitCode !== 0) throw new ProbeError('cni-ts inspect failed', { pod: node.name, command, seen: r.stderr });
  return { ...JSON.parse(r.stdout), command };
}

function diffLines(a, b) {
  const x = new Set(a.split('\n'));
  const y = new Set(b.split('\n'));
  return [
    ...[...x].filter((l) => !y.has(l)).map((l) => `- ${l}`),
    ...[...y].filter((l) => !x.has(l)).map((l) => `+ ${l}`),
  ]
    .slice(0, 20)
    .join('\n');
}
