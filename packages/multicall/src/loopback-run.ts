// loopback's whole run, one chunk of its own: the plugin with skel's run beside it, built apart
// from the multi-call bundle (rollup.config.mjs, `cni.alone`) so that it carries its own copy of
// skel, process and types and shares no chunk with the other plugins. In the compiled executable a
// shared chunk carries what every plugin that reaches it needs, and a loopback run spent about 8 of
// JavaScriptCore's GC blocks more loading those than loading its own copy; a run that stays under
// 64 blocks never starts the heap's warm-up thread (docs/startup.md). main.ts imports this lazily.
export { loopback as plugin } from '@cni-ts/loopback';
export { runPlugin } from '@cni-ts/skel';
