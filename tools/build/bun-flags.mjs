// The flags every standalone executable is compiled with (docs/startup.md): minified bytecode,
// class names kept (errors), and no .env or bunfig.toml read from the working directory at run
// time, which a root-run plugin must not do. Used by compile.mjs (dist/bin) and tools/release.
// --splitting keeps the bundle's lazily imported chunks (the `cni-ts` CLI) out of plugin runs
// (docs/cli.md); it needs --format=esm.
export const BUN_COMPILE_FLAGS = [
  '--compile',
  '--format=esm',
  '--splitting',
  '--minify',
  '--bytecode',
  '--keep-names',
  '--no-compile-autoload-dotenv',
  '--no-compile-autoload-bunfig',
];
