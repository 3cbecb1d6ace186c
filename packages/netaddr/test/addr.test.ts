import test from 'ava';
import { addIP, canonicalIP, compareIP, formatIP, mustParseIP, parseIP } from '../src/index.js';

const roundTrips: Array<[string, string]> = [
  ['10.1.2.3', '10.1.2.3'],
  ['0.0.0.0', '0.0.0.0'],
  ['255.255.255.255', '255.255.255.255'],
  ['2001:db8::1', '2001:db8::1'],
  ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
  ['::', '::'],
  ['::1', '::1'],
  ['fe80::', 'fe80::'],
  ['2001:db8:0:1:0:0:0:1', '2001:db8:0:1::1'],
  ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'], // the longest run wins; the first on a tie
  ['2001:db8:1:1:1:1:0:1', '2001:db8:1:1:1:1:0:1'], // a single zero group is not compressed (Go)
  ['::ffff:10.1.2.3', '10.1.2.3'], // IPv4-mapped prints as IPv4, as Go does
  ['1:2:3:4:5:6:1.2.3.4', '1:2:3:4:5:6:102:304'],
];

for (const [input, want] of roundTrips) {
  test(`formats ${input} as Go does`, (t) => {
    t.is(canonicalIP(input), want);
  });
}

for (const bad of [
  '',
  '1.2.3',
  '1.2.3.4.5',
  '256.1.1.1',
  '01.2.3.4',
  '1::2::3',
  '12345::',
  'g::1',
  '1:2:3:4:5:6:7:8:9',
  ':::',
  '1.2.3.4/24',
]) {
  test(`rejects "${bad}"`, (t) => {
    t.is(parseIP(bad), undefined);
  });
}

test('addIP steps within the family and stops at its edges', (t) => {
  t.is(formatIP(addIP(mustParseIP('10.0.0.255'), 1n)!), '10.0.1.0');
  t.is(addIP(mustParseIP('255.255.255.255'), 1n), undefined);
  t.is(addIP(mustParseIP('0.0.0.0'), -1n), undefined);
  t.is(formatIP(addIP(mustParseIP('2001:db8::ffff'), 1n)!), '2001:db8::1:0');
});

test('compareIP orders IPv4 before IPv6, then by value', (t) => {
  const sorted = ['2001:db8::1', '10.0.0.2', '10.0.0.10', '::1'].map(mustParseIP).sort(compareIP).map(formatIP);
  t.deepEqual(sorted, ['10.0.0.2', '10.0.0.10', '::1', '2001:db8::1']);
});
