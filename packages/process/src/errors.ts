// Typed failures of external tools, classified once here so callers never parse stderr, and the
// one mapping from a failure's kind to a CNI code.

/** What went wrong, as far as a caller needs to decide. */
export type ProcessErrorKind = 'not-found' | 'timeout' | 'exists' | 'missing' | 'busy' | 'unsupported' | 'failed';

/** The CNI code of each kind that has one (busy and timeout: try again later); the rest are 999. */
export function cniCodeOf(kind: ProcessErrorKind): number | undefined {
  return kind === 'busy' || kind === 'timeout' ? 11 : undefined;
}

/** Where a batch failed: the index of the failing command and its arguments. */
export interface BatchFailure {
  /** 0-based index of the failing command in the batch. */
  index: number;
  /** The failing command's arguments as given (before encoding). */
  args: readonly string[];
}

/** What ProcessError's constructor takes besides kind, command and message. */
export interface ProcessErrorInit {
  status?: number | null;
  stderr?: string;
  cause?: unknown;
  /** For 'missing' (and 'exists'): the object the tool said is missing, as it named it. */
  object?: string;
  /** For a batch: which command failed, when the tool said so. */
  failed?: BatchFailure;
}

/** A command could not be run or reported failure; `cniCode` is set where the spec has a code (cniCodeOf). */
export class ProcessError extends Error {
  readonly kind: ProcessErrorKind;
  readonly command: string;
  readonly status: number | null;
  readonly stderr: string;
  readonly cniCode?: number;
  readonly object?: string;
  readonly failed?: BatchFailure;

  constructor(kind: ProcessErrorKind, command: string, message: string, init: ProcessErrorInit = {}) {
    super(message, { cause: init.cause });
    this.name = 'ProcessError';
    this.kind = kind;
    this.command = command;
    this.status = init.status ?? null;
    this.stderr = init.stderr ?? '';
    const code = cniCodeOf(kind);
    if (code !== undefined) this.cniCode = code;
    if (init.object !== undefined) this.object = init.object;
    if (init.failed) this.failed = init.failed;
  }
}

/** A tool's failure read from its stderr: the kind, and the object it named when it names one. */
export interface Classified {
  kind: ProcessErrorKind;
  object?: string;
}

// "missing" only where the message names what is missing, so a caller can tell "the link I am
// deleting is gone" from any other "No such file or directory" (a missing tool, a bad path).
// Built at the first classification, not at load: every plugin run loads this module and most
// never classify anything, and regular expressions built at load cost a run JavaScriptCore heap
// blocks towards the 64 that start its warm-up thread (docs/startup.md).
interface Patterns {
  missingNamed: readonly RegExp[];
  missingUnnamed: RegExp;
  kinds: ReadonlyArray<[RegExp, ProcessErrorKind]>;
}
let patterns: Patterns | undefined;
const stderrPatterns = (): Patterns =>
  (patterns ??= {
    missingNamed: [
      /Cannot find device "([^"\n]*)"/, // ip, bridge, tc
      /Device "([^"\n]*)" does not exist/, // ip link/addr show
      /Cannot open network namespace "([^"\n]*)": No such file or directory/, // ip … netns <path>
      /^nsenter: cannot open (.*): No such file or directory$/m, // nsenter --net=<path>
    ],
    missingUnnamed:
      /No chain\/target\/match by that name|Bad rule \(does a matching rule exist|^Error: No such file or directory|Could not process rule: No such file or directory/m,
    kinds: [
      [/File exists|already exists|[Aa]ddress already assigned/, 'exists'],
      [
        /Resource temporarily unavailable|Device or resource busy|holding the xtables lock|Another app is currently holding/,
        'busy',
      ],
      [/Operation not supported/, 'unsupported'],
    ],
  });

// nft echoes the command under its error and marks the word it could not find with carets.
function nftMissingObject(stderr: string): string | undefined {
  const lines = stderr.split('\n');
  for (let i = 0; i + 2 < lines.length; i++) {
    if (!/Error: (?:.*: )?No such file or directory/.test(lines[i]!)) continue;
    const carets = /\^+/.exec(lines[i + 2]!);
    if (carets) return lines[i + 1]!.slice(carets.index, carets.index + carets[0].length);
  }
  return undefined;
}

/** Classifies a tool's stderr. */
export function classify(stderr: string): Classified {
  const { kinds, missingNamed, missingUnnamed } = stderrPatterns();
  for (const [re, kind] of kinds) if (re.test(stderr)) return { kind };
  for (const re of missingNamed) {
    const m = re.exec(stderr);
    if (m) return { kind: 'missing', object: m[1] };
  }
  const nft = nftMissingObject(stderr);
  if (nft !== undefined) return { kind: 'missing', object: nft };
  if (missingUnnamed.test(stderr)) return { kind: 'missing' };
  return { kind: 'failed' };
}

/** Classifies a tool's stderr into an error kind (classify without the object). */
export function classifyStderr(stderr: string): ProcessErrorKind {
  return classify(stderr).kind;
}

/** True when err is a ProcessError of one of the given kinds. */
export function isKind(err: unknown, ...kinds: ProcessErrorKind[]): err is ProcessError {
  return err instanceof ProcessError && kinds.includes(err.kind);
}

/** True when err says that exactly `object` (a link name, a netns path) does not exist. */
export function isMissing(err: unknown, object: string): err is ProcessError {
  return isKind(err, 'missing') && err.object === object;
}

/** The tool grammars a value can be written in. */
export type Grammar = 'iproute2' | 'iptables-restore' | 'nft';

/**
 * A value that a tool's input language cannot carry (it would be read as something else). It
 * carries the value; the caller knows which field it came from and turns it into a CNI error
 * (code 4 for CNI_* variables, 7 for configuration keys).
 */
export class UnencodableError extends Error {
  readonly grammar: Grammar;
  readonly value: string;
  /** Why, e.g. 'it contains a newline'. */
  readonly why: string;

  constructor(grammar: Grammar, value: string, why: string) {
    super(`${JSON.stringify(value)} cannot be written in ${grammar} input: ${why}`);
    this.name = 'UnencodableError';
    this.grammar = grammar;
    this.value = value;
    this.why = why;
  }
}
