import test from 'ava';
import { PLUGINS, VERSIONS } from '../src/plugins.js';

test('VERSION answers from the table with the versions each plugin declares', async (t) => {
  t.deepEqual(Object.keys(VERSIONS), Object.keys(PLUGINS));
  for (const [name, load] of Object.entries(PLUGINS)) {
    const plugin = await load();
    t.is(plugin.name, name);
    t.deepEqual(VERSIONS[name], plugin.versions, `${name}: set cni.minVersion in its package.json, then npm run sync`);
  }
});
