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

test('STATUS makes an ifb, then a tbf, an ingress qdisc and a redirect, each in a throwaway netns, without a shell; any failure is code 50', async (t) => {
  const ok = new FakeExecutor();
  await makeBandwidth(new FakeHost()).status!(context(ok, { cniVersion: '1.1.0' }, { command: 'STATUS' }));
  t.deepEqual(ok.lines(), [
    'unshare --net -- ip -batch - << link add name probe0 mtu 1500 txqueuelen 0 type ifb ; link set dev probe0 up ; link show dev probe0',
    'unshare --net -- tc -batch - << ' +
      'qdisc add dev lo root handle 1: tbf rate 125000Bps burst 3028 limit 6153 ; qdisc add dev lo handle ffff: ingress ; ' +
      'filter add dev lo parent ffff: protocol all prio 1 u32 match u32 0 0 flowid 1:1 action mirred egress redirect dev lo',
  ]);
  const bad = new FakeExecutor().on(() => true, { status: 2, stderr: 'Error: Unknown device type.\n' });
  let e: CniError | undefined;
  try {
    await makeBandwidth(new FakeHost()).status!(context(bad, { cniVersion: '1.1.0' }, { command: 'STATUS' }));
  } catch (err) {
    e = err as CniError;
  }
  t.is(e?.code, 50);
  t.regex(e!.details, /^creating an ifb in a scratch namespace failed: Error: Unknown device type\./);
  t.is(bad.calls.length, 1, 'the tc probe does not run after the ifb probe failed');
  // the ifb works, the qdiscs do not
  const noTc = new FakeExecutor().on((c) => c.args.includes('tc'), {
    status: 2,
    stderr: 'Error: Specified qdisc kind is unknown.\n',
  });
  let e2: CniError | undefined;
  try {
    await makeBandwidth(new FakeHost()).status!(context(noTc, { cniVersion: '1.1.0' }, { command: 'STATUS' }));
  } catch (err) {
    e2 = err as CniError;
  }
  t.is(e2?.code, 50);
  t.regex(
    e2!.details,
    /^a tbf, an ingress qdisc and a mirred redirect in a scratch namespace failed: .*qdisc kind is unknown/,
  );
});
