// Where the things under test live.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(from: string): string {
  let dir = from;
  while (dir !== '/') {
    if (existsSync(join(dir, 'nx.json'))) return dir;
    dir = dirname(dir);
  }
  throw new Error(`cannot find the repository root above ${from}`);
}

/** The repository root (the folder with nx.json). */
export const repoRoot = findRoot(dirname(fileURLToPath(import.meta.url)));

/** Where `npm run build` leaves the standalone executables. */
export const binDir = process.env.CNI_TS_BIN_DIR ?? join(repoRoot, 'dist', 'bin');

/** Debian's containernetworking-plugins: the Go reference for differential tests. */
export const goPluginDir = process.env.CNI_GO_PLUGIN_DIR ?? '/usr/lib/cni';

/** The path of one of our executables. */
export function ourPlugin(type: string): string {
  return join(binDir, type);
}

/** The path of a Go reference plugin. */
export function goPlugin(type: string): string {
  return join(goPluginDir, type);
}

/** The PATH a runtime gives plugins: system directories only (never node_modules/.bin). */
export const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
