// Binds dispatch to the real process: env, fd 0, fd 1/2 and the exit code.
import { fs, systemExecutor } from '@cni-ts/process';
import { dispatch } from './dispatch.js';
import type { Plugin } from './plugin.js';

/** Set at build time by the bundler; "version unknown" in development, as upstream. */
declare const __CNI_TS_VERSION__: string | undefined;

/** Runs a plugin as a process. Never calls process.exit, so stdout is always flushed. */
export function runPlugin(plugin: Plugin): void {
  const version = typeof __CNI_TS_VERSION__ === 'string' ? __CNI_TS_VERSION__ : 'version unknown';
  dispatch(
    plugin,
    {
      env: process.env,
      readStdin: () => fs().readFileSync(0, 'utf8'),
      stdout: (s) => writeAll(1, s),
      stderr: (s) => writeAll(2, s),
      exec: systemExecutor,
    },
    version,
  ).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      // dispatch catches everything; this is only reachable if writing the error itself failed
      writeAll(2, `${plugin.name}: ${String(err)}\n`);
      process.exitCode = 1;
    },
  );
}

/** Writes all of text to fd, retrying when the fd is non-blocking and full (EAGAIN). */
export function writeAll(fd: number, text: string): void {
  // TextEncoder, not Buffer: a loopback run then never sets Buffer up (libc-fs.ts)
  const buf = new TextEncoder().encode(text);
  let off = 0;
  while (off < buf.length) {
    try {
      off += fs().writeSync(fd, buf, off, buf.length - off);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
    }
  }
}
