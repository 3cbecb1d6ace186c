// Applying the spoof check: one `nft -j list` to find leftovers, one `nft -f -` transaction.
import { type Executor, isKind } from '@cni-ts/process';
import { nftApply, nftList } from '@cni-ts/nftables';
import { CniError, ErrorCode } from '@cni-ts/types';
import { SPOOF_LIST, checkSpoof, planSpoofSetup, planSpoofTeardown } from './plan-spoofcheck.js';
import type { UndoStack } from './undo.js';

/** Installs the spoof check and records its removal for rollback. */
export function addSpoofCheck(
  exec: Executor,
  containerId: string,
  ifname: string,
  hostVeth: string,
  mac: string,
  undo: UndoStack,
): void {
  try {
    nftApply(exec, planSpoofSetup(nftList(exec, SPOOF_LIST), containerId, ifname, hostVeth, mac));
  } catch (e) {
    throw new CniError(
      (e as { cniCode?: number }).cniCode ?? ErrorCode.internal,
      `failed to setup spoof-check: ${(e as Error).message}`,
      '',
      { cause: e },
    );
  }
  undo.push('spoof check', () => removeSpoofCheck(exec, containerId, ifname));
}

/** Removes an attachment's spoof check; nothing to do (or no nft at all) is not an error. */
export function removeSpoofCheck(exec: Executor, containerId: string, ifname: string): void {
  try {
    nftApply(exec, planSpoofTeardown(nftList(exec, SPOOF_LIST), containerId, ifname));
  } catch (e) {
    if (!isKind(e, 'not-found')) throw e;
  }
}

/** What is missing from an attachment's spoof check. */
export function spoofCheckProblems(
  exec: Executor,
  containerId: string,
  ifname: string,
  hostVeth: string,
  mac: string,
): string[] {
  return checkSpoof(nftList(exec, SPOOF_LIST), containerId, ifname, hostVeth, mac);
}
