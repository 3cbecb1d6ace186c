// portmap's whole run, one chunk of its own (as loopback-run.ts): the plugin with skel's run beside
// it, built apart from the multi-call bundle (rollup.config.mjs, `cni.alone`), so that a portmap
// run loads its own copy of skel, process, types, iptables and nftables and none of the chunks
// bun's split shares with the bridge and bandwidth. With the run's top-level tables built on first
// use, that keeps a portmap run under JavaScriptCore's 64-block warm-up threshold: it starts no
// heap thread (docs/performance.md, "portmap under JavaScriptCore's warm-up threshold"). portmap
// never delegates, so it needs no in-process registry. main.ts imports this lazily.
export { portmap as plugin } from '@cni-ts/portmap';
export { runPlugin } from '@cni-ts/skel';
