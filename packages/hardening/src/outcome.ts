// The contract every plugin run must keep, whatever it was given: exit 0 with a valid result
// (ADD), a VERSION answer, or nothing (other verbs); or exit 1 with one CNI error object on
// stdout. Never a stack trace, a JavaScript runtime error turned into a message, or a hang.
import { parseResult } from '@cni-ts/types';

/** What a run left (exit code null when it was killed or hung). */
export interface Outcome {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  /** True when the harness had to kill it for taking too long. */
  timedOut?: boolean;
}

/** The error codes a plugin may print: the spec's, cni-ts's plugin-specific range, and 999. */
export const KNOWN_CODES = new Set([1, 2, 3, 4, 5, 6, 7, 8, 11, 50, 51, 100, 999]);

// What leaks out of a crashing JavaScript program or Go runtime rather than from a plugin that
// decided to fail: stack frames, engine error names, Go panics.
const CRASH_SIGNS: ReadonlyArray<[RegExp, string]> = [
  [/^\s+at .+(:\d+:\d+\)?|\(native\))$/m, 'a stack frame'],
  [/\bpanic: |goroutine \d+ \[/, 'a Go panic'],
  [/\b(TypeError|ReferenceError|RangeError|SyntaxError|InternalError)\b/, 'a JavaScript engine error name'],
  [
    /Cannot read propert|\bis not a function\b|\bis not iterable\b|\b(undefined|null) is not an object|Maximum call stack|cannot access .* before initialization|Invalid array length/i,
    'a JavaScript runtime error',
  ],
  [/^error: .*\n\s+at /m, 'a Bun crash report'],
  [/oh no: Bun has crashed|Segmentation fault|Illegal instruction/i, 'a runtime crash'],
];

/** The problems of one run's output, empty when it kept the contract. */
export function contractProblems(command: string, o: Outcome, cniVersion?: string): string[] {
  const problems: string[] = [];
  if (o.timedOut) return [`${command} hung (killed by the harness)`];
  for (const [re, what] of CRASH_SIGNS) {
    if (re.test(o.stderr)) problems.push(`stderr shows ${what}: ${excerpt(o.stderr, re)}`);
    if (re.test(o.stdout)) problems.push(`stdout shows ${what}: ${excerpt(o.stdout, re)}`);
  }
  if (o.exitCode === 0) problems.push(...successProblems(command, o.stdout, cniVersion));
  else if (o.exitCode === 1) problems.push(...errorProblems(o.stdout));
  else problems.push(`exit code ${o.exitCode} (a plugin exits 0 or 1)`);
  return problems;
}

function successProblems(command: string, stdout: string, cniVersion?: string): string[] {
  if (command === 'VERSION') {
    const v = parseJson(stdout);
    return v && typeof v.cniVersion === 'string' && Array.isArray(v.supportedVersions)
      ? []
      : [`VERSION printed ${JSON.stringify(stdout.slice(0, 200))}`];
  }
  if (command !== 'ADD')
    return stdout.trim() === '' ? [] : [`${command} printed ${JSON.stringify(stdout.slice(0, 200))}`];
  const r = parseJson(stdout);
  if (!r) return [`ADD exited 0 but printed no JSON result: ${JSON.stringify(stdout.slice(0, 200))}`];
  try {
    parseResult(r, cniVersion ?? String(r.cniVersion ?? '1.1.0'));
  } catch (e) {
    return [`ADD printed an invalid result: ${(e as Error).message}`];
  }
  if (cniVersion && r.cniVersion !== cniVersion) return [`ADD printed cniVersion ${r.cniVersion}, asked ${cniVersion}`];
  return [];
}

function errorProblems(stdout: string): string[] {
  const e = parseJson(stdout);
  if (!e) return [`exit 1 without a CNI error object on stdout: ${JSON.stringify(stdout.slice(0, 200))}`];
  const problems: string[] = [];
  if (!Number.isInteger(e.code) || !KNOWN_CODES.has(e.code)) problems.push(`error code ${JSON.stringify(e.code)}`);
  if (typeof e.msg !== 'string' || e.msg.trim() === '') problems.push(`error msg ${JSON.stringify(e.msg)}`);
  if (e.details !== undefined && typeof e.details !== 'string')
    problems.push(`error details ${JSON.stringify(e.details)}`);
  const extra = Object.keys(e).filter((k) => !['code', 'msg', 'details', 'cniVersion'].includes(k));
  if (extra.length) problems.push(`error object has keys ${extra.join(', ')}`);
  return problems;
}

function parseJson(text: string): any {
  try {
    const v = JSON.parse(text);
    return v && typeof v === 'object' && !Array.isArray(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

function excerpt(text: string, re: RegExp): string {
  const m = re.exec(text);
  const at = m?.index ?? 0;
  return JSON.stringify(text.slice(Math.max(0, at - 80), at + 120));
}
