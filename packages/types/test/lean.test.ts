// The lean result reader (src/lean.ts) against the schema path it stands in for: on every input
// either it gives up, or the schema path accepts the same input and returns the same value, key
// order included. And it must not give up on what real plugins print, or it saves nothing.
import test from 'ava';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CniError, type Result, parseResult, schemaResult } from '../src/index.js';
import { leanResult } from '../src/lean.js';

// dist/test/<file>.js → test/fixtures (the fixtures are not compiled)
const DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'test', 'fixtures', 'go-results');

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.json') ? [join(dir, e.name)] : [],
  );
}

// every result and prevResult the Go plugins and libcni printed at 0.3.0 and newer
const captured: Array<[string, Record<string, unknown>]> = walk(DIR).flatMap((file) => {
  const json = JSON.parse(readFileSync(file, 'utf8'));
  const name = file.slice(DIR.length + 1);
  return (['prevResult', 'result'] as const)
    .filter((k) => json[k] && !/^0\.[12]\./.test(json.configVersion))
    .map((k): [string, Record<string, unknown>] => [`${name} ${k}`, json[k]]);
});

const full = {
  cniVersion: '1.1.0',
  interfaces: [
    { name: 'cni0', mac: '0a:58:0a:01:00:01' },
    { name: 'veth1234abcd', mac: '0a:58:0a:01:00:02', mtu: 1500 },
    { name: 'eth0', mac: '0a:58:0a:01:00:03', sandbox: '/var/run/netns/p1', mtu: 1400, socketPath: '', pciID: '' },
  ],
  ips: [
    { interface: 2, address: '10.1.0.5/24', gateway: '10.1.0.1' },
    { version: '6', interface: 2, address: '2001:db8::5/64', gateway: '2001:db8::1' },
    { version: '', address: '127.0.0.1/8', gateway: '' },
  ],
  routes: [
    { dst: '0.0.0.0/0', gw: '10.1.0.1', mtu: 0, table: 0, scope: 0 },
    { dst: '::/0', priority: 10, advmss: 1400 },
  ],
  dns: { nameservers: ['10.96.0.10'], domain: 'cluster.local', search: ['svc.cluster.local'], options: [] },
};

// hand-made shapes a runtime or another plugin may send
const shapes: Record<string, unknown> = {
  full,
  'host-local answer': { cniVersion: '1.0.0', ips: [{ address: '10.244.0.5/16', gateway: '10.244.0.1' }] },
  'Go loopback via libcni': {
    cniVersion: '0.4.0',
    interfaces: [{ name: 'lo', mac: '00:00:00:00:00:00', sandbox: '/run/netns/p' }],
    ips: [{ version: '', interface: 0, address: '127.0.0.1/8' }],
    dns: {},
  },
  'nulls everywhere': {
    cniVersion: null,
    interfaces: [{ name: 'eth0', mac: null, mtu: null }],
    ips: null,
    routes: [{ dst: '10.0.0.0/8', gw: null }],
    dns: { nameservers: null, domain: null },
  },
  'empty name kept, empty lists dropped': { interfaces: [{ name: '' }], ips: [], routes: [], dns: {} },
  'dns with only an empty list': { dns: { nameservers: [] } },
  'dns with an empty list and a domain': { dns: { nameservers: [], domain: 'x' } },
  'unknown keys': { cniVersion: '1.0.0', extra: 1, constructor: 2, ips: [{ address: '10.0.0.1/8', hello: 'x' }] },
  'nothing at all': {},
};

// inputs the lean reader must leave to the schema path (the schema may still accept some)
const edges: Record<string, unknown> = {
  'Go-capitalised keys': { IPs: [{ Address: '10.0.0.1/8' }] },
  'a case-folded nested key': { interfaces: [{ name: 'a', SocketPath: '/s' }] },
  'two spellings of one key': { ips: [{ address: '10.0.0.1/8' }], IPS: [{ address: '10.0.0.2/8' }] },
  'address without prefix': { ips: [{ address: '10.0.0.1' }] },
  'bad gateway': { ips: [{ address: '10.0.0.1/8', gateway: 'nope' }] },
  'negative interface': { ips: [{ address: '10.0.0.1/8', interface: -1 }] },
  'fractional mtu': { interfaces: [{ name: 'a', mtu: 1.5 }] },
  'huge mtu': { interfaces: [{ name: 'a', mtu: 2 ** 60 }] },
  'string mtu': { interfaces: [{ name: 'a', mtu: '1500' }] },
  'missing name': { interfaces: [{ mac: 'x' }] },
  'ips not a list': { ips: { address: '10.0.0.1/8' } },
  'interface not an object': { interfaces: ['eth0'] },
  'dns a list': { dns: ['10.0.0.1'] },
  'nameserver not a string': { dns: { nameservers: [1] } },
  'domain not a string': { dns: { domain: 1 } },
  'route without dst': { routes: [{ gw: '10.0.0.1' }] },
  'route gw empty': { routes: [{ dst: '10.0.0.0/8', gw: '' }] },
  'version not a string': { ips: [{ version: 4, address: '10.0.0.1/8' }] },
  'ipv6 mapped': { ips: [{ address: '::ffff:10.0.0.1/104' }] },
};

// the schema path's answer: the value, or the CniError it throws
function schema(raw: Record<string, unknown>, version: string): Result | CniError {
  try {
    return schemaResult(raw, version, 'prevResult');
  } catch (e) {
    if (e instanceof CniError) return e;
    throw e;
  }
}

const agrees = (t: any, name: string, raw: Record<string, unknown>, version = '1.0.0') => {
  const lean = leanResult(raw, version);
  const slow = schema(raw, version);
  if (lean === undefined) return false;
  t.false(slow instanceof CniError, `${name}: the lean reader accepted what the schema refuses`);
  t.is(JSON.stringify(lean), JSON.stringify(slow), `${name}: values or key order differ`);
  t.deepEqual(lean, slow, name);
  return true;
};

test('the fixtures cover 0.3.0 and newer', (t) => {
  t.true(captured.length >= 50, `${captured.length} captured results`);
});

test('every captured Go result is read by the lean reader, exactly as the schema reads it', (t) => {
  for (const [name, raw] of captured) {
    const version = String(raw.cniVersion || '1.0.0');
    t.true(agrees(t, name, raw, version), `${name}: the lean reader gave up`);
  }
});

test('the common hand-made shapes are read by the lean reader, exactly as the schema reads them', (t) => {
  for (const [name, raw] of Object.entries(shapes))
    t.true(agrees(t, name, raw as Record<string, unknown>), `${name}: the lean reader gave up`);
});

test('edge cases: the lean reader gives up, or agrees with the schema', (t) => {
  let gaveUp = 0;
  for (const [name, raw] of Object.entries(edges)) if (!agrees(t, name, raw as Record<string, unknown>)) gaveUp++;
  t.true(gaveUp >= Object.keys(edges).length - 3, `gave up on ${gaveUp} of ${Object.keys(edges).length}`);
});

test('mutations of every field: the lean reader never accepts what the schema refuses, nor reads it differently', (t) => {
  const values: unknown[] = [null, '', 'x', '10.0.0.1', '10.0.0.0/8', '::/0', 0, -1, 1.5, 7, true, [], {}, ['a'], [1]];
  let checked = 0;
  const mutate = (root: unknown, path: PropertyKey[], at: unknown) => {
    if (at === null || typeof at !== 'object') return;
    for (const k of Object.keys(at)) {
      for (const v of values) {
        const copy = structuredClone(root) as Record<string, unknown>;
        let o: any = copy;
        for (const p of path) o = o[p as string];
        o[k] = v;
        agrees(t, `${JSON.stringify([...path, k])} = ${JSON.stringify(v)}`, copy);
        checked++;
      }
      mutate(root, [...path, k], (at as Record<string, unknown>)[k]);
    }
  };
  mutate(full, [], full);
  t.true(checked > 500, `${checked} mutations`);
});

test('parseResult answers through the lean reader and keeps the schema path for the rest', (t) => {
  const raw = shapes['host-local answer'] as Record<string, unknown>;
  t.deepEqual(parseResult(raw, '1.0.0'), schemaResult(raw, '1.0.0'));
  const e = t.throws(() => parseResult({ ips: [{ address: '10.0.0.1' }] }, '1.0.0', 'prevResult'), {
    instanceOf: CniError,
  });
  t.is(e?.code, 6);
  t.regex(e?.message ?? '', /^invalid prevResult: ips\[0\]\.address: must be a CIDR/);
  // Go-capitalised keys are still folded (by the schema path)
  t.deepEqual(parseResult({ IPs: [{ Address: '10.0.0.1/8' }] }, '1.0.0').ips, [{ address: '10.0.0.1/8' }]);
});

test('a key named like an Object.prototype member is an unknown key, not a crash', (t) => {
  const raw = { cniVersion: '1.0.0', constructor: 1, ips: [{ address: '10.0.0.1/8', toString: 1 }] };
  t.deepEqual(schemaResult(raw, '1.0.0'), { cniVersion: '1.0.0', ips: [{ address: '10.0.0.1/8' }] });
  t.deepEqual(parseResult(raw, '1.0.0'), { cniVersion: '1.0.0', ips: [{ address: '10.0.0.1/8' }] });
});

// JSON.parse makes "__proto__" an own key; Go's decoder sees an unknown key. Folding keys must not
// turn it into the object's prototype, or the schema would read fields through it (an ip with no
// address of its own accepted, a mac read from it) that the lean reader never sees.
test('a JSON "__proto__" key is an unknown key on both paths, never a source of fields', (t) => {
  const read = (json: string) => {
    try {
      return parseResult(JSON.parse(json), '1.0.0', 'prevResult');
    } catch (e) {
      return e as CniError;
    }
  };
  const noAddress = read('{"cniVersion":"1.0.0","ips":[{"__proto__":{"address":"10.0.0.1/24"}}]}');
  t.true(noAddress instanceof CniError, JSON.stringify(noAddress));
  t.regex((noAddress as CniError).message, /ips\[0\]\.address/);
  // the lean reader gives up on "Name" (the schema folds it); the mac under __proto__ is no mac
  t.deepEqual(read('{"cniVersion":"1.0.0","interfaces":[{"Name":"eth0","__proto__":{"mac":"0a:58:00:00:00:01"}}]}'), {
    cniVersion: '1.0.0',
    interfaces: [{ name: 'eth0' }],
  });
  t.deepEqual(
    read('{"cniVersion":"1.0.0","IPs":[{"address":"10.0.0.1/24"}],"dns":{"__proto__":{"nameservers":["10.0.0.53"]}}}'),
    {
      cniVersion: '1.0.0',
      ips: [{ address: '10.0.0.1/24' }],
    },
  );
  const legacy = read('{"cniVersion":"0.2.0","ip4":{"__proto__":{"ip":"10.0.0.1/24"}}}');
  t.true(legacy instanceof CniError, JSON.stringify(legacy));
  // and the lean reader agrees with the schema where it reads such an input itself
  const raw = JSON.parse(
    '{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","__proto__":{"mac":"0a:58:00:00:00:01"}}]}',
  );
  t.true(agrees(t, '__proto__ in an interface', raw));
});
