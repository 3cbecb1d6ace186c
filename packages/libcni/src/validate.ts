// The identifiers libcni checks before an ADD (its utils package), with the same codes.
import { ErrorCode } from '@cni-ts/types';
import { PluginError } from './errors.js';

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** A container ID is required and made of letters, digits, '_', '.', '-' (code 3 when missing, 4 when malformed). */
export function validateContainerID(id: string): void {
  if (id === '') throw new PluginError(ErrorCode.unknownContainer, 'missing containerID', '');
  if (!NAME_RE.test(id)) throw new PluginError(ErrorCode.invalidEnvironment, 'invalid characters in containerID', id);
}

/** A network name is required and made of the same characters (code 7). */
export function validateNetworkName(name: string): void {
  if (name === '') throw new PluginError(ErrorCode.invalidConfig, 'missing network name:', '');
  if (!NAME_RE.test(name))
    throw new PluginError(ErrorCode.invalidConfig, 'invalid characters found in network name', name);
}

/** An interface name is 1–15 characters, not "." or "..", without '/', ':' or whitespace (code 4). */
export function validateIfName(name: string): void {
  const bad = (msg: string, details = '') => new PluginError(ErrorCode.invalidEnvironment, msg, details);
  if (name.length === 0) throw bad('interface name is empty');
  if (Buffer.byteLength(name) > 15)
    throw bad('interface name is too long', 'interface name should be less than 16 characters');
  if (name === '.' || name === '..') throw bad('interface name is . or ..');
  if (/[/:\s]/u.test(name)) throw bad('interface name contains / or : or whitespace characters');
}
