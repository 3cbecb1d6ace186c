// The synchronous file calls on a plugin run's shared path — stdin and stdout (skel), the
// CNI_NETNS probe, the namespace files, sysctls and the rtnetlink socket's reads and writes —
// behind one seam, so that a run may make them without loading node:fs (about 2 ms of CPU in a
// compiled plugin, docs/startup.md): node:fs by default, taken with process.getBuiltinModule at
// the first call (free where the plugin's own modules import node:fs, as every plugin but
// loopback does), or what a plugin chose with useFs (loopback: libc, netlink/libc-fs.ts).

/** The calls of node:fs that the shared path makes, with node:fs's behaviour (errors carry `code`). */
export interface SyncFs {
  openSync(path: string, flags: 'r'): number;
  closeSync(fd: number): void;
  readSync(fd: number, buf: Uint8Array): number;
  writeSync(fd: number, buf: Uint8Array, offset: number, length: number): number;
  readFileSync(path: string | number, encoding: 'utf8' | 'latin1'): string;
  writeFileSync(path: string, data: string): void;
  statSync(path: string): { dev: number | bigint; ino: number | bigint; isFile(): boolean };
  /** With `throwIfNoEntry: false`: undefined where the path does not exist (ENOENT; Node also for ENOTDIR). */
  statSync(
    path: string,
    opts: { throwIfNoEntry: false },
  ): { dev: number | bigint; ino: number | bigint; isFile(): boolean } | undefined;
  readlinkSync(path: string): string;
  statfsSync(path: string): { type: number | bigint };
}

let chosen: SyncFs | undefined;
let choose: (() => SyncFs | null) | undefined;

/** The file calls of this run: what useFs chose, else node:fs. */
export function fs(): SyncFs {
  if (chosen) return chosen;
  chosen = choose?.() ?? (process.getBuiltinModule('node:fs') as SyncFs);
  return chosen;
}

/** Chooses the file calls of this run before the first one (null from `pick`: node:fs). */
export function useFs(pick: () => SyncFs | null): void {
  choose = pick;
  chosen = undefined;
}
