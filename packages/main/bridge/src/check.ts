// CHECK: IPAM CHECK (only when there is IPAM, so L2-only networks pass, unlike upstream), then
// prevResult against the kernel: the bridge, the container veth and its host peer on the bridge,
// addresses and routes in the sandbox, and the spoof-check and masquerade rules. Every problem
// found is reported at once (code 100).
import { mustParsePrefix, formatNetwork } from '@cni-ts/netaddr';
import { ProcessError, ipBatch, isKind } from '@cni-ts/process';
import { type Context, delegateAsync, requireNetns } from '@cni-ts/skel';
import { CniError, ErrorCode, type Interface, type Result, configError } from '@cni-ts/types';
import { loadConf, type BridgeConf } from './config.js';
import { masqCheckProblems } from './check-masq.js';
import { type LinkState, isPromisc, parseLinks } from './observe.js';
import { type RouteState, parseRoutes, routeMatches } from './routes.js';
import { spoofCheckProblems } from './apply-spoofcheck.js';
import { requireWritableValues } from './writable.js';

interface Seen {
  bridge?: LinkState;
  ports: LinkState[];
  container?: LinkState;
  routes: RouteState[];
}

// The bridge and its ports that prevResult names (`link show dev` of each: constant in the node's
// pods, where `link show master` lists every port); when a named one is gone, every port, as before.
function observeNode(ctx: Context, conf: BridgeConf, named: readonly string[]): unknown[] {
  const bridge = ['addr', 'show', 'dev', conf.bridge];
  try {
    const docs = ipBatch(ctx.exec, [bridge, ...named.map((n) => ['link', 'show', 'dev', n])], { options: ['-d'] });
    return [docs[0], docs.slice(1).flatMap((d) => (Array.isArray(d) ? d : []))];
  } catch (e) {
    if (!(e instanceof ProcessError) || !e.failed || e.failed.index === 0 || !isKind(e, 'missing')) throw e;
  }
  return ipBatch(ctx.exec, [bridge, ['link', 'show', 'master', conf.bridge]], { options: ['-d'] });
}

function observe(ctx: Context, conf: BridgeConf, named: readonly string[]): Seen {
  const problems: string[] = [];
  let node: unknown[] = [];
  try {
    node = observeNode(ctx, conf, named);
  } catch (e) {
    problems.push(`bridge ${conf.bridge} in the host namespace was not found (${(e as Error).message})`);
  }
  let pod: unknown[] = [];
  const ifname = ctx.args.ifname;
  try {
    pod = ipBatch(
      ctx.exec,
      [
        ['route', 'show', 'table', 'all', 'root', '0.0.0.0/0'],
        ['route', 'show', 'table', 'all', 'root', '::/0'],
        ['addr', 'show', 'dev', ifname],
      ],
      { netns: ctx.args.netns, options: ['-d'] },
    );
  } catch (e) {
    problems.push(`interface ${ifname} in ${ctx.args.netns} was not found (${(e as Error).message})`);
  }
  if (problems.length) fail(problems);
  return {
    bridge: parseLinks(node[0])[0],
    ports: parseLinks(node[1]).filter((l) => l.master === conf.bridge),
    container: parseLinks(pod[2])[0],
    routes: [...parseRoutes(pod[0], 4), ...parseRoutes(pod[1], 6)],
  };
}

function fail(problems: readonly string[]): never {
  throw new CniError(
    ErrorCode.checkFailed,
    `bridge CHECK failed: ${problems.join('; ')}`,
    'the sandbox differs from what ADD set up; delete and re-add its network',
  );
}

function checkLinks(
  conf: BridgeConf,
  s: Seen,
  brIf: Interface | undefined,
  contIf: Interface,
  prev: Result,
): { problems: string[]; hostVeth?: LinkState } {
  const p: string[] = [];
  const br = s.bridge!;
  const c = s.container!;
  if (br.kind !== 'bridge') p.push(`interface ${conf.bridge} does not have link type of bridge`);
  if (brIf?.mac && brIf.mac !== br.mac)
    p.push(`bridge interface ${conf.bridge} MAC ${br.mac} doesn't match ${brIf.mac}`);
  if (isPromisc(br) !== conf.promiscMode)
    p.push(`bridge interface ${conf.bridge} promiscuous mode is ${isPromisc(br)}, the config says ${conf.promiscMode}`);
  if (c.kind !== 'veth') p.push(`container interface ${c.name} is not a veth`);
  if (contIf.mac && contIf.mac !== c.mac) p.push(`interface ${c.name} MAC ${c.mac} doesn't match ${contIf.mac}`);
  const named = new Set((prev.interfaces ?? []).filter((i) => !i.sandbox && i.name !== conf.bridge).map((i) => i.name));
  const hostVeth = s.ports.find(
    (l) => named.has(l.name) && l.kind === 'veth' && l.peerIndex === c.ifindex && c.peerIndex === l.ifindex,
  );
  if (!hostVeth) {
    p.push(`CNI veth created for bridge ${conf.bridge} was not found`);
    return { problems: p };
  }
  const hostIf = prev.interfaces?.find((i) => i.name === hostVeth.name);
  if (hostIf?.mac && hostIf.mac !== hostVeth.mac)
    p.push(`interface ${hostVeth.name} MAC ${hostVeth.mac} doesn't match ${hostIf.mac}`);
  if (!!hostVeth.hairpin !== conf.hairpinMode)
    p.push(`hairpin mode of ${hostVeth.name} is ${!!hostVeth.hairpin}, the config says ${conf.hairpinMode}`);
  if (!!hostVeth.isolated !== conf.portIsolation)
    p.push(`port isolation of ${hostVeth.name} is ${!!hostVeth.isolated}, the config says ${conf.portIsolation}`);
  return { problems: p, hostVeth };
}

function checkAddresses(s: Seen, prev: Result, contIdx: number): string[] {
  const p: string[] = [];
  const c = s.container!;
  for (const ip of prev.ips ?? []) {
    if (ip.interface !== undefined && ip.interface !== contIdx) continue;
    const want = mustParsePrefix(ip.address);
    if (
      !c.addrs.some(
        (a) =>
          mustParsePrefix(`${a.local}/${a.prefixlen}`).ip.value === want.ip.value &&
          a.prefixlen === want.bits &&
          a.family === want.ip.family,
      )
    ) {
      p.push(`failed to match addr ${ip.address} on interface ${c.name}`);
    } else if (!s.routes.some((r) => r.dst === formatNetwork(want) && r.dev === c.name)) {
      p.push(`failed to find the subnet route ${formatNetwork(want)} for ${ip.address}`);
    }
  }
  for (const r of prev.routes ?? []) {
    if (!s.routes.some((have) => routeMatches(have, r)))
      p.push(`expected route ${r.dst}${r.gw ? ` via ${r.gw}` : ''} not found in routing table`);
  }
  return p;
}

/** The bridge plugin's CHECK. */
export async function cmdCheck(ctx: Context): Promise<void> {
  const conf = loadConf(ctx, true);
  const { netns, ifname, containerId } = ctx.args;
  requireNetns(netns);
  requireWritableValues(conf, ctx.args);
  if (conf.ipamType) await delegateAsync(ctx, conf.ipamType, 'CHECK');
  const prev = ctx.prevResult;
  if (!prev)
    throw configError(
      'Required prevResult missing',
      'CHECK needs the result of ADD as prevResult; the runtime sends it',
    );
  const ifs = prev.interfaces ?? [];
  const brIf = ifs.find((i) => i.name === conf.bridge && !i.sandbox);
  const contIdx = ifs.findIndex((i) => i.name === ifname && i.sandbox === netns);
  if (contIdx < 0) fail([`prevResult has no interface ${ifname} in sandbox ${netns}`]);
  const named = [...new Set(ifs.filter((i) => !i.sandbox && i.name !== conf.bridge).map((i) => i.name))];
  const seen = observe(ctx, conf, named);
  const links = checkLinks(conf, seen, brIf, ifs[contIdx]!, prev);
  const problems = [...links.problems, ...checkAddresses(seen, prev, contIdx)];
  if (conf.macspoofchk && links.hostVeth)
    problems.push(...spoofCheckProblems(ctx.exec, containerId, ifname, links.hostVeth.name, seen.container!.mac));
  if (conf.ipamType && conf.ipMasq) {
    const addrs = (prev.ips ?? [])
      .filter((ip) => ip.interface === undefined || ip.interface === contIdx)
      .map((ip) => ip.address);
    if (addrs.length)
      problems.push(...masqCheckProblems(ctx.exec, conf, { network: conf.name, containerId, ifname }, addrs));
  }
  if (problems.length) fail(problems);
}
