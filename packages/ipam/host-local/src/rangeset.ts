// A range set: the pool one address is taken from (disjoint ranges of one family), and the
// round-robin order in which its addresses are tried.
import type { IP } from '@cni-ts/netaddr';
import { configError } from '@cni-ts/types';
import {
  type RawRange,
  type Range,
  canonicalRange,
  formatRange,
  isExcluded,
  rangeCapacity,
  rangeContains,
  rangesOverlap,
} from './range.js';

/** A canonical range set; its index in the final list is upstream's rangeID. */
export type RangeSet = Range[];

/**
 * Canonicalises every range of a set and checks the set: not empty, one family, no overlaps.
 * `where` names the set in messages, `nameRange(i)` its ranges.
 */
export function canonicalSet(
  raw: readonly RawRange[],
  where: string,
  nameRange = (i: number) => `${where}[${i}]`,
): RangeSet {
  if (raw.length === 0)
    throw configError(
      `${where}: empty range set`,
      'give each range set at least one range, e.g. [{"subnet": "10.1.0.0/24"}]',
    );
  const set = raw.map((r, i) => canonicalRange(r, nameRange(i)));
  const family = set[0]!.start.family;
  for (const r of set) {
    if (r.start.family !== family) {
      throw configError(
        `${where}: mixed address families (${r.where} is IPv${r.start.family}, ${set[0]!.where} is IPv${family})`,
        'put IPv4 and IPv6 ranges in separate range sets to get one address of each',
      );
    }
  }
  for (let i = 0; i < set.length; i++) {
    for (let j = i + 1; j < set.length; j++) {
      if (rangesOverlap(set[i]!, set[j]!)) {
        throw configError(
          `${where}: ranges ${formatRange(set[i]!)} and ${formatRange(set[j]!)} overlap`,
          'ranges of one set must not share addresses',
        );
      }
    }
  }
  return set;
}

/** The range of the set holding ip, if any. */
export function rangeFor(set: RangeSet, ip: IP): Range | undefined {
  return set.find((r) => rangeContains(r, ip));
}

/** True when any range of the set holds ip. */
export function setContains(set: RangeSet, ip: IP): boolean {
  return rangeFor(set, ip) !== undefined;
}

/** True when any range of one set overlaps any range of the other. */
export function setsOverlap(a: RangeSet, b: RangeSet): boolean {
  return a.some((r) => b.some((q) => rangesOverlap(r, q)));
}

/** The IP family of a set. */
export function setFamily(set: RangeSet): 4 | 6 {
  return set[0]!.start.family;
}

/** How many addresses the set can hand out. */
export function setCapacity(set: RangeSet): bigint {
  return set.reduce((n, r) => n + rangeCapacity(r), 0n);
}

/** "start-end,start-end", as upstream prints a range set. */
export function formatSet(set: RangeSet): string {
  return set.map(formatRange).join(',');
}

/** One address to try, with the range it belongs to. */
export interface Candidate {
  ip: IP;
  range: Range;
}

/**
 * Every allocatable address of the set once, in upstream's round-robin order: starting just after
 * `last` when the set holds it (so `last` itself comes at the very end), else at the first range's
 * start; after a range's end comes the next range's start, wrapping around. The gateway, the
 * network address and the IPv4 broadcast address are skipped.
 * An iterator object, not a generator: a process's first generator costs about 0.2 ms of CPU in
 * Bun (its machinery is set up on first use), and this was the only one of a bridge ADD
 * (docs/performance.md, h4).
 */
export function candidates(set: RangeSet, last?: IP): IterableIterator<Candidate> {
  let idx = last ? set.findIndex((r) => rangeContains(r, last)) : -1;
  let cur: IP;
  const advance = () => {
    const r = set[idx]!;
    if (cur.value === r.end.value) {
      idx = (idx + 1) % set.length;
      cur = set[idx]!.start;
    } else {
      cur = { family: cur.family, value: cur.value + 1n };
    }
  };
  if (idx >= 0) {
    cur = last!;
    advance();
  } else {
    idx = 0;
    cur = set[0]!.start;
  }
  const first = cur.value;
  let done = false;
  const it: IterableIterator<Candidate> = {
    [Symbol.iterator]: () => it,
    next(): IteratorResult<Candidate> {
      // each address once: the one at hand, then on, until the walk is back at the first
      while (!done) {
        const range = set[idx]!;
        const ip = cur;
        advance();
        if (cur.value === first) done = true;
        if (!isExcluded(range, ip)) return { value: { ip, range }, done: false };
      }
      return { value: undefined, done: true };
    },
  };
  return it;
}
