// Applying the masquerade plan: one iptables-save read and at most one iptables-restore per family.
import { type Family, restore, saveTable } from '@cni-ts/iptables';
import type { Executor } from '@cni-ts/process';
import { type MasqSpec, chainRules, planMasq, planMasqRemoval } from './plan-masq.js';

/** The families whose table tools exist (ip6tables may be absent on an IPv4-only host). */
const FAMILIES: Family[] = [4, 6];

/** Makes the masquerade chain match `spec` in both families; returns the families it changed. */
export function syncMasq(exec: Executor, spec: MasqSpec): Family[] {
  const changed: Family[] = [];
  for (const family of FAMILIES) {
    // a family the cluster does not use is only cleaned up, and only where its tools work
    if (chainRules(spec, family).length === 0) {
      try {
        if (removeFamily(exec, family)) changed.push(family);
      } catch {
        // no ip6tables (or no IPv6) on this host: nothing of ours can be there
      }
      continue;
    }
    const state = saveTable(exec, family, 'nat');
    const changes = planMasq(state, spec, family);
    if (changes.length === 0) continue;
    restore(exec, family, changes);
    changed.push(family);
  }
  return changed;
}

/** Removes the masquerade chain and its jumps from both families. */
export function removeMasq(exec: Executor): Family[] {
  const changed: Family[] = [];
  for (const family of FAMILIES) if (removeFamily(exec, family)) changed.push(family);
  return changed;
}

function removeFamily(exec: Executor, family: Family): boolean {
  const changes = planMasqRemoval(saveTable(exec, family, 'nat'));
  if (changes.length === 0) return false;
  restore(exec, family, changes);
  return true;
}
