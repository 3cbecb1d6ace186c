// The batches ADD and DEL write without reading the tables (golden text; the integration tests
// feed them to the real iptables-restore), and what each line is there for.
import test from 'ava';
import { renderRestore } from '@cni-ts/iptables';
import { type Context, decodeNetConf } from '@cni-ts/skel';
import {
  type ContainerNet,
  type PortmapConf,
  containerNets,
  jumpRules,
  planConditionsTest,
  planCreate,
  planProbeAbsent,
  planRemoveKnown,
} from '../src/index.js';
import { loadConfNow } from '../src/config-schema.js';

function conf(extra: Record<string, unknown> = {}): PortmapConf {
  const stdin = JSON.stringify({
    cniVersion: '1.0.0',
    name: 'podnet',
    type: 'portmap',
    runtimeConfig: { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }] },
    ...extra,
  });
  return loadConfNow({ conf: decodeNetConf(stdin) } as Context);
}
const O = { network: 'podnet', containerId: 'ctr1' };
const DN = 'CNI-DN-ee871de47c845415462cc';
const JUMP = `-p tcp -m comment --comment "dnat name: \\"podnet\\" id: \\"ctr1\\"" -m multiport --dports 8080`;
const v4: ContainerNet = containerNets({ cniVersion: '1.0.0', ips: [{ address: '10.22.0.5/24' }] }, 'eth0')[0]!;
const v6: ContainerNet = containerNets({ cniVersion: '1.0.0', ips: [{ address: 'fd00:22::5/64' }] }, 'eth0')[0]!;

test('ADD, IPv4 with snat: the localnet guard checked first (its own section), then the chain created, the shared chains named, refilled', (t) => {
  t.is(
    renderRestore(planCreate(conf(), O, v4)),
    [
      '*filter',
      '-C INPUT -m comment --comment "CNI portfwd: no new connections to 127/8 from off the node" -j CNI-HOSTPORT-LOCALNET',
      '-C CNI-HOSTPORT-LOCALNET ! -s 127.0.0.0/8 -d 127.0.0.0/8 ! -i lo -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP',
      'COMMIT',
      '*nat',
      `-N ${DN}`,
      `-A ${DN} -j CNI-HOSTPORT-SETMARK`,
      `-A ${DN} -j CNI-HOSTPORT-MASQ`,
      `-F ${DN}`,
      `-A ${DN} -s 10.22.0.0/24 -p tcp -m tcp --dport 8080 -j CNI-HOSTPORT-SETMARK`,
      `-A ${DN} -s 127.0.0.1/32 -p tcp -m tcp --dport 8080 -j CNI-HOSTPORT-SETMARK`,
      `-A ${DN} -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.22.0.5:80`,
      `-A CNI-HOSTPORT-DNAT ${JUMP} -j ${DN}`,
      'COMMIT',
      '',
    ].join('\n'),
  );
});

test('ADD with externalSetMarkChain: that chain is named instead of ours; snat off: nothing to name, no filter section', (t) => {
  const ext = renderRestore(planCreate(conf({ externalSetMarkChain: 'KUBE-MARK-MASQ' }), O, v6));
  t.regex(ext, new RegExp(`^\\*nat\\n-N ${DN}\\n-A ${DN} -j KUBE-MARK-MASQ\\n-F ${DN}\\n`));
  t.false(ext.includes('CNI-HOSTPORT-SETMARK') || ext.includes('CNI-HOSTPORT-MASQ'));
  const off = renderRestore(planCreate(conf({ snat: false }), O, v4));
  t.is(
    off,
    `*nat\n-N ${DN}\n-A ${DN} -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.22.0.5:80\n-A CNI-HOSTPORT-DNAT ${JUMP} -j ${DN}\nCOMMIT\n`,
  );
});

test('DEL: with the jumps, flush (refused first when the chain is gone), each jump, delete; without, a probe always refused', (t) => {
  t.is(
    renderRestore(planRemoveKnown(O, jumpRules(conf(), O, 4))),
    `*nat\n-F ${DN}\n-D CNI-HOSTPORT-DNAT ${JUMP} -j ${DN}\n-X ${DN}\nCOMMIT\n`,
  );
  t.is(renderRestore(planProbeAbsent(O)), `*nat\n-F ${DN}\n-N ${DN}\nCOMMIT\n`);
});

test('the --test batch for conditions holds them on the pod chain, nothing else needed; jumps carry each family its own', (t) => {
  const c = conf({ conditionsV4: ['-d', '192.0.2.1'], conditionsV6: ['!', '-s', 'fd00:1::/64'] });
  t.is(
    renderRestore(planConditionsTest(c, O, 6)),
    `*nat\n-N ${DN}\n-A ${DN} ${JUMP} ! -s fd00:1::/64 -j RETURN\nCOMMIT\n`,
  );
  t.deepEqual(jumpRules(c, O, 4)[0]!.spec.slice(-4), ['-d', '192.0.2.1', '-j', DN]);
});
