// GC: remove the ifb devices of this network whose attachment the runtime no longer has (pods that
// went away without a DEL). Our ifbs carry an alias naming their network and container; ifbs
// without it (the Go plugin's) or of other networks are left alone.
// STATUS: can this node shape traffic? Probed in throwaway network namespaces (unshare), so the
// node's own links are never touched: an ifb, a tbf, an ingress qdisc and a mirred redirect.
import { type Executor, ipBatch, iprouteBatchText } from '@cni-ts/process';
import { type Context, validAttachments } from '@cni-ts/skel';
import { CniError, ErrorCode } from '@cni-ts/types';
import { kernelError } from './apply-shaping.js';
import { ifbName, parseIfbAlias } from './names.js';
import { linksOfKind } from './observe.js';
import { ifbCommands, tcCommands } from './plan-shaping.js';
import { tbfFor } from './tbf.js';

/** The ifbs GC removes: this network's (by alias) whose container is not among the valid ones. */
export function staleIfbs(
  ifbs: ReadonlyArray<{ name: string; alias?: string }>,
  network: string,
  valid: ReadonlyArray<{ containerID: string }>,
): string[] {
  const keep = new Set(valid.map((a) => ifbName(network, a.containerID)));
  return ifbs
    .filter((l) => {
      const owner = parseIfbAlias(l.alias);
      return owner?.network === network && l.name === ifbName(network, owner.containerId) && !keep.has(l.name);
    })
    .map((l) => l.name);
}

/** The bandwidth plugin's GC. */
export function cmdGc(ctx: Context): void {
  const valid = validAttachments(ctx.conf);
  if (!valid) return; // without the list, nothing can be judged stale
  const stale = staleIfbs(linksOfKind(ctx.exec, 'ifb'), ctx.conf.name, valid);
  if (stale.length === 0) return;
  try {
    ipBatch(
      ctx.exec,
      stale.map((n) => ['link', 'del', 'dev', n]),
    );
  } catch (e) {
    throw kernelError(`remove stale ifb devices ${stale.join(', ')}`, e);
  }
}

/**
 * The probe, as two processes in two fresh network namespaces, with no shell: ADD's `ip` commands
 * make an ifb; ADD's tc batch shapes `lo` (a tbf, an ingress qdisc, a u32 filter with a mirred
 * redirect, here to `lo` itself) — between them every kernel feature an ADD needs.
 */
export function statusProbes(): Array<{ tool: string; args: string[]; input: string }> {
  const tbf = tbfFor(125_000, 3028);
  const ifb = ifbCommands({ ifb: 'probe0', mtu: 1500, tbf });
  const tc = tcCommands({ veth: 'lo', egress: { ifb: 'lo', mtu: 1500, tbf } });
  return [
    { tool: 'ip', args: ['--net', '--', 'ip', '-batch', '-'], input: iprouteBatchText(ifb) },
    { tool: 'tc', args: ['--net', '--', 'tc', '-batch', '-'], input: iprouteBatchText(tc) },
  ];
}

/** The bandwidth plugin's STATUS: code 50 when tc, ifb devices or the qdiscs it needs do not work. */
export function cmdStatus(ctx: Context): void {
  probe(ctx.exec);
}

function probe(exec: Executor): void {
  for (const { tool, args, input } of statusProbes()) {
    let why: string | undefined;
    try {
      const r = exec.run('unshare', args, { input, timeoutMs: 10_000 });
      if (r.status !== 0) why = (r.stderr.trim() || r.stdout.trim() || `exit status ${r.status}`).replace(/\n+/g, '; ');
    } catch (e) {
      why = (e as Error).message;
    }
    if (why === undefined) continue;
    throw new CniError(
      ErrorCode.pluginNotAvailable,
      'bandwidth cannot shape traffic on this node',
      `${tool === 'ip' ? 'creating an ifb' : 'a tbf, an ingress qdisc and a mirred redirect'} in a scratch namespace failed: ${why} ` +
        '(needs tc and ip from iproute2, util-linux unshare, and kernel support for ifb, sch_tbf, sch_ingress, cls_u32, act_mirred)',
    );
  }
}
