// GC removes the rules of this network's attachments that the runtime no longer has (iptables:
// the CNI-DN chains whose jump comment names this network; nftables: rules whose container ID is
// not valid). STATUS says whether the backend ADD would use works. Upstream has neither.
import { restore } from '@cni-ts/iptables';
import { type Context, validAttachments } from '@cni-ts/skel';
import { CniError, ErrorCode } from '@cni-ts/types';
import { readNat } from './apply-iptables.js';
import { gcNft } from './apply-nft.js';
import { chooseBackend, kernelError, nftUsable, toolMissing } from './backend.js';
import { loadConf, loadConfLenient } from './config.js';
import { throwAll } from './del.js';
import { planGc } from './plan-iptables.js';

/** The portmap plugin's GC. */
export function cmdGc(ctx: Context): void {
  const conf = loadConfLenient(ctx);
  const valid = validAttachments(ctx.conf);
  if (!valid) return;
  const keep = new Set(valid.map((a) => a.containerID));
  const errors: Error[] = [];
  for (const f of [4, 6] as const) {
    try {
      restore(ctx.exec, f, planGc(readNat(ctx.exec, f), conf.name, keep));
    } catch (e) {
      if (!toolMissing(e) && conf.backend !== 'nftables' && f === 4)
        errors.push(kernelError(`remove stale IPv${f} iptables rules`, e));
    }
  }
  try {
    gcNft(ctx.exec, keep);
  } catch (e) {
    if (!toolMissing(e) && conf.backend === 'nftables') errors.push(kernelError('remove stale nftables rules', e));
  }
  throwAll(errors);
}

/** The portmap plugin's STATUS: code 50 when the backend cannot be used. */
export async function cmdStatus(ctx: Context): Promise<void> {
  const conf = await loadConf(ctx);
  let backend = conf.backend;
  try {
    backend = chooseBackend(ctx.exec, conf, { network: conf.name, containerId: '' }).backend;
    if (backend === 'nftables' && !nftUsable(ctx.exec)) throw new Error('`nft list tables` failed');
    if (backend === 'iptables' && conf.backend) readNat(ctx.exec, 4);
  } catch (e) {
    throw new CniError(
      ErrorCode.pluginNotAvailable,
      `portmap is not available: ${backend ?? 'no'} backend is not usable: ${(e as Error).message}`,
      'install iptables or nftables (and the kernel support for them), or set "backend" to the one the node has',
    );
  }
}
