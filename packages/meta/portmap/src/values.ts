// Every value of the config that portmap writes into iptables-restore or `nft -f` input, checked
// before anything is read or changed: port mappings become numbers, protocol keywords and
// canonical addresses; chain names and conditions are refused unless they are plain tokens of
// the grammar they go into. A newline, a quote or a second command never reaches a batch.
import { formatIP, parseIP } from '@cni-ts/netaddr';
import { configError, printValue } from '@cni-ts/types';

/** The transport protocols a hostPort can use. */
export type Protocol = 'tcp' | 'udp' | 'sctp';

/** A host address a mapping is restricted to. */
export interface HostIP {
  /** Canonical text (IPv4-mapped IPv6 is written as IPv4, as Go's To4 treats it). */
  text: string;
  family: 4 | 6;
  /** 0.0.0.0 or ::, which restrict the family only, not the address. */
  unspecified: boolean;
}

/** One entry of runtimeConfig.portMappings after validation. */
export interface PortMapping {
  hostPort: number;
  containerPort: number;
  protocol: Protocol;
  hostIP?: HostIP;
}

/** A mapping from the runtime (keys already folded to hostPort, containerPort, protocol, hostIP), or a code-7 error naming it. */
export function parseMapping(m: Record<string, unknown>, index: number): PortMapping {
  const bad = (why: string, fix: string) =>
    configError(`invalid port mapping runtimeConfig.portMappings[${index}] ${describe(m)}: ${why}`, fix);
  const port = (key: 'hostPort' | 'containerPort') => {
    const v = m[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 65535)
      throw bad(`${key} ${printValue(v) ?? 'is missing'} is not a port number`, `set "${key}" to 1–65535`);
    return v;
  };
  const hostPort = port('hostPort');
  const containerPort = port('containerPort');
  const proto = typeof m.protocol === 'string' ? m.protocol.toLowerCase() : undefined;
  if (proto !== 'tcp' && proto !== 'udp' && proto !== 'sctp')
    throw bad(`protocol ${printValue(m.protocol) ?? 'is missing'} is not tcp, udp or sctp`, 'set "protocol"');
  const out: PortMapping = { hostPort, containerPort, protocol: proto as Protocol };
  if (m.hostIP !== undefined && m.hostIP !== null && m.hostIP !== '') {
    const ip = typeof m.hostIP === 'string' ? parseIP(m.hostIP) : undefined;
    if (!ip)
      throw bad(
        `hostIP ${printValue(m.hostIP)} is not an IP address`,
        'give one IPv4 or IPv6 address, or leave "hostIP" out to map the port on every address',
      );
    const mapped = ip.family === 6 && ip.value >> 32n === 0xffffn;
    const v4 = mapped ? { family: 4 as const, value: ip.value & 0xffffffffn } : ip;
    out.hostIP = { text: formatIP(v4), family: v4.family, unspecified: v4.value === 0n };
  }
  return out;
}

/** The mappings a container address of `family` gets: those without a hostIP or with one of that family. */
export function mappingsFor(mappings: readonly PortMapping[], family: 4 | 6): PortMapping[] {
  return mappings.filter((m) => !m.hostIP || m.hostIP.family === family);
}

function describe(m: Record<string, unknown>): string {
  const s = printValue(m);
  return s.length > 120 ? `${s.slice(0, 117)}...` : s;
}

/** An iptables chain name that is one plain token (1–28 characters, no spaces, quotes or leading '-'). */
export function checkChainName(name: string, key: string): string {
  // (the regular expressions and tables of this file are built where they are used, not at load:
  // what a run evaluates at load costs JavaScriptCore blocks, docs/performance.md)
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,27}$/.test(name))
    throw configError(
      `invalid "${key}" ${JSON.stringify(name)}: not an iptables chain name`,
      'a chain name has 1–28 letters, digits or "_.+-" and does not start with "-", e.g. "KUBE-MARK-MASQ"',
    );
  return name;
}

// iptables options that would turn a match into another command, another table or another
// target (long ones also in their getopt abbreviations), or make iptables run a program.
function iptForbiddenLong(): readonly string[] {
  return [
    'append',
    'delete',
    'insert',
    'replace',
    'new-chain',
    'delete-chain',
    'flush',
    'zero',
    'policy',
    'rename-chain',
    'list',
    'list-rules',
    'check',
    'table',
    'jump',
    'goto',
    'modprobe',
    'set-counters',
  ];
}

function iptShortOk(): readonly string[] {
  return ['-s', '-d', '-i', '-o', '-p', '-m', '-f', '-4', '-6'];
}

function nftVerdictsAndActions(): readonly string[] {
  return [
    'accept',
    'drop',
    'reject',
    'jump',
    'goto',
    'return',
    'continue',
    'queue',
    'dnat',
    'snat',
    'masquerade',
    'redirect',
    'set',
    'add',
    'update',
    'delete',
    'notrack',
    'dup',
    'fwd',
    'tproxy',
    'synproxy',
    'flow',
  ];
}

/** Checks condition tokens in the grammar of the backend that gets them; code 7 naming the token. */
export function checkConditions(tokens: readonly string[] | undefined, backend: 'iptables' | 'nftables', key: string) {
  (tokens ?? []).forEach((tok, i) => {
    const why = backend === 'iptables' ? iptablesTokenProblem(tok, tokens![i - 1]) : nftTokenProblem(tok);
    if (why)
      throw configError(
        `invalid "${key}" token ${i} ${JSON.stringify(tok)}: ${why}`,
        backend === 'iptables'
          ? 'give match arguments one per array element, e.g. ["-d", "192.0.2.1"] or ["!", "-i", "eth0"]'
          : 'give nft match tokens, e.g. ["ip", "daddr", "192.0.2.1"] or ["iifname", "\\"eth0\\""]',
      );
  });
}

function iptablesTokenProblem(tok: string, prev: string | undefined): string | undefined {
  const plain = prev === '--comment' ? tok.replace(/ /g, '') : tok;
  if (!/^[\x21-\x7e]+$/.test(plain) || /["'\\#]/.test(plain))
    return 'only printable characters without spaces, quotes, "\\" or "#" are allowed (spaces only in a --comment text)';
  if (tok.startsWith('--')) {
    const name = tok.slice(2).split('=')[0]!;
    if (name.length > 0 && iptForbiddenLong().some((f) => f.startsWith(name)))
      return 'a condition may only match packets; commands, tables, targets and --modprobe are not allowed';
  } else if (/^-[A-Za-z]/.test(tok) && !iptShortOk().includes(tok)) {
    return `only the options ${iptShortOk().join(' ')} (and long match options) are allowed`;
  }
  return undefined;
}

function nftTokenProblem(tok: string): string | undefined {
  if (!/^[A-Za-z0-9_.:/,!=<>\-[\]{}+*@&|^~]+$/.test(tok) && !/^"[\x20\x21\x23-\x5b\x5d-\x7e]*"$/.test(tok))
    return 'not a plain nft token or double-quoted string (no spaces, newlines, ";", "#", "$" or "\\")';
  if (nftVerdictsAndActions().includes(tok.toLowerCase()))
    return 'a condition may only match packets; verdicts and statements are not allowed';
  return undefined;
}
