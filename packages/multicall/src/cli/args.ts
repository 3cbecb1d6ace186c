// Command-line arguments of the `cni-ts` tool: a command, its positional arguments and flags.

/** What the command line asked for. */
export interface CliArgs {
  command?: string;
  positional: string[];
  json: boolean;
  help: boolean;
  /** -i/--ifname: the interface name (cnitool: CNI_IFNAME, default eth0). */
  ifname?: string;
  /** --cache-dir: libcni's cache directory (default /var/lib/cni). */
  cacheDir?: string;
  /** gc --all: treat no attachment as valid, as cnitool's gc does. */
  all: boolean;
  /** gc --valid <containerID>/<ifname>: attachments to keep besides the live ones (repeatable). */
  valid: string[];
  /** inspect --check: exit 1 when something leaked. */
  check: boolean;
  /** inspect --data-dir: host-local stores to read instead of the default one (repeatable). */
  dataDirs: string[];
}

/** A command line that cannot be run; the message says what to change. */
export class UsageError extends Error {
  override name = 'UsageError';
}

const VALUE_FLAGS: Record<string, 'ifname' | 'cacheDir' | 'valid' | 'dataDirs'> = {
  '-i': 'ifname',
  '--ifname': 'ifname',
  '--cache-dir': 'cacheDir',
  '--valid': 'valid',
  '--data-dir': 'dataDirs',
};

/** Parses argv (without the program name); flags may come anywhere, `--flag=value` or `--flag value`. */
export function parseArgs(argv: readonly string[]): CliArgs {
  const out: CliArgs = { positional: [], json: false, help: false, all: false, valid: [], check: false, dataDirs: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    if (name in VALUE_FLAGS) {
      const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
      if (value === undefined || value === '') throw new UsageError(`${name} needs a value`);
      const key = VALUE_FLAGS[name] as 'ifname' | 'cacheDir' | 'valid' | 'dataDirs';
      if (key === 'valid' || key === 'dataDirs') out[key].push(value);
      else out[key] = value;
    } else if (arg === '--json') out.json = true;
    else if (arg === '-h' || arg === '--help') out.help = true;
    else if (arg === '--all') out.all = true;
    else if (arg === '--check') out.check = true;
    else if (arg.startsWith('-') && arg !== '-') throw new UsageError(`unknown option ${arg}`);
    else if (out.command === undefined) out.command = arg;
    else out.positional.push(arg);
  }
  return out;
}
