// CHECK: every rule of this container in each family it has an address in (so an IPv4-only pod
// on a dual-stack node passes, unlike upstream v1.1.1: containernetworking/plugins#819), plus
// the shared entry rules, in the backend ADD would use. Every problem is reported at once.
import type { Context } from '@cni-ts/skel';
import { CniError, ErrorCode, configError } from '@cni-ts/types';
import { missingByCheck, readTables } from './apply-iptables.js';
import { checkNft } from './apply-nft.js';
import { chooseBackend, kernelError } from './backend.js';
import { checkForBackend, loadConf } from './config.js';
import { containerNets } from './container.js';
import { type Owner, checkSetup, ruleText } from './plan-iptables.js';

/** The portmap plugin's CHECK. */
export async function cmdCheck(ctx: Context): Promise<void> {
  const conf = await loadConf(ctx);
  if (!ctx.prevResult)
    throw configError(
      'Required prevResult missing',
      'CHECK needs the result of ADD as prevResult; the runtime sends it',
    );
  if (conf.mappings.length === 0) return;
  if (conf.backend) checkForBackend(conf, conf.backend);
  const nets = containerNets(ctx.prevResult, ctx.args.ifname);
  if (nets.length === 0) return;
  const owner: Owner = { network: conf.name, containerId: ctx.args.containerId };
  const { backend, v4 } = chooseBackend(ctx.exec, conf, owner);
  checkForBackend(conf, backend);
  const problems: string[] = [];
  try {
    if (backend === 'nftables') problems.push(...checkNft(ctx.exec, conf, owner.containerId, nets));
    else {
      for (const n of nets) {
        const tables = n.family === 4 && v4 ? v4 : readTables(ctx.exec, conf, n.family, owner);
        const found = checkSetup(tables, conf, owner, n);
        problems.push(...found.problems);
        for (const r of missingByCheck(ctx.exec, n.family, found.verify))
          problems.push(`rule "${ruleText(r)}" is missing from the IPv${n.family} nat table`);
      }
    }
  } catch (e) {
    throw kernelError(`read the ${backend} rules`, e);
  }
  if (problems.length)
    throw new CniError(
      ErrorCode.checkFailed,
      `portmap CHECK failed: ${problems.join('; ')}`,
      'the port mappings differ from what ADD set up; delete and re-add the sandbox network',
    );
}
