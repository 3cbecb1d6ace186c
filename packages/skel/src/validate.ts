// Validators for the identifiers a runtime hands us; each failure names the value and the rule.
import { CniError, ErrorCode, configError } from '@cni-ts/types';

const ID_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** CNI_CONTAINERID must start with a letter or digit and hold only letters, digits, '_', '.', '-'. */
export function validateContainerId(id: string): void {
  if (!ID_RE.test(id)) {
    throw new CniError(ErrorCode.invalidEnvironment, 'invalid characters in containerID', id);
  }
}

/** CNI_IFNAME must be a valid Linux interface name: 1–15 bytes, not "." or "..", no '/', ':' or whitespace. */
export function validateIfName(name: string): void {
  const bad = (why: string) =>
    new CniError(ErrorCode.invalidEnvironment, `invalid interface name "${name}": ${why}`, 'CNI_IFNAME');
  if (name === '') throw bad('it is empty');
  if (Buffer.byteLength(name) > 15) throw bad('it is longer than 15 bytes');
  if (name === '.' || name === '..') throw bad('it cannot be "." or ".."');
  if (/[/:\s]/.test(name)) throw bad("it cannot contain '/', ':' or whitespace");
}

/** The network name must be usable as a file name (it names the IPAM store directory). */
export function validateNetworkName(name: unknown): string {
  if (typeof name !== 'string' || name === '')
    throw configError('missing network name', 'set "name" in the network configuration');
  if (!ID_RE.test(name)) {
    throw configError(
      'invalid characters found in network name',
      `"${name}": use letters, digits, '_', '.', '-', starting with a letter or digit`,
    );
  }
  return name;
}
