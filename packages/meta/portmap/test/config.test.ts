// The config: Go-style key folding (CRI's "HostPort"), defaults, and every value that reaches a
// batch refused unless it is a plain token of that batch's grammar, with a code-7 error naming it.
import test from 'ava';
import { type Context, decodeNetConf } from '@cni-ts/skel';
import { CniError } from '@cni-ts/types';
import {
  type PortmapConf,
  backendOfConditions,
  checkForBackend,
  loadConfLenient,
  loadConf,
  loadConfOrUndefined,
  readConf,
} from '../src/index.js';
import { loadConfNow, loadConfWithSchema } from '../src/config-schema.js';

function ctx(extra: Record<string, unknown>): Context {
  return {
    conf: decodeNetConf(JSON.stringify({ cniVersion: '1.0.0', name: 'podnet', type: 'portmap', ...extra })),
  } as Context;
}
const conf = (extra: Record<string, unknown>): PortmapConf => loadConfNow(ctx(extra));
const pm = (...m: unknown[]) => ({ runtimeConfig: { portMappings: m } });

function refused(t: import('ava').ExecutionContext, f: () => unknown, msg: RegExp): void {
  const e = t.throws(f);
  t.true(e instanceof CniError, String(e));
  t.is((e as CniError).code, 7);
  t.regex(e!.message, msg);
}

test('defaults: snat on, masqAll off, mark bit 13, no backend (chosen at run time), no mappings', (t) => {
  t.deepEqual(conf({}), {
    name: 'podnet',
    cniVersion: '1.0.0',
    snat: true,
    masqAll: false,
    markMasqBit: 13,
    mappings: [],
  });
});

test("keys fold case-insensitively as Go's decoder does (CRI sends HostPort, ContainerPort, Protocol, HostIP)", (t) => {
  const c = conf({
    RuntimeConfig: { PortMappings: [{ HostPort: 8080, ContainerPort: 80, Protocol: 'TCP', HostIP: '192.0.2.1' }] },
    SNAT: false,
    MarkMasqBit: 5,
  });
  t.deepEqual(c.mappings, [
    {
      hostPort: 8080,
      containerPort: 80,
      protocol: 'tcp',
      hostIP: { text: '192.0.2.1', family: 4, unspecified: false },
    },
  ]);
  t.false(c.snat);
  t.is(c.markMasqBit, 5);
});

test('protocols match case-insensitively; anything but tcp, udp and sctp is refused naming the mapping', (t) => {
  t.deepEqual(
    conf(
      pm({ hostPort: 1, containerPort: 1, protocol: 'Sctp' }, { hostPort: 2, containerPort: 2, protocol: 'UDP' }),
    ).mappings.map((m) => m.protocol),
    ['sctp', 'udp'],
  );
  refused(
    t,
    () => conf(pm({ hostPort: 1, containerPort: 1, protocol: 'icmp' })),
    /portMappings\[0\] .*protocol "icmp" is not tcp, udp or sctp/,
  );
  refused(t, () => conf(pm({ hostPort: 1, containerPort: 1 })), /portMappings\[0\].*protocol is missing/);
  refused(
    t,
    () => conf(pm({ hostPort: 1, containerPort: 1, protocol: 'tcp\n-A INPUT -j ACCEPT' })),
    /not tcp, udp or sctp/,
  );
});

test('ports are integers 1–65535; the error names the mapping and the key', (t) => {
  for (const bad of [0, -1, 65536, 80.5, '80', null]) {
    refused(
      t,
      () =>
        conf(
          pm(
            { hostPort: 8080, containerPort: 80, protocol: 'tcp' },
            { hostPort: bad, containerPort: 80, protocol: 'tcp' },
          ),
        ),
      /runtimeConfig\.portMappings\[1\] \{.*\}: hostPort .* is not a port number/,
    );
  }
  refused(
    t,
    () => conf(pm({ hostPort: 80, containerPort: 0, protocol: 'tcp' })),
    /containerPort 0 is not a port number/,
  );
  t.is(conf(pm({ hostPort: 65535, containerPort: 1, protocol: 'tcp' })).mappings[0]!.hostPort, 65535);
});

test('hostIP: an address of either family, canonical; empty means all; garbage is refused, never "all addresses"', (t) => {
  const ip = (hostIP: unknown) =>
    conf(pm({ hostPort: 1, containerPort: 1, protocol: 'tcp', hostIP })).mappings[0]!.hostIP;
  t.deepEqual(ip('fd00:0::1'), { text: 'fd00::1', family: 6, unspecified: false });
  t.deepEqual(
    ip('::ffff:192.0.2.7'),
    { text: '192.0.2.7', family: 4, unspecified: false },
    'IPv4-mapped is IPv4, as Go To4',
  );
  t.deepEqual(ip('0.0.0.0'), { text: '0.0.0.0', family: 4, unspecified: true });
  t.is(ip(''), undefined);
  t.is(ip(undefined), undefined);
  for (const bad of ['garbage', '192.0.2.1/32', '192.0.2.01', '1.2.3.4 -j ACCEPT', 7])
    refused(t, () => ip(bad), /hostIP .* is not an IP address/);
});

test('markMasqBit is 0–31 and excludes externalSetMarkChain', (t) => {
  refused(t, () => conf({ markMasqBit: 32 }), /MasqMarkBit must be between 0 and 31/);
  refused(t, () => conf({ markMasqBit: -1 }), /MasqMarkBit must be between 0 and 31/);
  refused(t, () => conf({ markMasqBit: 1.5 }), /markMasqBit/);
  refused(
    t,
    () => conf({ markMasqBit: 14, externalSetMarkChain: 'KUBE-MARK-MASQ' }),
    /Cannot specify externalSetMarkChain and markMasqBit/,
  );
  t.is(conf({ markMasqBit: null, externalSetMarkChain: 'KUBE-MARK-MASQ' }).externalSetMarkChain, 'KUBE-MARK-MASQ');
});

test('externalSetMarkChain must be one plain chain-name token', (t) => {
  for (const bad of ['', 'KUBE MARK', '-j ACCEPT', 'X\nCOMMIT', 'A"B', 'A'.repeat(29)])
    refused(t, () => conf({ externalSetMarkChain: bad }), /invalid "externalSetMarkChain"/);
});

test('backend: iptables, nftables or absent; other values refused', (t) => {
  t.is(conf({ backend: 'nftables' }).backend, 'nftables');
  refused(t, () => conf({ backend: 'ebtables' }), /unrecognized backend "ebtables"/);
});

test("conditions' backend is told by their first token, as upstream", (t) => {
  t.is(backendOfConditions(['-d', '1.2.3.4']), 'iptables');
  t.is(backendOfConditions(['!', '-i', 'eth0']), 'iptables');
  t.is(backendOfConditions(['ip', 'daddr', '1.2.3.4']), 'nftables');
  t.is(backendOfConditions([]), undefined);
  t.is(backendOfConditions(['']), undefined);
});

test("options of the other backend are refused with upstream's message", (t) => {
  refused(
    t,
    () => checkForBackend(conf({ externalSetMarkChain: 'KUBE-MARK-MASQ', conditionsV6: ['-d', '::1'] }), 'nftables'),
    /^nftables backend was requested but configuration contains iptables-specific options \[externalSetMarkChain conditionsV6\]$/,
  );
  refused(
    t,
    () => checkForBackend(conf({ conditionsV4: ['ip', 'saddr', '1.2.3.4'] }), 'iptables'),
    /iptables backend was requested but configuration contains nftables-specific options \[conditionsV4\]/,
  );
  t.notThrows(() => checkForBackend(conf({ conditionsV4: ['ip', 'saddr', '1.2.3.4'] }), 'nftables'));
});

const IPT_OK = [
  ['-d', '192.0.2.1'],
  ['!', '-i', 'eth0'],
  ['-m', 'comment', '--comment', 'two words'],
  ['-m', 'iprange', '--src-range', '10.0.0.1-10.0.0.9'],
  ['--destination', '192.0.2.0/24'],
];
const IPT_BAD: Array<[string[], RegExp]> = [
  [['-d', '192.0.2.1\n-A INPUT -j ACCEPT'], /printable characters/],
  [['-d', '192.0.2.1', '-j', 'ACCEPT'], /only the options/],
  [['-d', '192.0.2.1', '--jump', 'ACCEPT'], /may only match packets/],
  [['-d', '192.0.2.1', '--ju', 'ACCEPT'], /may only match packets/],
  [['-jACCEPT'], /only the options/],
  [['-m', 'x', '--modprobe=/tmp/evil'], /--modprobe/],
  [['-d', '"1.2.3.4"'], /quotes/],
  [['-d', '1.2.3.4 -j ACCEPT'], /without spaces/],
  [['-A', 'INPUT'], /only the options/],
  [['--table', 'filter'], /may only match packets/],
  [['-d', ''], /printable/],
  [['-d', '1.2.3.4#'], /"#"/],
];

test('iptables conditions: match arguments pass; newlines, quotes, spaces, commands, targets and --modprobe do not', (t) => {
  for (const c of IPT_OK) t.notThrows(() => checkForBackend(conf({ conditionsV4: c }), 'iptables'), c.join(' '));
  for (const [c, why] of IPT_BAD) refused(t, () => checkForBackend(conf({ conditionsV6: c }), 'iptables'), why);
});

const NFT_OK = [
  ['ip', 'daddr', '192.0.2.1'],
  ['iifname', '"eth0"'],
  ['ip', 'saddr', '!=', '{', '10.0.0.0/8,', '192.168.0.0/16', '}'],
  ['meta', 'l4proto', 'tcp'],
];
const NFT_BAD: Array<[string[], RegExp]> = [
  [['ip', 'daddr', '1.2.3.4;', 'add', 'rule'], /plain nft token/],
  [['ip', 'daddr', '1.2.3.4\nflush ruleset'], /plain nft token/],
  [['ip', 'daddr', '1.2.3.4', 'accept'], /verdicts and statements/],
  [['meta', 'mark', 'set', '1'], /verdicts and statements/],
  [['iifname', '"eth0" ; flush ruleset ; "'], /plain nft token/],
  [['ip', 'daddr', '$x'], /plain nft token/],
  [['#'], /plain nft token/],
];

test('nftables conditions: match tokens pass; separators, newlines, comments, variables and verdicts do not', (t) => {
  for (const c of NFT_OK) t.notThrows(() => checkForBackend(conf({ conditionsV4: c }), 'nftables'), c.join(' '));
  for (const [c, why] of NFT_BAD) refused(t, () => checkForBackend(conf({ conditionsV4: c }), 'nftables'), why);
});

test('the lenient config DEL and GC use keeps the network name when the strict one is refused', (t) => {
  const c = loadConfLenient(ctx({ ...pm({ hostPort: 0 }), backend: 'bogus' }));
  t.is(c.name, 'podnet');
  t.deepEqual(c.mappings, []);
  t.is(c.backend, undefined);
  t.is(loadConfLenient(ctx({ backend: 'nftables' })).backend, 'nftables');
});

test("the config read without the schema (ADD, DEL) equals the schema's: the same result, the same error, undefined for DEL exactly where it refuses", async (t) => {
  const M = { hostPort: 8080, containerPort: 80, protocol: 'tcp' };
  const cases: Array<Record<string, unknown>> = [
    {},
    pm(M),
    pm(M, { ...M, hostPort: 53, protocol: 'UDP', hostIP: '192.0.2.1' }, { ...M, hostIP: 'fd00::1' }),
    { RuntimeConfig: { PortMappings: [{ HostPort: 8080, ContainerPort: 80, Protocol: 'TCP', HostIP: '' }] } },
    { runtimeConfig: { portMappings: [{ ...M, HostPort: 9090 }] } },
    { snat: false, masqAll: true, markMasqBit: 0, ...pm(M) },
    { SNAT: true, snat: false, ...pm(M) },
    { snat: null, masqAll: null, markMasqBit: null, backend: null, runtimeConfig: null },
    { runtimeConfig: { portMappings: null } },
    { runtimeConfig: {}, conditionsV4: ['-d', '192.0.2.1'], conditionsV6: ['ip6', 'daddr', 'fd00::1'] },
    { externalSetMarkChain: 'KUBE-MARK-MASQ', backend: 'iptables', ...pm(M) },
    { backend: 'nftables', ...pm(M), extra: { anything: [1, 2] } },
    { dns: 'not ours', ipam: 7, capabilities: { portMappings: true }, ...pm(M) },
    // refused by loadConf
    { snat: 'yes' },
    { masqAll: 1 },
    { markMasqBit: 1.5 },
    { markMasqBit: 40 },
    { markMasqBit: 3, externalSetMarkChain: 'X' },
    { backend: 'pf' },
    { backend: 5 },
    { externalSetMarkChain: 'bad name' },
    { externalSetMarkChain: 12 },
    { conditionsV4: '-d 1.2.3.4' },
    { conditionsV4: ['-d', 7] },
    { conditionsV4: ['-d', '1.2.3.4\n-j ACCEPT'] },
    { runtimeConfig: [] },
    { runtimeConfig: 'x' },
    { runtimeConfig: { portMappings: {} } },
    { runtimeConfig: { portMappings: [7] } },
    { runtimeConfig: { portMappings: [[]] } },
    pm({ ...M, hostPort: 0 }),
    pm({ ...M, protocol: 'icmp' }),
    pm({ ...M, hostIP: '1.2.3.4 -j ACCEPT' }),
    pm({ containerPort: 80 }),
  ];
  let refusedCount = 0;
  let viaSchema = 0;
  for (const extra of cases) {
    const c = ctx(extra);
    const what = JSON.stringify(extra);
    let strict: PortmapConf | undefined;
    let error: unknown;
    try {
      strict = loadConfWithSchema(c);
    } catch (e) {
      error = e;
      refusedCount++;
    }
    t.deepEqual(loadConfOrUndefined(c), strict, what);
    if (error) {
      const e = t.throws(() => loadConfNow(c), undefined, what);
      t.true(e instanceof CniError && e.code === 7, what);
      t.is(e?.message, (error as Error).message, what);
    } else t.deepEqual(loadConfNow(c), strict, what);
    // the plugin's loadConf: the same, importing the schema's module only for what readConf leaves
    const viaVerb = await loadConf(c).then(
      (conf) => ({ conf }),
      (e: unknown) => ({ message: (e as Error).message, code: (e as CniError).code }),
    );
    t.deepEqual(viaVerb, error ? { message: (error as Error).message, code: 7 } : { conf: strict }, what);
    // undefined: left to the schema (a value the hand-written reading refuses throws instead)
    if (
      (() => {
        try {
          return readConf(c);
        } catch {
          return null;
        }
      })() === undefined
    )
      viaSchema++;
  }
  t.true(viaSchema >= 10, `configs of the wrong types go through the schema's module (${viaSchema})`);
  t.is(refusedCount, 21, 'the broken configs are refused by the schema');
});

test('a mapping value nested too deep for JSON.stringify is named in a code-7 message, not a code-999 crash', (t) => {
  const deep = `${'['.repeat(100000)}${']'.repeat(100000)}`;
  const text = `{"cniVersion":"1.0.0","name":"podnet","type":"portmap","runtimeConfig":{"portMappings":[{"hostPort":${deep},"containerPort":80,"protocol":"tcp"}]}}`;
  refused(
    t,
    () => loadConfNow({ conf: decodeNetConf(text) } as Context),
    /portMappings\[0\] a value nested too deep to print: hostPort a value nested too deep to print is not a port number/,
  );
});
