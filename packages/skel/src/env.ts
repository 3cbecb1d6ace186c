// The CNI_* environment: which variables each verb requires, and their validation.
import { CniError, ErrorCode } from '@cni-ts/types';
import { validateContainerId, validateIfName } from './validate.js';

/** The verbs a runtime may send (VERSION is handled before any of this). */
export type Command = 'ADD' | 'DEL' | 'CHECK' | 'GC' | 'STATUS';

export const COMMANDS: readonly Command[] = ['ADD', 'DEL', 'CHECK', 'GC', 'STATUS'];

/** The invocation's arguments from the environment. */
export interface CmdArgs {
  containerId: string;
  netns: string;
  ifname: string;
  /** CNI_ARGS as given ("K=V;K2=V2"). */
  args: string;
  /** CNI_PATH split on ':'. */
  path: string[];
  /** CNI_NETNS_OVERRIDE: skip the check that CNI_NETNS is not our own netns. */
  netnsOverride: boolean;
}

type Getenv = (name: string) => string | undefined;

// Which verbs require each variable (as upstream skel enforces, stricter than the spec text).
const REQUIRED: ReadonlyArray<[string, readonly Command[], ((v: string) => void)?]> = [
  ['CNI_CONTAINERID', ['ADD', 'CHECK', 'DEL'], validateContainerId],
  ['CNI_NETNS', ['ADD', 'CHECK']],
  ['CNI_IFNAME', ['ADD', 'CHECK', 'DEL'], validateIfName],
  ['CNI_PATH', ['ADD', 'CHECK', 'DEL', 'GC', 'STATUS']],
];

/** Reads and validates the CNI_* variables for `command`; missing ones are reported together (code 4). */
export function readCmdArgs(command: Command, getenv: Getenv): CmdArgs {
  const missing: string[] = [];
  for (const [name, verbs, validate] of REQUIRED) {
    if (!verbs.includes(command)) continue;
    const v = getenv(name) ?? '';
    if (v === '') missing.push(name);
    else validate?.(v);
  }
  if (missing.length) {
    throw new CniError(
      ErrorCode.invalidEnvironment,
      `required env variables [${missing.join(',')}] missing`,
      `CNI_COMMAND=${command} needs ${missing.join(', ')} set by the container runtime`,
    );
  }
  const override = (getenv('CNI_NETNS_OVERRIDE') ?? '').toLowerCase();
  return {
    containerId: getenv('CNI_CONTAINERID') ?? '',
    netns: getenv('CNI_NETNS') ?? '',
    ifname: getenv('CNI_IFNAME') ?? '',
    args: getenv('CNI_ARGS') ?? '',
    path: (getenv('CNI_PATH') ?? '').split(':').filter((p) => p !== ''),
    netnsOverride: override === '1' || override === 'true',
  };
}
