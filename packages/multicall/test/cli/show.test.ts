import test from 'ava';
import { confListFromObject, decodeResult } from '@cni-ts/libcni';
import { bitRate, showAttachment } from '../../src/cli/show.js';
import { table } from '../../src/cli/table.js';

test('tables pad every column but the last to its widest cell', (t) => {
  t.is(
    table(
      ['a', 'long header'],
      [
        ['wide cell', 'x'],
        ['b', 'y'],
      ],
    ),
    'A          LONG HEADER\nwide cell  x\nb          y',
  );
  t.is(table(['a'], []), '');
});

test('an attachment shows its interfaces, addresses, routes, host ports and shaping', (t) => {
  const list = confListFromObject({
    cniVersion: '1.0.0',
    name: 'k8s',
    plugins: [
      { type: 'bridge' },
      { type: 'portmap', capabilities: { portMappings: true } },
      { type: 'bandwidth', capabilities: { bandwidth: true } },
    ],
  });
  const rt = {
    containerID: 'c1',
    netns: '/run/netns/p',
    ifName: 'eth0',
    capabilityArgs: {
      portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }],
      bandwidth: { ingressRate: 1000000, ingressBurst: 8388608 },
      ips: ['ignored: no plugin declares it'],
    },
  };
  const result = decodeResult('1.0.0', {
    cniVersion: '1.0.0',
    interfaces: [
      { name: 'cni0', mac: '0a:00:00:00:00:01' },
      { name: 'eth0', mac: '0a:00:00:00:00:02', sandbox: '/run/netns/p' },
    ],
    ips: [{ interface: 1, address: '10.244.1.2/24', gateway: '10.244.1.1' }],
    routes: [{ dst: '0.0.0.0/0', gw: '10.244.1.1' }],
  });
  t.is(
    showAttachment(list, rt, result),
    [
      'network k8s (cniVersion 1.0.0) · container c1 · eth0 in /run/netns/p',
      '',
      'INTERFACE  MAC                MTU  SANDBOX',
      'cni0       0a:00:00:00:00:01',
      'eth0       0a:00:00:00:00:02       /run/netns/p',
      '',
      'ADDRESS        GATEWAY     INTERFACE',
      '10.244.1.2/24  10.244.1.1  eth0',
      '',
      'ROUTE      VIA',
      '0.0.0.0/0  10.244.1.1',
      '',
      'HOST PORT  CONTAINER PORT  PROTOCOL',
      '*:8080     80              tcp',
      '',
      'SHAPING               RATE      BURST',
      'ingress (to the pod)  1 Mbit/s  1024 KiB',
    ].join('\n'),
  );
  t.is(bitRate(1500), '1.5 kbit/s');
  t.is(bitRate(999), '999 bit/s');
});
