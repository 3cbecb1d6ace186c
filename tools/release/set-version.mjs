#!/usr/bin/env node
// lerna's `version` lifecycle (root package.json): after `lerna version` has bumped every
// package, points the README's install commands at the new release and stages the change, so
// the release commit and tag carry a README that installs what the tag publishes.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { root } from './fetch.mjs';

const { version } = JSON.parse(readFileSync(join(root, 'lerna.json'), 'utf8'));
const file = join(root, 'README.md');
const before = readFileSync(file, 'utf8');
const after = before.replace(/^VERSION=v[0-9][^ \n]* /m, `VERSION=v${version} `);
if (after === before && !before.includes(`VERSION=v${version} `)) throw new Error('README.md: no "VERSION=v…" line');
writeFileSync(file, after);
execFileSync('git', ['add', 'README.md'], { cwd: root });
console.log(`README.md installs v${version}`);
