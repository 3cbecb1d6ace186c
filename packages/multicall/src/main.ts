// The multi-call entry: `/opt/cni/bin/loopback` (a link to cni-ts) runs the loopback plugin;
// invoked as `cni-ts` it is the command-line tool. Everything behind the choice is imported
// lazily: each plugin, skel (through ./run.js) and the CLI are chunks of their own in the bundle and in the compiled
// executable, so a run loads the plugin it runs and nothing else (docs/startup.md); VERSION, which
// needs only the plugin's list of spec versions, loads none of it.
import { CURRENT_VERSION } from '@cni-ts/types';
import { ALONE, PLUGINS, VERSIONS } from './plugins.js';
import { selectPlugin } from './select.js';

const load = selectPlugin(PLUGINS, process.argv0, process.argv[1]);
const versions = selectPlugin(VERSIONS, process.argv0, process.argv[1]);
const alone = selectPlugin(ALONE, process.argv0, process.argv[1]);
if (versions && process.env.CNI_COMMAND === 'VERSION') {
  // what skel's dispatch prints (goJsonCompact of the same object: no character here needs escaping)
  writeOut(`${JSON.stringify({ cniVersion: CURRENT_VERSION, supportedVersions: versions })}\n`);
} else if (alone) {
  alone().then(({ plugin, runPlugin }) => runPlugin(plugin), fail);
} else if (load) {
  // a delegate that is this executable (bridge's host-local) runs in-process (skel/inprocess.ts)
  Promise.all([load(), import('./run.js')]).then(([plugin, { registerInProcess, runPlugin }]) => {
    registerInProcess(PLUGINS);
    runPlugin(plugin);
  }, fail);
} else if (process.env.CNI_COMMAND && process.argv.length <= 2) {
  // a runtime exec'd us by a name that is not a plugin's
  fail(
    `invoke this executable through a link named after a plugin (${Object.keys(PLUGINS).join(', ')}),\n` +
      'e.g. ln cni-ts /opt/cni/bin/loopback',
  );
} else {
  // no top-level await: a plugin run must not wait on (or even parse) the CLI's module graph
  import('./cli/main.js')
    .then(({ runCli }) => runCli(process.argv.slice(2), process.env, Object.keys(PLUGINS)))
    .then((code) => {
      process.exitCode = code;
    }, fail);
}

// stdout without loading node:fs (about 2 ms of CPU in Bun, docs/startup.md): Bun.write writes the
// whole text, retrying a full pipe; under Node (the npm bundle) node:fs is loaded already.
function writeOut(text: string): void {
  const bun = (globalThis as { Bun?: { write(to: unknown, text: string): Promise<number>; stdout: unknown } }).Bun;
  const done = bun ? bun.write(bun.stdout, text) : import('node:fs').then((fs) => fs.writeSync(1, text));
  done.then(undefined, fail);
}

// A failure before skel runs (a chunk that cannot load): one line on stderr, exit status 1.
function fail(err: unknown): void {
  process.exitCode = 1;
  import('./run.js').then(({ writeAll }) =>
    writeAll(2, `cni-ts: ${err instanceof Error ? err.message : String(err)}\n`),
  );
}
