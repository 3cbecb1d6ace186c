// The store directory <dataDir>/<network>, resolved so that nothing is ever written outside it:
// the network name must be one plain path segment, and neither dataDir nor the network
// directory may be a symbolic link or resolve anywhere else.
import { lstatSync, mkdirSync, realpathSync } from 'node:fs';
import { CniError, ErrorCode, configError } from '@cni-ts/types';

/** A code-5 error for a file-system failure, naming the path and the errno. */
export function ioError(what: string, path: string, e: unknown): CniError {
  const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
  const hint =
    code === 'EACCES' || code === 'EPERM'
      ? 'host-local must run as root (the runtime runs CNI plugins as root)'
      : code === 'EROFS'
        ? 'the file system is read-only: point ipam.dataDir at a writable directory'
        : code === 'ENOSPC'
          ? 'the file system is full'
          : '';
  return new CniError(ErrorCode.ioFailure, `failed to ${what} ${path}: ${code}`, hint, { cause: e });
}

function lstatOrUndefined(path: string) {
  try {
    return lstatSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined; // missing, or below a file: as good as missing
    throw ioError('inspect', path, e);
  }
}

/**
 * The network's store directory. Created (mode 0755, like upstream) when `create` is set;
 * undefined when it does not exist and `create` is not set. Links are refused before anything
 * is created, so a refused store leaves no trace.
 */
export function storeDir(dataDir: string, network: string, create: boolean): string | undefined {
  if (network === '' || network === '.' || network === '..' || /[/\0]/.test(network)) {
    throw configError(
      `network name "${network}" cannot name a store directory`,
      'use letters, digits, "_", "." and "-" only',
    );
  }
  const dir = dataDir === '/' ? `/${network}` : `${dataDir}/${network}`;
  if (!inspect(dataDir, dir, network)) {
    if (!create) return undefined;
    try {
      mkdirSync(dir, { recursive: true, mode: 0o755 });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOTDIR' || code === 'EEXIST') {
        throw configError(
          `ipam.dataDir "${dataDir}" cannot hold the store of network "${network}": a part of ${dir} is not a directory`,
          'point ipam.dataDir at a directory',
        );
      }
      throw ioError('create the store directory', dir, e);
    }
    if (!inspect(dataDir, dir, network)) throw ioError('create the store directory', dir, new Error('it vanished'));
  }
  const real = realpathSync(dir);
  const expected = `${realpathSync(dataDir).replace(/\/$/, '')}/${network}`;
  if (real !== expected) {
    throw configError(
      `the store of network "${network}", ${dir}, resolves to ${real}, outside ipam.dataDir`,
      'remove it and let host-local create it',
    );
  }
  return dir;
}

// True when both exist as real directories; false when either is missing; throws for links and non-directories.
function inspect(dataDir: string, dir: string, network: string): boolean {
  const top = lstatOrUndefined(dataDir);
  if (!top) return false;
  if (top.isSymbolicLink()) {
    throw configError(
      `ipam.dataDir "${dataDir}" is a symbolic link`,
      'point ipam.dataDir at the real directory: host-local refuses links so that reservations are never written outside the store',
    );
  }
  if (!top.isDirectory())
    throw configError(`ipam.dataDir "${dataDir}" is not a directory`, 'point ipam.dataDir at a directory');
  const own = lstatOrUndefined(dir);
  if (!own) return false;
  if (own.isSymbolicLink() || !own.isDirectory()) {
    throw configError(
      `the store of network "${network}", ${dir}, is ${own.isSymbolicLink() ? 'a symbolic link' : 'not a directory'}`,
      'remove it: host-local keeps reservations only in a real directory inside ipam.dataDir',
    );
  }
  return true;
}
