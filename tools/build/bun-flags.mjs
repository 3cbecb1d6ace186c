// The flags every standalone executable is compiled with (docs/startup.md): minified bytecode,
// class names kept (errors), and no .env or bunfig.toml read from the working directory at run
// time, which a root-run plugin must not do. Used by compile.mjs (dist/bin), tools/release and
// the start-up probes of tools/bench.
// --splitting keeps the bundle's lazily imported chunks (each plugin, the `cni-ts` CLI) out of
// the runs that do not need them (docs/startup.md, docs/cli.md); it needs --format=esm.
// --compile-jit-policy=100 scales JavaScriptCore's tier-up thresholds by 100: a plugin run lives
// a few milliseconds, and compiling its start-up code on the JIT threads cost a fifth of a bridge
// ADD + DEL's CPU that the run never got back (docs/startup.md has the figures).
export const BUN_COMPILE_FLAGS = [
  '--compile',
  '--format=esm',
  '--splitting',
  '--minify',
  '--bytecode',
  '--keep-names',
  '--no-compile-autoload-dotenv',
  '--no-compile-autoload-bunfig',
  '--compile-jit-policy=100',
];
