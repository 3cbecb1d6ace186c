// CNI_NETNS checks shared by the plugins that enter the sandbox.
import { probeNetns } from '@cni-ts/process';
import { CniError, ErrorCode } from '@cni-ts/types';

/** Throws a code-4 error naming CNI_NETNS unless it is a network namespace we can enter. */
export function requireNetns(path: string): void {
  switch (probeNetns(path)) {
    case 'missing':
      throw new CniError(
        ErrorCode.invalidEnvironment,
        `CNI_NETNS "${path}" does not exist`,
        'the sandbox may already be gone; the runtime must pass the path of the container network namespace',
      );
    case 'not-netns':
      throw new CniError(
        ErrorCode.invalidEnvironment,
        `CNI_NETNS "${path}" is not a network namespace`,
        'expected a path such as /proc/<pid>/ns/net or /var/run/netns/<name>',
      );
    default:
  }
}

/** True when DEL has no sandbox to clean: CNI_NETNS empty, missing, or no longer a namespace. */
export function netnsGone(path: string): boolean {
  if (path === '') return true;
  const state = probeNetns(path);
  return state === 'missing' || state === 'not-netns';
}
