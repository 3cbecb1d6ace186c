// Network namespaces by path: CNI_NETNS is a path such as /proc/123/ns/net or /run/netns/x,
// which `ip -n` cannot take, so commands enter it with nsenter(1).
import { type SyncFs, fs } from './fs.js';

const NSFS_MAGIC = 0x6e736673;

/** The argv that runs file+args inside the netns at `netns` (or directly when it is undefined). */
export function inNetns(netns: string | undefined, file: string, args: readonly string[]): [string, string[]] {
  if (!netns) return [file, [...args]];
  return ['nsenter', [`--net=${netns}`, '--', file, ...args]];
}

/** What a path given as CNI_NETNS turned out to be. */
export type NetnsState = 'ok' | 'missing' | 'not-netns' | 'self';

/** Checks a netns path: missing, not a network namespace, our own namespace, or ok. */
export function probeNetns(path: string): NetnsState {
  let st: ReturnType<SyncFs['statSync']>;
  try {
    st = fs().statSync(path);
  } catch {
    return 'missing';
  }
  try {
    if (Number(fs().statfsSync(path).type) !== NSFS_MAGIC) return 'not-netns';
  } catch {
    return 'missing';
  }
  try {
    const own = fs().statSync('/proc/self/ns/net');
    if (own.dev === st.dev && own.ino === st.ino) return 'self';
  } catch {
    // without /proc we cannot compare; treat as another namespace
  }
  return 'ok';
}
