// libcniReshape against what upstream libcni really passed on (the captured fixtures in
// packages/types/test/fixtures/go-results), value for value. (Key order is not compared: libcni
// sorts prevResult's keys when it also injects runtimeConfig, another trip through a map.)
import test from 'ava';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { libcniReshape, repoRoot } from '../src/index.js';

const DIR = join(repoRoot, 'packages', 'types', 'test', 'fixtures', 'go-results');

for (const v of readdirSync(DIR).filter((d) => /^\d/.test(d))) {
  for (const kase of readdirSync(join(DIR, v))) {
    // a lone plugin below 0.4.0 hands nothing on: no next plugin, no cached result on DEL
    if (!kase.startsWith('chain') && (v === '0.3.0' || v === '0.3.1')) continue;
    test(`${v}/${kase}: libcniReshape of each result is the prevResult libcni handed the next plugin`, (t) => {
      const calls = readdirSync(join(DIR, v, kase))
        .sort()
        .map((f) => ({ f, ...JSON.parse(readFileSync(join(DIR, v, kase, f), 'utf8')) }));
      const fromLibcni = calls.filter(
        (c) => !(c.f.includes('-host-local-') && calls.some((o) => o.f.includes('-bridge-'))),
      );
      const adds = fromLibcni.filter((c) => c.f.endsWith('-ADD.json'));
      for (let i = 1; i < adds.length; i++) {
        t.deepEqual(libcniReshape(adds[i - 1].result, v), adds[i].prevResult, adds[i].f);
      }
      const final = libcniReshape(adds.at(-1).result, v);
      for (const c of fromLibcni.filter((c) => !c.f.endsWith('-ADD.json') && c.prevResult)) {
        t.deepEqual(c.prevResult, final, c.f);
      }
    });
  }
}

test('unknown keys vanish, Go spelling and struct order come back, dns is always there', (t) => {
  const out = libcniReshape(
    { IPs: [{ Address: '10.0.0.2/24', Interface: 0, extra: 1 }], cniVersion: '0.4.0', vendor: true },
    '0.4.0',
  );
  t.is(
    JSON.stringify(out),
    '{"cniVersion":"0.4.0","ips":[{"version":"","interface":0,"address":"10.0.0.2/24"}],"dns":{}}',
  );
  t.is(
    JSON.stringify(libcniReshape({ ips: [{ address: '10.0.0.2/24', version: '4' }] }, '1.0.0')),
    '{"cniVersion":"1.0.0","ips":[{"address":"10.0.0.2/24"}],"dns":{}}',
  );
});
