// Guards what a plugin run loads from the built bundle: loopback's run must load no `node:*`
// module (about 2 ms of CPU in Bun for node:fs, docs/startup.md "A loopback run without node:fs"),
// so a new `node:fs` import anywhere on its path (skel, process, types) fails here, not in a bench.
// Runs on dist/bundle (rollup's chunks, what bun compiles), by walking their static imports and
// their import() of other chunks (loaded on some paths only, e.g. skel's prevResult schemas when a
// prevResult is given: every path of a run counts). The entry's own import()s are not followed:
// they choose what a run is (a plugin's loader, the CLI; its Node-only node:fs in writeOut).
import { readdirSync, readFileSync } from 'node:fs';
import test from 'ava';
import { parseAst } from 'rollup/parseAst';

const bundleDir = new URL('../bundle/', import.meta.url);
const ENTRY = 'cni-ts.mjs';

interface AstNode {
  type: string;
  [key: string]: unknown;
}

/** What one chunk does at load: its static imports, top-level `node:*` calls, its declarations. */
interface Chunk {
  imports: string[]; // specifiers of import and export-from declarations
  dynamicImports: string[]; // specifiers of import() anywhere in the chunk (also inside functions)
  computedImports: number; // import() whose specifier is not a string literal
  loadCalls: string[]; // `node:*` strings passed to a call run at load (require, getBuiltinModule)
  exports: string[];
  functions: string[]; // names of top-level function declarations
  ast: AstNode;
}

const children = (node: AstNode): AstNode[] =>
  Object.values(node)
    .flatMap((v) => (Array.isArray(v) ? v : [v]))
    .filter(isNode);
const isNode = (v: unknown): v is AstNode => typeof v === 'object' && v !== null && 'type' in v;
const isFunction = (n: AstNode) => /^(FunctionDeclaration|FunctionExpression|ArrowFunctionExpression)$/.test(n.type);
const literal = (n: unknown) =>
  isNode(n) && n.type === 'Literal' && typeof n.value === 'string' ? n.value : undefined;

/** Every node under `node` (depth first); with `atLoad`, none inside a function body. */
function* nodes(node: AstNode, atLoad = false): Generator<AstNode> {
  yield node;
  for (const child of children(node)) if (!(atLoad && isFunction(child))) yield* nodes(child, atLoad);
}

function analyse(source: string): Chunk {
  const ast = parseAst(source) as unknown as AstNode;
  const chunk: Chunk = {
    imports: [],
    dynamicImports: [],
    computedImports: 0,
    loadCalls: [],
    exports: [],
    functions: [],
    ast,
  };
  for (const stmt of ast.body as AstNode[]) {
    const from = literal(stmt.source);
    if (from !== undefined && /^(Import|ExportNamed|ExportAll)Declaration$/.test(stmt.type)) chunk.imports.push(from);
    if (stmt.type === 'ExportNamedDeclaration')
      for (const s of stmt.specifiers as AstNode[]) chunk.exports.push(String((s.exported as AstNode).name));
    if (stmt.type === 'FunctionDeclaration') chunk.functions.push(String((stmt.id as AstNode).name));
  }
  for (const n of nodes(ast)) {
    if (n.type !== 'ImportExpression') continue;
    const from = literal(n.source);
    if (from === undefined) chunk.computedImports += 1;
    else chunk.dynamicImports.push(from);
  }
  for (const n of nodes(ast, true))
    if (n.type === 'CallExpression')
      for (const arg of n.arguments as AstNode[])
        if (literal(arg)?.startsWith('node:')) chunk.loadCalls.push(literal(arg)!);
  return chunk;
}

/** A bundle's chunks by file name, each parsed at its first use (a walk parses only its own). */
interface Bundle {
  get(name: string): Chunk | undefined;
}

function bundleOf(names: Set<string>, read: (name: string) => string): Bundle {
  const parsed = new Map<string, Chunk>();
  return {
    get(name) {
      if (!names.has(name)) return undefined;
      if (!parsed.has(name)) parsed.set(name, analyse(read(name)));
      return parsed.get(name);
    },
  };
}

/** dist/bundle, each chunk's source passed through `edit` (a test adds an import). */
function readBundle(edit: (name: string, source: string) => string = (_, s) => s): Bundle {
  const names = new Set(readdirSync(bundleDir).filter((f) => f.endsWith('.mjs')));
  return bundleOf(names, (name) => edit(name, readFileSync(new URL(name, bundleDir), 'utf8').replace(/^#!.*/, '')));
}

/** A bundle made of these sources (tests of the walker that do not depend on rollup's chunking). */
const syntheticBundle = (sources: Record<string, string>) =>
  bundleOf(new Set(Object.keys(sources)), (name) => sources[name]!);

/** The chunk file a plugin's loader in the entry's PLUGINS table imports. */
function pluginChunk(bundle: Bundle, plugin: string): string {
  for (const n of nodes(bundle.get(ENTRY)!.ast)) {
    const key = n.type === 'Property' ? (n.key as AstNode) : undefined;
    if (!key || (key.name ?? key.value) !== plugin || !isFunction(n.value as AstNode)) continue;
    const target = [...nodes(n.value as AstNode)].find((m) => m.type === 'ImportExpression');
    if (target) return chunkName(literal(target.source)!);
  }
  throw new Error(`no loader for ${plugin} in ${ENTRY}'s PLUGINS`);
}

/** The chunk of a plugin whose whole run is built apart: its loader in the entry's ALONE table (main.ts), if it has one. */
function aloneChunk(bundle: Bundle, plugin: string): string | undefined {
  for (const n of nodes(bundle.get(ENTRY)!.ast)) {
    if (n.type !== 'VariableDeclarator' || (n.id as AstNode).name !== 'ALONE') continue;
    for (const m of nodes(n.init as AstNode)) {
      const key = m.type === 'Property' ? (m.key as AstNode) : undefined;
      if (!key || (key.name ?? key.value) !== plugin) continue;
      const target = [...nodes(m.value as AstNode)].find((i) => i.type === 'ImportExpression');
      if (target) return chunkName(literal(target.source)!);
    }
  }
  return undefined;
}

/** The chunk the entry imports beside the plugin's loader, `Promise.all([load(), import(run)])`: skel. */
function runChunk(bundle: Bundle): string {
  for (const n of nodes(bundle.get(ENTRY)!.ast)) {
    if (n.type !== 'ArrayExpression') continue;
    const elements = n.elements as AstNode[];
    const callsLoad = elements.some((e) => e.type === 'CallExpression' && (e.callee as AstNode).name === 'load');
    const run = elements.find((e) => e.type === 'ImportExpression');
    if (callsLoad && run) return chunkName(literal(run.source)!);
  }
  throw new Error(`no Promise.all([load(), import(…)]) in ${ENTRY}`);
}

const chunkName = (specifier: string) => specifier.replace(/^\.\//, '');

/**
 * Every chunk a run may load from `roots`, each with the path it was first reached by (its steps:
 * a chunk name, `import() <name>` for a step through import()). Static imports are followed first,
 * so a chunk that is also loaded at start shows its static path; then each import() of a chunk,
 * and what that chunk loads. The entry's own import()s are not followed (the roots stand for them).
 */
function walk(bundle: Bundle, roots: string[]) {
  const via = new Map<string, string[]>(roots.map((r) => [r, [r]]));
  const nodeImports: string[] = [];
  const queue = [...roots];
  const later: [string, string[]][] = []; // chunks reached by import(), walked once the static ones are
  const reach = (next: string, steps: string[]) => {
    if (via.has(next)) return;
    via.set(next, steps);
    queue.push(next);
  };
  for (;;) {
    const name = queue.shift();
    if (name === undefined) {
      const dynamic = later.shift();
      if (!dynamic) break;
      reach(...dynamic);
      continue;
    }
    const chunk = bundle.get(name);
    const steps = via.get(name)!;
    const path = steps.join(' → ');
    if (!chunk) throw new Error(`${path}: no such chunk in the bundle`);
    for (const spec of chunk.imports) {
      if (spec.startsWith('node:')) nodeImports.push(`${path} imports ${spec}`);
      if (spec.startsWith('./')) reach(chunkName(spec), [...steps, chunkName(spec)]);
    }
    if (name !== ENTRY) {
      for (const spec of chunk.dynamicImports) {
        if (spec.startsWith('node:')) nodeImports.push(`${path} imports ${spec} by import()`);
        if (spec.startsWith('./')) later.push([chunkName(spec), [...steps, `import() ${chunkName(spec)}`]]);
      }
      if (chunk.computedImports) nodeImports.push(`${path} has an import() of a computed specifier`);
    }
    for (const spec of chunk.loadCalls) nodeImports.push(`${path} calls for ${spec} at load`);
  }
  return { via, nodeImports };
}

/** A run's roots: a plugin built apart (loopback) its own chunk; the others their chunk beside skel's run chunk. */
const rootsOf = (bundle: Bundle, plugin: string) => {
  const alone = aloneChunk(bundle, plugin);
  return alone ? [ENTRY, alone] : [ENTRY, pluginChunk(bundle, plugin), runChunk(bundle)];
};
const runOf = (bundle: Bundle, plugin: string) => walk(bundle, rootsOf(bundle, plugin));
const exporting = (bundle: Bundle, chunks: Iterable<string>, symbol: string) =>
  [...chunks].filter((c) => bundle.get(c)!.exports.includes(symbol));

const bundle = readBundle();
/** What an edited bundle's loopback run loads of node:* beyond the real bundle's (which the first test holds to none). */
const added = (edited: Bundle) => {
  const before = runOf(bundle, 'loopback').nodeImports;
  return runOf(edited, 'loopback').nodeImports.filter((i) => !before.includes(i));
};

test('a loopback run loads no node:* module', (t) => {
  const { nodeImports } = runOf(bundle, 'loopback');
  t.deepEqual(nodeImports, [], 'loopback must not load node:* (docs/startup.md "A loopback run without node:fs")');
});

test("the walk of loopback's run reaches its plugin, skel and libc-fs (one chunk built apart)", (t) => {
  const { via } = runOf(bundle, 'loopback');
  const alone = aloneChunk(bundle, 'loopback')!;
  t.truthy(alone, "loopback's run is built apart (main.ts's ALONE)");
  t.not(alone, pluginChunk(bundle, 'loopback'));
  t.deepEqual(exporting(bundle, [alone], 'plugin'), [alone]);
  t.deepEqual(exporting(bundle, [alone], 'runPlugin'), [alone]);
  // libcFs (process/netlink/libc-fs.ts, loopback's file reads without node:fs) is in one chunk
  // of the run (the chunk built apart's)
  const libc = [...via.keys()].filter((c) => bundle.get(c)!.functions.includes('libcFs'));
  t.is(libc.length, 1, `libcFs declared in one chunk of the run: ${[...via.keys()].join(', ')}`);
  // skel's dispatch (the ADD path) is declared in a chunk the alone chunk imports, not in the alone chunk
  const dispatch = [...via.keys()].filter((c) => bundle.get(c)!.functions.includes('dispatch'));
  t.is(dispatch.length, 1);
  t.true(via.get(dispatch[0]!)!.length > 1 && dispatch[0] !== alone, via.get(dispatch[0]!)!.join(' → '));
});

test("the walker sees node:fs in host-local's run (it keeps its static imports)", (t) => {
  const { nodeImports } = runOf(bundle, 'host-local');
  t.deepEqual(exporting(bundle, [pluginChunk(bundle, 'host-local')], 'hostLocal'), [pluginChunk(bundle, 'host-local')]);
  // host-local's own modules (its store) import node:fs: the walker must report its plugin chunk
  t.true(nodeImports.includes(`${pluginChunk(bundle, 'host-local')} imports node:fs`), nodeImports.join('\n'));
});

for (const [module, symbol] of [
  ['skel (dispatch)', 'dispatch'],
  ['process (fs.ts, useFs)', 'useFs'],
] as const) {
  test(`a node:fs import added to ${module}, below the run's roots, is found with its path`, (t) => {
    const { via } = runOf(bundle, 'loopback');
    const roots = rootsOf(bundle, 'loopback');
    const target = [...via.keys()].filter((c) => bundle.get(c)!.functions.includes(symbol));
    t.is(target.length, 1, `${symbol} declared in one chunk of the run`);
    const path = via.get(target[0]!)!;
    t.false(roots.includes(target[0]!), `${target[0]} is reached through an import, not a root`);
    const edited = readBundle((name, s) => (name === target[0] ? `import 'node:fs';\n${s}` : s));
    t.deepEqual(added(edited), [`${path.join(' → ')} imports node:fs`]);
  });
}

test('a node:* call at load is found, one inside a function is not', (t) => {
  const plugin = aloneChunk(bundle, 'loopback')!;
  const edit = (code: string) => readBundle((name, s) => (name === plugin ? `${s}\n${code}\n` : s));
  const atLoad = added(edit("const os = process.getBuiltinModule('node:os');"));
  t.deepEqual(atLoad, [`${plugin} calls for node:os at load`]);
  const lazy = added(edit("function os() { return require('node:os'); }"));
  t.deepEqual(lazy, []);
});

test("the walk follows skel's import() of the prevResult schemas, and finds a node:fs import there", (t) => {
  // a loopback ADD with a prevResult the lean reader leaves to the schemas loads skel/prev-schema.ts
  const { via } = runOf(bundle, 'loopback');
  const prev = exporting(bundle, via.keys(), 'decodePrevResult');
  t.is(prev.length, 1, `decodePrevResult exported by one chunk of the run: ${[...via.keys()].join(', ')}`);
  const path = via.get(prev[0]!)!;
  t.is(path.at(-1), `import() ${prev[0]}`, path.join(' → '));
  const edited = readBundle((name, s) => (name === prev[0] ? `import 'node:fs';\n${s}` : s));
  t.deepEqual(added(edited), [`${path.join(' → ')} imports node:fs`]);
});

/** A bundle shaped as rollup writes ours: the entry's PLUGINS loaders and Promise.all([load(), import(run)]). */
const ENTRY_SOURCE = `
const PLUGINS = { loopback: () => import('./p.mjs').then((m) => m.loopback), other: () => import('./o.mjs') };
const load = PLUGINS[process.argv0];
Promise.all([load(), import('./run.mjs')]).then(([plugin, { runPlugin }]) => runPlugin(plugin));
function writeOut(text) { return import('node:fs').then((fs) => fs.writeSync(1, text)); }
`;
const synthetic = (sources: Record<string, string>) =>
  runOf(
    syntheticBundle({ [ENTRY]: ENTRY_SOURCE, 'run.mjs': 'export function runPlugin() {}', ...sources }),
    'loopback',
  );

test('on a synthetic bundle: node:fs behind an import() of a chunk fails the guard, with its path', (t) => {
  const { nodeImports, via } = synthetic({
    'p.mjs': "import './a.mjs';\nexport const loopback = {};",
    'a.mjs': "export async function prev() { return (await import('./lazy.mjs')).decode; }",
    'lazy.mjs': "import { readFileSync } from 'node:fs';\nexport const decode = readFileSync;",
    'o.mjs': "import 'node:os';", // another plugin's chunk: not part of loopback's run
  });
  t.deepEqual(nodeImports, ['p.mjs → a.mjs → import() lazy.mjs imports node:fs']);
  t.false(via.has('o.mjs'));
});

test('on a synthetic bundle: import() of node:* or of a computed name in a chunk is reported, not in the entry', (t) => {
  const { nodeImports } = synthetic({
    'p.mjs': "export const loopback = () => import('node:os');\nexport const any = (m) => import(m);",
  });
  t.deepEqual(nodeImports, [`p.mjs imports node:os by import()`, 'p.mjs has an import() of a computed specifier']);
});

test('on a synthetic bundle: a chunk reached statically and by import() keeps its static path', (t) => {
  const { nodeImports, via } = synthetic({
    'p.mjs': "export const loopback = () => import('./shared.mjs');\nimport './b.mjs';",
    'b.mjs': "import './shared.mjs';",
    'shared.mjs': "import 'node:fs';",
  });
  t.deepEqual(via.get('shared.mjs'), ['p.mjs', 'b.mjs', 'shared.mjs']);
  t.deepEqual(nodeImports, ['p.mjs → b.mjs → shared.mjs imports node:fs']);
  t.throws(() => synthetic({ 'p.mjs': "export const l = () => import('./gone.mjs');" }), {
    message: 'p.mjs → import() gone.mjs: no such chunk in the bundle',
  });
});

for (const plugin of ['bandwidth', 'portmap'])
  test(`a ${plugin} run loads no node:* module`, (t) => {
    // its file calls go through libc (useFs): node:fs is about 1.5 ms of its CPU (docs/performance.md)
    const { nodeImports } = runOf(bundle, plugin);
    t.deepEqual(nodeImports, [], `${plugin} must not load node:* (docs/performance.md, "The first use of bun:ffi")`);
  });

// zod's modules (about 0.4 ms of a run to load) come in only for a config the hand-written reading
// leaves to the schema (portmap's config-schema.ts, imported then); zod's core declares $constructor
// (the chunks a run loads at start: reached by static imports alone; by import(): on some paths)
const zodChunks = (plugin: string, lazy: boolean) =>
  [...runOf(bundle, plugin).via]
    .filter(([, steps]) => steps.some((s) => s.startsWith('import() ')) === lazy)
    .filter(([c]) => bundle.get(c)!.functions.includes('$constructor'))
    .map(([c]) => c);

test('a portmap run loads no zod module at start, only behind the import() of its schema', (t) => {
  t.deepEqual(zodChunks('portmap', false), []);
  t.not(zodChunks('portmap', true).length, 0, "config-schema.ts' import() reaches zod");
  // the check sees zod where a run does load it at start (host-local's config schema)
  t.not(zodChunks('host-local', false).length, 0);
});
