// Hostile values for fuzzing: strings built from what ends a command or a rule in the tools'
// languages (newline, '#', ';', quotes, backslash), shell metacharacters, path traversal, NUL,
// long and non-ASCII text, numbers out of range, and JSON of the wrong type.
import fc from 'fast-check';

/** Fragments that mean something to ip -batch, iptables-restore, nft -f, tc -batch or a shell. */
export const HOSTILE_FRAGMENTS = [
  '',
  ' ',
  '\n',
  '\r\n',
  '\t',
  '"',
  "'",
  '#',
  ';',
  '\\',
  '\0',
  '$(id)',
  '`id`',
  '../',
  '/',
  ':',
  '-',
  '--',
  '{',
  '}',
  '*',
  'é',
  '😀',
  '\nlink add hdx0 type bridge\n',
  '\n-A INPUT -j DROP\n',
  '\nCOMMIT\n*filter\n',
  '\nflush ruleset\n',
  '\nqdisc del dev lo root\n',
  '" -j ACCEPT "',
  '; add rule inet x y accept',
];

const CHARS = ['a', 'Z', '0', '9', '-', '_', '.', ...HOSTILE_FRAGMENTS.filter((f) => f.length === 1)];

/** A string that is probably hostile: fragments glued to plausible text, random characters, or one very long word. */
export const hostileString: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...HOSTILE_FRAGMENTS),
  fc
    .tuple(fc.constantFrom('eth0', 'cni0', 'hd0', 'tcp', '10.0.0.1', 'ctr', 'x'), fc.constantFrom(...HOSTILE_FRAGMENTS))
    .chain(([a, b]) => fc.constantFrom(a + b, b + a, `${a}${b}${a}`)),
  fc.string({ unit: fc.constantFrom(...CHARS), maxLength: 24 }),
  fc.constantFrom('x'.repeat(16), 'y'.repeat(300), `${'z'.repeat(64)}\n`),
);

/** Any JSON value, hostile strings and edge numbers preferred. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: hostileString },
  {
    weight: 2,
    arbitrary: fc.constantFrom(0, -1, 1, 65535, 65536, 2 ** 31, 2 ** 53, 1.5, -0, 1e300, Number.MAX_SAFE_INTEGER),
  },
  { weight: 1, arbitrary: fc.boolean() },
  { weight: 1, arbitrary: fc.constant(null) },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
  { weight: 1, arbitrary: fc.array(hostileString, { maxLength: 3 }) },
);

/** An IP address, valid or not. */
export const maybeIP: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom('10.77.0.9', '0.0.0.0', '::', '::ffff:10.0.0.1', 'fd00:77::9', '127.0.0.1', '255.255.255.255'),
  fc.ipV4(),
  fc.ipV6(),
  hostileValue,
);

/** A port mapping as a runtime might send it, mostly well-formed with one part off. */
export const portMapping: fc.Arbitrary<unknown> = fc.record(
  {
    hostPort: fc.oneof(fc.integer({ min: -1, max: 70_000 }), hostileValue),
    containerPort: fc.oneof(fc.integer({ min: 0, max: 70_000 }), hostileValue),
    protocol: fc.oneof(fc.constantFrom('tcp', 'udp', 'sctp', 'TCP', 'icmp', ''), hostileString),
    hostIP: maybeIP,
  },
  { requiredKeys: [] },
);

/** A rate (bits/s) or burst (bits) as a runtime might send it: plausible values, tc's edges, JSON's edges, wrong types. */
export const rateOrBurst: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(
    0,
    1,
    7,
    8,
    1000,
    1_000_000,
    80_000,
    4_294_967_295,
    4_294_967_296,
    2 ** 53,
    2_000_000_000_000,
    -1,
    1.5,
    1e300,
  ),
  fc.integer({ min: 0, max: 10_000_000_000 }),
  hostileValue,
);

/** A Kubernetes quantity for the bandwidth annotations: valid forms, near misses, out of range, hostile text. */
export const quantity: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(
    '1M',
    '10Mi',
    '500k',
    '1.5G',
    '2e6',
    '1E6',
    '1k',
    '999',
    '1P',
    '2P',
    '0',
    '-1M',
    '+1M',
    '1K',
    '1kb',
    '1Mbit',
    ' 1M',
    '1M ',
    '1M\n',
    '1M#',
    '1e400',
    '0.000001M',
    '1m',
    '100Gi',
    '.5M',
    '1.M',
    '1M\nqdisc del dev lo root',
  ),
  hostileValue,
);
