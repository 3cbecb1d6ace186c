// Scheduled CNI GC: every interval, ask the CRI runtime for its pod sandboxes and collect every
// attachment of our network that belongs to none of them (libcni's GC: a DEL for each cached
// attachment no longer valid, then the GC verb, which frees host-local reservations no DEL ever
// released). When the sandbox list cannot be read, nothing is collected.
//
// The runtime lists a sandbox only once its network is set up (containerd adds it to its store
// after CNI ADD), and the spec forbids GC during an ADD, which the agent cannot see. So an
// attachment whose reservation was written within the grace period counts as valid too: GC never
// races an ADD in progress.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { SandboxLister } from './cri.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';

/** An attachment the runtime still has (spec 1.1.0 `cni.dev/valid-attachments`). */
export interface Attachment {
  containerID: string;
  ifname: string;
}

/** Collects everything of the network not among `valid` (the GC verb; libcni's GCNetworkList). */
export type Collector = (valid: Attachment[]) => Promise<void>;

/** One host-local reservation: the address file and who holds it. */
export interface Reservation {
  ip: string;
  containerID: string;
  ifname: string;
  /** When the reservation file was written. */
  mtimeMs: number;
}

/** The reservations of `network` in a host-local store (`<dataDir>/<network>/<ip>` files). */
export function readReservations(dataDir: string, network: string): Reservation[] {
  const dir = join(dataDir, network);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const out: Reservation[] = [];
  for (const ip of names) {
    if (ip === 'lock' || ip.startsWith('last_reserved_ip') || ip.startsWith('.')) continue;
    try {
      const path = join(dir, ip);
      const [containerID = '', ifname = ''] = readFileSync(path, 'utf8').split('\r\n');
      out.push({ ip, containerID: containerID.trim(), ifname: ifname.trim(), mtimeMs: statSync(path).mtimeMs });
    } catch {
      // vanished or not a file: not a reservation
    }
  }
  return out;
}

/** Reservations held by no valid attachment (an empty ifname, as written by old stores, matches any). */
export function leakedReservations(res: readonly Reservation[], valid: readonly Attachment[]): Reservation[] {
  return res.filter((r) => !valid.some((v) => v.containerID === r.containerID && (!r.ifname || v.ifname === r.ifname)));
}

/** Settings of the scheduler. */
export interface GcOptions {
  intervalMs: number;
  /** Reservations younger than this are kept as if their sandbox were listed (an ADD may be running). */
  graceMs: number;
  ifname: string;
  network: string;
  dataDir: string;
}

/** What one run did. */
export type GcOutcome =
  | { result: 'ok'; reservations: number; leaks: number; released: number }
  | { result: 'skipped' | 'error'; reason: string };

/** Runs GC now and then; `runOnce` is the unit the schedule repeats. */
export class GcScheduler {
  private timer: NodeJS.Timeout | undefined;
  private current: Promise<GcOutcome> | undefined;

  constructor(
    private readonly opts: GcOptions,
    private readonly deps: { lister: SandboxLister; collect: Collector; log: Logger; metrics: Metrics },
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.runOnce(), this.opts.intervalMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.current;
    this.deps.lister.close();
  }

  /** One GC run (a run already going is joined, never doubled). */
  runOnce(): Promise<GcOutcome> {
    this.current ??= this.run().finally(() => {
      this.current = undefined;
    });
    return this.current;
  }

  private async run(): Promise<GcOutcome> {
    const { log, metrics } = this.deps;
    let valid: Attachment[];
    try {
      const sandboxes = await this.deps.lister.listSandboxes();
      valid = sandboxes.filter((s) => s.id).map((s) => ({ containerID: s.id, ifname: this.opts.ifname }));
    } catch (e) {
      metrics.inc('gc_runs_total', 1, { result: 'skipped' });
      log.warn('GC skipped: the runtime’s sandbox list cannot be read, so nothing is collected', { error: e });
      return { result: 'skipped', reason: (e as Error).message };
    }
    const before = readReservations(this.opts.dataDir, this.opts.network);
    const recent = before.filter((r) => r.containerID && Date.now() - r.mtimeMs < this.opts.graceMs);
    for (const r of recent)
      if (!valid.some((v) => v.containerID === r.containerID))
        valid.push({ containerID: r.containerID, ifname: r.ifname || this.opts.ifname });
    const leaks = leakedReservations(before, valid);
    metrics.set('ipam_leaks', leaks.length);
    try {
      await this.deps.collect(valid);
    } catch (e) {
      metrics.inc('gc_runs_total', 1, { result: 'error' });
      metrics.set('ipam_reservations', readReservations(this.opts.dataDir, this.opts.network).length);
      log.error('GC failed', { error: e, validAttachments: valid.length });
      return { result: 'error', reason: (e as Error).message };
    }
    const after = readReservations(this.opts.dataDir, this.opts.network);
    const released = before.filter((b) => !after.some((a) => a.ip === b.ip)).length;
    metrics.set('ipam_reservations', after.length);
    metrics.inc('gc_released_total', released);
    metrics.inc('gc_runs_total', 1, { result: 'ok' });
    const fields = { sandboxes: valid.length, reservations: after.length, leaks: leaks.length, released };
    if (leaks.length || released)
      log.info('GC collected leaked attachments', { ...fields, leaked: leaks.map((l) => l.ip) });
    else log.debug('GC found nothing to collect', fields);
    return { result: 'ok', reservations: after.length, leaks: leaks.length, released };
  }
}
