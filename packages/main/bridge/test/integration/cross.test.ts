// The rules one bridge writes, the other removes: the spoof check (nft) and the masquerade
// rules (iptables) made by Debian's Go bridge v1.1.1 are found and deleted by our DEL, and ours
// by Go's DEL — chain names and comments are written byte for byte as upstream's.
import anyTest, { type TestFn } from 'ava';
import { GO, type World, worldTest, mustAdd, natRules, netConf, nftRules, run } from './kit.js';

const test = worldTest(anyTest as TestFn<{ w: World }>, 'bx', 'bridge cross-plugin integration');

const CONF = { isGateway: true, ipMasq: true, macspoofchk: true };

for (const [adder, deleter] of [
  ['our', 'Go'],
  ['Go', 'our'],
] as const) {
  const by = (who: string) => (who === 'Go' ? "Go's" : 'our');
  test(`spoof check and masquerade rules written by ${by(adder)} ADD are removed by ${by(deleter)} DEL`, async (t) => {
    const { w } = t.context;
    const pod = await w.node.addPod('a');
    const conf = netConf(w, CONF);
    await mustAdd(t, w, pod, conf, adder === 'Go' ? { plugin: GO } : {});
    t.regex(await nftRules(w.node.node), /macspoofchk-ctr1-eth0/, 'the spoof check is there');
    t.true(
      (await natRules(w.node.node)).some((l) => l.includes('id: \\"ctr1\\"')),
      'the masquerade rules are there',
    );
    const d = await run(w, 'DEL', pod, conf, deleter === 'Go' ? { plugin: GO } : {});
    t.is(d.exitCode, 0, d.stdout);
    t.notRegex(await nftRules(w.node.node), /cni-br-iface|macspoofchk/, 'no spoof-check chain or rule is left');
    t.deepEqual(await natRules(w.node.node), [], 'no masquerade chain or rule is left');
  });
}
