// The agent's RBAC grants reads of Nodes only: every Role and ClusterRole under deploy/ allows
// get, list and watch on core-group nodes and nothing else (no wildcards, no secrets, no writes),
// and every binding points at such a role.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { parseAllDocuments } from 'yaml';
import { repoRoot } from '@cni-ts/testutils';

const deploy = join(repoRoot, 'deploy');

function manifests(): Array<{ file: string; doc: any }> {
  const out: Array<{ file: string; doc: any }> = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.ya?ml$/.test(name))
        for (const d of parseAllDocuments(readFileSync(p, 'utf8'))) if (d.toJS()) out.push({ file: p, doc: d.toJS() });
    }
  };
  walk(deploy);
  return out;
}

const READS = new Set(['get', 'list', 'watch']);

test('every role under deploy/ grants get, list and watch on nodes, and nothing else', (t) => {
  if (!existsSync(deploy)) return t.pass('no deploy/ yet');
  const docs = manifests();
  const roles = docs.filter((d) => d.doc.kind === 'ClusterRole' || d.doc.kind === 'Role');
  t.true(roles.length >= 1, 'the agent has a role');
  for (const { file, doc } of roles) {
    t.falsy(doc.aggregationRule, `${file}: an aggregated role grants what others define`);
    for (const rule of doc.rules ?? []) {
      t.deepEqual(rule.apiGroups, [''], `${file}: apiGroups`);
      t.deepEqual(rule.resources, ['nodes'], `${file}: resources`);
      t.falsy(rule.nonResourceURLs, `${file}: nonResourceURLs`);
      for (const v of rule.verbs ?? []) t.true(READS.has(v), `${file}: verb ${v}`);
    }
  }
  const names = new Set(roles.map((r) => r.doc.metadata?.name));
  for (const { file, doc } of docs.filter((d) => /RoleBinding$/.test(d.doc.kind))) {
    t.true(names.has(doc.roleRef?.name), `${file}: binds ${doc.roleRef?.kind} ${doc.roleRef?.name}, not one of ours`);
  }
});

test('no workload under deploy/ runs privileged or mounts the node root', (t) => {
  if (!existsSync(deploy)) return t.pass('no deploy/ yet');
  for (const { file, doc } of manifests().filter((d) => d.doc.kind === 'DaemonSet')) {
    const spec = doc.spec?.template?.spec ?? {};
    for (const c of [...(spec.containers ?? []), ...(spec.initContainers ?? [])])
      t.not(c.securityContext?.privileged, true, `${file}: ${c.name} is privileged`);
    for (const v of spec.volumes ?? []) if (v.hostPath) t.not(v.hostPath.path, '/', `${file}: mounts /`);
  }
});
