// GC and STATUS. GC forwards to IPAM and removes the masquerade rules (both backends) of this
// network's attachments that are not in cni.dev/valid-attachments, and spoof checks whose host
// veth is gone; upstream bridge has no GC at all. STATUS forwards to IPAM, as upstream.
import { isKind } from '@cni-ts/process';
import { nftApply, nftList } from '@cni-ts/nftables';
import { type Context, delegateAsync, validAttachments } from '@cni-ts/skel';
import { kernelError } from './apply-links.js';
import { loadConf } from './config.js';
import { noteInvalidConf, teardownConf } from './teardown-conf.js';
import { throwAll } from './del.js';
import type { Host } from './host.js';
import { gcMasq } from './apply-masq.js';
import { SPOOF_LIST, planSpoofGc } from './plan-spoofcheck.js';

/** The bridge plugin's GC. */
export async function cmdGc(host: Host, ctx: Context): Promise<void> {
  const conf = teardownConf(ctx);
  noteInvalidConf(ctx, 'GC');
  const errors: Error[] = [];
  if (conf.ipamType) {
    try {
      await delegateAsync(ctx, conf.ipamType, 'GC');
    } catch (e) {
      errors.push(e as Error);
    }
  }
  const valid = validAttachments(ctx.conf);
  if (valid) {
    errors.push(...gcMasq(ctx.exec, conf, valid).map((e) => kernelError('remove stale masquerade rules', e)));
    // whatever macspoofchk says now: a check whose host veth is gone filters nothing, and pods
    // added while it was on keep theirs after it is turned off (DEL no longer looks)
    try {
      nftApply(ctx.exec, planSpoofGc(nftList(ctx.exec, SPOOF_LIST), valid, host.linkNames()));
    } catch (e) {
      if (conf.macspoofchk && !isKind(e, 'not-found')) errors.push(kernelError('remove stale spoof checks', e));
    }
  }
  throwAll(errors);
}

/** The bridge plugin's STATUS: ready when its IPAM plugin is. */
export async function cmdStatus(ctx: Context): Promise<void> {
  const conf = loadConf(ctx, false);
  if (conf.ipamType) await delegateAsync(ctx, conf.ipamType, 'STATUS');
}
