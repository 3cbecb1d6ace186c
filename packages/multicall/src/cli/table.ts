// Small text tables for people: a header row and columns padded to their widest cell.

/** The rows as aligned columns under upper-cased headers; empty when there are no rows. */
export function table(headers: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  if (rows.length === 0) return '';
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(headers.map((h) => h.toUpperCase())), ...rows.map(line)].join('\n');
}

/** Joins the non-empty sections with blank lines. */
export function sections(...parts: string[]): string {
  return parts.filter((p) => p !== '').join('\n\n');
}
