// Counts a TAP stream's results: ok / not ok lines, with "# SKIP" and "# TODO" directives.

/** Returns {pass, fail, skip} for one TAP document. */
export function parseTap(text) {
  let pass = 0;
  let fail = 0;
  let skip = 0;
  for (const line of text.split('\n')) {
    const m = /^(not ok|ok)\s+\d+\b(.*)$/.exec(line);
    if (!m) continue;
    const directive = /#\s*(SKIP|TODO)\b/i.exec(m[2] ?? '');
    if (directive) skip += 1;
    else if (m[1] === 'ok') pass += 1;
    else fail += 1;
  }
  return { pass, fail, skip };
}
