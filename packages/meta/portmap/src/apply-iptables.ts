// Applying the iptables plan: per family one `iptables-restore --noflush`, planned without reading
// the tables (plan-known.ts), and only when that is refused one iptables-save and a restore planned
// on what is there. Shared chains are created race-free on that second path: a batch that must
// create or repair them runs under the portmap lock (our other runs wait), and creates missing
// chains with `-N`, which fails the whole atomic batch when someone else (the Go plugin, say)
// created the chain meanwhile; then the tables are read again and the plan redone. A batch that
// only adds or replaces this container's chain needs no lock: iptables applies it atomically, and
// nothing else writes that chain.
//
// On a node whose iptables is iptables-nft each of these batches is first written straight to
// nf_tables in iptables-nft's own encoding (applyChangesNft, removeChainsNft: no process), where
// it is in the encoded subset; a batch the kernel refuses there is refused as iptables-restore
// would refuse it (nothing applied), and anything that path cannot do goes to iptables-restore.
import {
  type Family,
  type Rule,
  applyChangesNft,
  chainExistsNft,
  removeChainsNft,
  restore,
  saveTables,
} from '@cni-ts/iptables';
import { type Executor, ProcessError, isKind } from '@cni-ts/process';
import type { PortmapConf } from './config.js';
import type { ContainerNet } from './container.js';
import type { Host } from './host.js';
import {
  DNAT_CHAIN,
  type Owner,
  type Tables,
  chainsOf,
  dnatChainName,
  planSetup,
  planTeardown,
  tablesFor,
} from './plan-iptables.js';
import { planCreate, planProbeAbsent, planRemoveKnown } from './plan-known.js';

const ATTEMPTS = 3;

/** Reads the tables ADD and CHECK need in a family (one iptables-save; only the chains portmap plans against are parsed). */
export function readTables(exec: Executor, conf: PortmapConf, family: Family, o: Owner): Tables {
  const s = saveTables(exec, family, tablesFor(conf, family), chainsOf(o));
  return s.filter ? { nat: s.nat, filter: s.filter } : { nat: s.nat };
}

/** Reads the nat table only (DEL; GC without an owner parses the shared chains only). */
export function readNat(exec: Executor, family: Family, o?: Owner): Tables['nat'] {
  return saveTables(exec, family, ['nat'], chainsOf(o)).nat;
}

// A failed batch changed nothing; it is worth planning again when the tables may have moved under it.
function retryable(e: unknown): boolean {
  if (e instanceof NftRefused) return true;
  return e instanceof ProcessError && e.kind !== 'not-found' && e.kind !== 'timeout' && e.kind !== 'busy';
}

/** A batch nf_tables refused as iptables-restore would have (a chain created meanwhile, one gone): nothing applied. */
class NftRefused extends Error {
  constructor() {
    super('the iptables changes were refused by nf_tables (the tables changed meanwhile); nothing was applied');
  }
}

/** True when a restore stopped at one of this container's jump rules (where the configured conditions are). */
export function failedAtJump(e: unknown, o: Owner): boolean {
  const args = e instanceof ProcessError ? e.failed?.args : undefined;
  return !!args && args[0] === '-A' && args[1] === DNAT_CHAIN && args.at(-1) === dnatChainName(o);
}

/**
 * ADD's first try in one family: one restore planned without reading (planCreate). True when it
 * applied; false when iptables refused it (the node has not every shared chain, or has the pod's
 * chain already), which changed nothing. A missing tool, a timeout or a held lock is thrown.
 */
export function createFamily(exec: Executor, conf: PortmapConf, o: Owner, net: ContainerNet): boolean {
  const changes = planCreate(conf, o, net);
  const direct = applyChangesNft(exec, net.family, changes);
  if (direct) return direct === 'done';
  try {
    restore(exec, net.family, changes);
    return true;
  } catch (e) {
    if (!retryable(e)) throw e;
    return false;
  }
}

/**
 * DEL's first try in one family, without reading: with the jumps ADD wrote, one restore removing
 * exactly them and the pod's chain; without, a probe for the chain. "removed" and "absent" leave
 * nothing of this pod's DNAT chain; "unknown" (refused, or iptables not usable) means read and see.
 */
export function removeKnown(exec: Executor, family: Family, o: Owner, jumps?: readonly Rule[]): Removal {
  const chain = dnatChainName(o);
  if (jumps) {
    const direct = removeChainsNft(exec, family, 'nat', chain, [DNAT_CHAIN], jumps);
    if (direct) return direct;
  } else {
    const exists = chainExistsNft(exec, family, 'nat', chain);
    if (exists !== undefined) return exists ? 'unknown' : 'absent';
  }
  try {
    restore(exec, family, jumps ? planRemoveKnown(o, jumps) : planProbeAbsent(o));
    return jumps ? 'removed' : 'unknown';
  } catch (e) {
    // both start by flushing the chain: refused there as missing, the chain (and so any jump to it) is not there
    const f = e instanceof ProcessError ? e.failed : undefined;
    if (isKind(e, 'missing') && f?.index === 1 && f.args[0] === '-F') return 'absent';
    return 'unknown';
  }
}

/** What DEL's first try found. */
export type Removal = 'removed' | 'absent' | 'unknown';

/** Removes a container's chains in one family: the known jumps without reading when they are given, else (or when refused) as teardownFamily. */
export function removeFamily(exec: Executor, family: Family, o: Owner, jumps?: readonly Rule[]): void {
  if (jumps && removeKnown(exec, family, o, jumps) !== 'unknown') return;
  teardownFamily(exec, family, o);
}

/** Sets up one container address's rules, starting from a snapshot taken earlier (read again when needed). */
export async function setupFamily(
  exec: Executor,
  host: Host,
  conf: PortmapConf,
  o: Owner,
  net: ContainerNet,
  first: Tables,
): Promise<void> {
  let tables = first;
  let lock: Awaited<ReturnType<Host['lock']>>;
  let locked = false;
  try {
    for (let attempt = 1; ; attempt++) {
      const plan = planSetup(tables, conf, o, net);
      if (plan.shared && !locked) {
        lock = await host.lock();
        locked = true;
        tables = readTables(exec, conf, net.family, o);
        continue;
      }
      try {
        const direct = applyChangesNft(exec, net.family, plan.changes);
        if (direct === 'refused') throw new NftRefused();
        if (!direct) restore(exec, net.family, plan.changes);
        return;
      } catch (e) {
        // a refused jump rule is refused again: its conditions are what iptables does not take
        if (attempt >= ATTEMPTS || !retryable(e) || failedAtJump(e, o)) throw e;
        tables = readTables(exec, conf, net.family, o);
      }
    }
  } finally {
    lock?.release();
  }
}

/** Removes a container's chains in one family (nothing runs when they are absent; then false); retried once on a moved table. */
export function teardownFamily(exec: Executor, family: Family, o: Owner, nat = readNat(exec, family, o)): boolean {
  const changes = planTeardown(nat, o);
  try {
    restore(exec, family, changes);
  } catch (e) {
    if (!retryable(e)) throw e;
    restore(exec, family, planTeardown(readNat(exec, family, o), o));
  }
  return changes.length > 0;
}

/** `iptables -C` for rules that cannot be compared as text; returns the ones that are missing. */
export function missingByCheck(exec: Executor, family: Family, rules: readonly Rule[]): Rule[] {
  const file = family === 4 ? 'iptables' : 'ip6tables';
  return rules.filter((r) => exec.run(file, ['-w', '-t', r.table, '-C', r.chain, ...r.spec]).status !== 0);
}
