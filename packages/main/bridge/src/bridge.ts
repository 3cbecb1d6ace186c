// The bridge plugin: every verb, bound to the host it runs on.
import type { Plugin } from '@cni-ts/skel';
import { ALL_VERSIONS } from '@cni-ts/types';
import { cmdAdd } from './add.js';
import { cmdCheck } from './check.js';
import { cmdDel } from './del.js';
import { cmdGc, cmdStatus } from './gc.js';
import { type Host, systemHost } from './host.js';

/** The bridge plugin over a given host (tests pass a fake one). */
export function makeBridge(host: Host): Plugin {
  return {
    name: 'bridge',
    versions: ALL_VERSIONS,
    add: (ctx) => cmdAdd(host, ctx),
    del: (ctx) => cmdDel(host, ctx),
    check: (ctx) => cmdCheck(ctx),
    gc: (ctx) => cmdGc(host, ctx),
    status: (ctx) => cmdStatus(ctx),
  };
}

/** The bridge plugin. */
export const bridge: Plugin = makeBridge(systemHost);
