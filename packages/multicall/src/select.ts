// Picks the plugin from the name the executable was invoked by (a hard link or symlink).

/** The plugin name from argv0 (bun: the invoked name) or argv[1] (node running the bundle). */
export function selectPlugin<T>(
  plugins: Readonly<Record<string, T>>,
  argv0: string,
  argv1: string | undefined,
): T | undefined {
  const [first, second] = baseNames(argv0, argv1);
  if (first !== undefined && Object.hasOwn(plugins, first)) return plugins[first];
  if (second !== undefined && Object.hasOwn(plugins, second)) return plugins[second];
  return undefined;
}

let last: { argv0: string; argv1: string | undefined; names: readonly [string?, string?] } | undefined;

/**
 * The base names of argv0 and argv1 (undefined for an empty or missing one). main.ts selects from
 * three tables with the same two names, so they are computed once per pair, not once per table.
 */
export function baseNames(argv0: string, argv1: string | undefined): readonly [string?, string?] {
  if (last && last.argv0 === argv0 && last.argv1 === argv1) return last.names;
  const names: readonly [string?, string?] = [argv0 ? baseName(argv0) : undefined, argv1 ? baseName(argv1) : undefined];
  last = { argv0, argv1, names };
  return names;
}

// The file name without its directory and a .mjs or .js suffix. No regular expression: a
// String.prototype.replace with one costs every plugin run 2 JavaScriptCore heap blocks
// (docs/startup.md, "Under JavaScriptCore's warm-up threshold").
function baseName(path: string): string {
  const base = path.slice(path.lastIndexOf('/') + 1);
  if (base.endsWith('.mjs')) return base.slice(0, -4);
  if (base.endsWith('.js')) return base.slice(0, -3);
  return base;
}
