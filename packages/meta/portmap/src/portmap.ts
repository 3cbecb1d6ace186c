// The portmap plugin: every verb, bound to the node it runs on.
import { libcFs, useFs } from '@cni-ts/process';
import type { Plugin } from '@cni-ts/skel';
import { ALL_VERSIONS } from '@cni-ts/types';
import { cmdAdd } from './add.js';
import { cmdCheck } from './check.js';
import { cmdDel } from './del.js';
import { cmdGc, cmdStatus } from './gc.js';
import { type Host, systemHost } from './host.js';

// A portmap run's file calls (stdin, /proc/net/route, sysctls, the PATH lookup of
// iptables-restore, the nfnetlink socket) go through the libc its socket binds anyway: in Bun,
// node:fs (about 1.5 ms of a run's CPU, docs/performance.md) is never loaded.
useFs(libcFs);

/** The portmap plugin over a given node (tests pass a fake one). */
export function makePortmap(host: Host): Plugin {
  return {
    name: 'portmap',
    versions: ALL_VERSIONS,
    add: (ctx) => cmdAdd(host, ctx),
    del: (ctx) => cmdDel(ctx),
    check: (ctx) => cmdCheck(ctx),
    gc: (ctx) => cmdGc(ctx),
    status: (ctx) => cmdStatus(ctx),
  };
}

/** The portmap plugin. */
export const portmap: Plugin = makePortmap(systemHost);
