// The multi-call entry: `/opt/cni/bin/loopback` (a link to cni-ts) runs the loopback plugin.
import { runPlugin, writeAll } from '@cni-ts/skel';
import { PLUGINS } from './plugins.js';
import { selectPlugin } from './select.js';

const plugin = selectPlugin(PLUGINS, process.argv0, process.argv[1]);
if (plugin) {
  runPlugin(plugin);
} else {
  writeAll(
    2,
    `cni-ts: invoke this executable through a link named after a plugin (${Object.keys(PLUGINS).join(', ')}),\n` +
      'e.g. ln cni-ts /opt/cni/bin/loopback\n',
  );
  process.exitCode = 1;
}
