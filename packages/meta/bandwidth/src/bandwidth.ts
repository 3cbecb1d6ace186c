// The bandwidth plugin: every verb, bound to the host it runs on.
import { libcFs, useFs } from '@cni-ts/process';
import type { Plugin } from '@cni-ts/skel';
import { versionsFrom } from '@cni-ts/types';
import { cmdAdd } from './add.js';
import { withBudget } from './budget.js';
import { cmdCheck } from './check.js';
import { cmdDel } from './del.js';
import { cmdGc, cmdStatus } from './gc.js';
import { type Host, systemHost } from './host.js';

// A bandwidth run reads a few files (stdin, the namespace files, sysfs, /proc/net/psched) and
// talks rtnetlink through the libc its socket binds anyway: in Bun it makes those file calls
// through libc too, and node:fs (about 1.5 ms of a run's CPU, docs/performance.md) is never loaded.
useFs(libcFs);

/** Spec versions bandwidth speaks: 0.3.0 and later, as upstream (it needs interfaces in prevResult). */
export const BANDWIDTH_VERSIONS: readonly string[] = versionsFrom('0.3.0');

/** The bandwidth plugin over a given host (tests pass a fake one). */
export function makeBandwidth(host: Host): Plugin {
  return {
    name: 'bandwidth',
    versions: BANDWIDTH_VERSIONS,
    add: (ctx) => cmdAdd(host, withBudget(ctx)),
    del: (ctx) => cmdDel(host, withBudget(ctx)),
    check: (ctx) => cmdCheck(host, withBudget(ctx)),
    gc: (ctx) => cmdGc(ctx),
    status: (ctx) => cmdStatus(ctx),
  };
}

/** The bandwidth plugin. */
export const bandwidth: Plugin = makeBandwidth(systemHost);
