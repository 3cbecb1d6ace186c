// GC input: the attachments the runtime still considers valid.
import { isPlainObject } from '@cni-ts/types';
import type { NetConf } from './netconf.js';

/** One attachment the runtime still has. */
export interface Attachment {
  containerID: string;
  ifname: string;
}

/**
 * The valid attachments from a GC config: `cni.dev/valid-attachments`, or the pre-1.2.3 key
 * `cni.dev/attachments`. Undefined when the runtime sent neither (then GC must not delete).
 */
export function validAttachments(conf: NetConf): Attachment[] | undefined {
  const list = conf.raw['cni.dev/valid-attachments'] ?? conf.raw['cni.dev/attachments'];
  if (!Array.isArray(list)) return undefined;
  const out: Attachment[] = [];
  for (const a of list) {
    if (!isPlainObject(a)) continue;
    const id = a.containerID ?? a.containerId;
    const ifname = a.ifname ?? a.ifName;
    if (typeof id === 'string' && typeof ifname === 'string') out.push({ containerID: id, ifname });
  }
  return out;
}

/** A key for (containerID, ifname) pairs in sets. */
export function attachmentKey(containerID: string, ifname: string): string {
  return `${containerID}\u0000${ifname}`;
}
