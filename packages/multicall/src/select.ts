// Picks the plugin from the name the executable was invoked by (a hard link or symlink).

/** The plugin name from argv0 (bun: the invoked name) or argv[1] (node running the bundle). */
export function selectPlugin<T>(
  plugins: Readonly<Record<string, T>>,
  argv0: string,
  argv1: string | undefined,
): T | undefined {
  for (const candidate of [argv0, argv1]) {
    if (!candidate) continue;
    const base = baseName(candidate);
    if (Object.hasOwn(plugins, base)) return plugins[base];
  }
  return undefined;
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
