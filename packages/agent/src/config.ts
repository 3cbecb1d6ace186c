// The agent's configuration: a YAML (or JSON) file, usually from a ConfigMap, plus NODE_NAME from
// the environment (the downward API). Every key has a default except what only the operator knows.
import { mustParsePrefix, formatNetwork } from '@cni-ts/netaddr';
import { parse as parseYaml } from 'yaml';
import * as z from 'zod';

const cidr = z.string().refine((s) => {
  try {
    mustParsePrefix(s);
    return true;
  } catch {
    return false;
  }
}, 'expected a CIDR such as 10.244.0.0/16 or fd00:10:244::/56');

const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[0-9a-zA-Z.:-]*):\d{1,5}$/, 'expected host:port, e.g. 0.0.0.0:9309');

/** What the operator writes (every section optional). */
export const AgentConfigSchema = z.object({
  /** This node's name (default: $NODE_NAME). */
  nodeName: z.string().min(1).optional(),
  /** Where the node list comes from. */
  nodes: z
    .object({
      source: z.enum(['kubernetes', 'static']).default('kubernetes'),
      /** kubeconfig file; default: the in-cluster service account. */
      kubeconfig: z.string().optional(),
      /** API server URL without credentials (plain http is allowed: tests, kubectl proxy). */
      apiServer: z.string().url().optional(),
      /** static source: a YAML/JSON file with `nodes: [{name, podCIDRs, internalIPs}]` or a NodeList. */
      file: z.string().optional(),
    })
    .prefault({}),
  /** The cluster's pod network(s): traffic to them keeps its source; what leaves them is masqueraded. */
  clusterCIDRs: z.array(cidr).default([]),
  cni: z
    .object({
      /** Where the image keeps the executables to install. */
      sourceBinDir: z.string().default('/opt/cni-ts/bin'),
      /** The host's CNI bin dir, as mounted in the agent's container. */
      binDir: z.string().default('/host/opt/cni/bin'),
      /** The host's CNI conf dir, as mounted. */
      confDir: z.string().default('/host/etc/cni/net.d'),
      confName: z
        .string()
        .regex(/^[^/]+\.conflist$/, 'a file name ending in .conflist')
        .default('10-cni-ts.conflist'),
      /** Install the executables (false: the node already has them, e.g. the Go reference plugins). */
      installBinaries: z.boolean().default(true),
      /** Only these executables (default: every file in sourceBinDir). */
      binaries: z.array(z.string().regex(/^[^/]+$/)).optional(),
      /**
       * Once at the agent's start, before the conflist is written, drop the conflist's executables
       * from the page cache and read them back whole, so that every exec maps them with fewer
       * faults (warm.ts; docs/performance.md, "The executables' page cache").
       */
      warmExecutables: z.boolean().default(true),
    })
    .prefault({}),
  conflist: z
    .object({
      name: z.string().min(1).default('cni-ts'),
      cniVersion: z.string().default('1.1.0'),
      bridge: z.string().min(1).max(15).default('cni0'),
      mtu: z.number().int().min(68).max(65535).optional(),
      hairpinMode: z.boolean().default(true),
      /** host-local's store on the host (mounted at the same path in the agent, which counts reservations). */
      dataDir: z.string().default('/var/lib/cni/networks'),
      portmap: z.boolean().default(true),
      /** kube-proxy's chain; null uses portmap's own SNAT mark. */
      externalSetMarkChain: z.string().nullable().default('KUBE-MARK-MASQ'),
      bandwidth: z.boolean().default(true),
    })
    .prefault({}),
  routes: z
    .object({
      enabled: z.boolean().default(true),
      /** The route protocol that marks our routes (ip route … proto N), so a restart finds them. */
      protocol: z.number().int().min(5).max(255).default(202),
    })
    .prefault({}),
  masquerade: z
    .object({
      enabled: z.boolean().default(true),
      /** More destinations that keep the pod's source (the node network, a VPC, …). */
      nonMasqueradeCIDRs: z.array(cidr).default([]),
      randomFully: z.boolean().default(false),
    })
    .prefault({}),
  gc: z
    .object({
      enabled: z.boolean().default(false),
      intervalSeconds: z.number().int().min(1).default(600),
      /** Reservations younger than this are never collected (an ADD may still be running). */
      graceSeconds: z.number().min(0).default(300),
      /** The CRI runtime socket (containerd, CRI-O), as mounted. */
      criSocket: z.string().default('/run/containerd/containerd.sock'),
      timeoutSeconds: z.number().min(1).default(10),
      /** The interface name the runtime gives pods (kubelet: eth0). */
      ifname: z.string().default('eth0'),
      /** The host's libcni results cache (mounted at the same path: the plugins read it too). */
      cacheDir: z.string().default('/var/lib/cni'),
    })
    .prefault({}),
  metrics: z.object({ address: hostPort.default('0.0.0.0:9309') }).prefault({}),
  /** Full reconcile at least this often, also without node events. */
  resyncSeconds: z.number().min(1).default(60),
  logLevel: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
});

/** The configuration with every default filled in and the node name resolved. */
export type AgentConfig = z.output<typeof AgentConfigSchema> & { nodeName: string };

/** Parses config text (YAML or JSON) and resolves defaults; throws a readable Error. */
export function parseConfig(text: string, env: Record<string, string | undefined> = process.env): AgentConfig {
  let raw: unknown;
  try {
    raw = text.trim() ? parseYaml(text) : {};
  } catch (e) {
    throw new Error(`the agent configuration is not valid YAML: ${(e as Error).message}`);
  }
  const r = AgentConfigSchema.safeParse(raw ?? {});
  if (!r.success) {
    const why = r.error.issues.map((i) => `${i.path.join('.') || '(top level)'}: ${i.message}`).join('; ');
    throw new Error(`invalid agent configuration: ${why}`);
  }
  const nodeName = r.data.nodeName ?? env.NODE_NAME;
  if (!nodeName) throw new Error('invalid agent configuration: no nodeName and NODE_NAME is not set');
  if (r.data.nodes.source === 'static' && !r.data.nodes.file)
    throw new Error('invalid agent configuration: nodes.source is static but nodes.file is not set');
  if (r.data.masquerade.enabled && r.data.clusterCIDRs.length === 0)
    throw new Error(
      'invalid agent configuration: masquerade is enabled but clusterCIDRs is empty (set the cluster’s pod CIDRs, or masquerade.enabled: false)',
    );
  return {
    ...r.data,
    nodeName,
    clusterCIDRs: r.data.clusterCIDRs.map((c) => formatNetwork(mustParsePrefix(c))),
  };
}
