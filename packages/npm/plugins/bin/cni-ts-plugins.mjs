#!/usr/bin/env node
// npx @cni-ts/plugins install [dir]: lays out the cni-ts executable and its plugin links.
import { executablePath, install, plugins, version } from '../lib/index.mjs';

const usage = `usage: cni-ts-plugins install [DIR]   copy the executable into DIR (default /opt/cni/bin) as cni-ts,
                                    with a hard link per plugin (${plugins.join(', ')})
       cni-ts-plugins path            print the path of the executable for this machine
       cni-ts-plugins version         print the version (v${version})
options for install: --from FILE      install FILE (e.g. an executable from a release tarball) instead`;

const [cmd, ...rest] = process.argv.slice(2);
const fromAt = rest.indexOf('--from');
const from = fromAt >= 0 ? rest.splice(fromAt, 2)[1] : undefined;

function executable() {
  const exe = from ?? executablePath();
  if (exe instanceof Error) {
    console.error(`cni-ts-plugins: ${exe.message}`);
    process.exit(1);
  }
  return exe;
}

if (cmd === 'install' && rest.length <= 1) {
  const dir = rest[0] ?? '/opt/cni/bin';
  try {
    const files = install(dir, executable());
    console.log(`installed cni-ts v${version} into ${dir}: ${files.map((f) => f.slice(dir.length + 1)).join(', ')}`);
  } catch (e) {
    console.error(`cni-ts-plugins: failed to install into ${dir}: ${e.message}`);
    process.exit(1);
  }
} else if (cmd === 'path' && !rest.length) {
  console.log(executable());
} else if (cmd === 'version' && !rest.length) {
  console.log(`v${version}`);
} else {
  console.error(usage);
  process.exit(cmd === undefined || cmd === '--help' || cmd === '-h' ? 0 : 2);
}
