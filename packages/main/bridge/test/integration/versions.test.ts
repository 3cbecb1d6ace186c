// Every cniVersion from 0.3.1 to 1.1.0: ADD's result in that version's shape, CHECK where the
// version has it, STATUS and GC for 1.1.0, DEL. Debian's Go host-local stops at 1.0.0, so 1.1.0
// uses a fixture IPAM that answers a fixed address (until our host-local lands).
import anyTest, { type TestFn } from 'ava';
import { type World, worldTest, natRules, netConf, pings, run } from './kit.js';

const test = worldTest(anyTest as TestFn<{ w: World }>, 'bv', 'bridge cniVersion integration');

const FIXED = JSON.stringify({ cniVersion: '1.1.0', ips: [{ address: '10.22.0.2/24', gateway: '10.22.0.1' }] });

for (const v of ['0.3.1', '0.4.0', '1.0.0', '1.1.0']) {
  test(`cniVersion ${v}: ADD result shape, CHECK, DEL`, async (t) => {
    const { w } = t.context;
    const base = netConf(w, { cniVersion: v, isGateway: true, ipMasq: true });
    const conf = v === '1.1.0' ? { ...base, ipam: { type: 'cts-ipam-static' } } : base;
    const env = { CTS_IPAM_RESULT: FIXED };
    const a = await w.node.addPod('a');
    const add = await run(w, 'ADD', a, conf, { env });
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
    const check = await run(w, 'CHECK', a, { ...conf, prevResult: r }, { env });
    if (v === '0.3.1') t.is(check.json?.code, 1, 'CHECK needs cniVersion 0.4.0');
    else t.is(check.exitCode, 0, check.stdout);
    if (v === '1.1.0') {
      const status = await run(w, 'STATUS', '', conf, { env });
      t.is(status.exitCode, 0, status.stdout);
    }
    const del = await run(w, 'DEL', a, { ...conf, prevResult: r }, { env });
    t.is(del.exitCode, 0, del.stdout);
    t.deepEqual(await natRules(w.node.node), []);
  });
}

test('older versions (0.1.0, 0.2.0) get the legacy ip4 shape', async (t) => {
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
