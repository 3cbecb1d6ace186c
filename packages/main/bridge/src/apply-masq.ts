// IP masquerade for the container's addresses through the configured backend (iptables by
// default, nftables when asked or when iptables is unusable and nft works, as upstream), with
// teardown and GC that look at both backends: a pod may have been set up by another version.
import { type Executor, deferNfRelease, isKind } from '@cni-ts/process';
import { type Family, type TableState, applyNft, removeChainNft, restore, saveTable } from '@cni-ts/iptables';
import { nftApply, nftList } from '@cni-ts/nftables';
import type { BridgeConf } from './config.js';
import {
  checkMasq,
  familyOf,
  masqChain,
  planMasqCreate,
  planMasqGc,
  planMasqRemoveKnown,
  planMasqSetup,
  planMasqTeardown,
} from './plan-masq-iptables.js';
import { MASQ_LIST, checkNftMasq, planNftMasqGc, planNftMasqSetup, planNftMasqTeardown } from './plan-masq-nft.js';
import { ownNftMasq } from './nft-masq-kernel.js';
import { gcMasqNft } from './gc-masq-nft.js';
import type { UndoStack } from './undo.js';

/** Which attachment the rules belong to. */
export interface MasqOwner {
  network: string;
  containerId: string;
  ifname: string;
}

/** The backend to use: the configured one, else iptables when `iptables-save` works, else nftables. */
export function chooseBackend(exec: Executor, conf: BridgeConf): { backend: 'iptables' | 'nftables'; v4?: TableState } {
  if (conf.ipMasqBackend) return { backend: conf.ipMasqBackend };
  try {
    return { backend: 'iptables', v4: saveTable(exec, 4, 'nat') };
  } catch {
    return { backend: 'nftables' };
  }
}

/** Families present in a list of addresses, IPv4 first. */
export function familiesOf(addresses: readonly string[]): Family[] {
  return ([4, 6] as const).filter((f) => addresses.some((a) => familyOf(a) === f));
}

/**
 * Sets up masquerading for `addresses`, pushing the undo of each applied step. With iptables one
 * restore per family creates the container's chain without reading the nat table first
 * (planMasqCreate); only when the chain exists already (a repeated ADD) is the table read and
 * the rules re-planned. Without a configured backend, a first restore that fails while
 * `iptables-save` fails too means no usable iptables: nftables then, as chooseBackend decides.
 */
export function setupMasq(
  exec: Executor,
  conf: BridgeConf,
  o: MasqOwner,
  addresses: readonly string[],
  undo: UndoStack,
): void {
  if (conf.ipMasqBackend === 'nftables') {
    setupNftMasq(exec, o, addresses, undo);
    return;
  }
  for (const [i, f] of familiesOf(addresses).entries()) {
    const own = addresses.filter((a) => familyOf(a) === f);
    try {
      createMasq(exec, f, o, own);
    } catch (e) {
      if (i > 0 || conf.ipMasqBackend || chooseBackend(exec, conf).backend !== 'nftables') throw e;
      setupNftMasq(exec, o, addresses, undo);
      return;
    }
    undo.push(`iptables masquerade (IPv${f})`, () => {
      if (removeMasqNft(exec, f, o) !== 'done')
        restore(exec, f, planMasqTeardown(saveTable(exec, f, 'nat'), o.network, o.containerId));
    });
  }
}

// The chain and its rules are written straight to nf_tables when the node's iptables is
// iptables-nft (applyNft, in iptables-nft's own encoding: no iptables-restore process); anything
// that path cannot do or classify goes to iptables-restore as before.
function createMasq(exec: Executor, f: Family, o: MasqOwner, addresses: readonly string[]): void {
  const create = planMasqCreate(o.network, o.containerId, addresses);
  let exists = false;
  try {
    const direct = applyNft(exec, f, create);
    if (direct === 'done') return;
    exists = direct === 'exists';
    if (!exists) restore(exec, f, create);
  } catch (e) {
    if (!isKind(e, 'exists')) throw e;
    exists = true;
  }
  if (exists) restore(exec, f, planMasqSetup(saveTable(exec, f, 'nat'), o.network, o.containerId, addresses));
}

/** The container's chain and POSTROUTING's jumps to it, removed through nf_tables (see removeChainNft). */
function removeMasqNft(exec: Executor, f: Family, o: MasqOwner): 'done' | undefined {
  return removeChainNft(exec, f, 'nat', masqChain(o.network, o.containerId), ['POSTROUTING']);
}

// ADD, its undo and DEL read only the attachment's rules (ownNftMasq: through the kernel, flat in the node's pods).
function setupNftMasq(exec: Executor, o: MasqOwner, addresses: readonly string[], undo: UndoStack): void {
  nftApply(exec, planNftMasqSetup(ownNftMasq(exec, o), o.network, o.ifname, o.containerId, addresses));
  undo.push('nftables masquerade', () =>
    nftApply(exec, planNftMasqTeardown(ownNftMasq(exec, o), o.network, o.ifname, o.containerId)),
  );
}

// Teardown and GC try both backends, as upstream; a backend may be absent from the node. iptables
// errors count unless its tools are missing or the config names nftables; nftables errors count
// only when the config names nftables.
function matters(conf: Pick<BridgeConf, 'ipMasqBackend'>, backend: 'iptables' | 'nftables', e: unknown): boolean {
  if (isKind(e, 'not-found')) return false;
  return backend === 'iptables' ? conf.ipMasqBackend !== 'nftables' : conf.ipMasqBackend === 'nftables';
}

/**
 * Removes an attachment's masquerade rules from both backends; for iptables, in `families`
 * (the chain is found by name, so no address is needed). With the container's `addresses`
 * (prevResult, the sandbox) one restore removes exactly its rules without reading the nat table;
 * if that fails (a rule is not there, or something else jumps to the chain), the table is read and
 * whatever is there is removed. Returns the errors that matter.
 */
export function teardownMasq(
  exec: Executor,
  conf: Pick<BridgeConf, 'ipMasqBackend'>,
  o: MasqOwner,
  families: readonly Family[],
  addresses: readonly string[] = [],
): Error[] {
  const errors: Error[] = [];
  // nftables first: its read's socket (not held by deferNfRelease) would wait, at its release,
  // for the grace period the iptables transactions' deletions start
  try {
    nftApply(exec, planNftMasqTeardown(ownNftMasq(exec, o), o.network, o.ifname, o.containerId));
  } catch (e) {
    if (matters(conf, 'nftables', e)) errors.push(e as Error);
  }
  for (const f of families) {
    const known = [...new Set(addresses.filter((a) => familyOf(a) === f))];
    try {
      if (conf.ipMasqBackend !== 'nftables' && removeMasqNft(exec, f, o) === 'done') continue;
      if (known.length && conf.ipMasqBackend !== 'nftables') {
        try {
          restore(exec, f, planMasqRemoveKnown(o.network, o.containerId, known));
          continue;
        } catch {
          // not exactly what ADD made (or iptables is unusable): read the table and see
        }
      }
      restore(exec, f, planMasqTeardown(saveTable(exec, f, 'nat'), o.network, o.containerId));
    } catch (e) {
      if (matters(conf, 'iptables', e)) errors.push(e as Error);
    }
  }
  return errors;
}

/** Removes the masquerade rules of `network` whose attachment is not in `valid` (both backends, both families). */
export function gcMasq(
  exec: Executor,
  conf: Pick<BridgeConf, 'name' | 'ipMasqBackend'>,
  valid: ReadonlyArray<{ containerID: string; ifname: string }>,
): Error[] {
  const errors: Error[] = [];
  const keep = new Set(valid.map((a) => a.containerID));
  // nftables first (its `nft` would wait for the grace period of the chains removed below); each
  // stale chain is a transaction of its own, their sockets released together at the end, so their
  // grace periods overlap one another instead of adding up (deferNfRelease, as in DEL)
  try {
    nftApply(exec, planNftMasqGc(nftList(exec, MASQ_LIST), conf.name, valid));
  } catch (e) {
    if (matters(conf, 'nftables', e)) errors.push(e as Error);
  }
  const release = deferNfRelease();
  try {
    for (const f of [4, 6] as const) {
      try {
        if (conf.ipMasqBackend !== 'nftables' && gcMasqNft(exec, f, conf.name, keep) === 'done') continue;
        restore(exec, f, planMasqGc(saveTable(exec, f, 'nat'), conf.name, keep));
      } catch (e) {
        if (matters(conf, 'iptables', e)) errors.push(e as Error);
      }
    }
  } finally {
    release();
  }
  return errors;
}

/** What is missing from an attachment's masquerade rules in the backend ADD would use. */
export function checkMasqRules(exec: Executor, conf: BridgeConf, o: MasqOwner, addresses: readonly string[]): string[] {
  const { backend, v4 } = chooseBackend(exec, conf);
  if (backend === 'nftables')
    return checkNftMasq(nftList(exec, MASQ_LIST), o.network, o.ifname, o.containerId, addresses);
  return familiesOf(addresses).flatMap((f) => {
    const state = f === 4 && v4 ? v4 : saveTable(exec, f, 'nat');
    return checkMasq(
      state,
      o.network,
      o.containerId,
      addresses.filter((a) => familyOf(a) === f),
    );
  });
}
