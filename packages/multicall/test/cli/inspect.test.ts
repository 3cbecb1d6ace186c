import test from 'ava';
import { formatChainName, sha512Hex } from '@cni-ts/iptables';
import { type Observed, analyse } from '../../src/cli/inspect.js';

const live = {
  network: 'k8s',
  containerID: 'live1',
  ifName: 'eth0',
  netns: '/run/netns/a',
  addresses: ['10.0.0.2/24'],
  live: true,
  file: 'f1',
};
const gone = {
  ...live,
  containerID: 'gone1',
  netns: '/run/netns/b',
  addresses: ['10.0.0.3/24'],
  live: false,
  file: 'f2',
};
const res = (address: string, containerID: string, ifName = 'eth0') => ({
  dataDir: '/d',
  network: 'k8s',
  address,
  containerID,
  ifName,
});

test('everything named after a live attachment is ok; what belongs to a vanished or unknown one is a leak', (t) => {
  const o: Observed = {
    attachments: [live, gone],
    reservations: [
      res('10.0.0.2', 'live1'),
      res('10.0.0.3', 'gone1'),
      res('10.0.0.9', 'nobody'),
      res('10.0.0.2', 'live1', 'net1'),
    ],
    chains: [
      { family: 4, chain: formatChainName('k8s', 'live1'), kind: 'masquerade', comment: 'name: "k8s" id: "live1"' },
      {
        family: 4,
        chain: formatChainName('k8s', 'live1', 'DN-'),
        kind: 'port mappings',
        comment: 'dnat name: "k8s" id: "live1"',
      },
      { family: 6, chain: formatChainName('k8s', 'gone1'), kind: 'masquerade', comment: 'name: "k8s" id: "gone1"' },
    ],
    nftRules: [
      { family: 'ip', table: 'cni_hostport', chain: 'hostports', handle: 4, comment: 'live1' },
      { family: 'ip', table: 'cni_hostport', chain: 'hostports', handle: 5, comment: 'gone1' },
      { family: 'bridge', table: 'nat', chain: 'PREROUTING', handle: 6, comment: 'macspoofchk-gone1-eth0' },
    ],
    ifbs: [`bwp${sha512Hex('k8slive1').slice(0, 12)}`, `bwp${sha512Hex('k8sgone1').slice(0, 12)}`],
    notes: [],
  };
  const r = analyse(o);
  const leaks = r.findings.filter((f) => f.leak).map((f) => `${f.kind} ${f.owner}`);
  t.deepEqual(leaks, [
    'attachment k8s/gone1/eth0',
    'reservation k8s/gone1/eth0',
    'reservation k8s/nobody/eth0',
    'reservation k8s/live1/net1',
    'iptables k8s/gone1',
    'nftables gone1',
    'nftables gone1-eth0',
    'ifb ?',
  ]);
  t.is(r.leaks, 8);
  t.is(r.findings.length, 14);
});
