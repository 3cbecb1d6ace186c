// IP addresses as netlink carries them (4 or 16 bytes): parsed from the text a plugin hands to
// `ip`, and printed as `ip` prints them (inet_ntop). Pure.

/** An IP address's bytes (4 or 16), or undefined when the text is not one. */
export function parseAddr(text: string): Uint8Array | undefined {
  return text.includes(':') ? parse6(text) : parse4(text, new Uint8Array(4), 0);
}

// Dotted quad into out[at…at+3]; undefined unless exactly four decimal parts of 0–255.
function parse4(text: string, out: Uint8Array, at: number): Uint8Array | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    out[at + i] = Number(p);
  }
  return out;
}

function parse6(text: string): Uint8Array | undefined {
  const out = new Uint8Array(16);
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  // a trailing dotted quad is the last two words
  const last = tail.length ? tail : head;
  let v4: Uint8Array | undefined;
  if (last.length && last[last.length - 1]!.includes('.')) {
    v4 = parse4(last.pop()!, new Uint8Array(4), 0);
    if (!v4) return undefined;
  }
  const words = head.length + tail.length + (v4 ? 2 : 0);
  if (halves.length === 2 ? words > 7 : words !== 8) return undefined;
  const put = (list: string[], from: number): boolean => {
    for (let i = 0; i < list.length; i++) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(list[i]!)) return false;
      const w = parseInt(list[i]!, 16);
      out[from + 2 * i] = w >>> 8;
      out[from + 2 * i + 1] = w & 0xff;
    }
    return true;
  };
  if (!put(head, 0)) return undefined;
  const tailAt = 16 - (v4 ? 4 : 0) - 2 * tail.length;
  if (!put(tail, tailAt)) return undefined;
  if (v4) out.set(v4, 12);
  return out;
}

/** "ip/len" (or a bare address: the full length) → bytes and length; undefined when it is not one. */
export function parsePrefix(text: string): { addr: Uint8Array; len: number } | undefined {
  const slash = text.indexOf('/');
  const addr = parseAddr(slash < 0 ? text : text.slice(0, slash));
  if (!addr) return undefined;
  const max = addr.length * 8;
  if (slash < 0) return { addr, len: max };
  const len = text.slice(slash + 1);
  return /^\d{1,3}$/.test(len) && Number(len) <= max ? { addr, len: Number(len) } : undefined;
}

/** Formats address bytes as inet_ntop does (what `ip` prints). */
export function formatAddr(b: Uint8Array): string {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  const w: number[] = [];
  for (let i = 0; i < 8; i++) w.push((b[2 * i]! << 8) | b[2 * i + 1]!);
  // glibc's inet_ntop: IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible with a non-zero 7th
  // word (::a.b.c.d) end in a dotted quad
  const zero5 = w[0] === 0 && w[1] === 0 && w[2] === 0 && w[3] === 0 && w[4] === 0;
  const quad = `${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  if (zero5 && w[5] === 0xffff) return `::ffff:${quad}`;
  if (zero5 && w[5] === 0 && w[6] !== 0) return `::${quad}`;
  // the longest run of two or more zero words becomes "::" (the first of equals)
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (w[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number) =>
    w
      .slice(from, to)
      .map((x) => x.toString(16))
      .join(':');
  return best < 0 ? hex(0, 8) : `${hex(0, best)}::${hex(best + bestLen, 8)}`;
}
