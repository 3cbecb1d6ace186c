// The GC collector: the conflist's plugins run with the GC verb (spec 1.1.0) and the valid
// attachments, in order, as libcni's GCNetworkList does after its cache-driven DELs. Errors of
// one plugin do not stop the others; they are joined into one.
import type { Executor } from '@cni-ts/process';
import type { Attachment, Collector } from './gc.js';

/** A collector that execs each plugin of `list` from `binDir` with CNI_COMMAND=GC. */
export function execCollector(
  exec: Executor,
  list: () => Record<string, unknown> | undefined,
  binDir: string,
): Collector {
  return async (valid: Attachment[]) => {
    const conf = list();
    if (!conf) throw new Error('no conflist installed yet');
    const errors: string[] = [];
    for (const p of (conf.plugins ?? []) as Array<Record<string, unknown>>) {
      const input = { ...p, cniVersion: conf.cniVersion, name: conf.name, 'cni.dev/valid-attachments': valid };
      const r = exec.run(`${binDir}/${String(p.type)}`, [], {
        input: JSON.stringify(input),
        env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', CNI_COMMAND: 'GC', CNI_PATH: binDir },
      });
      if (r.status !== 0) errors.push(`${String(p.type)}: ${pluginError(r.stdout, r.stderr)}`);
    }
    if (errors.length) throw new Error(`GC: ${errors.join('; ')}`);
  };
}

function pluginError(stdout: string, stderr: string): string {
  try {
    const e = JSON.parse(stdout) as { code?: number; msg?: string; details?: string };
    return `code ${e.code}: ${e.msg}${e.details ? ` (${e.details})` : ''}`;
  } catch {
    return stderr.trim() || stdout.trim() || 'failed without output';
  }
}
