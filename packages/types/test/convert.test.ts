import test from 'ava';
import { ALL_VERSIONS, CniError, type Result, convertResult, formatResult, parseResult } from '../src/index.js';

const full: Result = {
  cniVersion: '1.1.0',
  interfaces: [
    { name: 'cni0', mac: '0a:58:0a:01:00:01' },
    { name: 'veth1234abcd', mac: '0a:58:0a:01:00:02' },
    { name: 'eth0', mac: '0a:58:0a:01:00:03', sandbox: '/var/run/netns/p1', mtu: 1400 },
  ],
  ips: [
    { interface: 2, address: '10.1.0.5/24', gateway: '10.1.0.1' },
    { interface: 2, address: '2001:db8::5/64', gateway: '2001:db8::1' },
  ],
  routes: [{ dst: '0.0.0.0/0', gw: '10.1.0.1' }, { dst: '::/0' }],
  dns: { nameservers: ['10.96.0.10'], search: ['svc.cluster.local'] },
};

test('1.x output sorts keys at every level and prints as libcni does', (t) => {
  const out = formatResult(full, '1.0.0');
  t.true(out.startsWith('{\n    "cniVersion": "1.0.0",\n    "dns": {'));
  t.false(out.endsWith('\n'));
  const parsed = JSON.parse(out);
  t.deepEqual(Object.keys(parsed.interfaces[2]), ['mac', 'mtu', 'name', 'sandbox']);
  t.deepEqual(Object.keys(parsed.ips[0]), ['address', 'gateway', 'interface']);
});

test('1.x drops an empty dns; 0.3/0.4 always print dns', (t) => {
  const bare: Result = { cniVersion: '1.1.0', ips: [{ address: '10.0.0.2/8' }] };
  t.false('dns' in convertResult(bare, '1.1.0'));
  t.deepEqual(convertResult(bare, '0.4.0').dns, {});
});

test('0.3.x/0.4.0 output keeps struct order and adds ip versions', (t) => {
  const o = convertResult(full, '0.4.0') as any;
  t.deepEqual(Object.keys(o), ['cniVersion', 'interfaces', 'ips', 'routes', 'dns']);
  t.deepEqual(o.ips[0], { version: '4', interface: 2, address: '10.1.0.5/24', gateway: '10.1.0.1' });
  t.is(o.ips[1].version, '6');
  t.deepEqual(
    o.interfaces[2],
    { name: 'eth0', mac: '0a:58:0a:01:00:03', sandbox: '/var/run/netns/p1' },
    'mtu is 1.x only',
  );
});

test('0.2.0 output keeps the first address of each family and buckets routes', (t) => {
  const o = convertResult({ ...full, ips: [...full.ips!, { address: '10.9.9.9/8' }] }, '0.2.0') as any;
  t.deepEqual(o, {
    cniVersion: '0.2.0',
    ip4: { ip: '10.1.0.5/24', gateway: '10.1.0.1', routes: [{ dst: '0.0.0.0/0', gw: '10.1.0.1' }] },
    ip6: { ip: '2001:db8::5/64', gateway: '2001:db8::1', routes: [{ dst: '::/0' }] },
    dns: { nameservers: ['10.96.0.10'], search: ['svc.cluster.local'] },
  });
});

test('0.2.0 output of a result without addresses is a version error', (t) => {
  const e = t.throws(() => convertResult({ cniVersion: '1.1.0', interfaces: [{ name: 'lo' }] }, '0.2.0'), {
    instanceOf: CniError,
  });
  t.is(e?.code, 1);
  t.regex(e!.message, /no valid IP addresses/);
});

for (const v of ALL_VERSIONS) {
  test(`a result printed as ${v} parses back to the same addresses`, (t) => {
    const back = parseResult(JSON.parse(formatResult(full, v)), '1.1.0');
    t.is(back.cniVersion, v);
    t.deepEqual(
      back.ips?.map((i) => i.address),
      ['10.1.0.5/24', '2001:db8::5/64'],
    );
    t.deepEqual(
      back.routes?.map((r) => r.dst),
      ['0.0.0.0/0', '::/0'],
    );
    t.deepEqual(back.dns?.nameservers, ['10.96.0.10']);
  });
}

test('parseResult takes the fallback version when the result has none, and folds key case', (t) => {
  const r = parseResult({ IPs: [{ Address: '10.0.0.2/24', Interface: 0 }], Interfaces: [{ Name: 'eth0' }] }, '0.4.0');
  t.is(r.cniVersion, '0.4.0');
  t.deepEqual(r.ips, [{ address: '10.0.0.2/24', interface: 0 }]);
  t.deepEqual(r.interfaces, [{ name: 'eth0' }]);
});

test('parseResult rejects malformed addresses with a decode error naming the field', (t) => {
  const e = t.throws(() => parseResult({ cniVersion: '1.0.0', ips: [{ address: '10.0.0.2' }] }, '1.0.0'), {
    instanceOf: CniError,
  });
  t.is(e?.code, 6);
  t.regex(e!.message, /ips\[0\]\.address/);
});

test('null fields are accepted as Go accepts them', (t) => {
  const r = parseResult(
    { cniVersion: '1.0.0', interfaces: null, ips: [{ address: '10.0.0.2/24', gateway: null }], dns: null },
    '1.0.0',
  );
  t.deepEqual(r, { cniVersion: '1.0.0', ips: [{ address: '10.0.0.2/24' }] });
});

test('table and scope 0 are printed (pointers in Go)', (t) => {
  const o = convertResult(
    { cniVersion: '1.1.0', routes: [{ dst: '10.0.0.0/8', table: 0, scope: 0, mtu: 0 }] },
    '1.1.0',
  ) as any;
  t.deepEqual(o.routes[0], { dst: '10.0.0.0/8', scope: 0, table: 0 });
});
