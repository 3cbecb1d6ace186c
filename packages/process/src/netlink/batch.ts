// An `ip -j -batch -` run without a process: every command of the batch through rtnetlink on one
// socket of the target namespace (netlink/socket.ts), with the documents `ip -j` prints for the
// fields the plugins read (netlink/docs.ts) and failures worded as `ip` and `nsenter` word them,
// so ipBatch's caller gets the same result and the same ProcessError (kind, failing command,
// missing object) either way. A batch with a command outside the subset (netlink/commands.ts), or
// run where bun:ffi is missing, is undefined: the caller spawns `ip`.
import { fs } from '../fs.js';
import { linkByIndex, linkByName, stepOf } from './commands.js';
import { type InetConfWrite, inetConfRequest, inetConfWrite } from './devconf.js';
import {
  type ShowContext,
  ipErrorText,
  linkFlagsOf,
  masterIndexOf,
  samePeerIndexOf,
  showDoc,
  strerror,
} from './docs.js';
import type { Message } from './message.js';
import { routeDocs } from './route-docs.js';
import { NetnsError, type Rtnl, RtnlError, openRtnl } from './socket.js';
import type { Lookups, Step } from './step.js';

const ENODEV = 19;
const IFF_UP = 0x1;

/** How a batch failed, as `ip -batch` (or nsenter, or the sysctl writes) reports it. */
export interface NetlinkFailure {
  stderr: string;
  status: number;
}

/** The outcome of a netlink batch: the documents `ip -j` would print, or how it failed. */
export type NetlinkOutcome = { docs: unknown[] } | { failure: NetlinkFailure };

/** The steps of a batch, or undefined when a command is outside the subset. */
export function stepsOf(commands: ReadonlyArray<readonly string[]>): Step[] | undefined {
  const steps: Step[] = [];
  for (const c of commands) {
    const s = stepOf(c);
    if (!s) return undefined;
    steps.push(s);
  }
  return steps;
}

/**
 * Runs `commands` (iproute2 argument lists) in the namespace at `netns` through rtnetlink, after
 * writing `sysctls` (/proc/sys paths and values) there; undefined when a command is outside the
 * subset or bun:ffi is missing. Like `ip -batch`, it stops at the first failing command. The IPv4
 * ARP settings of an interface among the sysctls are written through rtnetlink after the others
 * (netlink/devconf.ts: no /proc/sys/net/ipv4 lookup, which walks every netns's dentry), before the
 * commands; the rest through /proc/sys, in their order.
 */
export function netlinkBatch(
  commands: ReadonlyArray<readonly string[]>,
  netns?: string,
  sysctls: ReadonlyArray<readonly [string, string]> = [],
  opts: { details?: boolean } = {},
): NetlinkOutcome | undefined {
  const steps = stepsOf(commands);
  if (!steps) return undefined;
  const confs: Array<{ path: string; w: InetConfWrite }> = [];
  const proc: Array<readonly [string, string]> = [];
  for (const [path, v] of sysctls) {
    const w = inetConfWrite(path, v);
    if (w) confs.push({ path, w });
    else proc.push([path, v]);
  }
  let sock: Rtnl | null;
  try {
    sock = openRtnl(netns, proc);
  } catch (e) {
    if (e instanceof NetnsError) return { failure: { stderr: e.stderr, status: 1 } };
    throw e;
  }
  if (!sock) return undefined;
  try {
    return run(sock, steps, opts.details === true, confs);
  } finally {
    sock.close();
  }
}

function run(
  sock: Rtnl,
  steps: readonly Step[],
  details: boolean,
  confs: ReadonlyArray<{ path: string; w: InetConfWrite }>,
): NetlinkOutcome {
  const docs: unknown[] = [];
  let seq = 1;
  // Names resolved once per batch, as ip's own name cache (ll_map) does: a name is forgotten after
  // a command that creates or deletes a link of that name, not when its link goes another way (a
  // veth with its deleted peer: then, as with ip, the kernel answers "No such device"). A fresh
  // lookup's answer is kept for a show step to reuse.
  const indexes = new Map<string, number>();
  const resolve = (name: string): { index: number; link?: Message } | undefined => {
    const known = indexes.get(name);
    if (known !== undefined) return { index: known };
    const found = lookupLink(sock, name, seq++);
    if (found) indexes.set(name, found.index);
    return found;
  };
  // the sysctls written through rtnetlink fail as their /proc/sys write would: naming the path, before any command
  for (const { path, w } of confs) {
    try {
      const found = resolve(w.dev);
      if (!found) throw new RtnlError(ENODEV);
      sock.exchange(inetConfRequest(found.index, [w], seq++));
    } catch (e) {
      if (!(e instanceof RtnlError)) throw e;
      const why = e.errno === ENODEV ? `ENOENT: no such file or directory, open '${path}'` : strerror(e.errno);
      return { failure: { stderr: `${why}\ncannot write sysctl ${path}\n`, status: 1 } };
    }
  }
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i]!;
    const failed = (msg: string): NetlinkOutcome => ({
      failure: { stderr: `${msg}\nCommand failed -:${i + 1}\n`, status: 1 },
    });
    // ip checks the arguments it resolves (master, netns) before anything is sent, and exits on a bad one
    const badArg = (arg: string, why: string): NetlinkOutcome => ({
      failure: { stderr: `Error: argument "${arg}" is wrong: ${why}\n`, status: 255 },
    });
    let nsFd: number | undefined;
    try {
      const l: Lookups = { index: 0 };
      if (step.master !== undefined) {
        l.master = resolve(step.master)?.index;
        if (l.master === undefined) return badArg(step.master, 'Device does not exist');
      }
      if (step.netns !== undefined) {
        try {
          nsFd = l.nsFd = fs().openSync(step.netns, 'r');
        } catch {
          return badArg(step.netns, 'Invalid "netns" value');
        }
      }
      if (step.dev !== undefined) {
        const found = resolve(step.dev);
        // ip's two wordings: `addr show` checks the name itself, the others ask the kernel
        if (found === undefined)
          return failed(step.show ? `Device "${step.dev}" does not exist.` : `Cannot find device "${step.dev}"`);
        l.index = found.index;
        if (step.show && found.link) l.link = found.link;
      }
      const reqs = step.requests(l, seq);
      seq += reqs.length;
      const answers = reqs.map((r) => sock.exchange(r));
      for (const name of step.forgets ?? []) indexes.delete(name);
      if (l.link) answers.unshift([l.link]);
      if (step.show === 'routes')
        docs.push(
          routeDocs(
            answers[0] ?? [],
            linkNames(sock, () => seq++),
          ),
        );
      else if (step.show) {
        const link = answers[0]?.[0];
        const ctx: ShowContext = { details };
        const master = link && masterIndexOf(link);
        if (master) ctx.masterName = linkAt(sock, master, seq++)?.name;
        const peer = link && samePeerIndexOf(link);
        const p = peer ? linkAt(sock, peer, seq++) : undefined;
        if (p) ctx.peer = p;
        const doc = showDoc(link, answers[1] ?? [], ctx);
        // `link show` prints no addresses
        if (step.show === 'link') for (const d of doc) delete (d as { addr_info?: unknown }).addr_info;
        docs.push(doc);
      }
    } catch (e) {
      if (!(e instanceof RtnlError)) throw e;
      return failed(ipErrorText(e.errno, e.extack));
    } finally {
      if (nsFd !== undefined) fs().closeSync(nsFd);
    }
  }
  return { docs };
}

// Link names by index, each asked once (ip's name cache)
function linkNames(sock: Rtnl, nextSeq: () => number): (index: number) => string | undefined {
  const known = new Map<number, string | undefined>();
  return (index) => {
    if (!known.has(index)) known.set(index, linkAt(sock, index, nextSeq())?.name);
    return known.get(index);
  };
}

// A link's name and whether it is down, by index (ip names a master and a same-namespace peer).
function linkAt(sock: Rtnl, index: number, seq: number): { name?: string; down: boolean } | undefined {
  try {
    const [m] = sock.exchange(linkByIndex(index, seq));
    if (!m) return undefined;
    const name = showDoc(m, [], { details: false })[0]?.ifname;
    return { ...(name !== undefined ? { name } : {}), down: !(linkFlagsOf(m) & IFF_UP) };
  } catch (e) {
    if (e instanceof RtnlError) return undefined;
    throw e;
  }
}

/** A link's index by name; undefined when there is no such link. */
export function linkIndex(sock: Rtnl, name: string, seq: number): number | undefined {
  return lookupLink(sock, name, seq)?.index;
}

// A link by name: its index and the kernel's answer; undefined when there is no such link.
function lookupLink(sock: Rtnl, name: string, seq: number): { index: number; link: Message } | undefined {
  try {
    const [m] = sock.exchange(linkByName(name, seq));
    return m ? { index: m.body.getInt32(4, true), link: m } : undefined;
  } catch (e) {
    if (e instanceof RtnlError && e.errno === ENODEV) return undefined;
    throw e;
  }
}
