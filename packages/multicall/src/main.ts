// The multi-call entry: `/opt/cni/bin/loopback` (a link to cni-ts) runs the loopback plugin;
// invoked as `cni-ts` it is the command-line tool. The CLI is imported lazily: it is its own
// chunk of the bundle and of the compiled executable, so a plugin run never loads it.
import { registerInProcess, runPlugin, writeAll } from '@cni-ts/skel';
import { PLUGINS } from './plugins.js';
import { selectPlugin } from './select.js';

const plugin = selectPlugin(PLUGINS, process.argv0, process.argv[1]);
if (plugin) {
  // a delegate that is this executable (bridge's host-local) runs in-process (skel/inprocess.ts)
  registerInProcess(PLUGINS);
  runPlugin(plugin);
} else if (process.env.CNI_COMMAND && process.argv.length <= 2) {
  // a runtime exec'd us by a name that is not a plugin's
  writeAll(
    2,
    `cni-ts: invoke this executable through a link named after a plugin (${Object.keys(PLUGINS).join(', ')}),\n` +
      'e.g. ln cni-ts /opt/cni/bin/loopback\n',
  );
  process.exitCode = 1;
} else {
  // no top-level await: a plugin run must not wait on (or even parse) the CLI's module graph
  import('./cli/main.js')
    .then(({ runCli }) => runCli(process.argv.slice(2), process.env, Object.keys(PLUGINS)))
    .then(
      (code) => {
        process.exitCode = code;
      },
      (err: unknown) => {
        writeAll(2, `cni-ts: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exitCode = 1;
      },
    );
}
