// With API keys required: the script and the page load without a key, and the tracker sends
// its key in a header (never in a URL), so events arrive; without the key nothing does.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { fromTracker, launchChromium, startDemo, storedEvents } from './harness.mjs';

const KEY = 'browser-key-0000000001';
const CONFIG = `
[auth]
required = true

[[auth.keys]]
name = "browser"
key = "${KEY}"
scopes = ["ingest", "read"]
apps = ["default"]
`;

let demo;
let browser;

before(async () => {
  // One after the other: if the server fails to start, after() still closes the browser.
  browser = await launchChromium();
  demo = await startDemo(CONFIG);
}, { timeout: 620_000 });

after(async () => {
  await browser?.close();
  await demo?.stop();
});

test('with auth.required the tracker delivers with its key, in headers only', async () => {
  assert.equal((await fetch(`${demo.base}/v1/tracker.js`)).status, 200, 'the script needs no key');
  assert.equal((await fetch(`${demo.base}/v1/items`)).status, 401, 'the API does');

  const context = await browser.newContext();
  const page = await context.newPage();
  const urls = [];
  page.on('request', (r) => urls.push(r.url()));
  const statuses = [];
  page.on('response', (r) => statuses.push([r.status(), r.url()]));
  const user = 'web-auth-1';
  await page.goto(`${demo.base}/demo?user=${user}&key=${KEY}&flushMs=200`);
  await page.evaluate(() => window.demo.ready);
  await page.locator('#grid .card').nth(3).click();
  await page.waitForSelector('#item-title');
  await page.evaluate(() => window.attune.flush());
  await page.waitForFunction(() => window.attune.queue().length === 0, null, { timeout: 20_000 });
  await context.close();

  const api = urls.filter((u) => u.includes('/v1/') && !u.endsWith('/v1/tracker.js'));
  assert.ok(api.length >= 4, api.join('\n'));
  assert.ok(api.every((u) => !u.includes(KEY)), 'the key never travels in a URL');
  assert.deepEqual(statuses.filter(([s, u]) => s >= 400 && !u.endsWith('/favicon.ico')), []);
  const events = fromTracker(await storedEvents(demo.base, user, KEY));
  // The click and the view; the page's dwell and scroll too when the keepalive sent at
  // close arrived before this read.
  const types = events.map((e) => e.type);
  for (const t of ['click', 'view']) assert.ok(types.includes(t), `${t} in ${types}`);
});
