// Applying the iptables plan: per family one iptables-save and one `iptables-restore --noflush`.
// Shared chains are created race-free: a batch that must create or repair them runs under the
// portmap lock (our other runs wait), and creates missing chains with `-N`, which fails the whole
// atomic batch when someone else (the Go plugin, say) created the chain meanwhile; then the
// tables are read again and the plan redone. A batch that only replaces this container's chain
// needs no lock: iptables applies it atomically, and nothing else writes that chain.
import { type Family, type Rule, restore, saveTables } from '@cni-ts/iptables';
import { type Executor, ProcessError } from '@cni-ts/process';
import type { PortmapConf } from './config.js';
import type { ContainerNet } from './container.js';
import type { Host } from './host.js';
import { type Owner, type Tables, chainsOf, planSetup, planTeardown, tablesFor } from './plan-iptables.js';

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
  return e instanceof ProcessError && e.kind !== 'not-found' && e.kind !== 'timeout' && e.kind !== 'busy';
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
        restore(exec, net.family, plan.changes);
        return;
      } catch (e) {
        if (attempt >= ATTEMPTS || !retryable(e)) throw e;
        tables = readTables(exec, conf, net.family, o);
      }
    }
  } finally {
    lock?.release();
  }
}

/** Removes a container's chains in one family (nothing runs when they are absent); retried once on a moved table. */
export function teardownFamily(exec: Executor, family: Family, o: Owner, nat = readNat(exec, family, o)): void {
  try {
    restore(exec, family, planTeardown(nat, o));
  } catch (e) {
    if (!retryable(e)) throw e;
    restore(exec, family, planTeardown(readNat(exec, family, o), o));
  }
}

/** `iptables -C` for rules that cannot be compared as text; returns the ones that are missing. */
export function missingByCheck(exec: Executor, family: Family, rules: readonly Rule[]): Rule[] {
  const file = family === 4 ? 'iptables' : 'ip6tables';
  return rules.filter((r) => exec.run(file, ['-w', '-t', r.table, '-C', r.chain, ...r.spec]).status !== 0);
}
