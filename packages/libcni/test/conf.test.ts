import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import {
  NoConfigsFoundError,
  NotFoundError,
  confListFromBytes,
  defaultConfList,
  listConfFiles,
  loadConfList,
  pluginConfFromBytes,
} from '../src/index.js';
import { tempDir } from './helpers.js';

const list = (extra: object) => JSON.stringify({ name: 'net', plugins: [{ type: 'bridge' }], ...extra });

test('the highest of cniVersion and cniVersions that this library knows is chosen', (t) => {
  t.is(confListFromBytes(list({ cniVersion: '0.4.0', cniVersions: ['1.0.0', '0.3.1'] })).cniVersion, '1.0.0');
  t.is(confListFromBytes(list({ cniVersion: '1.0.0', cniVersions: ['1.1.0', '9.0.0'] })).cniVersion, '1.1.0');
  t.is(confListFromBytes(list({ cniVersions: ['2.0.0'] })).cniVersion, '', 'only newer versions: none chosen');
  t.is(confListFromBytes(list({ cniVersion: '3.0.0' })).cniVersion, '3.0.0', 'without cniVersions the version is kept');
  t.throws(() => confListFromBytes(list({ cniVersions: ['1.x'] })), {
    message: /invalid cniVersions entry 1\.x at index 0/,
  });
  t.throws(() => confListFromBytes(list({ cniVersions: '1.0.0' })), { message: /invalid type for cniVersions/ });
});

test('disableCheck, disableGC and loadOnlyInlinedPlugins accept booleans and "true"/"false" strings', (t) => {
  const l = confListFromBytes(list({ disableCheck: 'TRUE', disableGC: true, loadOnlyInlinedPlugins: 'false' }));
  t.true(l.disableCheck);
  t.true(l.disableGC);
  t.false(l.loadOnlyInlinedPlugins);
  t.throws(() => confListFromBytes(list({ disableGC: 'yes' })), { message: /invalid value "yes" for disableGC/ });
  t.throws(() => confListFromBytes(list({ disableCheck: 1 })), { message: /invalid type float64 for disableCheck/ });
});

test('a list needs a string name and a non-empty plugin array whose entries have a type', (t) => {
  t.throws(() => confListFromBytes('{"plugins":[]}'), { message: 'error parsing configuration list: no name' });
  t.throws(() => confListFromBytes('{"name":1}'), { message: /invalid name type float64/ });
  t.throws(() => confListFromBytes('{"name":"n","plugins":[]}'), { message: /no plugins in list/ });
  t.throws(() => confListFromBytes('{"name":"n","plugins":[{"ipam":{}}]}'), {
    message: "failed to parse plugin config 0: error parsing configuration: missing 'type'",
  });
  t.throws(() => confListFromBytes('{"name":"n","plugins":[{"type":"x","capabilities":{"a":"yes"}}]}'), {
    message: /plugin config 0: .*cannot unmarshal string into Go struct field .*of type bool/,
  });
  t.throws(() => confListFromBytes('{"name":"n","loadOnlyInlinedPlugins":true}'), {
    message: /`loadOnlyInlinedPlugins` is true, and no 'plugins' key/,
  });
});

test('plugin bytes are the plugin object re-marshalled as Go does: keys sorted, compact', (t) => {
  const l = confListFromBytes('{"name":"n","cniVersion":"1.0.0","plugins":[{"type":"x","z":1,"a":{"y":"<b>","b":2}}]}');
  t.is(l.plugins[0]?.bytes.toString(), '{"a":{"b":2,"y":"\\u003cb\\u003e"},"type":"x","z":1}');
  t.is(l.bytes.toString(), '{"name":"n","cniVersion":"1.0.0","plugins":[{"type":"x","z":1,"a":{"y":"<b>","b":2}}]}');
  t.deepEqual(pluginConfFromBytes('{"Type":"bridge","CAPABILITIES":{"portMappings":true}}').network, {
    type: 'bridge',
    capabilities: { portMappings: true },
  });
});

test('loadConfList: conflists in file name order, then single configs; a broken earlier list is an error', (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, '20-b.conflist'), list({ name: 'b', cniVersion: '1.0.0' }));
  writeFileSync(join(dir, '10-a.conflist'), list({ name: 'b', cniVersion: '0.4.0' }));
  writeFileSync(join(dir, '05-single.conf'), JSON.stringify({ name: 'single', cniVersion: '0.3.1', type: 'loopback' }));
  t.is(loadConfList(dir, 'b').cniVersion, '0.4.0', 'the first file by name wins');
  const single = loadConfList(dir, 'single');
  t.is(single.cniVersion, '0.3.1');
  t.deepEqual(
    single.plugins.map((p) => p.network),
    [{ type: 'loopback', name: 'single', cniVersion: '0.3.1' }],
  );
  t.throws(() => loadConfList(dir, 'nope'), {
    instanceOf: NotFoundError,
    message: /no net configuration with name "nope"/,
  });
  writeFileSync(join(dir, '00-broken.conflist'), '{');
  t.throws(() => loadConfList(dir, 'b'), { message: /error parsing configuration list/ });
  t.throws(() => loadConfList(join(dir, 'missing'), 'b'), { instanceOf: NoConfigsFoundError });
});

test('plugins in a folder named after the network are appended to the list, unless loadOnlyInlinedPlugins', (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, '10-n.conflist'), JSON.stringify({ name: 'n', cniVersion: '1.1.0' }));
  writeFileSync(join(dir, '20-m.conflist'), list({ name: 'm', loadOnlyInlinedPlugins: true }));
  for (const net of ['n', 'm']) {
    mkdirSync(join(dir, net));
    writeFileSync(join(dir, net, '2-portmap.conf'), '{"type":"portmap"}');
    writeFileSync(join(dir, net, '1-bridge.conf'), '{"type":"bridge"}');
  }
  t.deepEqual(
    loadConfList(dir, 'n').plugins.map((p) => p.network.type),
    ['bridge', 'portmap'],
  );
  t.deepEqual(
    loadConfList(dir, 'm').plugins.map((p) => p.network.type),
    ['bridge'],
  );
});

test('the default network is the first configuration file that parses, as runtimes pick it', (t) => {
  const dir = tempDir(t);
  t.throws(() => defaultConfList(dir), { instanceOf: NoConfigsFoundError });
  writeFileSync(join(dir, '05-bad.conflist'), '{"name":"bad"}');
  writeFileSync(join(dir, '10-good.conflist'), list({ name: 'good' }));
  writeFileSync(join(dir, '20-other.conf'), JSON.stringify({ name: 'other', type: 'loopback' }));
  t.is(defaultConfList(dir).name, 'good');
  const entries = listConfFiles(dir);
  t.deepEqual(
    entries.map((e) => [e.file.slice(dir.length + 1), e.list?.name ?? e.error?.message]),
    [
      ['05-bad.conflist', 'no plugin configs found'],
      ['10-good.conflist', 'good'],
      ['20-other.conf', 'other'],
    ],
  );
});
