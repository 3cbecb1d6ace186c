// One iproute2 command as netlink work (netlink/commands.ts, netlink/links.ts make them;
// netlink/batch.ts runs them).
import type { Message, Request } from './message.js';

/** What a step's requests need resolved first. */
export interface Lookups {
  /** The index of the step's `dev` (0 when it has none). */
  index: number;
  /** The index of its `master`. */
  master?: number;
  /** A descriptor of its `netns`, open for the request. */
  nsFd?: number;
  /** The kernel's answer to the name lookup of `dev`, when this step made it (a show step reuses it). */
  link?: Message;
}

/** One command: what to resolve, the request(s), and whether its answers are printed. */
export interface Step {
  /** The link the command names: looked up first; a missing one fails as `ip` fails. */
  dev?: string;
  /** A second link it names (`master Y`); a missing one ends the batch as ip's argument check does. */
  master?: string;
  /** A namespace file it names (`netns /path`), opened for the request. */
  netns?: string;
  requests(l: Lookups, seq: number): Request[];
  /**
   * `addr show` / `link show`: the answers become the document `ip -j addr|link show dev X` prints;
   * `routes`: a route dump, as `ip -j route show` prints it.
   */
  show?: 'addr' | 'link' | 'routes';
  /** The names a link creation or deletion makes or frees: the batch forgets their indexes after it, as ip's name cache does. */
  forgets?: readonly string[];
}
