// No shell ever sees a value. The production packages start processes in one place
// (@cni-ts/process: run.ts's spawnSync, lock.ts's flock(1)), never with `shell: true`, execSync
// or a command string; the one `sh -c` (the sysctl writer in front of ip) has a constant script
// and takes every value as a positional argument — shown here by running it with hostile values.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import test from 'ava';
import { sysctlShellArgs } from '@cni-ts/process';
import { repoRoot } from '@cni-ts/testutils';

// Test kits start processes for tests only; everything else under packages/ ships.
const NOT_SHIPPED = new Set(['packages/testutils', 'packages/hardening']);

function sources(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) {
        if (['node_modules', 'dist', 'test', 'proto'].includes(e.name)) continue;
        walk(p);
      } else if (/\.(ts|mts|js|mjs)$/.test(e.name) && !e.name.endsWith('.d.ts') && p.includes('/src/')) out.push(p);
    }
  };
  for (const group of readdirSync(join(repoRoot, 'packages'))) {
    const dir = join(repoRoot, 'packages', group);
    if (NOT_SHIPPED.has(`packages/${group}`) || !statSync(dir).isDirectory()) continue;
    walk(dir);
  }
  return out;
}

const rel = (p: string) => relative(repoRoot, p);

test('production code starts processes only through @cni-ts/process, never with a shell option or a command string', (t) => {
  const files = sources();
  t.true(files.length > 50, `found ${files.length} source files`);
  const spawners: string[] = [];
  const shells: string[] = [];
  for (const f of files) {
    const text = readFileSync(f, 'utf8');
    if (
      /\b(spawnSync|spawn|execFileSync|execFile|execSync|fork)\s*\(|\bexeca(Sync|Command|Node)?\s*\(|(^|[\s=(])\$`\w|\bexec\(\s*['"`]/.test(
        text,
      )
    )
      spawners.push(rel(f));
    if (/shell\s*:\s*(true|['"`])|execSync|execaCommand|child_process['"]\)\.exec\b/.test(text)) shells.push(rel(f));
  }
  t.deepEqual(shells, [], 'a shell option or a command-string API');
  // the agent (a daemon), libcni (the runtime side) and the cni-ts command (cnitool and inspect,
  // loaded lazily, never on a plugin's path) may use execa, with argument arrays (checked above)
  const allowed = (f: string) =>
    ['packages/process/src/run.ts', 'packages/process/src/lock.ts'].includes(f) ||
    f.startsWith('packages/agent/') ||
    f.startsWith('packages/libcni/') ||
    f.startsWith('packages/multicall/src/cli/');
  t.deepEqual(
    spawners.filter((f) => !allowed(f)),
    [],
    'process starts outside @cni-ts/process',
  );
});

test('every program named "sh" or "bash" in production code is the constant sysctl writer', (t) => {
  const hits: string[] = [];
  for (const f of sources()) {
    readFileSync(f, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        if (/['"`](ba)?sh['"`]|\bsh -c\b|\/bin\/(ba)?sh\b/.test(line) && !/^\s*(\/\/|\*)/.test(line))
          hits.push(`${rel(f)}:${i + 1}`);
      });
  }
  const files = [...new Set(hits.map((h) => h.split(':')[0]))].sort();
  t.deepEqual(files, ['packages/process/src/ip.ts', 'packages/process/src/sysctl.ts'], hits.join('\n'));
  const sysctl = readFileSync(join(repoRoot, 'packages/process/src/sysctl.ts'), 'utf8');
  const script = /const WRITE_THEN_EXEC =\s*'([^']*)';/.exec(sysctl);
  t.truthy(script, 'the script is one single-quoted literal');
  t.false(
    /\$\{/.test(
      sysctl.slice(
        sysctl.indexOf('const WRITE_THEN_EXEC'),
        sysctl.indexOf(';', sysctl.indexOf('const WRITE_THEN_EXEC')),
      ),
    ),
  );
  for (const f of ['packages/process/src/ip.ts', 'packages/process/src/sysctl.ts']) {
    for (const line of readFileSync(join(repoRoot, f), 'utf8').split('\n')) {
      if (/['"]sh['"]/.test(line) && !/^\s*\/\//.test(line))
        t.regex(line, /sysctlShellArgs\(|'-c', WRITE_THEN_EXEC, 'sh'/, `${f}: ${line}`);
    }
  }
});

test('the sysctl writer passes hostile values through sh as data: written byte for byte, nothing run', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hd-sh-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const marker = join(dir, 'pwned');
  const values = [
    `$(touch ${marker})`,
    `\`touch ${marker}\``,
    `x; touch ${marker}`,
    `a\nb" '#\\ $HOME *`,
    `-- -n -e \\c`,
    '',
  ];
  for (const v of values) {
    const args = sysctlShellArgs([['net.ipv4.ip_forward', v]], ['printf', '%s', v]);
    const i = args.indexOf('/proc/sys/net/ipv4/ip_forward');
    t.true(i > 0, 'the path is an argument');
    const target = join(dir, 'out');
    args[i] = target; // write to a scratch file, not the kernel
    const r = spawnSync('sh', args, { encoding: 'utf8' });
    t.is(r.status, 0, r.stderr);
    t.is(readFileSync(target, 'utf8'), v, 'the value is written exactly');
    t.is(r.stdout, v, 'the command after "--" gets the value exactly');
    t.false(existsSync(marker), `a value was run as a command: ${JSON.stringify(v)}`);
  }
});
