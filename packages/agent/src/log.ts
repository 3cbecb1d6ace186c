// Structured logs: one JSON object per line on stdout ({"time","level","msg",…fields}), as
// log collectors on a node (fluent-bit, Vector, the kubelet's log files) read them.

/** Log levels, least to most severe. */
export type Level = 'debug' | 'info' | 'warn' | 'error';

const ORDER: Record<Level, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** Extra fields of one line; errors are printed as their message. */
export type Fields = Record<string, unknown>;

/** A logger; `with` returns one that adds fields to every line. */
export interface Logger {
  debug(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
  with(fields: Fields): Logger;
}

/** A logger writing JSON lines through `write` (default: stdout), dropping lines below `level`. */
export function jsonLogger(opts: { level?: Level; write?: (line: string) => void; fields?: Fields } = {}): Logger {
  const min = ORDER[opts.level ?? 'info'];
  const write = opts.write ?? ((line: string) => process.stdout.write(line));
  const base = opts.fields ?? {};
  const emit = (level: Level, msg: string, fields: Fields = {}) => {
    if (ORDER[level] < min) return;
    const line: Fields = { time: new Date().toISOString(), level, msg, ...base };
    for (const [k, v] of Object.entries(fields)) line[k] = v instanceof Error ? v.message : v;
    write(`${JSON.stringify(line)}\n`);
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    with: (fields) => jsonLogger({ ...opts, fields: { ...base, ...fields } }),
  };
}
