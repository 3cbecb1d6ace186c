// Ranges and range sets: canonical form, capacity, and the exact round-robin order.
import test from 'ava';
import { formatIP, mustParseIP } from '@cni-ts/netaddr';
import {
  candidates,
  canonicalRange,
  canonicalSet,
  formatSet,
  rangeCapacity,
  setCapacity,
  setContains,
} from '../src/index.js';

const order = (set: ReturnType<typeof canonicalSet>, last?: string) =>
  [...candidates(set, last ? mustParseIP(last) : undefined)].map((c) => formatIP(c.ip));

test('canonical range: IPv4-mapped addresses become IPv4, defaults fill in', (t) => {
  const r = canonicalRange({ subnet: '10.1.0.0/28', gateway: '::ffff:10.1.0.14' }, 'r');
  t.deepEqual(
    [formatIP(r.start), formatIP(r.end), formatIP(r.gateway), r.start.family],
    ['10.1.0.1', '10.1.0.14', '10.1.0.14', 4],
  );
  t.is(rangeCapacity(r), 13n, '.1 to .14 without the gateway .14');
});

test('capacity leaves out the gateway, network and broadcast only when they are inside start..end', (t) => {
  t.is(rangeCapacity(canonicalRange({ subnet: '10.0.0.0/24' }, 'r')), 253n);
  t.is(
    rangeCapacity(canonicalRange({ subnet: '10.0.0.0/24', rangeStart: '10.0.0.0', rangeEnd: '10.0.0.255' }, 'r')),
    253n,
  );
  t.is(
    rangeCapacity(canonicalRange({ subnet: '10.0.0.0/24', rangeStart: '10.0.0.100', rangeEnd: '10.0.0.109' }, 'r')),
    10n,
  );
  t.is(
    rangeCapacity(canonicalRange({ subnet: '2001:db8::/120' }, 'r')),
    254n,
    'IPv6: ::1..::ff without the gateway ::1',
  );
  t.is(setCapacity(canonicalSet([{ subnet: '10.0.0.0/30' }, { subnet: '10.0.1.0/30' }], 's')), 2n);
});

test('round-robin order: from the start, then after the last, wrapping across ranges and skipping gateways', (t) => {
  const set = canonicalSet([{ subnet: '10.0.0.0/29', gateway: '10.0.0.4' }, { subnet: '10.0.1.0/30' }], 's');
  t.is(formatSet(set), '10.0.0.1-10.0.0.6,10.0.1.1-10.0.1.2');
  t.deepEqual(order(set), ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.5', '10.0.0.6', '10.0.1.2']);
  t.deepEqual(order(set, '10.0.0.5'), ['10.0.0.6', '10.0.1.2', '10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.5']);
  t.deepEqual(order(set, '10.0.1.2'), ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.5', '10.0.0.6', '10.0.1.2']);
  t.deepEqual(
    order(set, '10.0.0.4'),
    ['10.0.0.5', '10.0.0.6', '10.0.1.2', '10.0.0.1', '10.0.0.2', '10.0.0.3'],
    'a cursor on the gateway still works',
  );
  t.deepEqual(order(set, '192.168.0.1'), order(set), 'a cursor outside the set starts over');
});

test('setContains respects start..end, not only the subnet', (t) => {
  const set = canonicalSet([{ subnet: '10.0.0.0/24', rangeStart: '10.0.0.10', rangeEnd: '10.0.0.20' }], 's');
  t.true(setContains(set, mustParseIP('10.0.0.10')));
  t.true(setContains(set, mustParseIP('10.0.0.20')));
  t.false(setContains(set, mustParseIP('10.0.0.9')));
  t.false(setContains(set, mustParseIP('10.0.0.21')));
  t.false(
    setContains(set, mustParseIP('::ffff:10.0.0.15')),
    'families are compared as parsed; callers canonicalise first',
  );
});

test('candidates is an iterator object, not a generator (a first generator costs a cold run ~0.2 ms), and stops after a break', (t) => {
  const set = canonicalSet([{ subnet: '10.0.0.0/29', gateway: '10.0.0.6' }, { subnet: '10.0.1.0/30' }], 's');
  const it = candidates(set);
  const generatorProto = Object.getPrototypeOf(Object.getPrototypeOf((function* () {})()));
  t.false(Object.getPrototypeOf(Object.getPrototypeOf(it)) === generatorProto);
  t.not(Object.prototype.toString.call(it), '[object Generator]');
  t.is(it[Symbol.iterator](), it);
  for (const c of it) if (formatIP(c.ip) === '10.0.0.2') break;
  t.deepEqual(
    [...it].map((c) => formatIP(c.ip)),
    ['10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.1.2'],
    'the same iterator resumes where it was left',
  );
  t.deepEqual(it.next(), { value: undefined, done: true });
  t.deepEqual(
    order(canonicalSet([{ subnet: '10.0.0.0/30' }], 's'), '10.0.0.2'),
    ['10.0.0.2'],
    'one address: itself last',
  );
});
