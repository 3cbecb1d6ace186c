// The input language of `ip -batch`, `bridge -batch` and `tc -batch` (iproute2's lib/utils.c
// getcmdline + makeargs; measured against iproute2 6.1, see the tests), and its one encoder.
//
//   - A line ends at a newline; `\` + newline joins the next line; a `#` anywhere (even inside
//     quotes) cuts the rest of the line. There are no escapes.
//   - Words are separated by space, tab, CR or LF. A word that begins with `"` or `'` runs to the
//     next same quote (which ends the word); a quote inside a word is an ordinary character.
//
// So a value can be carried exactly unless it holds a newline, a `#` or a NUL, or it needs quotes
// (it is empty, holds a space/tab/CR, begins with a quote, or ends with `\`) and holds both kinds
// of quote.
import { UnencodableError } from './errors.js';

function needsQuotes() {
  return /^$|[ \t\r]|^["']|\\$/;
}

/** One value as an iproute2 batch word that the tool reads back as exactly that value; throws UnencodableError otherwise. */
export function iprouteToken(value: string): string {
  if (value.includes('\n'))
    throw new UnencodableError('iproute2', value, 'it contains a newline (it ends the command)');
  if (value.includes('#'))
    throw new UnencodableError('iproute2', value, 'it contains "#" (the rest of the line is a comment)');
  if (value.includes('\0')) throw new UnencodableError('iproute2', value, 'it contains a NUL byte');
  if (!needsQuotes().test(value)) return value;
  if (!value.includes('"')) return `"${value}"`;
  if (!value.includes("'")) return `'${value}'`;
  throw new UnencodableError(
    'iproute2',
    value,
    'it needs quotes (empty, blank, a leading quote or a trailing backslash) and holds both kinds of quote',
  );
}

/** One batch line (without its newline): each argument encoded with iprouteToken. */
export function iprouteLine(args: readonly string[]): string {
  return args.map(iprouteToken).join(' ');
}

/** @deprecated the old name of iprouteLine. */
export const batchLine = iprouteLine;
