// What the fuzzing throws at each plugin: a valid standalone invocation (config and env) to
// start from, the config paths to damage and the values to damage them with. A plugin joins the
// fuzzing by being added to FUZZ_SUBJECTS.
import { existsSync } from 'node:fs';
import fc from 'fast-check';
import { binDir } from '@cni-ts/testutils';
import type { World } from './chain.js';
import { hostileString, hostileValue, maybeIP, portMapping, quantity, rateOrBurst } from './hostile.js';

/** One plugin as the fuzzing sees it. */
export interface FuzzSubject {
  type: string;
  /** The test's name for it when one plugin is fuzzed from two starting points. */
  label?: string;
  /** The pod is wired by the chain's bridge first (wirePod): the plugin shapes or maps a real veth. */
  wired?: boolean;
  /** A config the plugin's ADD accepts on its own (with the pod's netns). */
  base: (w: World) => Record<string, unknown>;
  /** CNI_IFNAME of the valid invocation. */
  ifname: string;
  /** Config paths ("ipam.ranges.0.0.subnet") and what to put there (default hostileValue). */
  paths: Record<string, fc.Arbitrary<unknown> | undefined>;
}

const prevResult = (w: World) => ({
  cniVersion: '1.0.0',
  interfaces: [{ name: 'hd0' }, { name: 'vethhd' }, { name: 'eth0', sandbox: w.pod.path }],
  ips: [
    { address: '10.77.0.9/24', gateway: '10.77.0.1', interface: 2 },
    { address: 'fd00:77::9/64', gateway: 'fd00:77::1', interface: 2 },
  ],
});

const ipam = (w: World) => ({
  type: 'host-local',
  ranges: [[{ subnet: '10.77.0.0/24' }], [{ subnet: 'fd00:77::/64' }]],
  dataDir: w.dataDir,
});

// Data directories a fuzzed config may name: only places inside the world's scratch directory
// (a hostile dataDir must not make host-local write anywhere else on this machine).
const dataDirs = (w: World) =>
  fc.constantFrom(
    w.dataDir,
    `${w.dir}/plain-file`,
    `${w.dir}/link-to-elsewhere`,
    `${w.dir}/a/../ipam`,
    `${w.dir}/new dir\nwith "quotes"#`,
    `${w.dir}/ipam/`,
  );

const ANNOTATIONS = 'runtimeConfig.[io.kubernetes.cri.pod-annotations]';

// A bandwidth call on the wired pod: the limits from `rc` (runtimeConfig), the pod annotations beside them.
function bandwidthBase(w: World, rc: Record<string, unknown>): Record<string, unknown> {
  return {
    cniVersion: '1.0.0',
    name: 'hdnet',
    type: 'bandwidth',
    runtimeConfig: {
      ...rc,
      'io.kubernetes.cri.pod-annotations': {
        'kubernetes.io/ingress-bandwidth': '1M',
        'kubernetes.io/egress-bandwidth': '10Mi',
        'io.kubernetes.pod.name': 'pod',
      },
    },
    prevResult: w.podResult ?? prevResult(w),
  };
}

// Where bandwidth reads its limits (static keys hide runtimeConfig, runtimeConfig.bandwidth hides
// the annotations), the veth it finds through prevResult, and spellings a runtime may send.
const bandwidthPaths: FuzzSubject['paths'] = {
  ingressRate: rateOrBurst,
  ingressBurst: rateOrBurst,
  egressRate: rateOrBurst,
  egressBurst: rateOrBurst,
  'runtimeConfig.bandwidth': fc.oneof(
    { weight: 2, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: hostileValue },
    {
      weight: 2,
      arbitrary: fc.record(
        { IngressRate: rateOrBurst, IngressBurst: rateOrBurst, EgressRate: rateOrBurst, EgressBurst: rateOrBurst },
        { requiredKeys: [] },
      ),
    },
  ),
  'runtimeConfig.bandwidth.ingressRate': rateOrBurst,
  'runtimeConfig.bandwidth.ingressBurst': rateOrBurst,
  'runtimeConfig.bandwidth.egressRate': rateOrBurst,
  'runtimeConfig.bandwidth.EgressBurst': rateOrBurst,
  'runtimeConfig.bandWidth': hostileValue,
  [ANNOTATIONS]: hostileValue,
  [`${ANNOTATIONS}.[kubernetes.io/ingress-bandwidth]`]: quantity,
  [`${ANNOTATIONS}.[kubernetes.io/egress-bandwidth]`]: quantity,
  [`${ANNOTATIONS}.[kubernetes.io/ingress-burst]`]: quantity,
  prevResult: hostileValue,
  'prevResult.interfaces': hostileValue,
  'prevResult.interfaces.0.name': hostileString,
  'prevResult.interfaces.1.name': hostileString,
  'prevResult.interfaces.2.name': hostileString,
  'prevResult.interfaces.2.sandbox': hostileValue,
  'prevResult.interfaces.3': fc.record({ name: hostileString, mac: hostileValue }, { requiredKeys: [] }),
};

/** The plugins under fuzzing. */
export const FUZZ_SUBJECTS: readonly FuzzSubject[] = [
  {
    type: 'loopback',
    ifname: 'lo',
    base: () => ({ cniVersion: '1.0.0', name: 'hdnet', type: 'loopback' }),
    paths: { type: undefined, prevResult: hostileValue },
  },
  {
    type: 'bridge',
    ifname: 'eth0',
    base: (w) => ({
      cniVersion: '1.0.0',
      name: 'hdnet',
      type: 'bridge',
      bridge: 'hd0',
      isGateway: true,
      ipMasq: true,
      ipam: ipam(w),
    }),
    paths: {
      bridge: hostileString,
      isGateway: undefined,
      isDefaultGateway: undefined,
      forceAddress: undefined,
      ipMasq: undefined,
      ipMasqBackend: fc.oneof(fc.constantFrom('iptables', 'nftables'), hostileString),
      mtu: fc.oneof(fc.integer({ min: -1, max: 70_000 }), hostileValue),
      hairpinMode: undefined,
      promiscMode: undefined,
      vlan: fc.oneof(fc.integer({ min: -1, max: 5000 }), hostileValue),
      vlanTrunk: undefined,
      macspoofchk: undefined,
      portIsolation: undefined,
      disableContainerInterface: undefined,
      dns: undefined,
      'ipam.type': fc.oneof(fc.constantFrom('host-local', 'bridge', 'loopback', 'portmap', 'cni-ts'), hostileString),
      'ipam.ranges.0.0.subnet': hostileValue,
      'runtimeConfig.mac': fc.oneof(
        fc.constantFrom('0a:58:0a:4d:00:09', 'ff:ff:ff:ff:ff:ff', '01:00:5e:00:00:01'),
        hostileString,
      ),
      'args.cni.mac': hostileString,
      prevResult: hostileValue,
    },
  },
  {
    type: 'host-local',
    ifname: 'eth0',
    base: (w) => ({ cniVersion: '1.0.0', name: 'hdnet', type: 'bridge', ipam: ipam(w) }),
    paths: {
      'ipam.ranges': undefined,
      'ipam.ranges.0.0.subnet': fc.oneof(
        fc.constantFrom('10.77.0.0/31', '10.77.0.0/32', '0.0.0.0/0', '::/0'),
        hostileValue,
      ),
      'ipam.ranges.0.0.rangeStart': maybeIP,
      'ipam.ranges.0.0.rangeEnd': maybeIP,
      'ipam.ranges.0.0.gateway': maybeIP,
      'ipam.subnet': hostileValue,
      'ipam.routes': fc.oneof(
        fc.array(fc.record({ dst: hostileValue, gw: maybeIP }, { requiredKeys: [] })),
        hostileValue,
      ),
      'ipam.resolvConf': fc.constantFrom('/etc/resolv.conf', '/nonexistent', '/etc', '/proc/self/status'),
      'ipam.ips': fc.array(maybeIP, { maxLength: 3 }),
      'runtimeConfig.ips': fc.array(maybeIP, { maxLength: 3 }),
      'runtimeConfig.ipRanges': hostileValue,
      'args.cni.ips': fc.array(maybeIP, { maxLength: 2 }),
    },
  },
  {
    type: 'portmap',
    ifname: 'eth0',
    base: (w) => ({
      cniVersion: '1.0.0',
      name: 'hdnet',
      type: 'portmap',
      snat: true,
      runtimeConfig: { portMappings: [{ hostPort: 18080, containerPort: 80, protocol: 'tcp' }] },
      prevResult: prevResult(w),
    }),
    paths: {
      backend: fc.oneof(fc.constantFrom('iptables', 'nftables'), hostileString),
      snat: undefined,
      masqAll: undefined,
      markMasqBit: fc.oneof(fc.integer({ min: -2, max: 40 }), hostileValue),
      externalSetMarkChain: hostileString,
      conditionsV4: fc.array(hostileString, { maxLength: 4 }),
      conditionsV6: fc.array(hostileString, { maxLength: 4 }),
      'runtimeConfig.portMappings': fc.oneof(fc.array(portMapping, { maxLength: 3 }), hostileValue),
      'runtimeConfig.portMappings.0': portMapping,
      'runtimeConfig.portMappings.0.hostIP': maybeIP,
      'runtimeConfig.portMappings.0.protocol': hostileString,
      'runtimeConfig.portMappings.0.hostPort': fc.oneof(fc.integer({ min: -1, max: 70_000 }), hostileValue),
      'runtimeConfig.portMappings.0.containerPort': fc.oneof(fc.integer({ min: -1, max: 70_000 }), hostileValue),
      // containerd's CRI capitalises the keys: both spellings at once, or one alone
      'runtimeConfig.portMappings.0.HostPort': fc.oneof(fc.integer({ min: -1, max: 70_000 }), hostileValue),
      'runtimeConfig.portMappings.0.Protocol': hostileString,
      'runtimeConfig.portMappings.1': portMapping,
      'runtimeConfig.portMappings.2': portMapping,
      prevResult: hostileValue,
      'prevResult.ips.0.address': hostileValue,
      'prevResult.interfaces.2.name': hostileString,
    },
  },
  {
    type: 'bandwidth',
    label: 'bandwidth (runtimeConfig.bandwidth)',
    ifname: 'eth0',
    wired: true,
    base: (w) =>
      bandwidthBase(w, {
        bandwidth: { ingressRate: 1_000_000, ingressBurst: 80_000, egressRate: 2_000_000, egressBurst: 4_294_967_295 },
      }),
    paths: bandwidthPaths,
  },
  {
    type: 'bandwidth',
    label: 'bandwidth (pod annotations)',
    ifname: 'eth0',
    wired: true,
    base: (w) => bandwidthBase(w, {}),
    paths: bandwidthPaths,
  },
];

/** One damaged invocation. */
export interface FuzzCase {
  command: string;
  config: Record<string, unknown> | string;
  env: Record<string, string | undefined>;
  /** What was damaged, for the failure message. */
  damage: string[];
}

/** Sets a dotted path ("a.b.0", a key with dots in brackets: "a.[x.y]") in a JSON object, creating objects on the way (undefined deletes). */
export function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const keys = [...path.matchAll(/\[([^\]]+)\]|[^.]+/g)].map((m) => m[1] ?? m[0]);
  let cur: any = obj;
  keys.slice(0, -1).forEach((k, i) => {
    if (cur[k] === null || typeof cur[k] !== 'object') cur[k] = /^\d+$/.test(keys[i + 1]!) ? [] : {};
    cur = cur[k];
  });
  const last = keys.at(-1)!;
  if (value === undefined) delete cur[last];
  else cur[last] = value;
}

/** The CNI_* variables of `s`'s valid invocation with `command`. */
export function validEnv(s: FuzzSubject, w: World, command: string): Record<string, string | undefined> {
  return {
    CNI_COMMAND: command,
    CNI_CONTAINERID: 'hd-ctr',
    CNI_NETNS: w.pod.path,
    CNI_IFNAME: s.ifname,
    CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAME=pod',
    CNI_PATH: binDir,
  };
}

// Paths a runtime hands over as CNI_NETNS: never another namespace of this machine.
const safeNetns = (w: World) =>
  fc.oneof(
    { weight: 6, arbitrary: fc.constant(w.pod.path) },
    {
      weight: 3,
      arbitrary: fc.constantFrom(
        '/proc/self/ns/net',
        `${w.dir}/plain-file`,
        w.dir,
        `${w.dir}/missing`,
        'relative/netns',
        `${w.dir}/netns "with" quotes\n#x`,
      ),
    },
    { weight: 1, arbitrary: hostileString.filter((s) => !/^\s*\/(proc|run|var)/.test(s) && !existsSync(s)) },
  );

/** The arbitrary of damaged invocations of `s`: one to three config damages, some env damage. */
export function fuzzCases(s: FuzzSubject, w: World): fc.Arbitrary<FuzzCase> {
  const pathArb = fc.constantFrom(...Object.keys(s.paths), 'cniVersion', 'name', 'runtimeConfig', 'unknownKey');
  const damage = fc.array(
    pathArb.chain((p) =>
      fc
        .oneof(
          { weight: 5, arbitrary: p === 'ipam.dataDir' ? dataDirs(w) : (s.paths[p] ?? hostileValue) },
          { weight: 1, arbitrary: fc.constant(undefined) },
        )
        .map((v) => [p, v] as const),
    ),
    { maxLength: 3 },
  );
  const keepOr = <T>(valid: T, bad: fc.Arbitrary<T>) =>
    fc.oneof({ weight: 14, arbitrary: fc.constant(valid) }, { weight: 1, arbitrary: bad });
  const version = fc.constantFrom('1.1.0', '1.0.0', '0.4.0', '0.3.1', '0.3.0', '0.2.0', '0.1.0', '2.0.0', '', '1.0');
  return fc
    .record({
      damage,
      extraPaths: fc.constantFrom<'ipam.dataDir' | undefined>(undefined, undefined, undefined, 'ipam.dataDir'),
      dataDir: dataDirs(w),
      version: keepOr('1.0.0', version),
      raw: fc.oneof(
        { weight: 19, arbitrary: fc.constant(undefined) },
        { weight: 1, arbitrary: fc.constantFrom('', 'null', '[]', '{', '"x"', '{"cniVersion":"1.0.0"}', '\u0000') },
      ),
      command: fc.oneof(
        { weight: 10, arbitrary: fc.constant('ADD') },
        { weight: 4, arbitrary: fc.constantFrom('DEL', 'CHECK', 'GC', 'STATUS', 'VERSION') },
        { weight: 1, arbitrary: fc.oneof(fc.constantFrom('', 'add', 'del ', 'ADD\n'), hostileString) },
      ),
      containerId: keepOr<string | undefined>('hd-ctr', fc.oneof(hostileString, fc.constant(undefined))),
      ifname: keepOr<string | undefined>(s.ifname, fc.oneof(hostileString, fc.constant(undefined))),
      netns: safeNetns(w),
      cniArgs: keepOr<string | undefined>(
        'IgnoreUnknown=1;K8S_POD_NAME=pod',
        fc.oneof(hostileString, fc.constantFrom('IP=10.77.0.50', 'IP=10.77.0.0', 'MAC=zz', 'a=b=c', ';;', '=')),
      ),
      // the executables change links through rtnetlink; CNI_TS_NETLINK=0 is the ip fallback
      netlinkOff: fc.boolean(),
      cniPath: keepOr<string | undefined>(
        binDir,
        fc.constantFrom('', `${w.dir}/empty`, `/nonexistent:${binDir}`, undefined),
      ),
    })
    .map((r) => {
      const config = structuredClone(s.base(w));
      const notes: string[] = [];
      setPath(config, 'cniVersion', r.version);
      if (r.version !== '1.0.0') notes.push(`cniVersion=${JSON.stringify(r.version)}`);
      if (r.extraPaths && 'ipam' in config) {
        setPath(config, 'ipam.dataDir', r.dataDir);
        notes.push(`ipam.dataDir=${JSON.stringify(r.dataDir)}`);
      }
      for (const [p, v] of r.damage) {
        setPath(config, p, v);
        notes.push(`${p}=${JSON.stringify(v)}`);
      }
      // a runtime cannot put NUL into the environment (execve takes C strings)
      const noNul = (v: string | undefined) => v?.replace(/\0/g, '');
      const env = {
        CNI_COMMAND: noNul(r.command),
        CNI_CONTAINERID: noNul(r.containerId),
        CNI_NETNS: noNul(r.netns),
        CNI_IFNAME: noNul(r.ifname),
        CNI_ARGS: noNul(r.cniArgs),
        CNI_PATH: noNul(r.cniPath),
        ...(r.netlinkOff ? { CNI_TS_NETLINK: '0' } : {}),
      };
      return { command: env.CNI_COMMAND ?? '', config: r.raw ?? config, env, damage: notes };
    });
}
