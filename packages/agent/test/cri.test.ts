import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { criClient } from '../src/cri.js';
import { FakeCri } from './fixtures/fake-cri.js';

function socketDir() {
  const dir = mkdtempSync(join(tmpdir(), 'cts-agent-cri-'));
  return { dir, socket: join(dir, 'cri.sock') };
}

test('ListPodSandbox over a unix socket: ids, names, namespaces and states as the runtime sent them', async (t) => {
  const { dir, socket } = socketDir();
  const cri = new FakeCri();
  cri.sandboxes = [
    { id: 'a1b2', name: 'web-0', namespace: 'default' },
    { id: 'c3d4', name: 'dns-1', namespace: 'kube-system', ready: false },
  ];
  await cri.listen(socket);
  const client = criClient(socket, 10_000);
  try {
    t.deepEqual(await client.listSandboxes(), [
      { id: 'a1b2', state: 'SANDBOX_READY', name: 'web-0', namespace: 'default' },
      { id: 'c3d4', state: 'SANDBOX_NOTREADY', name: 'dns-1', namespace: 'kube-system' },
    ]);
    cri.sandboxes = [];
    t.deepEqual(await client.listSandboxes(), [], 'an empty list is a list');
    t.is(cri.calls, 2);
  } finally {
    client.close();
    cri.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a failing runtime, a hanging one and a missing socket are errors, never an empty list', async (t) => {
  const { dir, socket } = socketDir();
  const cri = new FakeCri();
  await cri.listen(socket);
  // Only the hanging call needs a short deadline; the others get time to connect on a loaded machine.
  const client = criClient(socket, 10_000);
  const impatient = criClient(socket, 300);
  const missing = criClient(join(dir, 'nobody.sock'), 10_000);
  try {
    cri.fail = 'runtime is shutting down';
    await t.throwsAsync(client.listSandboxes(), { message: /ListPodSandbox on .* failed: runtime is shutting down/ });
    cri.fail = undefined;
    cri.hang = true;
    await t.throwsAsync(impatient.listSandboxes(), { message: /Deadline exceeded/i });
    await t.throwsAsync(missing.listSandboxes(), { message: /ListPodSandbox on .*nobody\.sock failed/ });
  } finally {
    client.close();
    impatient.close();
    missing.close();
    cri.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
