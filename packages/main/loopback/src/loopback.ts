// loopback: brings `lo` up in the sandbox (ADD), down again (DEL), and checks it is up (CHECK).
import { ipBatch, ipJson, isMissing } from '@cni-ts/process';
import { type Context, type Plugin, requireNetns, netnsGone } from '@cni-ts/skel';
import { ALL_VERSIONS, CniError, ErrorCode, type Result, newResult } from '@cni-ts/types';

interface AddrInfo {
  family?: string;
  local?: string;
  prefixlen?: number;
}
interface Link {
  ifname?: string;
  flags?: string[];
  addr_info?: AddrInfo[];
}

// One process: lo's state before, lo up, its addresses after. A refused lo is set down again
// when ADD brought it up, and prevResult is decoded first, so a failed ADD changes nothing.
function add(ctx: Context): Result {
  const netns = ctx.args.netns;
  requireNetns(netns);
  const prev = ctx.prevResult; // decoded before lo changes: a prevResult that is not a result fails the ADD here
  const [before, after] = ipBatch(
    ctx.exec,
    [
      // `addr show`, not `link show`: in a batch, a `link show` makes later `addr show` lines omit addresses
      ['addr', 'show', 'dev', 'lo'],
      ['link', 'set', 'lo', 'up'],
      ['addr', 'show', 'dev', 'lo'],
    ],
    { netns },
  ) as Link[][];
  const addrs = after?.[0]?.addr_info ?? [];
  const foreign = addrs.find((a) => a.local && !isLoopbackAddress(a.local));
  if (foreign) {
    if (!before?.[0]?.flags?.includes('UP')) ipBatch(ctx.exec, [['link', 'set', 'lo', 'down']], { netns });
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
    .filter((a): a is AddrInfo => !!a?.local)
    .map((a) => ({ interface: 0, address: `${a.local}/${a.prefixlen}` }));
  return newResult({
    interfaces: [{ name: 'lo', mac: '00:00:00:00:00:00', sandbox: netns }],
    ...(ips.length ? { ips } : {}),
  });
}

function del(ctx: Context): void {
  const netns = ctx.args.netns;
  if (netnsGone(netns)) return; // nothing to undo: the sandbox is already gone
  try {
    ipBatch(ctx.exec, [['link', 'set', 'lo', 'down']], { netns });
  } catch (e) {
    if (!isMissing(e, netns)) throw e; // the sandbox went away since we looked
  }
}

function check(ctx: Context): void {
  const netns = ctx.args.netns;
  requireNetns(netns);
  const links = ipJson(ctx.exec, ['link', 'show', 'dev', 'lo'], { netns }) as Link[] | undefined;
  if (!links?.[0]?.flags?.includes('UP')) {
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
