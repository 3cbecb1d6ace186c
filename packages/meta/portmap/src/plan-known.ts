// The batches ADD and DEL write without reading the tables first, so their cost does not grow with
// the pods on the node (an iptables-save of a full nat table costs 20 ms of CPU at 250 pods, the
// restore alone 3.5 ms at any size). Each relies on iptables-restore refusing a table's section
// as a whole when a line does not apply; a refusal sends the caller back to read-and-plan
// (plan-iptables.ts), which handles every state. What makes each line refuse:
//
//   ADD, filter (IPv4 with snat; first, so a refusal here commits nothing):
//     -C INPUT … -j CNI-HOSTPORT-LOCALNET       missing: the guard was never set up (a Go-built node)
//     -C CNI-HOSTPORT-LOCALNET … -j DROP
//   ADD, nat:
//     -N CNI-DN-<hash>                          exists: a repeated ADD, or a leftover
//     -A CNI-DN-<hash> -j CNI-HOSTPORT-SETMARK  a target that does not exist: a fresh node (each
//     -A CNI-DN-<hash> -j CNI-HOSTPORT-MASQ     shared chain the pod relies on is named once)
//     -F CNI-DN-<hash>                          (the probes go again)
//     -A CNI-DN-<hash> …                        the pod's rules
//     -A CNI-HOSTPORT-DNAT … -j CNI-DN-<hash>   no CNI-HOSTPORT-DNAT: a fresh node
//
//   DEL, nat, with the mappings:                   DEL, nat, without them (a probe):
//     -F CNI-DN-<hash>   missing: nothing to remove    -F CNI-DN-<hash>   missing: nothing to remove
//     -D CNI-HOSTPORT-DNAT … (each jump)   differs      -N CNI-DN-<hash>   exists: read and remove
//     -X CNI-DN-<hash>   still referenced
//
// The shared chains' own rules (the PREROUTING/OUTPUT/POSTROUTING entries, the mark and
// masquerade rules) are not checked by ADD: `-C` in the nat table costs iptables-nft a read of the
// chains it names (+4 ms of CPU at 250 pods), and they are created in the same atomic batch as their
// chains, by us and by the Go plugin alike. CHECK reports them; a read-and-plan ADD repairs them.
import { type Change, type Rule, rule } from '@cni-ts/iptables';
import type { PortmapConf } from './config.js';
import type { ContainerNet } from './container.js';
import { DNAT_CHAIN, type Owner, containerRules, dnatChainName, jumpRules, sharedChains } from './plan-iptables.js';

/** ADD's batch for one family when nothing was read: refused, changing nothing, unless the node has every shared chain and not the pod's. */
export function planCreate(conf: PortmapConf, o: Owner, net: ContainerNet): Change[] {
  const name = dnatChainName(o);
  const shared = sharedChains(conf, net.family);
  const out: Change[] = [];
  for (const sc of shared.filter((c) => c.table === 'filter')) {
    for (const r of [...sc.entries.map((e) => e.rule), ...sc.rules]) out.push({ op: 'check', rule: r });
  }
  out.push({ op: 'create', table: 'nat', chain: name });
  const targets = shared.filter((c) => c.table === 'nat' && c.name !== DNAT_CHAIN).map((c) => c.name);
  if (conf.snat && conf.externalSetMarkChain !== undefined) targets.push(conf.externalSetMarkChain);
  for (const t of targets) out.push({ op: 'append', rule: rule('nat', name, '-j', t) });
  if (targets.length) out.push({ op: 'flush', table: 'nat', chain: name });
  const { chain, jumps } = containerRules(conf, o, net);
  for (const r of [...chain, ...jumps]) out.push({ op: 'append', rule: r });
  return out;
}

/** DEL's batch when the jumps ADD wrote are known: refused at its first line when the chain does not exist, later when the node differs. */
export function planRemoveKnown(o: Owner, jumps: readonly Rule[]): Change[] {
  const name = dnatChainName(o);
  return [
    { op: 'flush', table: 'nat', chain: name },
    ...jumps.map((r): Change => ({ op: 'delete', rule: r })),
    { op: 'deleteChain', table: 'nat', chain: name },
  ];
}

/**
 * DEL's probe when nothing says what ADD wrote: always refused, so it changes nothing (an accepted
 * batch would create iptables-nft's nat table on a node without one) — at its first line when the
 * pod's chain does not exist, at the second when it does.
 */
export function planProbeAbsent(o: Owner): Change[] {
  const name = dnatChainName(o);
  return [
    { op: 'flush', table: 'nat', chain: name },
    { op: 'create', table: 'nat', chain: name },
  ];
}

/**
 * A batch for `iptables-restore --test` holding the conditions of a family's jumps, on the pod's
 * chain (created in the batch, so nothing needs to exist): what iptables refuses in them, it
 * refuses here, before anything of an earlier family was written.
 */
export function planConditionsTest(conf: PortmapConf, o: Owner, family: 4 | 6): Change[] {
  const name = dnatChainName(o);
  const out: Change[] = [{ op: 'create', table: 'nat', chain: name }];
  for (const j of jumpRules(conf, o, family))
    out.push({ op: 'append', rule: rule('nat', name, ...j.spec.slice(0, -2), '-j', 'RETURN') });
  return out;
}
