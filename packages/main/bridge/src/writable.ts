// The values of an invocation that reach a tool's input text, checked with that tool's encoder
// before anything changes: a value the language cannot carry is a code-4 (CNI_*) or code-7
// (config) error naming the field, never a command read differently than it was meant.
import { iprouteToken } from '@cni-ts/process';
import { formatComment, restoreToken } from '@cni-ts/iptables';
import { nftString } from '@cni-ts/nftables';
import { type Context, type WritableCheck, requireWritable } from '@cni-ts/skel';
import type { BridgeConf } from './config.js';
import { nftMasqComment } from './plan-masq-nft.js';
import { spoofChains, spoofNames } from './plan-spoofcheck.js';

/** Refuses (code 4/7) any value of this ADD or CHECK that a tool it feeds cannot read back exactly. */
export function requireWritableValues(conf: BridgeConf, args: Context['args']): void {
  const { netns, ifname, containerId: id } = args;
  const checks: WritableCheck[] = [
    ['CNI_NETNS', netns, iprouteToken], // `ip link add … netns <path>` in the node batch
    ['CNI_IFNAME', ifname, iprouteToken],
    ['bridge', conf.bridge, iprouteToken],
  ];
  if (conf.macspoofchk) {
    checks.push(
      ['CNI_IFNAME', ifname, (v) => spoofChains(id, v)],
      ['CNI_CONTAINERID', id, (v) => spoofChains(v, ifname)],
      ['CNI_IFNAME', ifname, (v) => nftString(spoofNames(id, v).comment)],
    );
  }
  if (conf.ipMasq) {
    checks.push(
      ['CNI_IFNAME', ifname, (v) => nftString(nftMasqComment(conf.name, v, id))],
      ['name', conf.name, (v) => restoreToken(formatComment(v, id))],
    );
  }
  requireWritable(checks);
}
