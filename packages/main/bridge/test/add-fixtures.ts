// Shared fixtures of the ADD golden tests: an IPAM answer, a pod, a node, and a runner.
import type { CniError } from '@cni-ts/types';
import { makeBridge } from '../src/index.js';
import { FakeHost, type Scenario, ScriptedExec, context } from './helpers.js';

export const IPAM_V4 = {
  cniVersion: '1.0.0',
  ips: [{ address: '10.22.0.2/24' }],
  routes: [{ dst: '0.0.0.0/0' }],
  dns: { nameservers: ['10.22.0.53'] },
};
export const POD = {
  eth0: { ifindex: 2, mac: '0a:58:0a:16:00:02', peer: 9, addrs: [['10.22.0.2', 24]] as Array<[string, number]> },
};
/** The first name FakeHost's counting "random" bytes give. */
export const VETH = 'vetha0a1a2a3';
export const NODE = {
  cni0: { ifindex: 3, kind: 'bridge', mac: '02:a0:a1:a2:a3:a4', info: { vlan_filtering: 0, vlan_default_pvid: 1 } },
  [VETH]: { ifindex: 9, mac: '6e:00:00:00:00:09', master: 'cni0' },
};

/** Runs ADD against a scripted kernel and IPAM; returns the recorded processes and the result or error. */
export async function runAdd(config: Record<string, unknown>, s: Scenario, hostLinks: string[] = [], cniArgs = '') {
  const exec = new ScriptedExec(s);
  const host = new FakeHost(hostLinks);
  try {
    const result = await makeBridge(host).add(context(exec, config, { cniArgs }));
    return { exec, host, result, error: undefined };
  } catch (error) {
    return { exec, host, result: undefined, error: error as CniError };
  }
}
