import test from 'ava';
import {
  formatIP,
  formatNetwork,
  formatPrefix,
  hasHostBits,
  lastOf,
  mustParseIP,
  mustParsePrefix,
  networkOf,
  parsePrefix,
  prefixContains,
  prefixesOverlap,
} from '../src/index.js';

test('network and last address of IPv4 and IPv6 prefixes', (t) => {
  const p = mustParsePrefix('10.1.2.3/24');
  t.is(formatIP(networkOf(p)), '10.1.2.0');
  t.is(formatIP(lastOf(p)), '10.1.2.255');
  t.is(formatNetwork(p), '10.1.2.0/24');
  t.is(formatPrefix(p), '10.1.2.3/24');
  const q = mustParsePrefix('2001:db8:1::5/64');
  t.is(formatIP(lastOf(q)), '2001:db8:1:0:ffff:ffff:ffff:ffff');
  t.is(formatNetwork(mustParsePrefix('0.0.0.0/0')), '0.0.0.0/0');
  t.is(formatIP(lastOf(mustParsePrefix('10.0.0.7/32'))), '10.0.0.7');
});

test('host bits, containment and overlap', (t) => {
  t.true(hasHostBits(mustParsePrefix('10.1.2.3/24')));
  t.false(hasHostBits(mustParsePrefix('10.1.2.0/24')));
  t.true(prefixContains(mustParsePrefix('10.1.0.0/16'), mustParseIP('10.1.255.255')));
  t.false(prefixContains(mustParsePrefix('10.1.0.0/16'), mustParseIP('10.2.0.0')));
  t.false(prefixContains(mustParsePrefix('10.1.0.0/16'), mustParseIP('::1')));
  t.true(prefixesOverlap(mustParsePrefix('10.1.0.0/16'), mustParsePrefix('10.1.4.0/24')));
  t.false(prefixesOverlap(mustParsePrefix('10.1.0.0/24'), mustParsePrefix('10.1.1.0/24')));
});

test('rejects malformed prefixes', (t) => {
  for (const bad of ['10.0.0.0', '10.0.0.0/33', '10.0.0.0/-1', '::/129', 'x/8', '10.0.0.0/8/8', '10.0.0.0/ 8']) {
    t.is(parsePrefix(bad), undefined, bad);
  }
});
