// Kernel parameters under /proc/sys: directly in our own netns, through one `sh` in another.
import { fs } from './fs.js';
import type { Executor } from './run.js';
import { runChecked } from './run.js';
import { inNetns } from './netns.js';

/**
 * The /proc/sys path of a sysctl. Dotted names ("net.ipv4.ip_forward") have dots and slashes
 * swapped, as upstream does, so interface names with dots work in slash form
 * ("net/ipv4/conf/cni0.100/forwarding").
 */
export function sysctlPath(name: string): string {
  const dot = name.indexOf('.');
  const slash = name.indexOf('/');
  const rel = dot >= 0 && (slash < 0 || dot < slash) ? name.replace(/[./]/g, (c) => (c === '.' ? '/' : '.')) : name;
  return `/proc/sys/${rel}`;
}

/** Reads a sysctl of the current netns (trimmed). */
export function readSysctl(name: string): string {
  return fs().readFileSync(sysctlPath(name), 'utf8').trim();
}

/** Writes a sysctl of the current netns unless it already has that value. */
export function writeSysctl(name: string, value: string): void {
  const path = sysctlPath(name);
  try {
    if (fs().readFileSync(path, 'utf8').trim() === value) return;
  } catch {
    // fall through: the write reports the real error
  }
  fs().writeFileSync(path, value);
}

// Writes "path value" pairs up to "--" (or the end), then becomes the command after "--" if any.
const WRITE_THEN_EXEC =
  'while [ $# -gt 0 ] && [ "$1" != -- ]; do printf %s "$2" > "$1" || { echo "cannot write sysctl $1" >&2; exit 1; }; shift 2; done; [ $# -gt 0 ] && shift; [ $# -gt 0 ] && exec "$@"; exit 0';

/** `sh` arguments that write the sysctls, then exec `thenRun` (if given) in the same process. */
export function sysctlShellArgs(
  entries: ReadonlyArray<readonly [string, string]>,
  thenRun: readonly string[] = [],
): string[] {
  const pairs = entries.flatMap(([k, v]) => [sysctlPath(k), v]);
  return ['-c', WRITE_THEN_EXEC, 'sh', ...pairs, ...(thenRun.length ? ['--', ...thenRun] : [])];
}

/** Writes several sysctls inside another netns with one process (values in the current netns when netns is undefined). */
export function writeSysctlsIn(
  exec: Executor,
  netns: string | undefined,
  entries: ReadonlyArray<readonly [string, string]>,
): void {
  if (entries.length === 0) return;
  if (!netns) {
    for (const [k, v] of entries) writeSysctl(k, v);
    return;
  }
  const [file, args] = inNetns(netns, 'sh', sysctlShellArgs(entries));
  runChecked(exec, file, args);
}
