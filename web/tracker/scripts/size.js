#!/usr/bin/env node
// Fails when attune.js is over its budget: 6 KiB after gzip -9 (what a browser downloads,
// the source as served: there is no minified copy).
'use strict';
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');

const LIMIT = 6144;
const file = path.join(__dirname, '..', 'attune.js');
const source = fs.readFileSync(file);
const gz = zlib.gzipSync(source, { level: 9 }).length;
console.log(`attune.js: ${source.length} bytes, ${gz} bytes gzipped (limit ${LIMIT})`);
if (gz > LIMIT) {
  console.error(`attune.js is ${gz - LIMIT} bytes over the ${LIMIT}-byte gzip budget`);
  process.exit(1);
}
