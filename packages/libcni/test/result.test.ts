import test from 'ava';
import {
  convertResult,
  currentResult,
  decodeResult,
  decodeResultBytes,
  encodeResult,
  printResult,
  type Result040,
  type Result100,
} from '../src/index.js';

// What Debian's Go loopback (v1.1.1) prints at 0.4.0: no `version` in its ips.
const goLoopback040 = {
  cniVersion: '0.4.0',
  interfaces: [{ name: 'lo', mac: '00:00:00:00:00:00', sandbox: '/run/netns/x' }],
  ips: [
    { interface: 0, address: '127.0.0.1/8' },
    { interface: 0, address: '::1/128' },
  ],
  dns: {},
};

test('a 0.4.0 result without ips[].version is kept as Go keeps it: version "" and dns {} printed', (t) => {
  const r = decodeResult('0.4.0', goLoopback040);
  t.deepEqual(encodeResult(r), {
    cniVersion: '0.4.0',
    interfaces: [{ name: 'lo', mac: '00:00:00:00:00:00', sandbox: '/run/netns/x' }],
    ips: [
      { version: '', interface: 0, address: '127.0.0.1/8' },
      { version: '', interface: 0, address: '::1/128' },
    ],
    dns: {},
  });
  const ips = encodeResult(r).ips as object[];
  t.deepEqual(Object.keys(ips[0] ?? {}), ['version', 'interface', 'address'], "Go's field order");
});

test('decoding drops unknown keys, matches keys in any case and prints addresses as Go does', (t) => {
  const r = decodeResult('1.0.0', {
    CNIVersion: '1.0.0',
    Interfaces: [{ Name: 'eth0', MAC: '0a:58:0a:f4:01:02', extra: 1 }],
    ips: [{ Address: '10.244.1.2/24', Gateway: '10.244.1.1', version: '4' }],
    routes: [{ dst: '0.0.0.0/0' }, { dst: 'FD00:0:0::/64', gw: 'fd00::0:1' }],
    surprise: true,
  });
  t.deepEqual(encodeResult(r), {
    cniVersion: '1.0.0',
    interfaces: [{ mac: '0a:58:0a:f4:01:02', name: 'eth0' }],
    ips: [{ address: '10.244.1.2/24', gateway: '10.244.1.1' }],
    routes: [{ dst: '0.0.0.0/0' }, { dst: 'fd00::/64', gw: 'fd00::1' }],
  });
});

test('a 1.x result prints with sorted keys and no empty dns; 0.x always prints dns', (t) => {
  const r = decodeResult('1.1.0', {
    cniVersion: '1.1.0',
    ips: [{ interface: 0, gateway: '10.0.0.1', address: '10.0.0.2/24' }],
    interfaces: [{ sandbox: '/run/netns/p', name: 'eth0', mtu: 1500 }],
    dns: {},
  });
  t.is(
    printResult(r),
    '{\n    "cniVersion": "1.1.0",\n    "interfaces": [\n        {\n            "mtu": 1500,\n            "name": "eth0",\n            "sandbox": "/run/netns/p"\n        }\n    ],\n    "ips": [\n        {\n            "address": "10.0.0.2/24",\n            "gateway": "10.0.0.1",\n            "interface": 0\n        }\n    ]\n}',
  );
  t.deepEqual(encodeResult(convertResult(r, '0.3.1')).dns, {});
});

test('the decoded cniVersion must belong to the creator family, and bad values name the field', (t) => {
  t.throws(() => decodeResult('1.0.0', { cniVersion: '0.4.0' }), {
    message: 'result type supports [1.0.0 1.1.0] but unmarshalled CNIVersion is "0.4.0"',
  });
  t.throws(() => decodeResult('2.0.0', { cniVersion: '2.0.0' }), { message: 'unsupported CNI result version "2.0.0"' });
  t.throws(() => decodeResult('1.0.0', { cniVersion: '1.0.0', ips: [{ address: '10.0.0.300/24' }] }), {
    message: 'invalid CIDR address: 10.0.0.300/24',
  });
  t.throws(() => decodeResult('1.0.0', { cniVersion: '1.0.0', interfaces: [{ name: 5 }] }), {
    message: /cannot unmarshal number 5 into Go struct field .*name of type string/,
  });
  t.throws(() => decodeResult('1.0.0', { cniVersion: '1.0.0', ips: [{ address: '10.0.0.1/24', gateway: 'x' }] }), {
    message: 'invalid IP address: x',
  });
});

test('decodeResultBytes takes the version from the result itself, "" meaning 0.1.0', (t) => {
  t.is(decodeResultBytes('{"cniVersion":"0.3.1","ips":[{"version":"4","address":"10.1.0.2/16"}]}').cniVersion, '0.3.1');
  t.throws(() => decodeResultBytes('{"ips":[]}'), {
    message: /supports \[0\.1\.0 0\.2\.0\] but unmarshalled CNIVersion is ""/,
  });
});

test('converting 1.x down computes ips[].version from the address and drops 1.1-only interface fields', (t) => {
  const r = decodeResult('1.1.0', {
    cniVersion: '1.1.0',
    interfaces: [{ name: 'eth0', mtu: 9000, socketPath: '/s', sandbox: '/ns' }],
    ips: [
      { interface: 0, address: 'fd00::5/64' },
      { interface: 0, address: '10.0.0.5/24', gateway: '10.0.0.1' },
    ],
  });
  const down = convertResult(r, '0.4.0') as Result040;
  t.deepEqual(encodeResult(down), {
    cniVersion: '0.4.0',
    interfaces: [{ name: 'eth0', sandbox: '/ns' }],
    ips: [
      { version: '6', interface: 0, address: 'fd00::5/64' },
      { version: '4', interface: 0, address: '10.0.0.5/24', gateway: '10.0.0.1' },
    ],
    dns: {},
  });
  const up = convertResult(down, '1.0.0') as Result100;
  t.deepEqual(up.ips, [
    { interface: 0, address: 'fd00::5/64' },
    { interface: 0, address: '10.0.0.5/24', gateway: '10.0.0.1' },
  ]);
  t.is(convertResult(r, '1.1.0'), r, 'the same version is returned as is');
  t.is(convertResult(r, '1.0.0').cniVersion, '1.0.0');
});

test('0.2.0 keeps the first address of each family (by the 0.x version field) and routes by family', (t) => {
  const r040 = decodeResult('0.4.0', {
    cniVersion: '0.4.0',
    ips: [
      { version: '4', address: '10.0.0.5/24', gateway: '10.0.0.1' },
      { version: '4', address: '10.0.0.6/24' },
      { version: '6', address: 'fd00::5/64' },
    ],
    routes: [{ dst: '0.0.0.0/0' }, { dst: '::/0', gw: 'fd00::1' }],
  });
  t.deepEqual(encodeResult(convertResult(r040, '0.2.0')), {
    cniVersion: '0.2.0',
    ip4: { ip: '10.0.0.5/24', gateway: '10.0.0.1', routes: [{ dst: '0.0.0.0/0' }] },
    ip6: { ip: 'fd00::5/64', routes: [{ dst: '::/0', gw: 'fd00::1' }] },
    dns: {},
  });
  // Go's loopback result has no version: 0.2.0 cannot carry it
  t.throws(() => convertResult(decodeResult('0.4.0', goLoopback040), '0.2.0'), {
    message: 'cannot convert: no valid IP addresses',
  });
  const up = convertResult(decodeResult('0.2.0', { cniVersion: '0.2.0', ip4: { ip: '10.1.2.3/16' } }), '1.0.0');
  t.deepEqual(encodeResult(up), { cniVersion: '1.0.0', ips: [{ address: '10.1.2.3/16' }] });
});

test('currentResult gives the 1.1.0 shape of any result', (t) => {
  const cur = currentResult(
    decodeResult('0.3.1', { cniVersion: '0.3.1', ips: [{ version: '4', address: '10.0.0.9/8' }] }),
  );
  t.deepEqual(cur, { cniVersion: '1.1.0', dns: {}, ips: [{ address: '10.0.0.9/8' }] });
});
