// The allocator against an in-memory store, with upstream's allocator_test cases ported.
import test from 'ava';
import { mustParseIP } from '@cni-ts/netaddr';
import { CniError } from '@cni-ts/types';
import {
  type AllocConfig,
  type Pool,
  type RawRange,
  allocateAll,
  canonicalSet,
  verifyAttachment,
} from '../src/index.js';
import { MemStore } from './fake-store.js';

const pool = (id: number, ...ranges: Array<string | RawRange>): Pool => ({
  id: String(id),
  where: `ipam.ranges[${id}]`,
  ranges: canonicalSet(
    ranges.map((r) => (typeof r === 'string' ? { subnet: r } : r)),
    `ipam.ranges[${id}]`,
  ),
});
const cfg = (pools: Pool[], requested: string[] = []): AllocConfig => ({
  name: 'net',
  dataDir: '/var/lib/cni/networks',
  pools,
  requested: requested.map((ip) => ({ ip: mustParseIP(ip), from: 'runtimeConfig.ips' })),
});
const owned = (id = 'id') => `${id}\r\neth0`;

function alloc(store: MemStore, c: AllocConfig, id = 'ID', ifname = 'eth0'): string[] {
  return allocateAll(store, c, id, ifname).map((ip) => ip.address);
}

const roundRobin: Array<[string, string[], Record<string, string>, string | undefined, string]> = [
  ['fresh start', ['10.0.0.0/29'], {}, undefined, '10.0.0.2'],
  ['fresh start, IPv6', ['2001:db8:1::0/64'], {}, undefined, '2001:db8:1::2'],
  ['a /30 has one address', ['10.0.0.0/30'], {}, undefined, '10.0.0.2'],
  ['a taken first address is skipped', ['10.0.0.0/29'], { '10.0.0.2': 'id' }, undefined, '10.0.0.3'],
  ['next after the last reserved', ['10.0.0.0/29'], {}, '10.0.0.5', '10.0.0.6'],
  [
    'next free after the last reserved',
    ['10.0.0.0/29'],
    { '10.0.0.4': 'id', '10.0.0.5': 'id' },
    '10.0.0.3',
    '10.0.0.6',
  ],
  ['wraps to the beginning, skipping the gateway', ['10.0.0.0/29'], { '10.0.0.6': 'id' }, '10.0.0.5', '10.0.0.2'],
  ['a last reserved outside the set starts over', ['10.0.0.0/29'], { '10.0.0.2': 'id' }, '10.0.0.128', '10.0.0.3'],
  [
    'only the last reserved is free: it comes last',
    ['10.0.0.0/29'],
    { '10.0.0.2': 'id', '10.0.0.4': 'id', '10.0.0.5': 'id', '10.0.0.6': 'id' },
    '10.0.0.3',
    '10.0.0.3',
  ],
  ['several ranges, fresh', ['10.0.0.0/30', '10.0.1.0/30'], {}, undefined, '10.0.0.2'],
  ['advances to the next range', ['10.0.0.0/30', '10.0.1.0/30'], {}, '10.0.0.2', '10.0.1.2'],
  ['rolls over to the first range', ['10.0.0.0/30', '10.0.1.0/30', '10.0.2.0/30'], {}, '10.0.2.2', '10.0.0.2'],
];
for (const [what, subnets, files, last, want] of roundRobin) {
  test(`round robin: ${what}`, (t) => {
    const store = new MemStore(files, last ? { 0: last } : {});
    const [got] = alloc(store, cfg([pool(0, ...subnets)]));
    t.is(got!.split('/')[0], want);
    t.is(store.last.get('0'), want);
  });
}

test('a /29 hands out .2 to .6 and never the gateway, network or broadcast address; then a code-7 error names the range', (t) => {
  const store = new MemStore();
  const c = cfg([pool(0, '192.168.1.0/29')]);
  const got = [2, 3, 4, 5, 6].map((i) => alloc(store, c, `ID${i}`)[0]);
  t.deepEqual(got, ['192.168.1.2/29', '192.168.1.3/29', '192.168.1.4/29', '192.168.1.5/29', '192.168.1.6/29']);
  const e = t.throws(() => alloc(store, c, 'ID7'), { instanceOf: CniError });
  t.is(e?.code, 7);
  t.is(
    e?.message,
    'no IP addresses available in range set 0 (192.168.1.1-192.168.1.6) of network "net": all 5 usable addresses are reserved',
  );
  t.is(
    e?.details,
    'free addresses by deleting the pods that hold them (or let the runtime run CNI GC), or widen ipam.ranges[0]; the reservations are the files in /var/lib/cni/networks/net',
  );
});

test('a full set fails at once, without trying every address', (t) => {
  const files = Object.fromEntries([2, 3, 4, 5, 6].map((i) => [`10.0.0.${i}`, owned(`c${i}`)]));
  const store = new MemStore(files, { 0: '10.0.0.4' });
  t.throws(() => alloc(store, cfg([pool(0, '10.0.0.0/29')])), { message: /^no IP addresses available in range set 0/ });
  t.deepEqual(store.attempts, []);
});

test('the 250th address of a /24 takes one attempt, like the first', (t) => {
  const files: Record<string, string> = {};
  for (let i = 2; i <= 250; i++) files[`10.1.0.${i}`] = owned(`c${i}`);
  const store = new MemStore(files, { 0: '10.1.0.250' });
  t.deepEqual(alloc(store, cfg([pool(0, '10.1.0.0/24')])), ['10.1.0.251/24']);
  t.deepEqual(store.attempts, ['10.1.0.251']);
  // even without a cursor the taken addresses are skipped from the listing, not by trying them
  const cold = new MemStore(files);
  t.deepEqual(alloc(cold, cfg([pool(0, '10.1.0.0/24')])), ['10.1.0.251/24']);
  t.deepEqual(cold.attempts, ['10.1.0.251']);
});

test('release then allocate moves on round-robin instead of reusing the address', (t) => {
  const store = new MemStore();
  const c = cfg([pool(0, '192.168.1.0/29')]);
  t.deepEqual(alloc(store, c), ['192.168.1.2/29']);
  store.remove('192.168.1.2');
  t.deepEqual(alloc(store, c), ['192.168.1.3/29']);
});

test('an explicit rangeStart at the network address never hands out the network address (upstream does)', (t) => {
  const store = new MemStore();
  const c = cfg([pool(0, { subnet: '192.168.2.0/30', rangeStart: '192.168.2.0', gateway: '192.168.2.2' })]);
  t.deepEqual(alloc(store, c, 'a'), ['192.168.2.1/30']);
  t.throws(() => alloc(store, c, 'b'), { message: /all 1 usable addresses are reserved/ });
});

test('dual-stack: one address per range set, each with its own cursor and gateway', (t) => {
  const store = new MemStore({}, { 1: '2001:db8::9' });
  const got = allocateAll(store, cfg([pool(0, '10.1.0.0/24'), pool(1, '2001:db8::/64')]), 'ctr', 'eth0');
  t.deepEqual(got, [
    { address: '10.1.0.2/24', gateway: '10.1.0.1' },
    { address: '2001:db8::a/64', gateway: '2001:db8::1' },
  ]);
  t.deepEqual(
    [...store.last],
    [
      ['1', '2001:db8::a'],
      ['0', '10.1.0.2'],
    ],
  );
  t.is(store.files.get('2001:db8::a'), 'ctr\r\neth0');
});

test('a failure in a later range set releases what this call reserved, and nothing else', (t) => {
  const store = new MemStore({ '10.2.0.2': owned('other'), '10.1.0.7': owned('ID') });
  const c = cfg([pool(0, '10.1.0.0/24'), pool(1, '10.2.0.0/30')]);
  const e = t.throws(() => alloc(store, c, 'ID', 'eth1'), { instanceOf: CniError });
  t.regex(e!.message, /^no IP addresses available in range set 1 \(10\.2\.0\.1-10\.2\.0\.2\)/);
  t.deepEqual([...store.files.keys()].sort(), ['10.1.0.7', '10.2.0.2']);
});

test('a second ADD of the same attachment is refused, also when its file is a legacy id-only one', (t) => {
  for (const content of ['ID\r\neth0', 'ID', '  ID \n']) {
    const store = new MemStore({ '10.1.0.9': content });
    const e = t.throws(() => alloc(store, cfg([pool(0, '10.1.0.0/24')])), { instanceOf: CniError });
    t.is(e?.code, 7);
    t.is(
      e?.message,
      '10.1.0.9 has been allocated to ID (interface eth0) in range set 0 (10.1.0.1-10.1.0.254) of network "net", duplicate allocation is not allowed',
    );
  }
  // another interface of the same container is a different attachment
  const store = new MemStore({ '10.1.0.9': 'ID\r\neth1' });
  t.deepEqual(alloc(store, cfg([pool(0, '10.1.0.0/24')])), ['10.1.0.2/24']);
});

test('requested addresses: taken, one per matching set, and the duplicate check does not read the store', (t) => {
  const store = new MemStore();
  const c = cfg([pool(0, '192.168.1.0/29'), pool(1, '2001:db8::/64')], ['2001:db8::99', '192.168.1.5']);
  t.deepEqual(alloc(store, c), ['192.168.1.5/29', '2001:db8::99/64']);
  t.is(store.reads, 0);
  t.is(store.last.get('0'), '192.168.1.5', 'a requested address moves the cursor too, as upstream');
});

test('a requested address that is taken names who holds it', (t) => {
  const store = new MemStore({ '192.168.1.5': 'web-1\r\neth0' });
  const e = t.throws(() => alloc(store, cfg([pool(0, '192.168.1.0/29')], ['192.168.1.5'])), { instanceOf: CniError });
  t.is(e?.code, 7);
  t.is(
    e?.message,
    'requested IP address 192.168.1.5 (runtimeConfig.ips) is not available in range set 0 (192.168.1.1-192.168.1.6) of network "net": it is reserved by container web-1 interface eth0',
  );
});

test('a requested gateway, network or broadcast address is refused', (t) => {
  const c = (ip: string) =>
    cfg([pool(0, { subnet: '10.0.0.0/29', rangeStart: '10.0.0.0', rangeEnd: '10.0.0.7' })], [ip]);
  t.throws(() => alloc(new MemStore(), c('10.0.0.1')), {
    message: 'requested IP 10.0.0.1 (runtimeConfig.ips) is the gateway of range 10.0.0.0-10.0.0.7 (ipam.ranges[0][0])',
  });
  t.throws(() => alloc(new MemStore(), c('10.0.0.0')), { message: /is the network address of range/ });
  t.throws(() => alloc(new MemStore(), c('10.0.0.7')), { message: /is the broadcast address of range/ });
});

test('requested addresses outside every range, or two in one set, fail and release everything', (t) => {
  const store = new MemStore();
  const c = cfg([pool(0, '192.168.1.0/29')], ['192.168.1.3', '192.168.1.4', '10.9.9.9']);
  const e = t.throws(() => alloc(store, c), { instanceOf: CniError });
  t.is(e?.code, 7);
  t.is(
    e?.message,
    'failed to allocate all requested IPs: 192.168.1.4 (runtimeConfig.ips), 10.9.9.9 (runtimeConfig.ips) not in any range of network "net"',
  );
  t.is(store.files.size, 0);
  // after rangeEnd / before rangeStart
  const narrow = cfg(
    [pool(0, { subnet: '192.168.1.0/29', rangeStart: '192.168.1.3', rangeEnd: '192.168.1.4' })],
    ['192.168.1.5'],
  );
  t.throws(() => alloc(new MemStore(), narrow), { message: /^failed to allocate all requested IPs: 192\.168\.1\.5/ });
});

test('CHECK: every range set must hold a reservation, and every prevResult address in the sets must be one', (t) => {
  const pools = [pool(0, '10.1.0.0/24'), pool(1, '2001:db8::/64')];
  const held = [
    { ip: '10.1.0.2', file: '10.1.0.2', owner: 'c\r\neth0' },
    { ip: '2001:db8::2', file: '2001:db8::2', owner: 'c\r\neth0' },
  ];
  t.deepEqual(verifyAttachment(pools, held, ['10.1.0.2/24', '2001:db8::2/64', '192.168.9.9/24']), []);
  t.deepEqual(verifyAttachment(pools, held.slice(0, 1), ['10.1.0.3/24']), [
    'no address of range set 1 (2001:db8::1-2001:db8::ffff:ffff:ffff:ffff) is reserved for it',
    'prevResult address 10.1.0.3/24 is not reserved for it',
  ]);
});
