// parseResult reads what other plugins and libcni really send (hand-made variants of what Go
// emits; the captured fixtures are in go-results.test.ts), and still refuses what is no result.
import test from 'ava';
import { CniError, convertResult, parseResult } from '../src/index.js';

const decodeError = (t: any, raw: unknown, field: RegExp, fallback = '0.4.0') => {
  const e = t.throws(() => parseResult(raw, fallback, 'prevResult'), { instanceOf: CniError }) as CniError;
  t.is(e.code, 6, e.message);
  t.regex(e.message, /^invalid prevResult: /);
  t.regex(e.message, field);
  return e;
};

test('an empty or missing ips[].version is inferred from the address (what libcni re-marshals from Go loopback)', (t) => {
  const r = parseResult(
    {
      cniVersion: '0.4.0',
      interfaces: [{ name: 'lo', mac: '00:00:00:00:00:00', sandbox: '/run/netns/p' }],
      ips: [
        { version: '', interface: 0, address: '127.0.0.1/8' },
        { interface: 0, address: '::1/128' },
      ],
      dns: {},
    },
    '0.4.0',
    'prevResult',
  );
  t.deepEqual(r.ips, [
    { interface: 0, address: '127.0.0.1/8' },
    { interface: 0, address: '::1/128' },
  ]);
  const out = convertResult(r, '0.4.0') as { ips: Array<{ version: string }> };
  t.deepEqual(
    out.ips.map((i) => i.version),
    ['4', '6'],
    'we emit the version the spec wants',
  );
});

test('a version that contradicts the address does not win: the address decides the family', (t) => {
  const r = parseResult({ ips: [{ version: '4', address: '2001:db8::5/64' }] }, '0.3.1');
  const out = convertResult(r, '0.3.1') as { ips: Array<{ version: string }> };
  t.is(out.ips[0]?.version, '6');
});

test('a missing interface index, dns: {} and an empty cniVersion are accepted', (t) => {
  const r = parseResult(
    { cniVersion: '', ips: [{ address: '10.1.0.5/24', gateway: '10.1.0.1' }], dns: {} },
    '1.0.0',
    'prevResult',
  );
  t.deepEqual(r, { cniVersion: '1.0.0', ips: [{ address: '10.1.0.5/24', gateway: '10.1.0.1' }] });
});

test('Go zero values ("" gateway, gw, mac, sandbox) mean absent, as Go reads them', (t) => {
  const r = parseResult(
    {
      cniVersion: '0.3.0',
      interfaces: [{ name: 'eth0', mac: '', sandbox: '' }],
      ips: [{ version: '4', address: '10.1.0.5/24', gateway: '' }],
      routes: [{ dst: '0.0.0.0/0', gw: '' }],
      dns: { nameservers: null, domain: '', search: [], options: null },
    },
    '0.3.0',
  );
  t.deepEqual(r, {
    cniVersion: '0.3.0',
    interfaces: [{ name: 'eth0' }],
    ips: [{ address: '10.1.0.5/24' }],
    routes: [{ dst: '0.0.0.0/0' }],
  });
});

test('an interface named "" keeps its name through parse and print in every version that has interfaces, as Go prints it', (t) => {
  const raw = { cniVersion: '1.0.0', interfaces: [{ name: 'cni0' }, { name: '', sandbox: '/run/netns/p' }] };
  const r = parseResult(raw, '1.0.0', 'prevResult');
  t.deepEqual(r.interfaces, [{ name: 'cni0' }, { name: '', sandbox: '/run/netns/p' }]);
  for (const v of ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0']) {
    const out = convertResult(r, v) as { interfaces: unknown[] };
    t.deepEqual(out.interfaces, [{ name: 'cni0' }, { name: '', sandbox: '/run/netns/p' }], v);
  }
});

test('unknown keys are ignored at every level', (t) => {
  const r = parseResult(
    {
      cniVersion: '1.1.0',
      vendor: { anything: [1, 2] },
      interfaces: [{ name: 'eth0', 'example.com/flag': true }],
      ips: [{ address: '10.1.0.5/24', extra: 'x' }],
      routes: [{ dst: '10.0.0.0/8', weight: 3 }],
      dns: { nameservers: ['10.96.0.10'], ttl: 5 },
    },
    '1.1.0',
  );
  t.deepEqual(r, {
    cniVersion: '1.1.0',
    interfaces: [{ name: 'eth0' }],
    ips: [{ address: '10.1.0.5/24' }],
    routes: [{ dst: '10.0.0.0/8' }],
    dns: { nameservers: ['10.96.0.10'] },
  });
});

test('Go-capitalised keys are folded at every level', (t) => {
  const r = parseResult(
    {
      CNIVersion: '0.4.0',
      Interfaces: [{ Name: 'eth0', Mac: '0a:58:0a:01:00:05', Sandbox: '/run/netns/p' }],
      IPs: [{ Version: '4', Interface: 0, Address: '10.1.0.5/24', Gateway: '10.1.0.1' }],
      Routes: [{ Dst: '0.0.0.0/0', GW: '10.1.0.1' }],
      DNS: { Nameservers: ['10.96.0.10'], Domain: 'cluster.local' },
    },
    '1.0.0',
  );
  t.deepEqual(r, {
    cniVersion: '0.4.0',
    interfaces: [{ name: 'eth0', mac: '0a:58:0a:01:00:05', sandbox: '/run/netns/p' }],
    ips: [{ interface: 0, address: '10.1.0.5/24', gateway: '10.1.0.1' }],
    routes: [{ dst: '0.0.0.0/0', gw: '10.1.0.1' }],
    dns: { nameservers: ['10.96.0.10'], domain: 'cluster.local' },
  });
});

test('a prevResult of another family than the config is converted (Go refuses it)', (t) => {
  const r = parseResult({ cniVersion: '0.4.0', ips: [{ version: '4', address: '10.1.0.5/24' }] }, '1.1.0');
  t.is(r.cniVersion, '0.4.0');
  t.deepEqual(convertResult(r, '1.1.0'), { cniVersion: '1.1.0', ips: [{ address: '10.1.0.5/24' }] });
});

test('null lists and null objects are absent', (t) => {
  t.deepEqual(parseResult({ interfaces: null, ips: null, routes: null, dns: null }, '1.0.0'), { cniVersion: '1.0.0' });
});

test('JSON that is not a result object is a code-6 error saying what it got', (t) => {
  decodeError(t, 'garbage', /expected a JSON object, got "garbage"/);
  decodeError(t, [1, 2], /expected a JSON object, got an array/);
  decodeError(t, 42, /got 42/);
});

test('a result with fields of the wrong kind is a code-6 error naming the field', (t) => {
  decodeError(t, { ips: '10.1.0.5/24' }, /^invalid prevResult: ips: expected an array/);
  decodeError(t, { ips: [{ address: '10.1.0.5' }] }, /ips\[0\]\.address: must be a CIDR/);
  decodeError(t, { ips: [{ address: '10.1.0.5/24', interface: '0' }] }, /ips\[0\]\.interface: expected a number/);
  decodeError(t, { ips: [{ address: '10.1.0.5/24', interface: -1 }] }, /ips\[0\]\.interface/);
  decodeError(t, { ips: [{ address: '10.1.0.5/24', gateway: 'router' }] }, /ips\[0\]\.gateway/);
  decodeError(t, { ips: [{ address: '10.1.0.5/24', version: 4 }] }, /ips\[0\]\.version: expected a string/);
  decodeError(
    t,
    { interfaces: [{ mac: 'aa:bb:cc:dd:ee:ff' }] },
    /interfaces\[0\]\.name: expected a string, got nothing/,
  );
  decodeError(t, { routes: [{ gw: '10.0.0.1' }] }, /routes\[0\]\.dst/);
  decodeError(t, { dns: { nameservers: '10.96.0.10' } }, /dns\.nameservers: expected an array/);
});

test('a cniVersion that is not a version is a code-6 error naming cniVersion', (t) => {
  decodeError(t, { cniVersion: 1, ips: [] }, /cniVersion: must be a version such as "1\.0\.0", got 1/);
  decodeError(t, { cniVersion: 'v1.0', ips: [] }, /cniVersion: .*got "v1\.0"/);
});

test('several problems are all named in one message', (t) => {
  const e = decodeError(t, { ips: [{ address: 'x' }], routes: [{ dst: 'y' }] }, /ips\[0\]\.address/);
  t.regex(e.message, /routes\[0\]\.dst/);
});
