// Version negotiation per verb, as libcni's skel does it.
import { CniError, ErrorCode, compareVersions, versionAtLeast } from '@cni-ts/types';
import type { Command } from './env.js';

// The oldest config version that allows each verb.
const FLOOR: Partial<Record<Command, string>> = { CHECK: '0.4.0', GC: '1.1.0', STATUS: '1.1.0' };

/**
 * Checks that `confVersion` may be used for `command` by a plugin supporting `supported`:
 * CHECK needs ≥ 0.4.0, GC and STATUS ≥ 1.1.0, and the version must be one the plugin lists.
 */
export function negotiate(command: Command, confVersion: string, supported: readonly string[]): void {
  const floor = FLOOR[command];
  if (floor) {
    if (!versionAtLeast(confVersion, floor)) {
      throw new CniError(
        ErrorCode.incompatibleVersion,
        `config version does not allow ${command}`,
        `${command} needs cniVersion ${floor} or newer; the config says "${confVersion}"`,
      );
    }
    if (!supported.some((v) => compareVersions(v, confVersion) >= 0)) {
      throw new CniError(
        ErrorCode.incompatibleVersion,
        `plugin version does not allow ${command}`,
        `config is "${confVersion}", plugin supports ${quoteList(supported)}`,
      );
    }
  }
  if (!supported.includes(confVersion)) {
    throw new CniError(
      ErrorCode.incompatibleVersion,
      `incompatible CNI versions: config is "${confVersion}", plugin supports ${supported.join(', ')}`,
      `config is "${confVersion}", plugin supports ${quoteList(supported)}`,
    );
  }
}

function quoteList(vs: readonly string[]): string {
  return `[${vs.map((v) => `"${v}"`).join(' ')}]`;
}
