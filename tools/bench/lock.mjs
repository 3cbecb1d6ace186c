#!/usr/bin/env node
// What taking the host-local store lock costs, per mechanism, in bun-compiled executables like the
// plugins (see docs/host-local.md). Needs hyperfine and a built packages/process.
//   node tools/bench/lock.mjs [--runs N]
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hyperfine, root, scratch } from './lib.mjs';

const runs = Number(process.argv[process.argv.indexOf('--runs') + 1]) || 60;
const { dir, cleanup } = scratch();
const lockModule = join(root, 'packages', 'process', 'dist', 'src', 'lock.js');
const bun = join(root, 'node_modules', '.bin', 'bun');
const lockPath = join(dir, 'lock');

const programs = {
  // the floor: open the lock file and exit
  'open only': `import { openSync, constants } from 'node:fs'; openSync(${JSON.stringify(lockPath)}, constants.O_CREAT | constants.O_RDONLY, 0o750);`,
  // what the plugins do: flock(2) through bun:ffi
  'flock(2) via bun:ffi': `import { lockFile } from ${JSON.stringify(lockModule)}; lockFile(${JSON.stringify(lockPath)}).then((l) => { if (l.via !== 'ffi') throw new Error(l.via); l.release(); });`,
  // the fallback: flock(1) locks our inherited descriptor and exits
  'flock(1) on our descriptor': `import { lockFile } from ${JSON.stringify(lockModule)}; lockFile(${JSON.stringify(lockPath)}, { forceHelper: true }).then((l) => l.release());`,
  // the alternative we did not take: a flock(1) child that holds the lock until our stdin closes
  'flock(1) child holding it': `import { spawn } from 'node:child_process';
    const c = spawn('flock', [${JSON.stringify(lockPath)}, 'sh', '-c', 'echo locked; exec cat >/dev/null'], { stdio: ['pipe', 'pipe', 'inherit'] });
    c.stdout.once('data', () => c.stdin.end());`,
};

try {
  const commands = Object.entries(programs).map(([name, code], i) => {
    const src = join(dir, `p${i}.mjs`);
    const exe = join(dir, `p${i}`);
    writeFileSync(src, code);
    execFileSync(
      bun,
      [
        'build',
        '--compile',
        '--minify',
        '--bytecode',
        '--keep-names',
        '--no-compile-autoload-dotenv',
        '--no-compile-autoload-bunfig',
        src,
        '--outfile',
        exe,
      ],
      { stdio: 'ignore' },
    );
    return [name, exe];
  });
  const res = await hyperfine(commands, { runs, dir, shell: false });
  console.log(`\nstore lock, bun-compiled (${new Date().toISOString().slice(0, 10)}, ${runs} runs each, hyperfine -N)`);
  console.log('| mechanism | mean ± σ (ms) | over "open only" (ms) |');
  console.log('|---|---|---|');
  const base = res['open only'].mean;
  for (const [name] of commands)
    console.log(
      `| ${name} | ${res[name].mean.toFixed(2)} ± ${res[name].stddev.toFixed(2)} | ${(res[name].mean - base).toFixed(2)} |`,
    );
} finally {
  cleanup();
}
