// The GC collector: libcni's GC of the network (@cni-ts/libcni gcNetworkList) — a full DEL of the
// conflist for every attachment of the network in the runtime's results cache that is no longer
// valid (so portmap rules and bandwidth devices go too, also from plugins without GC), then, from
// cniVersion 1.1.0, the GC verb to every plugin with the valid attachments.
import { CniConfig, confListFromFile } from '@cni-ts/libcni';
import type { Attachment, Collector } from './gc.js';

/** A collector for the conflist at `confPath`, its plugins in `binDir`, the results cache in `cacheDir`. */
export function libcniCollector(confPath: string, binDir: string, cacheDir: string): Collector {
  const cni = new CniConfig({ path: [binDir], cacheDir });
  return async (valid: Attachment[]) => {
    await cni.gcNetworkList(confListFromFile(confPath), { validAttachments: valid });
  };
}
