// ipam.resolvConf: a resolv.conf whose nameserver, domain, search and options lines become the
// result's DNS, read as upstream's parseResolvConf does.
import { readFileSync } from 'node:fs';
import { CniError, type DNS, ErrorCode } from '@cni-ts/types';

/** Parses resolv.conf text; comment lines (# or ;) and lines without a value are skipped. */
export function parseResolvConf(text: string): DNS {
  const dns: DNS = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const [key, ...values] = line.split(/\s+/);
    if (values.length === 0) continue;
    switch (key) {
      case 'nameserver':
        (dns.nameservers ??= []).push(values[0]!);
        break;
      case 'domain':
        dns.domain = values[0]!;
        break;
      case 'search':
        (dns.search ??= []).push(...values);
        break;
      case 'options':
        (dns.options ??= []).push(...values);
        break;
      default:
    }
  }
  return dns;
}

/** Reads and parses the file named by ipam.resolvConf; a missing file is a code-7 error. */
export function readResolvConf(path: string): DNS {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EISDIR') {
      throw new CniError(
        ErrorCode.invalidConfig,
        `ipam.resolvConf "${path}" ${code === 'ENOENT' ? 'does not exist' : 'is a directory'}`,
        'point it at a resolv.conf file, or leave it out',
        { cause: e },
      );
    }
    throw new CniError(
      ErrorCode.ioFailure,
      `failed to read ipam.resolvConf "${path}": ${code ?? (e as Error).message}`,
      '',
      { cause: e },
    );
  }
  return parseResolvConf(text);
}
