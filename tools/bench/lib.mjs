// Shared bench plumbing: throwaway namespaces, hyperfine runs, and the ours/Go ratio table.
import { execa } from 'execa';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const ours = (type) => join(root, 'dist', 'bin', type);
export const go = (type) => join('/usr/lib/cni', type);
export const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** A scratch directory removed by cleanup(). */
export function scratch() {
  const dir = mkdtempSync(join(tmpdir(), 'cts-bench-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Runs a command with the system PATH; throws on failure. */
export async function sh(file, args, opts = {}) {
  return execa(file, args, { env: { PATH: SYSTEM_PATH }, extendEnv: false, ...opts });
}

/** Creates named netns and returns a function that deletes them all. */
export async function namespaces(names) {
  for (const n of names) await sh('ip', ['netns', 'add', n]);
  return async () => {
    for (const n of names) await execa('ip', ['netns', 'del', n], { reject: false });
  };
}

/**
 * Times shell commands with hyperfine (run inside `netns` when given) and returns mean/σ in ms by name.
 * Each command is [name, cmd] or [name, cmd, prepare].
 * hyperfine subtracts the cost of starting its shell.
 */
export async function hyperfine(commands, { runs = 40, warmup = 5, netns, dir, shell = true } = {}) {
  const out = join(dir, `hf-${Date.now()}.json`);
  const args = [
    '-w',
    String(warmup),
    '-r',
    String(runs),
    '--export-json',
    out,
    '--style',
    'basic',
    ...(shell ? [] : ['-N']),
  ];
  // a command may be [name, cmd, prepare]: prepare runs untimed before each run (all or none have one)
  for (const [, , prepare] of commands) if (prepare) args.push('-p', prepare);
  for (const [name, cmd] of commands) args.push('-n', name, cmd);
  const [file, argv] = netns ? ['ip', ['netns', 'exec', netns, 'hyperfine', ...args]] : ['hyperfine', args];
  await sh(file, argv, { stdout: 'ignore', stderr: 'inherit' });
  const res = JSON.parse(readFileSync(out, 'utf8')).results;
  return Object.fromEntries(
    res.map((r) => [
      r.command,
      {
        mean: r.mean * 1000,
        stddev: r.stddev * 1000,
        min: r.min * 1000,
        median: r.median * 1000,
        // user + system CPU time of the command (mean), which machine load disturbs less than wall time
        cpu: (r.user + r.system) * 1000,
      },
    ]),
  );
}

/** Writes a CNI driver script: one plugin call with env and stdin from a file. */
export function callScript(dir, name, plugin, env, config) {
  const conf = join(dir, `${name}.json`);
  writeFileSync(conf, JSON.stringify(config));
  const vars = Object.entries(env)
    .map(([k, v]) => `${k}='${v}'`)
    .join(' ');
  return `${vars} ${plugin} < ${conf} > /dev/null`;
}

/** Prints rows of [what, ours, go] timings with the ratio ours/go (means ± σ, or medians). */
export function printTable(title, rows, { stat = 'mean' } = {}) {
  console.log(`\n${title}`);
  console.log(
    `| what | ours (ms${stat === 'median' ? ', median' : ''}) | Go (ms${stat === 'median' ? ', median' : ''}) | ours/Go |`,
  );
  console.log('|---|---|---|---|');
  for (const [what, o, g] of rows) {
    const fmt = (x) =>
      !x ? '—' : stat === 'median' ? x.median.toFixed(2) : `${x.mean.toFixed(2)} ± ${x.stddev.toFixed(2)}`;
    const ratio = o && g ? (o[stat] / g[stat]).toFixed(2) : '—';
    console.log(`| ${what} | ${fmt(o)} | ${fmt(g)} | ${ratio} |`);
  }
}
