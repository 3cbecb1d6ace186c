// The cluster's nodes as the agent needs them, read from Kubernetes Node objects or a static list.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';

/** One node: its pod CIDRs (spec.podCIDRs) and its InternalIP addresses (IPv4 and/or IPv6). */
export interface NodeInfo {
  readonly name: string;
  readonly podCIDRs: readonly string[];
  readonly internalIPs: readonly string[];
}

/** The parts of a Kubernetes Node the agent reads (Go-style keys are accepted too). */
export interface KubeNode {
  metadata?: { name?: string };
  spec?: { podCIDR?: string; podCIDRs?: string[] };
  status?: { addresses?: Array<{ type?: string; address?: string }> };
}

/** A Kubernetes Node object as NodeInfo (podCIDRs falls back to the single podCIDR). */
export function nodeFromKube(n: KubeNode): NodeInfo | undefined {
  const name = n.metadata?.name;
  if (!name) return undefined;
  const podCIDRs = n.spec?.podCIDRs?.length ? n.spec.podCIDRs : n.spec?.podCIDR ? [n.spec.podCIDR] : [];
  const internalIPs = (n.status?.addresses ?? [])
    .filter((a) => a.type === 'InternalIP' && a.address)
    .map((a) => a.address as string);
  return { name, podCIDRs: [...podCIDRs], internalIPs };
}

/**
 * Parses a static node list: `nodes: [{name, podCIDRs, internalIPs}]`, or a Kubernetes NodeList
 * (`items: [Node…]`, e.g. `kubectl get nodes -o yaml`). Throws a readable Error.
 */
export function parseNodeList(text: string): NodeInfo[] {
  const doc = (parseYaml(text) ?? {}) as { nodes?: unknown; items?: unknown };
  if (Array.isArray(doc.items)) return doc.items.map((n) => nodeFromKube(n as KubeNode)).filter(isNode);
  if (!Array.isArray(doc.nodes)) throw new Error('a static node list needs `nodes: [...]` or `items: [...]`');
  return doc.nodes.map((n, i) => {
    const o = n as Partial<Record<keyof NodeInfo, unknown>>;
    const strings = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === 'string');
    if (typeof o.name !== 'string' || !strings(o.podCIDRs ?? []) || !strings(o.internalIPs ?? []))
      throw new Error(`nodes[${i}]: expected {name: string, podCIDRs: [string], internalIPs: [string]}`);
    return {
      name: o.name,
      podCIDRs: (o.podCIDRs ?? []) as string[],
      internalIPs: (o.internalIPs ?? []) as string[],
    };
  });
}

/** Reads and parses a static node list file. */
export function readNodeList(path: string): NodeInfo[] {
  return parseNodeList(readFileSync(path, 'utf8'));
}

function isNode(n: NodeInfo | undefined): n is NodeInfo {
  return n !== undefined;
}

/** A source of the node list: calls `onChange` with the whole list after every change. */
export interface NodeSource {
  start(onChange: (nodes: NodeInfo[]) => void): Promise<void>;
  stop(): Promise<void>;
}
