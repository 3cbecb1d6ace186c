// An in-memory Store for allocator tests (upstream's backend/testing FakeStore, in our shape).
import type { Store } from '../src/allocator.js';
import { type Reservation, heldBy } from '../src/owners.js';

/** Reservations in a map (file name → content), the round-robin cursors in another. */
export class MemStore implements Store {
  readonly files = new Map<string, string>();
  readonly last = new Map<string, string>();
  /** Every reserve() attempt, in order, to assert how many addresses were tried. */
  readonly attempts: string[] = [];
  reads = 0;

  constructor(files: Record<string, string> = {}, last: Record<string, string> = {}) {
    for (const [k, v] of Object.entries(files)) this.files.set(k, v);
    for (const [k, v] of Object.entries(last)) this.last.set(k, v);
  }

  reservedIPs(): Set<string> {
    return new Set(this.files.keys());
  }

  reservations(): Reservation[] {
    this.reads += 1;
    return [...this.files].map(([ip, content]) => ({ ip, file: ip, owner: content.trim() }));
  }

  held(id: string, ifname: string): Reservation[] {
    return heldBy(this.reservations(), id, ifname);
  }

  reserve(ip: string, id: string, ifname: string, rangeId: string): boolean {
    this.attempts.push(ip);
    if (this.files.has(ip)) return false;
    this.files.set(ip, `${id.trim()}\r\n${ifname}`);
    this.last.set(rangeId, ip);
    return true;
  }

  lastReserved(rangeId: string): string | undefined {
    return this.last.get(rangeId);
  }

  remove(file: string): void {
    this.files.delete(file);
  }
}
