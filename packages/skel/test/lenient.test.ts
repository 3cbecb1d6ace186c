// The lenient view of a prevResult (DEL's read): on every result the strict reader accepts it
// reads what that reader reads (the Go plugins' captured results, Go-capitalised and
// duplicate-spelled keys, 0.2.0's ip4/ip6, Go's "" zero values); on what the strict reader
// refuses it keeps what is still a result and never throws.
import test from 'ava';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Result, parseResult } from '@cni-ts/types';
import { type LenientResult, decodeNetConf, lenientPrevResult, lenientResult } from '../src/index.js';

// What the strict reader's answer says of the fields the view reads.
function strictView(r: Result): LenientResult {
  return {
    interfaces: (r.interfaces ?? []).map(({ name, mac, sandbox }) => ({
      name,
      ...(mac === undefined ? {} : { mac }),
      ...(sandbox === undefined ? {} : { sandbox }),
    })),
    ips: (r.ips ?? []).map((ip) => ({
      address: ip.address,
      ...(ip.interface === undefined ? {} : { interface: ip.interface }),
      ...(ip.gateway === undefined ? {} : { gateway: ip.gateway }),
    })),
  };
}

// dist/test/<file>.js → packages/types/test/fixtures/go-results (fixtures are not compiled)
const GO = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'types', 'test', 'fixtures', 'go-results');
const goFixtures = readdirSync(GO)
  .filter((v) => /^\d/.test(v))
  .flatMap((v) =>
    readdirSync(join(GO, v)).flatMap((c) =>
      readdirSync(join(GO, v, c))
        .filter((f) => f.endsWith('.json'))
        .map((f) => ({ file: `${v}/${c}/${f}`, ...JSON.parse(readFileSync(join(GO, v, c, f), 'utf8')) })),
    ),
  );

test('every result and prevResult the Go plugins printed reads as the strict reader reads it', (t) => {
  let compared = 0;
  let withIndex = 0;
  for (const f of goFixtures) {
    for (const raw of [f.prevResult, f.result]) {
      if (raw === undefined) continue;
      const want = strictView(parseResult(raw, f.configVersion));
      t.deepEqual(lenientResult(raw), want, f.file);
      compared++;
      if (want.ips.some((ip) => ip.interface !== undefined && want.interfaces[ip.interface]?.sandbox)) withIndex++;
    }
  }
  // the fixtures hold many results, and pod addresses pointing at a sandboxed interface among them
  t.true(compared >= 40, `${compared} compared`);
  t.true(withIndex >= 10, `${withIndex} with an interface index`);
});

const SHAPES: Array<[string, string]> = [
  [
    'Go-capitalised keys',
    '{"CNIVersion":"1.0.0","Interfaces":[{"Name":"cni0","Mac":"aa:bb:cc:dd:ee:ff"},{"NAME":"eth0","SandBox":"/run/netns/p"}],' +
      '"IPs":[{"Address":"10.1.0.9/24","Interface":1,"Gateway":"10.1.0.1"}]}',
  ],
  [
    'two spellings of a key: the last wins',
    '{"cniVersion":"1.0.0","ips":[{"address":"10.0.0.5/24"}],"IPS":[{"address":"fd00::5/64","ADDRESS":"fd00::6/64"}],' +
      '"interfaces":[{"name":"a","Name":"b","sandbox":"/x","SANDBOX":"/y"}]}',
  ],
  [
    "Go's zero values are absent, a name stays",
    '{"cniVersion":"0.4.0","interfaces":[{"name":"","mac":"","sandbox":""}],' +
      '"ips":[{"version":"","address":"10.0.0.5/24","gateway":""}],"dns":{}}',
  ],
  [
    '__proto__ keys are entries, not prototypes',
    '{"cniVersion":"1.0.0","__proto__":{"ips":[{"address":"10.9.9.9/24"}]},' +
      '"interfaces":[{"name":"eth0","__proto__":{"sandbox":"/run/netns/evil"}}],' +
      '"ips":[{"address":"10.0.0.5/24","__proto__":{"interface":0,"gateway":"10.0.0.1"}}]}',
  ],
  [
    '0.2.0: ip4 and ip6, gateways kept, in that order',
    '{"cniVersion":"0.2.0","ip6":{"ip":"fd00::8/64","gateway":"fd00::1"},"ip4":{"ip":"10.1.0.8/24","gateway":"10.1.0.1","routes":[{"dst":"0.0.0.0/0"}]}}',
  ],
  [
    '0.1.0 capitalised, an ip6 only',
    '{"cniVersion":"0.1.0","IP6":{"IP":"fd00::8/64","Gateway":""},"DNS":{"Nameservers":["fd00::53"]}}',
  ],
  ['nothing but a version', '{"cniVersion":"1.1.0"}'],
  ['null lists', '{"cniVersion":"1.0.0","interfaces":null,"ips":null}'],
];

for (const [name, json] of SHAPES) {
  test(`as the strict reader: ${name}`, (t) => {
    const raw = JSON.parse(json);
    t.deepEqual(lenientResult(raw), strictView(parseResult(raw, '1.0.0')));
  });
}

test('the last spelling wins (the view reads ips from "IPS", interfaces a and /y)', (t) => {
  // SHAPES compares with the strict reader; this pins what both read, so neither drifts alone
  const v = lenientResult(JSON.parse(SHAPES[1]![1]));
  t.deepEqual(v, { interfaces: [{ name: 'b', sandbox: '/y' }], ips: [{ address: 'fd00::6/64' }] });
});

test('__proto__ entries give nothing and pollute nothing', (t) => {
  const v = lenientResult(JSON.parse(SHAPES[3]![1]));
  t.deepEqual(v, { interfaces: [{ name: 'eth0' }], ips: [{ address: '10.0.0.5/24' }] });
  t.is(Object.getPrototypeOf(v.ips[0]), Object.prototype);
  t.is(({} as { interface?: unknown }).interface, undefined);
});

test('a prevResult is read in Go map order (decodeNetConf): "ips" over "IPS" wherever it stands', (t) => {
  for (const order of [
    '"ips":[{"address":"10.0.0.5/24"}],"IPS":[{"address":"fd00::5/64"}]',
    '"IPS":[{"address":"fd00::5/64"}],"ips":[{"address":"10.0.0.5/24"}]',
  ]) {
    const conf = decodeNetConf(
      `{"cniVersion":"1.0.0","name":"n","type":"t","prevResult":{"cniVersion":"1.0.0",${order}}}`,
    );
    t.deepEqual(lenientPrevResult(conf).ips, [{ address: '10.0.0.5/24' }], order);
    t.deepEqual(lenientPrevResult(conf), strictView(parseResult(conf.raw.prevResult, '1.0.0')), order);
  }
  t.deepEqual(lenientPrevResult(decodeNetConf('{"cniVersion":"1.0.0","name":"n","type":"t"}')), {
    interfaces: [],
    ips: [],
  });
  t.deepEqual(lenientPrevResult(decodeNetConf('{"cniVersion":"1.0.0","name":"n","prevResult":null}')).ips, []);
});

test('what is no result at all reads as an empty one', (t) => {
  for (const raw of [undefined, null, 'bogus', 7, true, [], [{ ips: [] }]]) {
    t.deepEqual(lenientResult(raw), { interfaces: [], ips: [] }, JSON.stringify(raw));
  }
  t.deepEqual(
    lenientResult({ interfaces: { name: 'eth0' }, ips: 'bogus', ip4: ['10.0.0.1/24'], ip6: '' }),
    { interfaces: [], ips: [] },
    'lists that are no lists, legacy entries that are no objects',
  );
});

test('wrong types inside: the field is absent, the entry keeps its index', (t) => {
  const raw = {
    cniVersion: '1.0.0',
    interfaces: [42, null, ['eth0'], { name: 7, mac: 5, sandbox: {} }, { name: 'eth0', sandbox: '/run/netns/p' }],
    ips: [
      { address: 7 },
      'x',
      null,
      { address: 'nope' },
      { address: '10.0.0.1' }, // no prefix
      { address: '10.0.0.1/33' },
      { address: '10.1.0.2/24', interface: '4', gateway: 'bad' },
      { address: '10.1.0.3/24', interface: -1, gateway: 10 },
      { address: '10.1.0.4/24', interface: 1.5, gateway: '10.1.0.1/24' },
      { address: '10.1.0.5/24', interface: 2 ** 53 },
      { address: 'fd00::5/64', interface: 4, gateway: 'fd00::1' },
    ],
    routes: 'not routes',
    dns: 'not a dns',
  };
  t.throws(() => parseResult(raw, '1.0.0'), undefined, 'the strict reader refuses it');
  t.deepEqual(lenientResult(raw), {
    interfaces: [undefined, undefined, undefined, {}, { name: 'eth0', sandbox: '/run/netns/p' }],
    ips: [
      { address: '10.1.0.2/24' },
      { address: '10.1.0.3/24' },
      { address: '10.1.0.4/24' },
      { address: '10.1.0.5/24' },
      { address: 'fd00::5/64', interface: 4, gateway: 'fd00::1' },
    ],
  });
});

test('missing fields: an interface without a name is kept (empty), an ip without an address is not', (t) => {
  t.deepEqual(
    lenientResult({
      interfaces: [{ mac: 'aa:bb:cc:dd:ee:ff' }, {}],
      ips: [{ interface: 0 }, { gateway: '10.0.0.1' }, { address: '10.0.0.5/24', interface: 1 }],
      ip4: { gateway: '10.0.0.1' },
      ip6: {},
    }),
    { interfaces: [{ mac: 'aa:bb:cc:dd:ee:ff' }, {}], ips: [{ address: '10.0.0.5/24', interface: 1 }] },
  );
});

test('both shapes in one result: ips first, then ip4 and ip6 (a legacy entry has no interface index)', (t) => {
  t.deepEqual(
    lenientResult({
      ip6: { ip: 'fd00::8/64', interface: 0 },
      ips: [{ address: '10.0.0.5/24' }],
      ip4: { ip: '10.1.0.8/24', gateway: 'nope' },
    }).ips,
    [{ address: '10.0.0.5/24' }, { address: '10.1.0.8/24' }, { address: 'fd00::8/64' }],
  );
});
