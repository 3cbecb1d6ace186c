// Choosing the rule engine (as upstream: the configured one, else iptables unless only nftables
// works) and turning kernel-tool failures into CNI errors that say what failed.
import type { Family } from '@cni-ts/iptables';
import { type Executor, isKind, runChecked } from '@cni-ts/process';
import { CniError, ErrorCode } from '@cni-ts/types';
import type { Backend, PortmapConf } from './config.js';
import { readTables } from './apply-iptables.js';
import type { Owner, Tables } from './plan-iptables.js';

/** The backend for ADD/CHECK/STATUS; in auto mode the IPv4 snapshot that probed iptables is kept for reuse. */
export function chooseBackend(exec: Executor, conf: PortmapConf, o: Owner): { backend: Backend; v4?: Tables } {
  if (conf.backend) return { backend: conf.backend };
  try {
    return { backend: 'iptables', v4: readTables(exec, conf, 4, o) };
  } catch (e) {
    if (nftUsable(exec)) return { backend: 'nftables' };
    throw kernelError('use iptables (and nftables is not usable either)', e);
  }
}

/** True when `nft list tables` works. */
export function nftUsable(exec: Executor): boolean {
  try {
    runChecked(exec, 'nft', ['list', 'tables']);
    return true;
  } catch {
    return false;
  }
}

/** A CNI error for a failed kernel step, keeping a code the tool error carries (busy → 11), else 999. */
export function kernelError(what: string, e: unknown): CniError {
  if (e instanceof CniError) return e;
  const code = (e as { cniCode?: number }).cniCode ?? ErrorCode.internal;
  return new CniError(code, `failed to ${what}: ${(e as Error).message}`, '', { cause: e });
}

/** True when a failure only says the tool is not installed (a family or backend the node does not have). */
export function toolMissing(e: unknown): boolean {
  return isKind(e, 'not-found');
}

/** "IPv4 iptables" and the like, for messages. */
export function familyName(backend: Backend, f: Family): string {
  return `IPv${f} ${backend}`;
}
