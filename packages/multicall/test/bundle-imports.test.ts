// Guards what a plugin run loads from the built bundle: loopback's run must load no `node:*`
// module (about 2 ms of CPU in Bun for node:fs, docs/startup.md "A loopback run without node:fs"),
// so a new `node:fs` import anywhere on its path (skel, process, types) fails here, not in a bench.
// Runs on dist/bundle (rollup's chunks, what bun compiles), by walking their static imports.
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
  const chunk: Chunk = { imports: [], loadCalls: [], exports: [], functions: [], ast };
  for (const stmt of ast.body as AstNode[]) {
    const from = literal(stmt.source);
    if (from !== undefined && /^(Import|ExportNamed|ExportAll)Declaration$/.test(stmt.type)) chunk.imports.push(from);
    if (stmt.type === 'ExportNamedDeclaration')
      for (const s of stmt.specifiers as AstNode[]) chunk.exports.push(String((s.exported as AstNode).name));
    if (stmt.type === 'FunctionDeclaration') chunk.functions.push(String((stmt.id as AstNode).name));
  }
  for (const n of nodes(ast, true))
    if (n.type === 'CallExpression')
      for (const arg of n.arguments as AstNode[])
        if (literal(arg)?.startsWith('node:')) chunk.loadCalls.push(literal(arg)!);
  return chunk;
}

/** The chunks of dist/bundle by file name, each parsed at its first use (a walk parses only its own). */
interface Bundle {
  get(name: string): Chunk | undefined;
}

function readBundle(edit: (name: string, source: string) => string = (_, s) => s): Bundle {
  const names = new Set(readdirSync(bundleDir).filter((f) => f.endsWith('.mjs')));
  const parsed = new Map<string, Chunk>();
  return {
    get(name) {
      if (!names.has(name)) return undefined;
      if (!parsed.has(name))
        parsed.set(name, analyse(edit(name, readFileSync(new URL(name, bundleDir), 'utf8').replace(/^#!.*/, ''))));
      return parsed.get(name);
    },
  };
}

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

/** Every chunk a run loads from `roots` by static imports, each with the path it was reached by. */
function walk(bundle: Bundle, roots: string[]) {
  const via = new Map<string, string[]>(roots.map((r) => [r, [r]]));
  const nodeImports: string[] = [];
  const queue = [...roots];
  for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
    const chunk = bundle.get(name);
    if (!chunk) throw new Error(`${via.get(name)!.join(' → ')}: no such chunk in dist/bundle`);
    const path = via.get(name)!.join(' → ');
    for (const spec of chunk.imports) {
      if (spec.startsWith('node:')) nodeImports.push(`${path} imports ${spec}`);
      if (!spec.startsWith('./')) continue;
      const next = chunkName(spec);
      if (!via.has(next)) {
        via.set(next, [...via.get(name)!, next]);
        queue.push(next);
      }
    }
    for (const spec of chunk.loadCalls) nodeImports.push(`${path} calls for ${spec} at load`);
  }
  return { via, nodeImports };
}

const runOf = (bundle: Bundle, plugin: string) => walk(bundle, [ENTRY, pluginChunk(bundle, plugin), runChunk(bundle)]);
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

test("the walk of loopback's run reaches its plugin, skel and libc-fs", (t) => {
  const { via } = runOf(bundle, 'loopback');
  const plugin = pluginChunk(bundle, 'loopback');
  const run = runChunk(bundle);
  t.not(plugin, run);
  t.deepEqual(exporting(bundle, [plugin], 'loopback'), [plugin]);
  t.deepEqual(exporting(bundle, [run], 'runPlugin'), [run]);
  // libcFs (process/netlink/libc-fs.ts) sits below the plugin chunk: the walk follows imports
  const libc = [...via.keys()].filter((c) => bundle.get(c)!.functions.includes('libcFs'));
  t.is(libc.length, 1, `libcFs declared in one chunk of the run: ${[...via.keys()].join(', ')}`);
  // skel's dispatch (the ADD path) is declared in a chunk the run chunk imports, not in the run chunk
  const dispatch = [...via.keys()].filter((c) => bundle.get(c)!.functions.includes('dispatch'));
  t.is(dispatch.length, 1);
  t.true(via.get(dispatch[0]!)!.length > 1 && dispatch[0] !== run, via.get(dispatch[0]!)!.join(' → '));
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
    const roots = [ENTRY, pluginChunk(bundle, 'loopback'), runChunk(bundle)];
    const target = [...via.keys()].filter((c) => bundle.get(c)!.functions.includes(symbol));
    t.is(target.length, 1, `${symbol} declared in one chunk of the run`);
    const path = via.get(target[0]!)!;
    t.false(roots.includes(target[0]!), `${target[0]} is reached through an import, not a root`);
    const edited = readBundle((name, s) => (name === target[0] ? `import 'node:fs';\n${s}` : s));
    t.deepEqual(added(edited), [`${path.join(' → ')} imports node:fs`]);
  });
}

test('a node:* call at load is found, one inside a function is not', (t) => {
  const plugin = pluginChunk(bundle, 'loopback');
  const edit = (code: string) => readBundle((name, s) => (name === plugin ? `${s}\n${code}\n` : s));
  const atLoad = added(edit("const os = process.getBuiltinModule('node:os');"));
  t.deepEqual(atLoad, [`${plugin} calls for node:os at load`]);
  const lazy = added(edit("function os() { return require('node:os'); }"));
  t.deepEqual(lazy, []);
});
