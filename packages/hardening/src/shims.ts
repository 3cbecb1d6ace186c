// Shims put first on PATH (tools) or CNI_PATH (delegated plugins) so a test can count, kill or
// hang the programs a plugin runs. Every shim is a small sh script that takes a number from a
// shared counter (under flock), logs the call, and at the chosen call does what the control
// directory says: kill its caller before the tool runs ("caller"), kill the tool while it runs
// ("tool", after a delay), or let the tool finish and then kill the caller ("after"). Otherwise,
// or once it acted, it execs the real program with the same argv, stdin and environment.
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SYSTEM_PATH } from '@cni-ts/testutils';

/** The external tools the plugins run (through PATH). */
export const TOOLS = [
  'ip',
  'bridge',
  'tc',
  'nsenter',
  'iptables-save',
  'iptables-restore',
  'ip6tables-save',
  'ip6tables-restore',
  'nft',
  'conntrack',
  // the Go plugins run these (one process per rule); counting them makes the trials comparable
  'iptables',
  'ip6tables',
] as const;

/** How a shim interferes at its chosen call. */
export type KillHow = 'caller' | 'tool' | 'after';

/** A shim directory and its control files. */
export interface Shims {
  /** Put this first on PATH (and CNI_PATH for plugin shims). */
  dir: string;
  /** The control directory (counter, call log, plan). */
  ctl: string;
  /** PATH for a plugin run through the shims. */
  path: string;
}

/** The real location of a program on the system PATH. */
export function which(name: string): string {
  for (const d of SYSTEM_PATH.split(':')) if (existsSync(join(d, name))) return join(d, name);
  throw new Error(`${name} is not installed`);
}

function shimScript(real: string, ctl: string, label: string): string {
  return `#!/bin/sh
# cni-ts hardening shim for ${label}
ctl='${ctl}'
exec 9>>"$ctl/counter.lock"
/usr/bin/flock 9
n=$(( $(cat "$ctl/counter" 2>/dev/null || echo 0) + 1 ))
echo "$n" > "$ctl/counter"
exec 9>&-
echo "$n ${label} $$ $PPID $*" >> "$ctl/calls"
if [ -f "$ctl/hang.${label}" ]; then exec sleep 3600; fi
if [ -f "$ctl/hang-once.${label}" ] && rm "$ctl/hang-once.${label}" 2>/dev/null; then exec sleep 3600; fi
if [ "$n" = "$(cat "$ctl/kill-at" 2>/dev/null)" ]; then
  how=$(cat "$ctl/kill-how")
  echo "$n ${label} $how" >> "$ctl/acted"
  case "$how" in
    caller) kill -9 "$PPID"; exit 137 ;;
    tool) '${real}' "$@" <&0 & pid=$!; sleep "$(cat "$ctl/kill-delay")"; kill -9 "$pid" 2>/dev/null; wait "$pid"; exit 137 ;;
    after) '${real}' "$@"; rc=$?; kill -9 "$PPID"; exit "$rc" ;;
  esac
fi
exec '${real}' "$@"
`;
}

/** Makes a shim directory with shims for `tools` and for the plugin executables in `plugins` ({type: path}). */
export function makeShims(root: string, tools: readonly string[] = TOOLS, plugins: Record<string, string> = {}): Shims {
  const dir = join(root, 'shims');
  const ctl = join(root, 'ctl');
  mkdirSync(dir, { recursive: true });
  mkdirSync(ctl, { recursive: true });
  const put = (name: string, real: string) => {
    writeFileSync(join(dir, name), shimScript(real, ctl, name));
    chmodSync(join(dir, name), 0o755);
  };
  for (const t of tools) put(t, which(t));
  for (const [type, real] of Object.entries(plugins)) put(type, real);
  resetShims({ dir, ctl, path: '' });
  return { dir, ctl, path: `${dir}:${SYSTEM_PATH}` };
}

/** Clears the counter, logs and plan. */
export function resetShims(s: Shims): void {
  for (const f of ['counter', 'calls', 'acted', 'kill-at', 'kill-how', 'kill-delay']) writeFileSync(join(s.ctl, f), '');
}

/** Arms the shims: at call `at` (1-based, across all shims), interfere as `how` (tool kills after delaySeconds). */
export function armKill(s: Shims, at: number, how: KillHow, delaySeconds = 0): void {
  writeFileSync(join(s.ctl, 'kill-how'), how);
  writeFileSync(join(s.ctl, 'kill-delay'), delaySeconds.toFixed(4));
  writeFileSync(join(s.ctl, 'kill-at'), String(at));
}

/** Makes every later call of shim `name` (or only the next one) hang (sleep) until killed. */
export function hang(s: Shims, name: string, on = true, once = false): void {
  const f = join(s.ctl, `${once ? 'hang-once' : 'hang'}.${name}`);
  if (on) writeFileSync(f, '');
  else rmSync(f, { force: true });
}

/** The calls the shims saw, in order: "<n> <name> <pid> <ppid> <args>". */
export function calls(s: Shims): string[] {
  return readFileSync(join(s.ctl, 'calls'), 'utf8').split('\n').filter(Boolean);
}

/** What the armed shim did ("<n> <name> <how>"), or undefined when the run ended before call `at`. */
export function acted(s: Shims): string | undefined {
  return readFileSync(join(s.ctl, 'acted'), 'utf8').trim() || undefined;
}
