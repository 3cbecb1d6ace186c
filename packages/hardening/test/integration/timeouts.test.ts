// Every external command has a timeout: a tool that hangs (a fake first on PATH that sleeps) makes
// the plugin answer a clear code-11 error ("try again later") well within the runtime's patience
// (CRI-O gives a CNI call 60 s, the kubelet 2 min), not a hung pod; and the failed ADD leaves
// nothing behind once the tool answers again (its DEL cleans).
import test from 'ava';
import { rootTest } from '@cni-ts/testutils';
import {
  type Backend,
  type World,
  chainAdd,
  chainDel,
  conflist,
  contractProblems,
  dropWorld,
  hang,
  leftovers,
  makeShims,
  makeWorld,
  worldState,
} from '../../src/index.js';

const rt = rootTest(test, 'hardening/timeouts');
const worlds: World[] = [];
rt.after.always(async () => {
  for (const w of worlds) await dropWorld(w);
});

/** A runtime's patience for one plugin call (CRI-O's 60 s, minus a margin). */
const PATIENCE_MS = 45_000;

// portmap's ADD reads the nat table only when its first batch is refused (docs/performance.md):
// on a node without its shared chains, so the warm-up's are taken away again
const PORTMAP_SHARED = `*nat
-D PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT
-D OUTPUT -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT
-X CNI-HOSTPORT-DNAT
COMMIT
`;

const CASES: Array<{
  tool: string;
  backend: Backend;
  plugin: string;
  env?: Record<string, string>;
  prepare?: (w: World) => Promise<unknown>;
  /** A tighter bound than the runtime's patience (the plugin's own budget, and a margin). */
  withinMs?: number;
}> = [
  { tool: 'iptables-restore', backend: 'iptables', plugin: 'bridge' },
  { tool: 'nft', backend: 'nftables', plugin: 'bridge' },
  // the executables change links through rtnetlink, without ip; ip is the fallback (Node, CNI_TS_NETLINK=0)
  { tool: 'ip', backend: 'iptables', plugin: 'loopback', env: { CNI_TS_NETLINK: '0' } },
  // bridge's ADD does not read the nat table (docs/performance.md): portmap is the first to run iptables-save
  {
    tool: 'iptables-save',
    backend: 'iptables',
    plugin: 'portmap',
    prepare: (w) => w.node.node.exec('iptables-restore', ['--noflush'], PORTMAP_SHARED),
  },
  // bandwidth's tc batches go through rtnetlink too; tc is the fallback. Its whole run has one 15 s
  // budget (the undo gets what the work left), so it answers within it, not after two timeouts
  { tool: 'tc', backend: 'iptables', plugin: 'bandwidth', env: { CNI_TS_NETLINK: '0' }, withinMs: 16_500 },
];

for (const c of CASES) {
  rt(
    `a hung ${c.tool} makes ${c.plugin} answer code 11 within ${(c.withinMs ?? PATIENCE_MS) / 1000} s, and nothing is left`,
    async (t) => {
      const w = await makeWorld('hdto');
      worlds.push(w);
      const shims = makeShims(w.dir);
      const list = conflist(w, c.backend);
      const env = c.env ?? {};
      const warm = await chainAdd(w, list, { shimDir: shims.dir, env });
      t.true(warm.ok, 'warm-up ADD');
      await chainDel(w, list, warm.lastResult, { shimDir: shims.dir, env });
      await c.prepare?.(w);
      const baseline = await worldState(w);
      hang(shims, c.tool);
      const add = await chainAdd(w, list, { shimDir: shims.dir, hangMs: 2 * PATIENCE_MS, env });
      hang(shims, c.tool, false);
      const failed = add.runs.at(-1)!;
      t.false(add.ok, 'the ADD cannot succeed while the tool hangs');
      t.is(list.plugins[add.runs.length - 1].type, c.plugin, `${c.plugin} is the one that runs ${c.tool} first`);
      t.deepEqual(contractProblems('ADD', failed), []);
      t.is(failed.json?.code, 11, `a hung ${c.tool}: ${failed.stdout}`);
      t.true(failed.ms < (c.withinMs ?? PATIENCE_MS), `answered after ${Math.round(failed.ms)} ms`);
      t.log(
        `${c.tool} hung: ${c.plugin} answered code ${failed.json?.code} after ${Math.round(failed.ms)} ms: ${failed.json?.msg}`,
      );
      if (c.plugin === 'bandwidth') {
        // its own undo ran on what was left of the budget: no ifb and no qdisc of ours before any DEL
        const now = await worldState(w);
        t.deepEqual(
          now.links?.filter((l) => l.includes('kind=ifb')),
          [],
          'the ifb was taken back',
        );
        t.deepEqual(
          now.qdiscs?.filter((l) => / (tbf|ingress) /.test(l)),
          [],
          'no tbf or ingress qdisc',
        );
      }
      const dels = await chainDel(w, list, undefined, { shimDir: shims.dir, env });
      t.true(
        dels.every((r) => r.exitCode === 0),
        dels.map((r) => r.stdout).join(' | '),
      );
      t.deepEqual(await leftovers(w, baseline), []);
    },
  );
}
