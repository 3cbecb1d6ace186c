// Reading and changing iptables through @cni-ts/process: one iptables-save per table read, and
// one `iptables-restore --noflush -w <s>` per address family for every change of a plugin run.
import { type Executor, ProcessError, isKind, runChecked } from '@cni-ts/process';
import type { Change, Family, TableName } from './rules.js';
import { renderRestore, splitArgs } from './restore.js';
import { type ChainFilter, type TableState, parseSave } from './save.js';

const SAVE: Record<Family, string> = { 4: 'iptables-save', 6: 'ip6tables-save' };
const RESTORE: Record<Family, string> = { 4: 'iptables-restore', 6: 'ip6tables-restore' };

/**
 * How long iptables-restore waits for the xtables lock (legacy iptables; the nf_tables variant
 * has no lock and ignores it). Bounded, unlike upstream's unbounded `--wait`: another program
 * (kube-proxy restoring a large table) holds it for a moment, and a longer hold is answered with
 * code 11 so the runtime retries, well inside its patience (CRI-O 60 s per CNI call, kubelet 2 min).
 */
export const XTABLES_WAIT_S = 5;

/** Reads one table of one family with `iptables-save -t <table>`. */
export function saveTable(exec: Executor, family: Family, table: TableName): TableState {
  const r = runChecked(exec, SAVE[family], ['-t', table]);
  return parseSave(r.stdout, table);
}

/**
 * Reads several tables of one family with one `iptables-save` (all tables; one table uses `-t`).
 * The result has an entry for every table asked for (empty when the table is not loaded); with
 * `rulesOf`, only those chains' rules are parsed.
 */
export function saveTables<T extends TableName>(
  exec: Executor,
  family: Family,
  tables: readonly T[],
  rulesOf?: ChainFilter,
): Record<T, TableState> {
  const args = tables.length === 1 ? ['-t', tables[0]!] : [];
  const text = runChecked(exec, SAVE[family], args).stdout;
  return Object.fromEntries(tables.map((t) => [t, parseSave(text, t, rulesOf)])) as Record<T, TableState>;
}

/** Options of restore: `test` only parses and builds the batch (`--test`), committing nothing. */
export interface RestoreOptions {
  test?: boolean;
}

/** Applies changes atomically with one `iptables-restore --noflush -w <s>` (nothing runs when there are none). */
export function restore(exec: Executor, family: Family, changes: readonly Change[], opts: RestoreOptions = {}): void {
  if (changes.length === 0) return;
  const tool = RESTORE[family];
  const input = renderRestore(changes);
  try {
    runChecked(exec, tool, [...(opts.test ? ['--test'] : []), '--noflush', '-w', String(XTABLES_WAIT_S)], { input });
  } catch (e) {
    if (!isKind(e, 'busy')) throw withFailedLine(e, input);
    throw new ProcessError(
      'busy',
      e.command,
      `${tool}: the xtables lock is held by another program (waited ${XTABLES_WAIT_S} s); try again later`,
      { status: e.status, stderr: e.stderr, cause: e },
    );
  }
}

// iptables-restore names the input line it stopped at ("Error occurred at line: N", legacy:
// "line N failed"); the error carries that line as data.
function withFailedLine(e: unknown, input: string): unknown {
  if (!(e instanceof ProcessError)) return e;
  const m = /Error occurred at line: (\d+)|line (\d+) failed/.exec(e.stderr);
  const index = m ? Number(m[1] ?? m[2]) - 1 : -1;
  const line = input.split('\n')[index];
  if (line === undefined) return e;
  return new ProcessError(e.kind, e.command, e.message, {
    status: e.status,
    stderr: e.stderr,
    cause: e.cause,
    ...(e.object !== undefined ? { object: e.object } : {}),
    failed: { index, args: splitArgs(line) },
  });
}
