// Errors a runtime gets from libcni: the plugin's own CNI error (code, msg, details) with what the
// plugin printed, wrapped with the step that failed as libcni wraps it.

/** What a failed plugin run left behind. */
export interface PluginRun {
  /** The executable that ran. */
  path: string;
  /** CNI_COMMAND. */
  command: string;
  /** Its exit code (undefined when it never started or was killed). */
  exitCode?: number | undefined;
  stdout: string;
  stderr: string;
}

/** A plugin failed: the CNI error object it printed on stdout (or one libcni made up), as Go's types.Error. */
export class PluginError extends Error {
  override name = 'PluginError';
  readonly code: number;
  readonly msg: string;
  readonly details: string;

  constructor(
    code: number,
    msg: string,
    details: string,
    readonly run?: PluginRun,
    options?: { cause?: unknown },
  ) {
    super(details ? `${msg}; ${details}` : msg, options);
    this.code = code;
    this.msg = msg;
    this.details = details;
  }

  /** The error object as a plugin prints it (`details` omitted when empty). */
  toJSON(): { code: number; msg: string; details?: string } {
    return this.details
      ? { code: this.code, msg: this.msg, details: this.details }
      : { code: this.code, msg: this.msg };
  }
}

/** An operation on a network failed; the message names the step, `cause` is what failed in it. */
export class NetworkError extends Error {
  override name = 'NetworkError';

  constructor(message: string, cause: unknown) {
    super(`${message}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/** Several failures of one operation (GC goes on after each), as Go's errors.Join prints them. */
export class MultiError extends Error {
  override name = 'MultiError';

  constructor(readonly errors: Error[]) {
    super(errors.map((e) => e.message).join('\n'));
  }
}

/** The plugin's CNI error behind an error libcni returned, if a plugin failed (Go's errors.As). */
export function pluginErrorOf(err: unknown): PluginError | undefined {
  for (let e = err; e instanceof Error; e = e.cause) {
    if (e instanceof PluginError) return e;
    if (e instanceof MultiError) return e.errors.map(pluginErrorOf).find((x) => x !== undefined);
  }
  return undefined;
}
