// Names that outlive plugin versions: iptables chain names and rule comments, byte for byte as
// upstream's pkg/utils formats them, so a node can move between the Go plugins and ours.

// sha512 without a start-up cost: importing node:crypto costs a bun-compiled plugin ~2.5 ms on
// every run (5 ms when loaded lazily), Bun's native hasher ~0.2 ms; Node (tests) loads node:crypto
// only when a name is hashed.
interface Hasher {
  update(s: string): Hasher;
  digest(enc: 'hex'): string;
}
type BunGlobal = { CryptoHasher: new (alg: string) => Hasher };

/** The hex sha512 of a UTF-8 string. */
export function sha512Hex(s: string): string {
  const bun = (globalThis as { Bun?: BunGlobal }).Bun;
  if (bun) return new bun.CryptoHasher('sha512').update(s).digest('hex');
  const crypto = process.getBuiltinModule('node:crypto') as typeof import('node:crypto');
  return crypto.createHash('sha512').update(s, 'utf8').digest('hex');
}

const CHAIN_PREFIX = 'CNI-';
const MAX_CHAIN_LENGTH = 28;

/** `prefix` followed by the hex sha512 of `toHash`, cut to `length` characters (upstream MustFormatHashWithPrefix). */
export function hashWithPrefix(length: number, prefix: string, toHash: string): string {
  if (prefix.length >= length || length > 128) throw new Error(`invalid hash length ${length} for prefix "${prefix}"`);
  return (prefix + sha512Hex(toHash)).slice(0, length);
}

/** The 28-character chain name `CNI-[prefix]<hash of name+id>` (upstream FormatChainName / MustFormatChainNameWithPrefix). */
export function formatChainName(name: string, id: string, prefix = ''): string {
  return hashWithPrefix(MAX_CHAIN_LENGTH, CHAIN_PREFIX + prefix, name + id);
}

/** The rule comment `name: "<name>" id: "<id>"` (Go's %q quoting; upstream FormatComment). */
export function formatComment(name: string, id: string): string {
  return `name: ${goQuote(name)} id: ${goQuote(id)}`;
}

/** A string quoted as Go's %q verb does for printable text: backslash and double quote escaped. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}
