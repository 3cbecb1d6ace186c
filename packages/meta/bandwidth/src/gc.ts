// GC: remove the ifb devices of this network whose attachment the runtime no longer has (pods that
// went away without a DEL). Our ifbs carry an alias naming their network and container; ifbs
// without it (the Go plugin's) or of other networks are left alone.
// STATUS: can this node shape traffic? Probed in a throwaway network namespace (unshare), so the
// node's own links are never touched: an ifb, a tbf, an ingress qdisc and a mirred redirect.
import { type Executor, ipBatch, iprouteBatchText } from '@cni-ts/process';
import { type Context, validAttachments } from '@cni-ts/skel';
import { CniError, ErrorCode } from '@cni-ts/types';
import { kernelError } from './apply-shaping.js';
import { ifbName, parseIfbAlias } from './names.js';
import { linksOfKind } from './observe.js';
import { tcCommands } from './plan-shaping.js';
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

/** The probe's script: two ifbs in a fresh netns (one plays the veth), then a pod's tc batch shaped both ways. */
export function statusProbe(): { args: string[]; input: string } {
  const tbf = tbfFor(125_000, 3028);
  const commands = tcCommands({ veth: 'probe0', ingress: tbf, egress: { ifb: 'probe1', mtu: 1500, tbf } });
  const links = ['probe0', 'probe1'].map((n) => `ip link add name ${n} type ifb && ip link set dev ${n} up`);
  return {
    args: ['--net', '--', 'sh', '-c', `${links.join(' && ')} && exec tc -batch -`],
    input: iprouteBatchText(commands),
  };
}

/** The bandwidth plugin's STATUS: code 50 when tc, ifb devices or the qdiscs it needs do not work. */
export function cmdStatus(ctx: Context): void {
  probe(ctx.exec);
}

function probe(exec: Executor): void {
  const { args, input } = statusProbe();
  let why: string;
  try {
    const r = exec.run('unshare', args, { input, timeoutMs: 10_000 });
    if (r.status === 0) return;
    why = (r.stderr.trim() || r.stdout.trim() || `exit status ${r.status}`).replace(/\n+/g, '; ');
  } catch (e) {
    why = (e as Error).message;
  }
  throw new CniError(
    ErrorCode.pluginNotAvailable,
    'bandwidth cannot shape traffic on this node',
    `creating an ifb with a tbf, an ingress qdisc and a mirred redirect in a scratch namespace failed: ${why} ` +
      '(needs tc from iproute2, util-linux unshare, and kernel support for ifb, sch_tbf, sch_ingress, cls_u32, act_mirred)',
  );
}
