// IP addresses as bigints, parsed strictly and printed as Go's net.IP.String() prints them.

/** An IP address: its family and its value as an unsigned integer. */
export interface IP {
  readonly family: 4 | 6;
  readonly value: bigint;
}

const V4_MAX = (1n << 32n) - 1n;
const V6_MAX = (1n << 128n) - 1n;

/** Parses a dotted-quad IPv4 or an RFC 4291 IPv6 address; undefined when it is not one. */
export function parseIP(text: string): IP | undefined {
  if (text.includes(':')) return parseV6(text);
  const v = parseV4(text);
  return v === undefined ? undefined : { family: 4, value: v };
}

/** Like parseIP, but throws a plain Error naming the bad text. */
export function mustParseIP(text: string): IP {
  const ip = parseIP(text);
  if (!ip) throw new Error(`invalid IP address "${text}"`);
  return ip;
}

function parseV4(text: string): bigint | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let v = 0n;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return undefined;
    // Go rejects leading zeros ("010") as ambiguous octal.
    if (p.length > 1 && p.startsWith('0')) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    v = (v << 8n) | BigInt(n);
  }
  return v;
}

function parseV6(text: string): IP | undefined {
  let head = text;
  let tailV4: bigint | undefined;
  const lastColon = text.lastIndexOf(':');
  if (text.slice(lastColon + 1).includes('.')) {
    tailV4 = parseV4(text.slice(lastColon + 1));
    if (tailV4 === undefined) return undefined;
    head = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const halves = head.split('::');
  if (halves.length > 2) return undefined;
  const groups = (s: string) => (s === '' ? [] : s.split(':'));
  const left = groups(halves[0] ?? '');
  const right = halves.length === 2 ? groups(halves[1] ?? '') : [];
  const total = left.length + right.length;
  if (halves.length === 1 ? total !== 8 : total > 7) return undefined;
  const all = [...left, ...Array<string>(8 - total).fill('0'), ...right];
  let v = 0n;
  for (const g of all) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
    v = (v << 16n) | BigInt(parseInt(g, 16));
  }
  if (tailV4 !== undefined) v = (v & ~V4_MAX) | tailV4;
  return { family: 6, value: v };
}

/** Formats an address as Go does: IPv4 dotted, IPv6 with the longest zero run as "::". */
export function formatIP(ip: IP): string {
  if (ip.family === 4) return formatV4(ip.value);
  if (ip.value >> 32n === 0xffffn) return formatV4(ip.value & V4_MAX); // IPv4-mapped
  const g: number[] = [];
  for (let i = 7; i >= 0; i--) g.push(Number((ip.value >> BigInt(i * 16)) & 0xffffn));
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (a: number[]) => a.map((n) => n.toString(16)).join(':');
  if (bestStart < 0) return hex(g);
  return `${hex(g.slice(0, bestStart))}::${hex(g.slice(bestStart + bestLen))}`;
}

function formatV4(v: bigint): string {
  return [24n, 16n, 8n, 0n].map((s) => String((v >> s) & 255n)).join('.');
}

/** The number of bits in an address of this family. */
export function bitsOf(family: 4 | 6): number {
  return family === 4 ? 32 : 128;
}

/** The largest value an address of this family can hold. */
export function maxOf(family: 4 | 6): bigint {
  return family === 4 ? V4_MAX : V6_MAX;
}

/** The address `delta` steps away, or undefined when that leaves the family's space. */
export function addIP(ip: IP, delta: bigint): IP | undefined {
  const v = ip.value + delta;
  if (v < 0n || v > maxOf(ip.family)) return undefined;
  return { family: ip.family, value: v };
}

/** True when both addresses are the same family and value. */
export function ipEqual(a: IP, b: IP): boolean {
  return a.family === b.family && a.value === b.value;
}

/** Orders addresses: IPv4 before IPv6, then by value. */
export function compareIP(a: IP, b: IP): number {
  if (a.family !== b.family) return a.family - b.family;
  return a.value < b.value ? -1 : a.value > b.value ? 1 : 0;
}

/** The canonical text of an address given as text (e.g. "2001:DB8::0:1" → "2001:db8::1"). */
export function canonicalIP(text: string): string | undefined {
  const ip = parseIP(text);
  return ip ? formatIP(ip) : undefined;
}
