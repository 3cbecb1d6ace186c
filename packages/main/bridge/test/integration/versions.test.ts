// Every cniVersion from 0.3.1 to 1.1.0 with our host-local as IPAM: ADD's result in that
// version's shape, CHECK where the version has it — shown to reach host-local by failing once the
// reservation is gone —, STATUS for 1.1.0 — shown to reach host-local by a full range —, DEL.
import anyTest, { type TestFn } from 'ava';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { type World, worldTest, natRules, netConf, pings, reservations, run } from './kit.js';

const test = worldTest(anyTest as TestFn<{ w: World }>, 'bv', 'bridge cniVersion integration');

for (const v of ['0.3.1', '0.4.0', '1.0.0', '1.1.0']) {
  test(`cniVersion ${v}: ADD result shape, CHECK and STATUS through host-local, DEL`, async (t) => {
    const { w } = t.context;
    // a range of one address: after ADD, host-local's STATUS has none left to offer
    const conf = netConf(w, { cniVersion: v, isGateway: true, ipMasq: true }, [
      [{ subnet: '10.22.0.0/24', rangeStart: '10.22.0.2', rangeEnd: '10.22.0.2' } as any],
    ]);
    if (v === '1.1.0') {
      const status = await run(w, 'STATUS', '', conf);
      t.is(status.exitCode, 0, status.stdout);
    }
    const a = await w.node.addPod('a');
    const add = await run(w, 'ADD', a, conf);
    t.is(add.exitCode, 0, add.stdout + add.stderr);
    const r = add.json;
    t.is(r.cniVersion, v);
    t.is(r.interfaces.length, 3);
    t.deepEqual(
      r.interfaces.map((i: any) => Object.keys(i)),
      v.startsWith('1.')
        ? [
            ['mac', 'name'],
            ['mac', 'name'],
            ['mac', 'name', 'sandbox'],
          ]
        : [
            ['name', 'mac'],
            ['name', 'mac'],
            ['name', 'mac', 'sandbox'],
          ],
    );
    if (v.startsWith('1.')) {
      t.deepEqual(r.ips, [{ address: '10.22.0.2/24', gateway: '10.22.0.1', interface: 2 }]);
      t.false('dns' in r, 'an empty dns is left out of 1.x results (libcni ≥ 1.2)');
    } else {
      t.deepEqual(r.ips, [{ version: '4', interface: 2, address: '10.22.0.2/24', gateway: '10.22.0.1' }]);
      t.deepEqual(r.dns, {});
    }
    t.true(await pings(a, '10.22.0.1'));
    if (v === '1.1.0') {
      const status = await run(w, 'STATUS', '', conf);
      t.deepEqual([status.exitCode, status.json?.code], [1, 50], status.stdout);
      t.regex(status.json.msg, /no IP addresses available/);
    }
    const check = await run(w, 'CHECK', a, { ...conf, prevResult: r });
    if (v === '0.3.1') t.is(check.json?.code, 1, 'CHECK needs cniVersion 0.4.0');
    else {
      t.is(check.exitCode, 0, check.stdout);
      rmSync(join(w.dir, 'ipam', 'podnet', '10.22.0.2'));
      const gone = await run(w, 'CHECK', a, { ...conf, prevResult: r });
      t.deepEqual([gone.exitCode, gone.json?.code], [1, 100], gone.stdout);
      t.regex(gone.json.msg, /^host-local: Failed to find address added by container ctr1/);
    }
    const del = await run(w, 'DEL', a, { ...conf, prevResult: r });
    t.is(del.exitCode, 0, del.stdout);
    t.deepEqual(await natRules(w.node.node), []);
    t.deepEqual(reservations(w), []);
  });
}

test('older versions (0.1.0, 0.2.0) get the legacy ip4 shape from host-local', async (t) => {
  const { w } = t.context;
  for (const v of ['0.1.0', '0.2.0']) {
    const a = await w.node.addPod(`p${v.replaceAll('.', '')}`);
    const conf = netConf(w, { cniVersion: v, isGateway: true });
    const add = await run(w, 'ADD', a, conf, { containerId: `c${v}` });
    t.is(add.exitCode, 0, add.stdout);
    t.deepEqual(add.json, { cniVersion: v, ip4: { ip: add.json.ip4.ip, gateway: '10.22.0.1' }, dns: {} });
    t.is((await run(w, 'DEL', a, conf, { containerId: `c${v}` })).exitCode, 0);
  }
});
