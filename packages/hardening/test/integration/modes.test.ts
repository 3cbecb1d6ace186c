// Files and directories the plugins write have the narrowest modes that work, whatever the
// runtime's umask (here 000): nothing world-writable; reservations and cursors 0600 (read by root
// only), the lock file 0750 as Go's go-filemutex makes it, store directories 0755 as upstream.
import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { rootTest } from '@cni-ts/testutils';
import { type World, chainAdd, chainDel, conflist, dropWorld, makeWorld } from '../../src/index.js';

const rt = rootTest(test, 'hardening/modes');
let w: World | undefined;
rt.after.always(async () => dropWorld(w));

function modes(dir: string): Array<[string, number, boolean]> {
  const out: Array<[string, number, boolean]> = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = lstatSync(p);
      out.push([p.slice(dir.length + 1), st.mode & 0o7777, st.isDirectory()]);
      if (st.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out;
}

rt.serial(
  'with umask 000, the IPAM store holds nothing world-writable and reservations readable by root only',
  async (t) => {
    w = await makeWorld('hdmo');
    const old = process.umask(0);
    try {
      for (const b of ['iptables', 'nftables'] as const) {
        const add = await chainAdd(w, conflist(w, b), {
          containerId: `hd-${b}`,
          ifname: b === 'iptables' ? 'eth0' : 'eth1',
        });
        t.true(add.ok, add.runs.at(-1)?.stdout);
      }
    } finally {
      process.umask(old);
    }
    const found = modes(w.dataDir);
    t.true(found.length >= 5, JSON.stringify(found));
    for (const [path, mode, isDir] of found) {
      const name = path.split('/').at(-1)!;
      t.is(mode & 0o002, 0, `${path} is world-writable (${mode.toString(8)})`);
      t.is(mode & 0o7000, 0, `${path} has setuid/setgid/sticky bits (${mode.toString(8)})`);
      if (isDir) t.is(mode, 0o755, `directory ${path}`);
      else if (name === 'lock') t.is(mode, 0o750, `lock ${path}`);
      else t.is(mode, 0o600, `${path}`);
    }
    for (const b of ['iptables', 'nftables'] as const) {
      const dels = await chainDel(w, conflist(w, b), undefined, {
        containerId: `hd-${b}`,
        ifname: b === 'iptables' ? 'eth0' : 'eth1',
      });
      t.true(dels.every((r) => r.exitCode === 0));
    }
  },
);
