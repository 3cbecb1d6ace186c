// Bad input to the built executable: always a JSON error on stdout and exit 1, never a stack trace.
import test from 'ava';
import { execPlugin, ourPlugin } from '@cni-ts/testutils';

const plugin = ourPlugin('loopback');
const env = { containerId: 'c1', netns: '/proc/self/ns/net', ifname: 'eth0' };

async function expectError(t: any, call: Parameters<typeof execPlugin>[0], code: number, msg: RegExp) {
  const r = await execPlugin(call);
  t.is(r.exitCode, 1, r.stdout + r.stderr);
  t.is(r.json?.code, code, r.stdout);
  t.regex(r.json.msg, msg);
  t.notRegex(r.stdout + r.stderr, /\n\s+at /, 'no stack trace');
  return r;
}

test('malformed JSON is code 6', async (t) => {
  await expectError(
    t,
    { plugin, command: 'ADD', ...env, config: '{"cniVersion": "1.0.0", ' },
    6,
    /error unmarshall network config/,
  );
});

test('an unsupported cniVersion is code 1 naming the supported versions', async (t) => {
  await expectError(
    t,
    { plugin, command: 'ADD', ...env, config: { cniVersion: '9.9.9', name: 'n' } },
    1,
    /plugin supports 0\.1\.0, 0\.2\.0, 0\.3\.0, 0\.3\.1, 0\.4\.0, 1\.0\.0, 1\.1\.0/,
  );
});

test('an unknown CNI_COMMAND is code 4 naming it', async (t) => {
  await expectError(
    t,
    { plugin, command: 'NOPE', ...env, config: { cniVersion: '1.0.0', name: 'n' } },
    4,
    /unknown CNI_COMMAND: NOPE/,
  );
});

test('missing env is code 4 naming the variables', async (t) => {
  await expectError(
    t,
    { plugin, command: 'ADD', config: { cniVersion: '1.0.0', name: 'n' }, cniPath: [], env: { CNI_PATH: undefined } },
    4,
    /required env variables \[CNI_CONTAINERID,CNI_NETNS,CNI_IFNAME,CNI_PATH\] missing/,
  );
});

test('a missing cniVersion is a clear code-7 error', async (t) => {
  const r = await expectError(t, { plugin, command: 'ADD', ...env, config: { name: 'n' } }, 7, /no "cniVersion"/);
  t.regex(r.json.details, /set "cniVersion"/);
});

test('VERSION prints the supported list including 1.1.0', async (t) => {
  const r = await execPlugin({ plugin, command: 'VERSION', config: '' });
  t.is(r.exitCode, 0);
  t.deepEqual(r.json, {
    cniVersion: '1.1.0',
    supportedVersions: ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'],
  });
});

test('no CNI_COMMAND prints the about text to stderr and exits 0', async (t) => {
  const r = await execPlugin({ plugin, command: '', config: '', env: { CNI_COMMAND: undefined } });
  t.is(r.exitCode, 0);
  t.regex(r.stderr, /^CNI loopback plugin v\d+\.\d+\.\d+\nCNI protocol versions supported: 0\.1\.0, /);
});
