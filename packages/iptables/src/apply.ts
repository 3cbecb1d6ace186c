// Reading and changing iptables through @cni-ts/process: one iptables-save per table read, and
// one `iptables-restore --noflush -w` per address family for every change of a plugin run.
import { type Executor, runChecked } from '@cni-ts/process';
import type { Change, Family, TableName } from './rules.js';
import { renderRestore } from './restore.js';
import { type TableState, parseSave } from './save.js';

const SAVE: Record<Family, string> = { 4: 'iptables-save', 6: 'ip6tables-save' };
const RESTORE: Record<Family, string> = { 4: 'iptables-restore', 6: 'ip6tables-restore' };

/** Reads one table of one family with `iptables-save -t <table>`. */
export function saveTable(exec: Executor, family: Family, table: TableName): TableState {
  const r = runChecked(exec, SAVE[family], ['-t', table]);
  return parseSave(r.stdout, table);
}

/**
 * Reads several tables of one family with one `iptables-save` (all tables; one table uses `-t`).
 * The result has an entry for every table asked for (empty when the table is not loaded).
 */
export function saveTables<T extends TableName>(
  exec: Executor,
  family: Family,
  tables: readonly T[],
): Record<T, TableState> {
  const args = tables.length === 1 ? ['-t', tables[0]!] : [];
  const text = runChecked(exec, SAVE[family], args).stdout;
  return Object.fromEntries(tables.map((t) => [t, parseSave(text, t)])) as Record<T, TableState>;
}

/** Applies changes atomically with one `iptables-restore --noflush -w` (nothing runs when there are none). */
export function restore(exec: Executor, family: Family, changes: readonly Change[]): void {
  if (changes.length === 0) return;
  runChecked(exec, RESTORE[family], ['--noflush', '-w'], { input: renderRestore(changes) });
}
