// The bridge network configuration: a zod/mini schema for what users write (keys matched
// case-insensitively, as Go decodes them), the cross-field rules beside it, and one normalise
// step producing the values the planner uses. Every mistake is a code-7 error saying what to fix.
import * as z from 'zod/mini';
import { type Context, loadCniArgs } from '@cni-ts/skel';
import { type DNS, compact, configError, foldKeys, opt, parseWith, presentFields } from '@cni-ts/types';
import { leanBridgeConf } from './lean-conf.js';
import { collectVlanTrunk } from './vlan.js';

/** The bridge config after defaults and validation. */
export interface BridgeConf {
  name: string;
  cniVersion: string;
  bridge: string;
  isGateway: boolean;
  isDefaultGateway: boolean;
  forceAddress: boolean;
  ipMasq: boolean;
  /** Unset: chosen at run time as upstream (iptables unless only nftables works). */
  ipMasqBackend?: 'iptables' | 'nftables';
  /** 0 = kernel default. */
  mtu: number;
  hairpinMode: boolean;
  promiscMode: boolean;
  /** 0 = no VLAN; else the port's PVID (untagged). */
  vlan: number;
  /** Trunk VLAN IDs (tagged), sorted and unique. */
  vlans: number[];
  /** A new bridge gets vlan_filtering (vlan set, or vlanTrunk given). */
  vlanFiltering: boolean;
  preserveDefaultVlan: boolean;
  macspoofchk: boolean;
  enabledad: boolean;
  disableContainerInterface: boolean;
  portIsolation: boolean;
  /** '' = L2-only network (no addresses). */
  ipamType: string;
  /** Config `dns`, when any field is set: replaces the DNS IPAM returned. */
  dns?: DNS;
  /** Container MAC from CNI_ARGS MAC, args.cni.mac or runtimeConfig.mac (lowest to highest precedence). */
  mac?: string;
}

/** The bridge name when the config gives none (upstream defaultBrName). */
export const DEFAULT_BRIDGE = 'cni0';

const bool = () => opt(z.boolean());
const str = () => opt(z.string());

// Every key the bridge reads, as builders: the schema of one config is built from the keys it
// holds (presentFields), so a run pays for the few a config names, not for all of them.
const FIELDS = {
  bridge: str,
  isGateway: bool,
  isDefaultGateway: bool,
  forceAddress: bool,
  ipMasq: bool,
  ipMasqBackend: str,
  mtu: () => opt(z.int()),
  hairpinMode: bool,
  promiscMode: bool,
  vlan: () => opt(z.int()),
  vlanTrunk: () => opt(z.array(z.object({ minID: opt(z.int()), maxID: opt(z.int()), id: opt(z.int()) }))),
  preserveDefaultVlan: bool,
  macspoofchk: bool,
  enabledad: bool,
  disableContainerInterface: bool,
  portIsolation: bool,
  ipam: () => opt(z.looseObject({ type: str() })),
  dns: () =>
    opt(
      z.object({
        nameservers: opt(z.array(z.string())),
        domain: str(),
        search: opt(z.array(z.string())),
        options: opt(z.array(z.string())),
      }),
    ),
  args: () => opt(z.looseObject({ cni: opt(z.looseObject({ mac: str() })) })),
  runtimeConfig: () => opt(z.looseObject({ mac: str() })),
};

/** The schema of a bridge config: cniVersion and name, and those of FIELDS that `raw` holds. */
function schemaFor(raw: unknown) {
  return z.looseObject({ cniVersion: z.string(), name: z.string(), ...presentFields(FIELDS, raw) });
}

type Parsed = z.output<ReturnType<typeof schemaFor>>;

/**
 * Parses and validates the config of an invocation. CNI_ARGS are read only when `withArgs`
 * (ADD/CHECK), so DEL never fails on them. The lean reader (lean-conf.ts) reads the usual shapes
 * without building the schema; whatever it leaves, and every error, is the schema's (`lean`
 * false: the schema alone, for the tests that hold the two paths to the same answers).
 */
export function loadConf(ctx: Context, withArgs: boolean, lean = true): BridgeConf {
  const fast = lean ? (leanBridgeConf(ctx.conf.raw) as Parsed | undefined) : undefined;
  const raw = fast ?? parseSchema(ctx.conf.raw);
  const vlan = raw.vlan ?? 0;
  if (vlan < 0 || vlan > 4094)
    throw configError(`invalid VLAN ID ${vlan} (must be between 0 and 4094)`, 'set "vlan" to 1–4094, or 0 for no VLAN');
  const ipamType = raw.ipam?.type ?? '';
  const conf: BridgeConf = {
    name: raw.name,
    cniVersion: raw.cniVersion,
    bridge: raw.bridge || DEFAULT_BRIDGE,
    isGateway: !!(raw.isGateway || raw.isDefaultGateway),
    isDefaultGateway: !!raw.isDefaultGateway,
    forceAddress: !!raw.forceAddress,
    ipMasq: !!raw.ipMasq,
    mtu: raw.mtu ?? 0,
    hairpinMode: !!raw.hairpinMode,
    promiscMode: !!raw.promiscMode,
    vlan,
    vlans: collectVlanTrunk(raw.vlanTrunk ?? undefined),
    vlanFiltering: vlan !== 0 || (raw.vlanTrunk !== undefined && raw.vlanTrunk !== null),
    preserveDefaultVlan: !!raw.preserveDefaultVlan,
    macspoofchk: !!raw.macspoofchk,
    enabledad: !!raw.enabledad,
    disableContainerInterface: !!raw.disableContainerInterface,
    portIsolation: !!raw.portIsolation,
    ipamType,
  };
  if (raw.ipMasqBackend !== undefined && raw.ipMasqBackend !== null)
    conf.ipMasqBackend = masqBackend(raw.ipMasqBackend);
  // As upstream's dnsConfSet: any list given (even empty) or a non-empty domain replaces IPAM's DNS.
  const dns = raw.dns ? (compact(raw.dns) as DNS) : undefined;
  if (dns && (dns.nameservers || dns.search || dns.options || dns.domain)) conf.dns = dns;
  const mac = pickMac(ctx, withArgs, raw.args?.cni?.mac, raw.runtimeConfig?.mac);
  if (mac) conf.mac = mac;
  checkRules(conf);
  return conf;
}

function parseSchema(raw: unknown) {
  const s = schemaFor(raw);
  return parseWith(s, foldKeys(s, raw), 'bridge network configuration');
}

function masqBackend(v: string): 'iptables' | 'nftables' {
  if (v === 'iptables' || v === 'nftables') return v;
  throw configError(
    `unknown ipmasq backend "${v}"`,
    'set "ipMasqBackend" to "iptables" or "nftables", or leave it out to choose automatically',
  );
}

function pickMac(
  ctx: Context,
  withArgs: boolean,
  fromArgs?: string | null,
  fromRuntime?: string | null,
): string | undefined {
  let chosen: [string, string] | undefined;
  if (withArgs) {
    const env = loadCniArgs(ctx.args.args, ['MAC']).MAC;
    if (env) chosen = [env, 'CNI_ARGS MAC'];
  }
  if (fromArgs) chosen = [fromArgs, 'args.cni.mac'];
  if (fromRuntime) chosen = [fromRuntime, 'runtimeConfig.mac'];
  return chosen ? parseMac(chosen[0], chosen[1]) : undefined;
}

/** A unicast Ethernet MAC in colon, hyphen or dotted form, as lower-case colon form; code 7 otherwise. */
export function parseMac(text: string, from: string): string {
  const hex = /^([0-9a-f]{2})([:-])([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})$/i.exec(
    text,
  );
  const dotted = /^([0-9a-f]{4})\.([0-9a-f]{4})\.([0-9a-f]{4})$/i.exec(text);
  const bytes = hex
    ? [hex[1], hex[3], hex[4], hex[5], hex[6], hex[7]]
    : dotted
      ? dotted.slice(1).join('').match(/../g)
      : undefined;
  if (!bytes)
    throw configError(
      `invalid MAC address "${text}" in ${from}`,
      'write it as six hex bytes, e.g. "c2:11:22:33:44:55"',
    );
  const mac = bytes.join(':').toLowerCase();
  if ((parseInt(mac.slice(0, 2), 16) & 1) === 1 || mac === '00:00:00:00:00:00') {
    throw configError(
      `invalid MAC address "${text}" in ${from}: it must be a unicast address`,
      'the lowest bit of the first byte must be 0, e.g. "c2:…" or "02:…"',
    );
  }
  return mac;
}

function checkRules(c: BridgeConf): void {
  if (!validLinkName(c.bridge))
    throw configError(
      `invalid bridge name "${c.bridge}"`,
      'a Linux interface name has 1–15 bytes and no "/", ":" or whitespace',
    );
  if (c.mtu !== 0 && (c.mtu < 68 || c.mtu > 65535))
    throw configError(`invalid mtu ${c.mtu}`, 'set "mtu" to 68–65535, or leave it out for the kernel default');
  if (c.hairpinMode && c.promiscMode) {
    throw configError(
      'cannot set hairpin mode and promiscuous mode at the same time',
      'set "hairpinMode" or "promiscMode", not both',
    );
  }
  if (c.ipamType !== '' && c.disableContainerInterface) {
    throw configError(
      'cannot use IPAM when DisableContainerInterface flag is set',
      'remove "ipam" (an L2-only network) or "disableContainerInterface"',
    );
  }
  if (c.vlan !== 0 && c.isGateway && c.ipamType !== '' && !validLinkName(`${c.bridge}.${c.vlan}`)) {
    throw configError(
      `the VLAN gateway interface name "${c.bridge}.${c.vlan}" is longer than 15 bytes`,
      'use a shorter "bridge" name',
    );
  }
}

/** True for a valid Linux interface name. */
export function validLinkName(n: string): boolean {
  return n !== '' && n !== '.' && n !== '..' && Buffer.byteLength(n) <= 15 && !/[/:\s]/.test(n);
}
