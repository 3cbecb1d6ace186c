// An `ip -j -batch -` run without a process: every command of the batch through rtnetlink on one
// socket of the target namespace (netlink/socket.ts), with the JSON documents `ip` would print and
// its failures written as `ip` and `nsenter` write them, so ipBatch's caller sees the same result
// and the same ProcessError (kind, failing command, missing object) either way. A batch with a
// command outside the subset (rtnl.ts), or run where bun:ffi is missing, is `undefined`: spawn.
import { NetnsError, type Rtnl, RtnlError, openRtnl } from './socket.js';
import { type AddrDoc, type LinkDoc, type Step, addrOf, linkByName, linkOf, stepOf, strerror } from './rtnl.js';

/** How a batch failed, as `ip -batch` (or nsenter, or the sysctl writer) reports it. */
export interface BatchFailure {
  stderr: string;
  status: number;
}

/** The outcome of a netlink batch: the documents `ip -j` would print, or how it failed. */
export type NetlinkOutcome = { docs: unknown[] } | { failure: BatchFailure };

/**
 * Runs `commands` (iproute2 argument lists) in the namespace at `netns` through rtnetlink, after
 * writing `sysctls` there; undefined when a command is outside the subset or bun:ffi is missing.
 */
export function netlinkBatch(
  commands: ReadonlyArray<readonly string[]>,
  netns?: string,
  sysctls: ReadonlyArray<readonly [string, string]> = [],
): NetlinkOutcome | undefined {
  const steps: Step[] = [];
  for (const c of commands) {
    const s = stepOf(c);
    if (!s) return undefined;
    steps.push(s);
  }
  let sock: Rtnl | null;
  try {
    sock = openRtnl(netns, sysctls);
  } catch (e) {
    if (e instanceof NetnsError) return { failure: { stderr: e.stderr, status: 1 } };
    throw e;
  }
  if (!sock) return undefined;
  try {
    const docs: unknown[] = [];
    let seq = 1;
    for (const [i, step] of steps.entries()) {
      const failed = (msg: string): NetlinkOutcome => ({
        failure: { stderr: `${msg}\nCommand failed -:${i + 1}\n`, status: 1 },
      });
      try {
        let index = 0;
        if (step.dev !== undefined) {
          const found = lookup(sock, step.dev, seq++);
          // ip's two wordings: `addr show` checks the name itself, the others ask the kernel
          if (found === undefined)
            return failed(step.show ? `Device "${step.dev}" does not exist.` : `Cannot find device "${step.dev}"`);
          index = found;
        }
        const answers = step.requests(index, seq).map((r) => sock!.exchange(r));
        seq += 2;
        if (step.show) docs.push(showDoc(answers, index));
      } catch (e) {
        if (!(e instanceof RtnlError)) throw e;
        return failed(e.extack ? `Error: ${e.extack}.` : `RTNETLINK answers: ${strerror(e.errno)}`);
      }
    }
    return { docs };
  } finally {
    sock.close();
  }
}

// A link's index by name; undefined when there is no such link (ENODEV).
function lookup(sock: Rtnl, name: string, seq: number): number | undefined {
  try {
    const [m] = sock.exchange(linkByName(name, seq));
    return m ? linkOf(m).ifindex : undefined;
  } catch (e) {
    if (e instanceof RtnlError && e.errno === 19) return undefined;
    throw e;
  }
}

// `ip -j addr show dev X`: the link, with its addresses in the kernel's order (IPv4 first).
function showDoc(answers: ReadonlyArray<ReadonlyArray<Parameters<typeof linkOf>[0]>>, index: number): LinkDoc[] {
  const [links = [], addrs = []] = answers;
  const link = links[0] ? linkOf(links[0]) : undefined;
  if (!link) return [];
  const mine: AddrDoc[] = [];
  for (const m of addrs) {
    const a = addrOf(m);
    if (a && a.ifindex === index) mine.push(a.addr);
  }
  link.addr_info = mine;
  return [link];
}
