// Rendering changes as iptables-restore input, and splitting iptables-save lines back into
// arguments: the two text formats, kept next to each other so their quoting agrees.
import type { Change, TableName } from './rules.js';

/** One argument as iptables-restore reads it: bare when plain, else double-quoted with \" and \\ escapes. */
export function quoteArg(a: string): string {
  return /^[^\s"'\\]+$/.test(a) ? a : `"${a.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

/** Splits one iptables-save line into arguments, undoing quoteArg (and iptables-save's own quoting). */
export function splitArgs(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inQuote = false;
  let started = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === '\\' && i + 1 < line.length) {
      cur += line[++i];
      started = true;
    } else if (c === '"') {
      inQuote = !inQuote;
      started = true;
    } else if (!inQuote && (c === ' ' || c === '\t')) {
      if (started) out.push(cur);
      cur = '';
      started = false;
    } else {
      cur += c;
      started = true;
    }
  }
  if (started) out.push(cur);
  return out;
}

function changeLine(c: Change): string {
  switch (c.op) {
    case 'declare':
      return `:${c.chain} - [0:0]`;
    case 'create':
      return `-N ${quoteArg(c.chain)}`;
    case 'append':
      return [`-A`, c.rule.chain, ...c.rule.spec].map(quoteArg).join(' ');
    case 'insert':
      return [`-I`, c.rule.chain, ...(c.position ? [String(c.position)] : []), ...c.rule.spec].map(quoteArg).join(' ');
    case 'delete':
      return [`-D`, c.rule.chain, ...c.rule.spec].map(quoteArg).join(' ');
    case 'flush':
      return `-F ${quoteArg(c.chain)}`;
    case 'deleteChain':
      return `-X ${quoteArg(c.chain)}`;
  }
}

function tableOf(c: Change): TableName {
  return 'rule' in c ? c.rule.table : c.table;
}

/**
 * The iptables-restore text for a list of changes: one `*table … COMMIT` section per table in
 * order of first use; chain declarations first within a section, then the other changes in order.
 */
export function renderRestore(changes: readonly Change[]): string {
  const byTable = new Map<TableName, Change[]>();
  for (const c of changes) {
    const t = tableOf(c);
    const list = byTable.get(t) ?? [];
    list.push(c);
    byTable.set(t, list);
  }
  let out = '';
  for (const [table, list] of byTable) {
    out += `*${table}\n`;
    for (const c of list) if (c.op === 'declare') out += `${changeLine(c)}\n`;
    for (const c of list) if (c.op !== 'declare') out += `${changeLine(c)}\n`;
    out += 'COMMIT\n';
  }
  return out;
}
