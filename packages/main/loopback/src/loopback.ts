// loopback: brings `lo` up in the sandbox (ADD), down again (DEL), and checks it is up (CHECK).
import { isMissing, libcFs, useFs } from '@cni-ts/process';
import { type Context, type Plugin, requireNetns, netnsGone } from '@cni-ts/skel';
import { ALL_VERSIONS, CniError, ErrorCode, type Result, newResult } from '@cni-ts/types';
import { openLo } from './lo.js';

// A loopback run needs node:fs for nothing but the shared path's few file calls (stdin, stdout,
// the CNI_NETNS probe, the namespace files, the socket): in Bun it makes them through the libc
// its rtnetlink socket binds anyway, and node:fs (about 2 ms of its CPU) is never loaded.
useFs(libcFs);

// lo's state before, lo up, its addresses after, in one exchange. A refused lo is set down again
// when ADD brought it up, and prevResult is decoded first, so a failed ADD changes nothing.
function add(ctx: Context): Result {
  const netns = ctx.args.netns;
  requireNetns(netns);
  const prev = ctx.prevResult; // decoded before lo changes: a prevResult that is not a result fails the ADD here
  const lo = openLo(ctx.exec, netns);
  try {
    const { wasUp, addrs } = lo.up();
    const foreign = addrs.find((a) => a.local && !isLoopbackAddress(a.local));
    if (foreign) {
      if (!wasUp) lo.down();
      throw new CniError(
        ErrorCode.internal,
        `loopback interface found with non-loopback address "${foreign.local}"`,
        `the namespace ${netns} is not a fresh sandbox; its lo carries ${foreign.local}/${foreign.prefixlen ?? ''}`,
      );
    }
    if (prev) return prev;
    const v4 = addrs.find((a) => a.family === 'inet');
    const v6 = addrs.find((a) => a.family === 'inet6');
    const ips = [v4, v6]
      .filter((a) => !!a?.local)
      .map((a) => ({ interface: 0, address: `${a!.local}/${a!.prefixlen}` }));
    return newResult({
      interfaces: [{ name: 'lo', mac: '00:00:00:00:00:00', sandbox: netns }],
      ...(ips.length ? { ips } : {}),
    });
  } finally {
    lo.close();
  }
}

function del(ctx: Context): void {
  const netns = ctx.args.netns;
  if (netnsGone(netns)) return; // nothing to undo: the sandbox is already gone
  try {
    const lo = openLo(ctx.exec, netns);
    try {
      lo.down();
    } finally {
      lo.close();
    }
  } catch (e) {
    if (!isMissing(e, netns)) throw e; // the sandbox went away since we looked
  }
}

function check(ctx: Context): void {
  const netns = ctx.args.netns;
  requireNetns(netns);
  const lo = openLo(ctx.exec, netns);
  let up: boolean;
  try {
    up = lo.isUp();
  } finally {
    lo.close();
  }
  if (!up) {
    throw new CniError(
      ErrorCode.checkFailed,
      'loopback interface is down',
      `lo in ${netns} is not up; delete and re-add the sandbox's network`,
    );
  }
}

/** True for 127.0.0.0/8 and ::1, the only addresses a sandbox's lo may carry. */
export function isLoopbackAddress(ip: string): boolean {
  return ip.startsWith('127.') || ip === '::1';
}

/** The loopback plugin. */
export const loopback: Plugin = { name: 'loopback', versions: ALL_VERSIONS, add, del, check };
