// GC and STATUS.
import test from 'ava';
import { makeBridge } from '../src/index.js';
import { FakeHost, ScriptedExec, context } from './helpers.js';

const CH1 = 'CNI-5145007e2a8415ce07579739'; // mynet + ctr1
const SAVED =
  `*nat\n:POSTROUTING ACCEPT [0:0]\n:${CH1} - [0:0]\n-A POSTROUTING -s 10.22.0.2/32 -m comment --comment "name: \\"mynet\\" id: \\"ctr1\\"" -j ${CH1}\n` +
  `-A ${CH1} -m comment --comment "name: \\"mynet\\" id: \\"ctr1\\"" -j MASQUERADE\nCOMMIT\n`;

test('GC forwards to IPAM and removes masquerade chains of attachments that are no longer valid', async (t) => {
  const exec = new ScriptedExec({ iptables: { 4: SAVED } });
  await makeBridge(new FakeHost()).gc!(
    context(
      exec,
      {
        name: 'mynet',
        cniVersion: '1.1.0',
        ipam: { type: 'host-local' },
        'cni.dev/valid-attachments': [{ containerID: 'ctr9', ifname: 'eth0' }],
      },
      { command: 'GC' },
    ),
  );
  t.deepEqual(
    exec.script().map((l) => l.split(' << ')[0]),
    [
      'IPAM GC',
      'nft -j list chain inet cni_plugins_masquerade masq_checks',
      'iptables-save -t nat',
      'iptables-restore --noflush -w 5',
      'ip6tables-save -t nat',
      'nft -j list table bridge nat', // stale spoof checks, whatever macspoofchk says now
    ],
  );
  t.regex(exec.script()[3]!, new RegExp(`-D POSTROUTING .* ; -F ${CH1} ; -X ${CH1} ; COMMIT$`));
});

test('GC keeps valid attachments and deletes nothing when the runtime sent no list', async (t) => {
  const keep = new ScriptedExec({ iptables: { 4: SAVED } });
  await makeBridge(new FakeHost()).gc!(
    context(
      keep,
      { name: 'mynet', cniVersion: '1.1.0', 'cni.dev/valid-attachments': [{ containerID: 'ctr1', ifname: 'eth0' }] },
      { command: 'GC' },
    ),
  );
  t.false(keep.script().some((l) => l.startsWith('iptables-restore')));
  const none = new ScriptedExec({ iptables: { 4: SAVED } });
  await makeBridge(new FakeHost()).gc!(context(none, { name: 'mynet', cniVersion: '1.1.0' }, { command: 'GC' }));
  t.deepEqual(none.script(), []);
});

test('STATUS forwards to IPAM when there is one, and is a no-op for L2 networks', async (t) => {
  const exec = new ScriptedExec({});
  await makeBridge(new FakeHost()).status!(
    context(exec, { cniVersion: '1.1.0', ipam: { type: 'host-local' } }, { command: 'STATUS' }),
  );
  await makeBridge(new FakeHost()).status!(context(exec, { cniVersion: '1.1.0' }, { command: 'STATUS' }));
  t.deepEqual(exec.script(), ['IPAM STATUS']);
});

test("a failing IPAM STATUS is the plugin's failure", async (t) => {
  const exec = new ScriptedExec({
    fail: () => ({ status: 1, stdout: '{"code":50,"msg":"not available"}', stderr: '' }),
  });
  const e = await t.throwsAsync(async () =>
    makeBridge(new FakeHost()).status!(
      context(exec, { cniVersion: '1.1.0', ipam: { type: 'host-local' } }, { command: 'STATUS' }),
    ),
  );
  t.is((e as { code?: number }).code, 50);
});

test('GC after a config change that no longer validates still forwards to IPAM and removes stale rules', async (t) => {
  const exec = new ScriptedExec({ iptables: { 4: SAVED } });
  const logs: string[] = [];
  const ctx = context(
    exec,
    {
      name: 'mynet',
      cniVersion: '1.1.0',
      ipam: { type: 'host-local' },
      ipMasqBackend: 'xdp',
      mtu: 'big',
      'cni.dev/valid-attachments': [{ containerID: 'ctr9', ifname: 'eth0' }],
    },
    { command: 'GC' },
  );
  ctx.log = (m) => logs.push(m);
  await makeBridge(new FakeHost()).gc!(ctx);
  t.is(exec.script()[0], 'IPAM GC');
  t.regex(exec.script()[3]!, new RegExp(`-D POSTROUTING .* ; -F ${CH1} ; -X ${CH1} ; COMMIT$`));
  t.regex(logs.join('\n'), /the configuration no longer validates .*; GC cleans up with what it can read/);
});
