// What DEL (and a failed ADD) removes, as data: our qdiscs and filter on the host veth and the
// ifb, found from what the kernel reports, so DEL needs no configuration and also removes what
// the Go plugin made (same handles, same ifb name). Pure: no Executor.
import type { FilterState, QdiscState, TcState } from './observe.js';

/** The tc command that deletes the root tbf 1: of a device. */
export function delRootTbf(dev: string): string[] {
  return ['qdisc', 'del', 'dev', dev, 'root', 'handle', '1:'];
}

/** The tc command that deletes the ingress qdisc ffff: of a device (and every filter on it). */
export function delIngress(dev: string): string[] {
  return ['qdisc', 'del', 'dev', dev, 'handle', 'ffff:', 'ingress'];
}

/** True for the root tbf with handle 1: that upstream and we put on a device. */
export function isOurTbf(q: QdiscState): boolean {
  return q.kind === 'tbf' && q.root && q.handle === '1:';
}

function isIngress(q: QdiscState): boolean {
  return q.kind === 'ingress' && q.handle === 'ffff:';
}

/**
 * Which filters on the veth's ingress are ours: those that redirect to our ifb (or to a device that
 * no longer exists: not among `links`, or "" where the typed teardown found no device with the
 * index). When every one is (or there is none), the ingress qdisc goes with them.
 */
export function ourFilters(
  filters: readonly FilterState[],
  ifb: string,
  links: { has(name: string): boolean },
): { all: boolean; mine: FilterState[] } {
  const ours = (f: FilterState) =>
    f.redirects.length > 0 && f.redirects.every((d) => d === ifb || d === '' || !links.has(d));
  const mine = filters.filter(ours);
  return { all: mine.length === filters.length, mine };
}

/**
 * The tc commands that take our shaping off the veth: its root tbf 1:, and the ingress qdisc when
 * every filter on it redirects to our ifb (or to a device that no longer exists), or when it has no
 * filter at all (left after someone deleted our redirect: it does nothing, and the next ADD needs
 * its handle); filters that redirect elsewhere belong to someone else, and then only ours go.
 */
export function planTeardown(
  state: TcState,
  veth: string,
  ifb: string,
  links: { has(name: string): boolean },
): string[][] {
  const out: string[][] = [];
  if (state.veth.some(isOurTbf)) out.push(delRootTbf(veth));
  if (state.veth.some(isIngress)) {
    const { all, mine } = ourFilters(state.filters, ifb, links);
    if (all) out.push(delIngress(veth));
    else for (const f of mine) out.push(['filter', 'del', 'dev', veth, 'parent', 'ffff:', 'prio', String(f.pref)]);
  }
  return out;
}

/** The commands that undo the first `done` commands of an ADD tc batch, newest first. */
export function undoCommands(applied: ReadonlyArray<readonly string[]>): string[][] {
  const out: string[][] = [];
  for (const c of [...applied].reverse()) {
    const dev = c[3]!;
    if (c[0] === 'qdisc' && c.includes('root')) out.push(delRootTbf(dev));
    else if (c[0] === 'qdisc' && c.includes('ingress')) out.push(delIngress(dev));
    // a filter goes with its ingress qdisc, which this batch created before it
  }
  return out;
}
