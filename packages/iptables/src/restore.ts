// Rendering changes as iptables-restore input, and splitting iptables-save lines back into
// arguments: the two text formats, kept next to each other so their quoting agrees.
//
// iptables-restore's language (iptables 1.8.9, xtables-restore.c + xshared.c add_param_to_argv;
// measured in the tests): input is read line by line into a 10240-byte buffer, so a longer line
// is cut and its rest read as a new line. Words are separated by space, tab or newline; a `"`
// anywhere opens a quoted part in which `\` escapes any character and which a `"` closes (and
// ends the word); outside quotes `\` and `'` are ordinary. So any value without a newline or NUL
// can be carried (quoted when needed); a chain name must be a plain word, because the `:chain`
// declaration line is split on blanks with no quoting at all.
import { UnencodableError } from '@cni-ts/process';
import type { Change, TableName } from './rules.js';

/** The longest line iptables-restore reads whole (its buffer is 10240 bytes with newline and NUL; one spare). */
export const MAX_RESTORE_LINE = 10238;

/** One argument as the word iptables-restore reads back exactly: bare when plain, else double-quoted with \" and \\. */
export function restoreToken(value: string): string {
  if (/[\n\0]/.test(value))
    throw new UnencodableError(
      'iptables-restore',
      value,
      value.includes('\n') ? 'it contains a newline' : 'it contains a NUL byte',
    );
  return /^[^ \t\r"]+$/.test(value) && !value.includes('\\') ? value : `"${value.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

/** @deprecated the old name of restoreToken. */
export const quoteArg = restoreToken;

/** A chain name as iptables-restore reads it in both `:chain` and `-A chain` lines: a plain word. */
export function restoreChain(name: string): string {
  if (!/^[^\s"!-][^\s"]*$/.test(name) || name.includes('\0'))
    throw new UnencodableError(
      'iptables-restore',
      name,
      'a chain name is one word without blanks or \'"\', not starting with "-" or "!"',
    );
  return name;
}

/** Splits one iptables-save line into arguments, undoing restoreToken (and iptables-save's own quoting). */
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

function words(op: string, chain: string, rest: readonly string[]): string {
  return [op, restoreChain(chain), ...rest.map(restoreToken)].join(' ');
}

function changeLine(c: Change): string {
  switch (c.op) {
    case 'declare':
      return `:${restoreChain(c.chain)} - [0:0]`;
    case 'create':
      return words('-N', c.chain, []);
    case 'append':
      return words('-A', c.rule.chain, c.rule.spec);
    case 'insert':
      return words('-I', c.rule.chain, [...(c.position ? [String(c.position)] : []), ...c.rule.spec]);
    case 'delete':
      return words('-D', c.rule.chain, c.rule.spec);
    case 'check':
      return words('-C', c.rule.chain, c.rule.spec);
    case 'flush':
      return words('-F', c.chain, []);
    case 'deleteChain':
      return words('-X', c.chain, []);
  }
}

function checkedLine(c: Change): string {
  const line = changeLine(c);
  if (Buffer.byteLength(line) > MAX_RESTORE_LINE)
    throw new UnencodableError(
      'iptables-restore',
      line,
      `the line is ${Buffer.byteLength(line)} bytes; iptables-restore reads at most ${MAX_RESTORE_LINE}`,
    );
  return line;
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
    for (const c of list) if (c.op === 'declare') out += `${checkedLine(c)}\n`;
    for (const c of list) if (c.op !== 'declare') out += `${checkedLine(c)}\n`;
    out += 'COMMIT\n';
  }
  return out;
}
