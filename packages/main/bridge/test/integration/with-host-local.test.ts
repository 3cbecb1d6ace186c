// bridge with our own host-local (dist/bin/host-local) as IPAM, at cniVersion 1.1.0 — which
// Debian's Go host-local cannot speak: ADD, CHECK, STATUS, GC releasing both the reservation and
// the masquerade rules of a stale attachment, DEL.
import anyTest, { type TestFn } from 'ava';
import { binDir } from '@cni-ts/testutils';
import { type World, worldTest, natRules, netConf, pings, reservations, run } from './kit.js';

const test = worldTest(anyTest as TestFn<{ w: World }>, 'bh', 'bridge with our host-local');
test('cniVersion 1.1.0 end to end with our host-local: ADD, CHECK, STATUS, GC of a stale attachment, DEL', async (t) => {
  const { w } = t.context;
  const conf = netConf(w, { cniVersion: '1.1.0', isDefaultGateway: true, ipMasq: true }, [
    [{ subnet: '10.22.0.0/24' }],
    [{ subnet: 'fd00:22::/64' }],
  ]);
  const ours = { env: {} as Record<string, string>, cniPath: [binDir] };
  const call = (cmd: string, pod: any, cfg: unknown, id: string) => run(w, cmd, pod, cfg, { containerId: id, ...ours });
  const a = await w.node.addPod('a');
  const b = await w.node.addPod('b');
  const ra = await call('ADD', a, conf, 'a');
  const rb = await call('ADD', b, conf, 'b');
  t.is(ra.exitCode, 0, ra.stdout);
  t.is(rb.exitCode, 0, rb.stdout);
  t.is(ra.json.cniVersion, '1.1.0');
  t.deepEqual(
    ra.json.ips.map((i: any) => i.address),
    ['10.22.0.2/24', 'fd00:22::2/64'],
  );
  t.true(await pings(a, '10.22.0.3'));
  t.true(await pings(a, 'fd00:22::3'));
  t.is((await call('CHECK', a, { ...conf, prevResult: ra.json }, 'a')).exitCode, 0);
  t.is((await call('STATUS', '', conf, '')).exitCode, 0);
  t.deepEqual(reservations(w).sort(), ['10.22.0.2', '10.22.0.3', 'fd00:22::2', 'fd00:22::3']);

  const gc = await call('GC', '', { ...conf, 'cni.dev/valid-attachments': [{ containerID: 'b', ifname: 'eth0' }] }, '');
  t.is(gc.exitCode, 0, gc.stdout);
  t.deepEqual(reservations(w).sort(), ['10.22.0.3', 'fd00:22::3'], "host-local released a's addresses");
  for (const f of [4, 6] as const) {
    const rules = await natRules(w.node.node, f);
    t.false(
      rules.some((l) => l.includes('id: \\"a\\"')),
      `a's IPv${f} masquerade rules are gone`,
    );
    t.is(rules.filter((l) => l.includes('id: \\"b\\"')).length, 3, "b's jump, ACCEPT and MASQUERADE stay");
  }
  t.is((await call('DEL', b, { ...conf, prevResult: rb.json }, 'b')).exitCode, 0);
  t.deepEqual(reservations(w), []);
  t.deepEqual(await natRules(w.node.node, 4), []);
});
