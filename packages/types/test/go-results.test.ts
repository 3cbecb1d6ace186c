// Our result parser against every result and prevResult captured from the Go plugins and
// upstream libcni (test/fixtures/go-results, see its README): each is read, means what Go says
// it means, and is printed back strictly.
import test from 'ava';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Result, convertResult, parseResult } from '../src/index.js';

// dist/test/<file>.js → test/fixtures (the fixtures are not compiled)
const DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'test', 'fixtures', 'go-results');
const VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0'];

interface Fixture {
  file: string;
  type: string;
  command: string;
  configVersion: string;
  prevResult?: any;
  result?: any;
}

function load(version: string, kase: string): Fixture[] {
  return readdirSync(join(DIR, version, kase))
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => {
      const [, type, command] = /^\d+-(.+)-(ADD|CHECK|DEL)\.json$/.exec(file) ?? [];
      const json = JSON.parse(readFileSync(join(DIR, version, kase, file), 'utf8'));
      return { file: `${version}/${kase}/${file}`, type: type ?? '?', command: command ?? '?', ...json };
    });
}

const cases = (v: string) => readdirSync(join(DIR, v)).sort();
const all = VERSIONS.flatMap((v) => cases(v).flatMap((c) => load(v, c)));

test('the fixtures cover every Go plugin at every version, as results and as prevResults', (t) => {
  for (const v of VERSIONS) {
    const here = all.filter((f) => f.configVersion === v);
    for (const type of ['loopback', 'bridge', 'host-local', 'portmap', 'bandwidth']) {
      t.true(
        here.some((f) => f.type === type && f.result),
        `${v}: a result of ${type}`,
      );
      if (type !== 'loopback')
        t.true(
          here.some((f) => f.type === type && f.prevResult),
          `${v}: a prevResult given to ${type}`,
        );
    }
  }
  t.true(all.length >= 120, `${all.length} fixtures`);
});

// The family Go wrote into a 0.x `version`, where it wrote one; Go's loopback leaves it out and
// libcni's re-marshal turns that into "".
function goFamilies(raw: any): Array<string | undefined> {
  return (raw.ips ?? []).map((ip: any) => (ip.version ? ip.version : undefined));
}

function checkOne(t: any, raw: any, version: string, label: string): Result {
  const r = parseResult(raw, version, label);
  t.is(r.ips?.length ?? 0, raw.ips?.length ?? 0, `${label}: every ip kept`);
  t.deepEqual(
    r.ips?.map((ip) => ip.address),
    raw.ips?.map((ip: any) => ip.address),
  );
  t.deepEqual(
    r.interfaces?.map((i) => i.name),
    raw.interfaces?.map((i: any) => i.name),
  );
  for (const ip of r.ips ?? []) {
    if (ip.interface !== undefined)
      t.truthy(r.interfaces?.[ip.interface], `${label}: ${ip.address} names an interface`);
  }
  const strict = convertResult(r, version) as any;
  if (version.startsWith('0.')) {
    const given = goFamilies(raw);
    strict.ips?.forEach((ip: any, i: number) => {
      t.regex(ip.version, /^[46]$/, `${label}: we always print a version`);
      if (given[i]) t.is(ip.version, given[i], `${label}: ${ip.address} is IPv${given[i]} as Go says`);
    });
  }
  t.deepEqual(parseResult(strict, version), r, `${label}: what we print reads back the same`);
  return r;
}

for (const f of all) {
  test(`${f.file}: result and prevResult are read`, (t) => {
    if (f.result) checkOne(t, f.result, f.configVersion, `${f.file} result`);
    if (f.prevResult) checkOne(t, f.prevResult, f.configVersion, `${f.file} prevResult`);
    t.true(!!(f.result || f.prevResult || f.command !== 'ADD'), 'an ADD fixture holds a result');
  });
}

test('the Go loopback\'s 0.x result (no version) and libcni\'s re-marshal of it (version "") are IPv4 then IPv6', (t) => {
  for (const v of ['0.3.0', '0.3.1', '0.4.0']) {
    const [lo, next] = load(v, 'chain');
    t.is(lo?.type, 'loopback');
    t.false('version' in lo!.result.ips[0], 'Go loopback prints no version');
    t.is(next?.prevResult.ips[0].version, '', 'libcni passes version ""');
    for (const raw of [lo!.result, next!.prevResult]) {
      const out = convertResult(parseResult(raw, v), v) as any;
      t.deepEqual(
        out.ips.map((ip: any) => `${ip.version} ${ip.address}`),
        ['4 127.0.0.1/8', '6 ::1/128'],
      );
    }
  }
});

for (const v of VERSIONS) {
  for (const kase of cases(v)) {
    test(`${v}/${kase}: what libcni passes on is what the previous plugin printed, and CHECK/DEL get the final result`, (t) => {
      const calls = load(v, kase);
      // host-local under the bridge gets the bridge's stdin, not something from libcni
      const viaLibcni = (c: Fixture) => c.type !== 'host-local' || !calls.some((o) => o.type === 'bridge');
      const adds = calls.filter((c) => c.command === 'ADD' && viaLibcni(c));
      for (let i = 1; i < adds.length; i++) {
        t.deepEqual(
          parseResult(adds[i]!.prevResult, v),
          parseResult(adds[i - 1]!.result, v),
          `${adds[i]!.file} got ${adds[i - 1]!.file}'s result`,
        );
      }
      const bridge = calls.find((c) => c.type === 'bridge' && c.command === 'ADD');
      const ipam = calls.find((c) => c.type === 'host-local' && c.command === 'ADD');
      if (bridge && ipam) t.deepEqual(ipam.prevResult, bridge.prevResult, 'the Go bridge hands its prevResult to IPAM');
      const final = parseResult(adds.at(-1)!.result, v);
      const later = calls.filter((c) => c.command !== 'ADD' && viaLibcni(c));
      for (const c of later) {
        if (v === '0.3.0' || v === '0.3.1') t.is(c.prevResult, undefined, `${c.file}: no cached result below 0.4.0`);
        else t.deepEqual(parseResult(c.prevResult, v), final, `${c.file} got the cached result`);
      }
      if (v === '0.4.0' || v === '1.0.0') t.true(later.length > 0);
    });
  }
}
