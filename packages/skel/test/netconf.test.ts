// pick: how the plugins read a raw key without a schema (skel's own keys, DEL's lenient reads of
// prevResult and config). It must read what Go's decoder and foldKeys (the schema path ADD reads
// through) read: any case, the last spelling in the JSON wins, own keys only. Otherwise ADD and
// DEL read the same input differently (portmap ADD wrote IPv6 rules from the last "IPS", and DEL,
// reading the first "ips", looked only at IPv4 and left them).
import test from 'ava';
import { parseResult } from '@cni-ts/types';
import { decodeNetConf, pick, rawPrevResult } from '../src/index.js';
import { BASE_ENV, recordingPlugin, run } from './helpers.js';

test('pick: the last spelling of a key in any case wins, as in Go and foldKeys', (t) => {
  t.deepEqual(pick(JSON.parse('{"ips":[1],"IPS":[2]}'), 'ips'), [2]);
  t.deepEqual(pick(JSON.parse('{"IPS":[2],"ips":[1]}'), 'ips'), [1]);
  t.deepEqual(pick(JSON.parse('{"Ips":[3],"ips":[1],"IPs":[2]}'), 'ips'), [2]);
  t.is(pick(JSON.parse('{"ips":[1],"ips":[4]}'), 'ips')?.toString(), '4');
  t.is(pick({ other: 1 }, 'ips'), undefined);
});

test('pick: only own keys (Object.prototype members are no config keys)', (t) => {
  t.is(pick({}, 'constructor'), undefined);
  t.is(pick({}, 'toString'), undefined);
  t.is(pick(JSON.parse('{"Constructor":1}'), 'constructor'), 1);
});

test('pick reads a raw prevResult as parseResult reads it, for every order of two spellings', (t) => {
  for (const json of [
    '{"cniVersion":"1.0.0","ips":[{"address":"10.0.0.5/24"}],"IPS":[{"address":"fd00::5/64"}]}',
    '{"cniVersion":"1.0.0","IPS":[{"address":"fd00::5/64"}],"ips":[{"address":"10.0.0.5/24"}]}',
    '{"cniVersion":"1.0.0","ips":[{"address":"10.0.0.5/24","Address":"10.0.0.6/24"}]}',
    '{"cniVersion":"1.0.0","ips":[{"Address":"10.0.0.6/24","address":"10.0.0.5/24"}]}',
  ]) {
    const raw = JSON.parse(json);
    const decoded = parseResult(raw, '1.0.0').ips?.map((ip) => ip.address);
    const picked = (pick(raw, 'ips') as Array<Record<string, unknown>>).map((ip) => pick(ip, 'address'));
    t.deepEqual(picked, decoded, json);
  }
});

test("skel's own keys: the last spelling wins (name, cniVersion)", async (t) => {
  const { plugin, calls } = recordingPlugin();
  const r = await run(
    plugin,
    { ...BASE_ENV, CNI_COMMAND: 'ADD' },
    { cniVersion: '0.4.0', name: 'n1', type: 'rec', Name: 'n2', CNIVersion: '1.0.0' },
  );
  t.is(r.code, 0, r.stdout);
  t.is(calls[0]?.conf.name, 'n2');
  t.is(calls[0]?.conf.cniVersion, '1.0.0');
});

// Go plugins read prevResult after a round trip through a map (version.ParsePrevResult): its keys
// sorted at every level, so of two spellings the greatest in byte order wins, wherever it stands.
// Measured with Debian's Go portmap: each of these prevResults gets IPv4 rules only.
const GO_ORDER: Array<[string, string[]]> = [
  ['{"cniVersion":"1.0.0","ips":[{"address":"10.0.0.5/24"}],"IPS":[{"address":"fd00::5/64"}]}', ['10.0.0.5/24']],
  ['{"cniVersion":"1.0.0","IPS":[{"address":"fd00::5/64"}],"ips":[{"address":"10.0.0.5/24"}]}', ['10.0.0.5/24']],
  ['{"cniVersion":"1.0.0","IPs":[{"address":"10.0.0.5/24"}],"IPS":[{"address":"fd00::5/64"}]}', ['10.0.0.5/24']],
  ['{"cniVersion":"1.0.0","ips":[{"address":"10.0.0.5/24","Address":"fd00::5/64"}]}', ['10.0.0.5/24']],
];

test('prevResult is read as a Go plugin reads it: of two spellings of a key the greatest in byte order wins, on every path', async (t) => {
  for (const [json, want] of GO_ORDER) {
    const stdin = `{"cniVersion":"1.0.0","name":"n1","type":"rec","prevResult":${json}}`;
    const conf = decodeNetConf(stdin);
    // DEL's lenient read
    const raw = rawPrevResult(conf) as Record<string, unknown>;
    const picked = (pick(raw, 'ips') as Array<Record<string, unknown>>).map((ip) => pick(ip, 'address'));
    t.deepEqual(picked, want, `pick: ${json}`);
    // the decoded prevResult a plugin's ADD reads
    const { plugin, calls } = recordingPlugin();
    const r = await run(plugin, { ...BASE_ENV, CNI_COMMAND: 'ADD' }, JSON.parse(stdin));
    t.is(r.code, 0, r.stdout);
    t.deepEqual(
      calls[0]?.prevResult?.ips?.map((ip) => ip.address),
      want,
      `decoded: ${json}`,
    );
  }
});

test('a prevResult nested deeper than any reader reads (in a key no one reads) is no crash', async (t) => {
  const depth = 200_000;
  const deep = `${'['.repeat(depth)}${']'.repeat(depth)}`;
  const stdin = `{"cniVersion":"1.0.0","name":"n1","type":"rec","prevResult":{"cniVersion":"1.0.0","ips":[{"address":"10.0.0.5/24","x":${deep}}],"y":${deep}}}`;
  t.notThrows(() => decodeNetConf(stdin));
  const { plugin, calls } = recordingPlugin();
  const r = await run(plugin, { ...BASE_ENV, CNI_COMMAND: 'ADD' }, stdin);
  t.is(r.code, 0, r.stdout);
  t.deepEqual(calls[0]?.prevResult?.ips, [{ address: '10.0.0.5/24' }]);
});

test('a config cniVersion nested too deep to print is a code-7 error, not a crash', (t) => {
  const d = 100_000;
  const e = t.throws(() => decodeNetConf(`{"name":"n1","cniVersion":${'['.repeat(d)}${']'.repeat(d)}}`));
  t.is((e as { code?: number }).code, 7);
  t.regex(e?.message ?? '', /"cniVersion" must be a string such as "1\.0\.0", got a value nested too deep to print/);
});
