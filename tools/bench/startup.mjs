#!/usr/bin/env node
// What each import and spawn costs at start-up in a bun-compiled executable (the packaging we
// ship). Compiles small probe programs with the same bun flags as tools/build/compile.mjs and
// times them with hyperfine -N. Figures go to docs/startup.md.
//   node tools/bench/startup.mjs [--runs N]
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { go, hyperfine, ours, root, scratch } from './lib.mjs';

const runs = Number(process.argv[process.argv.indexOf('--runs') + 1]) || 40;
const work = join(root, 'tools', 'bench', '.work'); // inside the repo so imports resolve
mkdirSync(work, { recursive: true });
const { dir, cleanup } = scratch();

const probes = {
  'empty program': 'process.exitCode = 0;',
  'import zod/mini (no schema)': "import * as z from 'zod/mini'; if (!z) process.exitCode = 1;",
  'import zod (full, no schema)': "import * as z from 'zod'; if (!z) process.exitCode = 1;",
  '@cni-ts/types: build result schemas + parse one result':
    "import { parseResult } from '@cni-ts/types'; parseResult({cniVersion:'1.0.0', ips:[{address:'10.0.0.2/24'}]}, '1.0.0');",
  'one spawnSync(ip -V)': "import { spawnSync } from 'node:child_process'; spawnSync('ip', ['-V']);",
  'one spawnSync(nsenter --net=… ip -V)':
    "import { spawnSync } from 'node:child_process'; spawnSync('nsenter', ['--net=/proc/self/ns/net', '--', 'ip', '-V']);",
  'import execa (no call)': "import { execa } from 'execa'; if (!execa) process.exitCode = 1;",
  'import execa + one execa(ip -V)': "import { execa } from 'execa'; await execa('ip', ['-V']);",
};

try {
  const bun = join(root, 'node_modules', '.bin', 'bun');
  const cmds = [];
  let i = 0;
  for (const [name, code] of Object.entries(probes)) {
    const src = join(work, `probe${i}.mjs`);
    const exe = join(dir, `probe${i}`);
    writeFileSync(src, `${code}\n`);
    execFileSync(
      bun,
      [
        'build',
        '--compile',
        '--minify',
        '--bytecode',
        '--keep-names',
        '--format=esm',
        '--no-compile-autoload-dotenv',
        '--no-compile-autoload-bunfig',
        src,
        '--outfile',
        exe,
      ],
      { stdio: 'ignore' },
    );
    cmds.push([name, exe]);
    i += 1;
  }
  cmds.push(['cni-ts loopback VERSION (whole plugin)', `env CNI_COMMAND=VERSION ${ours('loopback')}`]);
  cmds.push(['Go loopback VERSION', `env CNI_COMMAND=VERSION ${go('loopback')}`]);
  cmds.push(['node -e 0 (for scale)', 'node -e 0']);
  const res = await hyperfine(
    cmds.map(([n, c]) => [n, c]),
    { runs, dir, shell: false },
  );
  const base = res['empty program'].mean;
  console.log(`\nstart-up costs in a bun-compiled executable (${runs} runs, hyperfine -N)`);
  console.log('| program | mean (ms) | over empty (ms) |');
  console.log('|---|---|---|');
  for (const [name] of cmds) {
    const r = res[name];
    console.log(`| ${name} | ${r.mean.toFixed(2)} ± ${r.stddev.toFixed(2)} | ${(r.mean - base).toFixed(2)} |`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
  cleanup();
}
