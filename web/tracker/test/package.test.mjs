// The package itself: the 6 KiB gzip budget (as served: there is no minified copy), plain
// ES2017, one version.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import zlib from 'node:zlib';

import { trackerSource } from './harness.mjs';

test('attune.js is at most 6144 bytes gzipped', () => {
  const gz = zlib.gzipSync(Buffer.from(trackerSource), { level: 9 }).length;
  assert.ok(gz <= 6144, `attune.js is ${gz} bytes gzipped`);
});

test('attune.js stays plain ES2017: no syntax newer than the browsers it targets', () => {
  // Optional chaining, nullish coalescing and class fields are ES2020+; the source avoids them.
  assert.doesNotMatch(trackerSource, /\?\.|\?\?|#[a-z]\w*\s*=/);
});

test('the version is one: package.json, the header and attune.version agree', async () => {
  const { readFileSync } = await import('node:fs');
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  assert.ok(trackerSource.startsWith(`/*! attune.js ${pkg.version},`), 'the header names the version');
  assert.ok(trackerSource.includes(`version: '${pkg.version}'`), 'attune.version');
});
