// The dashboard (/ui) in Debian's Chromium against the real `attune demo`: every page renders
// with no console error and no failed request, activate and roll back work from the Models
// page, the explorer shows a user's history and list with reasons, and with keys required
// nothing but the key prompt is shown without one. Each test saves its page as
// docs/img/ui-<page>.png (the screenshots of docs/web.md).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { launchChromium, repo, sleep, startDemo } from './harness.mjs';

const IMG = path.join(repo, 'docs', 'img');
const USER = 'user-3';

let browser;

before(async () => {
  browser = await launchChromium();
  fs.mkdirSync(IMG, { recursive: true });
}, { timeout: 60_000 });

after(async () => {
  await browser?.close();
});

/** A JSON call to the demo's API (the tests' own view, not the dashboard's). */
async function call(base, method, route, body, key) {
  const headers = { 'Content-Type': 'application/json' };
  if (key) headers['X-Api-Key'] = key;
  const r = await fetch(`${base}${route}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${route}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** Train a version through the API without activating it; resolves to its number. */
async function trainVersion(base, algorithm) {
  const { job_id: id } = await call(base, 'POST', '/v1/models/train', { algorithm, promote: 'never' });
  for (let t = 0; t < 600; t++) {
    const job = await call(base, 'GET', `/v1/models/jobs/${id}`);
    if (job.status === 'succeeded') return job.version;
    if (job.status === 'failed') throw new Error(`training failed: ${job.error}`);
    await sleep(500);
  }
  throw new Error('training did not finish in 5 minutes');
}

/**
 * A fresh browser context on `/ui#/<route>`, collecting everything that went wrong: console
 * errors, uncaught exceptions, failed requests and answers of 400 or more.
 */
async function open(base, route, { key } = {}) {
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  if (key) await context.addInitScript((k) => sessionStorage.setItem('attune.ui.key', k), key);
  const page = await context.newPage();
  const problems = [];
  const requests = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`failed: ${r.url()} ${r.failure()?.errorText}`));
  page.on('request', (r) => requests.push(r));
  page.on('response', (r) => { if (r.status() >= 400) problems.push(`${r.status()}: ${r.url()}`); });
  await page.goto(`${base}/ui#/${route}`);
  return { context, page, problems, requests };
}

const ready = (page) => page.waitForSelector('body[data-state="ready"]', { timeout: 60_000 });
const shot = (page, name) => page.screenshot({ path: path.join(IMG, `ui-${name}.png`), fullPage: true });

describe('the dashboard on attune demo', () => {
  let demo;

  before(async () => {
    demo = await startDemo();
    // A second version (the demo trained and activated the first), so there is something to
    // activate and to roll back to.
    await trainVersion(demo.base, 'ease:lambda=100|500'); // a grid: chosen on validation, so it has metrics
    // A running experiment with served lists and a click, so its results exist.
    await call(demo.base, 'POST', '/v1/experiments', {
      name: 'diverse-lists', start: true, metric: 'ctr',
      variants: [{ name: 'control', share: 0.5 }, { name: 'diverse', share: 0.5, diversity: 0.5 }],
      traffic: 1,
    });
    for (let u = 1; u <= 40; u++) {
      const list = await call(demo.base, 'GET', `/v1/users/user-${u}/recommendations?n=5`);
      if (u % 3 === 0) {
        await call(demo.base, 'POST', '/v1/events', [{
          event_id: `ui-click-${u}`, type: 'click', user_id: `user-${u}`, item_id: list.items[0].item_id,
          timestamp: new Date().toISOString(), context: { recommendation_id: list.recommendation_id },
        }]);
      }
    }
    await sleep(1500); // served lists' impressions are committed within impression_flush_ms
  }, { timeout: 900_000 });

  after(async () => {
    await demo?.stop();
  });

  for (const name of ['apps', 'profile', 'models', 'experiments', 'monitoring', 'fairness']) {
    test(`the ${name} page renders with no console error and no failed request`, async () => {
      const { context, page, problems } = await open(demo.base, name);
      await ready(page);
      assert.equal(await page.locator(`#page-${name}`).count(), 1, 'the page rendered');
      assert.deepEqual(await page.locator('.error').allTextContents(), [], 'no refusal shown');
      assert.ok((await page.locator(`#page-${name} section, #page-${name} table`).count()) > 0, 'content');
      if (name === 'profile') assert.ok((await page.locator('svg.chart').count()) >= 4, 'day, user, item, cold charts');
      if (name === 'experiments') {
        assert.match(await page.locator('.decision').first().textContent(), /\S/);
        assert.ok((await page.locator('svg.chart').count()) >= 2, 'intervals and CTR over time');
      }
      await shot(page, name);
      assert.deepEqual(problems, []);
      await context.close();
    });
  }

  test('the explorer shows a user\'s history and their list with the reasons', async () => {
    const { context, page, problems } = await open(demo.base, 'explorer');
    await ready(page);
    await page.fill('#user-id', USER);
    await page.click('#explorer-form button');
    await page.waitForSelector('#list tbody tr');
    assert.ok((await page.locator('#history tbody tr').count()) > 0, 'history rows');
    const reasons = await page.locator('#list .reason').allTextContents();
    assert.ok(reasons.length > 0 && reasons.every((r) => r.trim().length > 0), reasons.join('|'));
    const stored = await call(demo.base, 'GET', `/v1/users/${USER}/events?limit=1`);
    assert.ok(stored.events.length > 0);
    await shot(page, 'explorer');
    assert.deepEqual(problems, []);
    await context.close();
  });

  test('activate and roll back work from the models page', async () => {
    const before = await call(demo.base, 'GET', '/v1/models');
    assert.ok(before.models.length >= 2, 'two versions');
    const active = before.active.version;
    const other = before.models.find((m) => m.version !== active);
    const { context, page, problems } = await open(demo.base, 'models');
    await ready(page);

    await page.click(`button[data-activate="${other.name}"]`);
    await page.waitForSelector(`#models-status .ok`);
    assert.match(await page.locator('#models-status').textContent(), new RegExp(`${other.name} is active`));
    assert.equal((await call(demo.base, 'GET', '/v1/models')).active.version, other.version, 'activated');

    await page.click('#rollback');
    await page.waitForFunction((v) => document.querySelector('#models-status .ok')?.textContent.includes(`v${String(v).padStart(4, '0')} is active`), active);
    assert.equal((await call(demo.base, 'GET', '/v1/models')).active.version, active, 'rolled back');
    await shot(page, 'models');
    assert.deepEqual(problems, []);
    await context.close();
  });
});

describe('the dashboard with keys required', () => {
  const ADMIN = 'dashboard-admin-key-0001';
  let demo;

  before(async () => {
    demo = await startDemo(`
[auth]
required = true

[[auth.keys]]
name = "ops"
key = "${ADMIN}"
scopes = ["admin"]
apps = ["*"]
`);
  }, { timeout: 620_000 });

  after(async () => {
    await demo?.stop();
  });

  test('without the key nothing is shown; a wrong key is refused; the key opens the pages', async () => {
    const { context, page, requests } = await open(demo.base, 'profile');
    await page.waitForSelector('#key-form');
    assert.equal(await page.locator('#nav').isHidden(), true, 'no navigation');
    assert.equal(await page.locator('main > *').count(), 1, 'only the prompt');
    assert.equal(await page.locator('table, svg, section').count(), 0, 'no data');
    await shot(page, 'key');

    await page.fill('#key', 'not-the-key-0000000000');
    await page.click('#key-form button');
    await page.waitForSelector('#key-error');
    assert.match(await page.locator('#key-error').textContent(), /refused \(401\)/);
    assert.equal(await page.locator('table, svg, section').count(), 0, 'still no data');

    await page.fill('#key', ADMIN);
    await page.click('#key-form button');
    await ready(page);
    assert.ok((await page.locator('#page-profile svg.chart').count()) >= 4, 'the profile with the key');

    const api = requests.filter((r) => new URL(r.url()).pathname.startsWith('/v1/'));
    assert.ok(api.length >= 3, api.map((r) => r.url()).join('\n'));
    assert.ok(api.every((r) => !r.url().includes(ADMIN)), 'the key never travels in a URL');
    const withKey = api.filter((r) => r.headers()['x-api-key'] === ADMIN);
    assert.ok(withKey.some((r) => r.url().endsWith('/v1/profile')), 'the data call carried the key');
    await context.close();
  });
});
