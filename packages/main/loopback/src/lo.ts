// A sandbox's lo, the three things loopback does to it: ADD's one exchange (lo's state before, lo
// set up, its addresses after), setting it down, and reading whether it is up. Two ways, the same
// messages and codes: requests written in place on one rtnetlink socket of the sandbox where the
// executor has one (the compiled plugin: netlink/direct.ts), else one ip batch per operation
// (ipBatch: Node, CNI_TS_NETLINK=0, the fakes of the golden tests).
import { type DirectIp, type Executor, ipBatch, ipJson, openDirectIp } from '@cni-ts/process';

const IFF_UP = 0x1;

/** An address on lo, as `ip -j addr show` prints it (the fields loopback reads). */
export interface LoAddr {
  family?: string;
  local: string;
  prefixlen?: number;
}

/** lo in one sandbox. */
export interface Lo {
  /** Sets lo up; returns whether it was up before and its addresses after. */
  up(): { wasUp: boolean; addrs: LoAddr[] };
  down(): void;
  isUp(): boolean;
  close(): void;
}

// The batches of the ip path; the direct path's requests stand for their commands (and fail as they would).
// `addr show`, not `link show`: in a batch, a `link show` makes later `addr show` lines omit addresses
const UP: ReadonlyArray<readonly string[]> = [
  ['addr', 'show', 'dev', 'lo'],
  ['link', 'set', 'lo', 'up'],
  ['addr', 'show', 'dev', 'lo'],
];
const DOWN: ReadonlyArray<readonly string[]> = [['link', 'set', 'lo', 'down']];
const SHOW: ReadonlyArray<readonly string[]> = [['link', 'show', 'dev', 'lo']];

interface Shown {
  flags?: string[];
  addr_info?: Partial<LoAddr>[];
}

/** lo in the sandbox at `netns`: direct requests where `exec` can, else ip batches. Throws as ipBatch does when the sandbox cannot be entered. */
export function openLo(exec: Executor, netns: string): Lo {
  const ip = openDirectIp(exec, netns, UP);
  return ip ? directLo(ip) : batchLo(exec, netns);
}

/** lo through requests written in place on one socket. */
export function directLo(ip: DirectIp): Lo {
  let index: number | undefined;
  return {
    up() {
      const lo = ip.link('lo', { commands: UP, at: 0 });
      index = lo.index;
      ip.setUp(index, true, { commands: UP, at: 1 });
      return { wasUp: (lo.flags & IFF_UP) !== 0, addrs: ip.addresses(index, { commands: UP, at: 2 }) };
    },
    down() {
      ip.setUp(index ?? ip.link('lo', { commands: DOWN, at: 0 }).index, false, { commands: DOWN, at: 0 });
    },
    isUp: () => (ip.link('lo', { commands: SHOW, at: 0 }).flags & IFF_UP) !== 0,
    close: () => ip.close(),
  };
}

/** lo through one ip batch per operation. */
export function batchLo(exec: Executor, netns: string): Lo {
  const upIn = (shown: Shown[] | undefined) => shown?.[0]?.flags?.includes('UP') === true;
  return {
    up() {
      const [before, after] = ipBatch(exec, UP, { netns }) as Shown[][];
      const addrs = (after?.[0]?.addr_info ?? []).filter((a): a is LoAddr => typeof a.local === 'string');
      return { wasUp: upIn(before), addrs };
    },
    down() {
      ipBatch(exec, DOWN, { netns });
    },
    isUp: () => upIn(ipJson(exec, SHOW[0]!, { netns }) as Shown[] | undefined),
    close() {},
  };
}
