// A few known rtnetlink requests written and decoded in place, for a plugin whose whole kernel work
// is a handful of them (loopback): no batch text, no iproute2 commands to parse, no `ip -j`
// documents to build and read back. Each request names the command of the ip batch it stands for
// (the batch the caller runs through ipBatch where this path is not available: under Node, with
// CNI_TS_NETLINK=0, with a fake executor), and fails with the ProcessError that ipBatch would
// throw for that command, so the caller's messages and codes are the same on both paths.
import { batchError } from '../ip.js';
import type { Executor } from '../run.js';
import { addrsByIndex, linkByName } from './commands.js';
import { type AddrDoc, addrOf, ipErrorText, linkFlagsOf } from './docs.js';
import { ifinfo } from './links.js';
import { Builder, F_ACK, F_REQUEST, type Request } from './message.js';
import { NetnsError, type Rtnl, RtnlError } from './socket.js';

const RTM_NEWLINK = 16;
const ENODEV = 19;
const IFF_UP = 0x1;

type Commands = ReadonlyArray<readonly string[]>;

/** The command of an ip batch that a request stands for: the batch, and the command's index in it. */
export interface AsCommand {
  commands: Commands;
  at: number;
}

/** A link as RTM_GETLINK answers it: its index and IFF_* flags. */
export interface LinkState {
  index: number;
  flags: number;
}

/** The request that sets a link up or down (RTM_NEWLINK, IFF_UP in ifi_change), as `ip link set X up|down` sends it. */
export function linkUpRequest(index: number, up: boolean, seq: number): Request {
  return {
    msg: ifinfo(new Builder(RTM_NEWLINK, F_REQUEST | F_ACK, seq), index, up ? IFF_UP : 0, IFF_UP).done(),
    answer: 'ack',
  };
}

/** Requests on one rtnetlink socket of a namespace, each failing as its ip batch command would. */
export class DirectIp {
  private seq = 0;

  constructor(
    private readonly sock: Rtnl,
    /** The namespace's path, as ipBatch's errors name it (undefined: our own). */
    private readonly netns: string | undefined,
  ) {}

  /** A link by name (RTM_GETLINK); a missing one fails as `ip` does (its `show` and other wordings). */
  link(name: string, as: AsCommand): LinkState {
    // ip's two wordings: `addr show` and `link show` check the name themselves, the others ask the kernel
    const missing =
      as.commands[as.at]?.[1] === 'show' ? `Device "${name}" does not exist.` : `Cannot find device "${name}"`;
    const [m] = this.ask(linkByName(name, ++this.seq), as, (errno) => (errno === ENODEV ? missing : undefined));
    if (!m) throw this.failure(missing, as);
    return { index: m.body.getInt32(4, true), flags: linkFlagsOf(m) };
  }

  /** Sets the link at `index` up or down (RTM_NEWLINK). */
  setUp(index: number, up: boolean, as: AsCommand): void {
    this.ask(linkUpRequest(index, up, ++this.seq), as);
  }

  /** The addresses of the link at `index`, in the kernel's order, as `ip -j addr show` prints them. */
  addresses(index: number, as: AsCommand): AddrDoc[] {
    const out: AddrDoc[] = [];
    for (const m of this.ask(addrsByIndex(index, ++this.seq), as)) {
      // a kernel before 4.20 ignores the dump's filter (NETLINK_GET_STRICT_CHK) and answers every link's
      const a = addrOf(m);
      if (a && a.ifindex === index) out.push(a.addr);
    }
    return out;
  }

  close(): void {
    this.sock.close();
  }

  private ask(req: Request, as: AsCommand, own?: (errno: number) => string | undefined) {
    try {
      return this.sock.exchange(req);
    } catch (e) {
      if (!(e instanceof RtnlError)) throw e;
      throw this.failure(own?.(e.errno) ?? ipErrorText(e.errno, e.extack), as);
    }
  }

  // What ipBatch throws when `ip -batch` prints `line` for the command and stops there.
  private failure(line: string, as: AsCommand): Error {
    return batchError('ip', as.commands, `${line}\nCommand failed -:${as.at + 1}\n`, 1, this.netns);
  }
}

/**
 * A DirectIp in the namespace at `netns`, through the executor's rtnetlink socket; undefined when
 * the executor has none (a fake, Node, CNI_TS_NETLINK=0): then the caller runs `commands` through
 * ipBatch. Throws the ProcessError that ipBatch would for `commands` when the namespace cannot be
 * entered (nsenter's wording).
 */
export function openDirectIp(exec: Executor, netns: string | undefined, commands: Commands): DirectIp | undefined {
  let sock: Rtnl | undefined;
  try {
    sock = exec.rtnl?.(netns);
  } catch (e) {
    if (e instanceof NetnsError) throw batchError('ip', commands, e.stderr, 1, netns);
    throw e;
  }
  return sock ? new DirectIp(sock, netns) : undefined;
}
