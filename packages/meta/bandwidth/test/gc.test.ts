// GC removes only this network's stale ifbs (by our alias); STATUS probes in a scratch netns.
import test from 'ava';
import type { CniError } from '@cni-ts/types';
import { FakeExecutor } from '@cni-ts/testutils';
import { ifbAlias, ifbName, makeBandwidth, staleIfbs } from '../src/index.js';
import { FakeHost, type Scenario, ScriptedExec, context } from './helpers.js';

const valid = [{ containerID: 'keep', ifname: 'eth0' }];
const ifb = (network: string, id: string, alias = true) => ({
  name: ifbName(network, id),
  ...(alias ? { alias: ifbAlias(network, id) } : {}),
});

test("staleIfbs: ours of this network whose container is gone; never another network's, the Go plugin's or a forged alias", (t) => {
  const list = [
    ifb('bwnet', 'keep'),
    ifb('bwnet', 'gone'),
    ifb('other', 'gone'),
    ifb('bwnet', 'go-made', false),
    { name: 'bwp000000000000', alias: ifbAlias('bwnet', 'forged') }, // alias does not match the name
  ];
  t.deepEqual(staleIfbs(list, 'bwnet', valid), [ifbName('bwnet', 'gone')]);
  t.deepEqual(staleIfbs(list, 'bwnet', []), [ifbName('bwnet', 'keep'), ifbName('bwnet', 'gone')]);
});

test('GC lists the ifbs in one process and deletes the stale ones in one more; without a valid list it does nothing', async (t) => {
  const s: Scenario = {
    node: {
      [ifbName('bwnet', 'keep')]: { ifindex: 5, kind: 'ifb', alias: ifbAlias('bwnet', 'keep') },
      [ifbName('bwnet', 'gone')]: { ifindex: 6, kind: 'ifb', alias: ifbAlias('bwnet', 'gone') },
      veth1: { ifindex: 7, kind: 'veth' },
    },
  };
  const exec = new ScriptedExec(s);
  await makeBandwidth(new FakeHost()).gc!(
    context(exec, { cniVersion: '1.1.0', 'cni.dev/valid-attachments': valid }, { command: 'GC' }),
  );
  t.deepEqual(exec.lines(), [
    'ip -d -j -batch - << link show type ifb',
    `ip -j -batch - << link del dev ${ifbName('bwnet', 'gone')}`,
  ]);
  const none = new ScriptedExec(s);
  await makeBandwidth(new FakeHost()).gc!(context(none, { cniVersion: '1.1.0' }, { command: 'GC' }));
  t.deepEqual(none.lines(), []);
});

test('STATUS creates an ifb, a tbf, an ingress qdisc and a redirect in a throwaway netns; any failure is code 50', async (t) => {
  const ok = new FakeExecutor();
  await makeBandwidth(new FakeHost()).status!(context(ok, { cniVersion: '1.1.0' }, { command: 'STATUS' }));
  t.deepEqual(ok.lines(), [
    'unshare --net -- sh -c ip link add name probe0 type ifb && ip link set dev probe0 up && ip link add name probe1 type ifb && ip link set dev probe1 up && exec tc -batch - << ' +
      'qdisc add dev probe1 root handle 1: tbf rate 125000Bps burst 3028 limit 6153 ; qdisc add dev probe0 handle ffff: ingress ; ' +
      'filter add dev probe0 parent ffff: protocol all prio 1 u32 match u32 0 0 flowid 1:1 action mirred egress redirect dev probe1 ; ' +
      'qdisc add dev probe0 root handle 1: tbf rate 125000Bps burst 3028 limit 6153',
  ]);
  const bad = new FakeExecutor().on(() => true, { status: 2, stderr: 'Error: Unknown device type.\n' });
  let e: CniError | undefined;
  try {
    await makeBandwidth(new FakeHost()).status!(context(bad, { cniVersion: '1.1.0' }, { command: 'STATUS' }));
  } catch (err) {
    e = err as CniError;
  }
  t.is(e?.code, 50);
  t.regex(e!.details, /Unknown device type/);
});
