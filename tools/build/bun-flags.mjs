// The flags every standalone executable is compiled with (docs/startup.md): minified bytecode,
// class names kept (errors), and no .env or bunfig.toml read from the working directory at run
// time, which a root-run plugin must not do. Used by compile.mjs (dist/bin) and tools/release.
export const BUN_COMPILE_FLAGS = [
  '--compile',
  '--minify',
  '--bytecode',
  '--keep-names',
  '--no-compile-autoload-dotenv',
  '--no-compile-autoload-bunfig',
];
