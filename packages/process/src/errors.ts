// Typed failures of external tools, classified once here so callers never parse stderr.

/** What went wrong, as far as a caller needs to decide. */
export type ProcessErrorKind = 'not-found' | 'timeout' | 'exists' | 'missing' | 'busy' | 'failed';

/** A command could not be run or reported failure; `cniCode` is set where the spec has a code (busy → 11). */
export class ProcessError extends Error {
  readonly kind: ProcessErrorKind;
  readonly command: string;
  readonly status: number | null;
  readonly stderr: string;
  readonly cniCode?: number;

  constructor(
    kind: ProcessErrorKind,
    command: string,
    message: string,
    init: { status?: number | null; stderr?: string; cause?: unknown } = {},
  ) {
    super(message, { cause: init.cause });
    this.name = 'ProcessError';
    this.kind = kind;
    this.command = command;
    this.status = init.status ?? null;
    this.stderr = init.stderr ?? '';
    if (kind === 'busy') this.cniCode = 11;
  }
}

const PATTERNS: ReadonlyArray<[RegExp, ProcessErrorKind]> = [
  [/File exists|already exists|Chain already exists|[Aa]ddress already assigned/i, 'exists'],
  [
    /Resource temporarily unavailable|Device or resource busy|holding the xtables lock|Another app is currently holding/i,
    'busy',
  ],
  [
    /Cannot find device|does not exist|No such device|No such file or directory|No chain\/target\/match by that name|Bad rule \(does a matching rule exist|No such process|Could not process rule: No such file/i,
    'missing',
  ],
];

/** Classifies a tool's stderr into an error kind. */
export function classifyStderr(stderr: string): ProcessErrorKind {
  for (const [re, kind] of PATTERNS) if (re.test(stderr)) return kind;
  return 'failed';
}

/** True when err is a ProcessError of one of the given kinds. */
export function isKind(err: unknown, ...kinds: ProcessErrorKind[]): err is ProcessError {
  return err instanceof ProcessError && kinds.includes(err.kind);
}
