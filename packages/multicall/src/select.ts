// Picks the plugin from the name the executable was invoked by (a hard link or symlink).

/** The plugin name from argv0 (bun: the invoked name) or argv[1] (node running the bundle). */
export function selectPlugin<T>(
  plugins: Readonly<Record<string, T>>,
  argv0: string,
  argv1: string | undefined,
): T | undefined {
  for (const candidate of [argv0, argv1]) {
    if (!candidate) continue;
    const base = candidate.slice(candidate.lastIndexOf('/') + 1).replace(/\.(mjs|js)$/, '');
    if (Object.hasOwn(plugins, base)) return plugins[base];
  }
  return undefined;
}
