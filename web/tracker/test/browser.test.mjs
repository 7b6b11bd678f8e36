// The tracker in a real browser against the real server: the demo shop of `attune demo`,
// browsed by script in Debian's headless Chromium; what arrives is read back from the API.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { fromTracker, launchChromium, sleep, startDemo, storedEvents, trackerSource } from './harness.mjs';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
// A zone without daylight saving time, so the expected offset never depends on the date.
const TIMEZONE = 'Asia/Kolkata';
const OFFSET = '+05:30';

let demo;
let browser;

before(async () => {
  // One after the other: if the server fails to start, after() still closes the browser.
  browser = await launchChromium();
  demo = await startDemo();
}, { timeout: 620_000 });

after(async () => {
  await browser?.close();
  await demo?.stop();
});

/** A fresh browser profile (own localStorage) showing the demo page. */
async function open(query, init) {
  const context = await browser.newContext({ timezoneId: TIMEZONE, viewport: { width: 1200, height: 800 } });
  if (init) await context.addInitScript(init);
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const posts = [];
  const lists = []; // list requests (recommendations)
  page.on('request', (r) => {
    if (r.method() === 'POST') posts.push(r.url());
    else if (r.url().includes('/recommendations')) lists.push(r.url());
  });
  const answers = []; // bodies of POST /v1/events answers
  page.on('response', async (r) => {
    if (r.request().method() === 'POST' && r.url().includes('/v1/events')) answers.push(await r.json().catch(() => null));
  });
  await page.goto(`${demo.base}/demo?${query}`);
  await page.evaluate(() => window.demo.ready);
  return { context, page, errors, posts, lists, answers };
}

const drained = (page) => page.waitForFunction(() => window.attune.queue().length === 0, null, { timeout: 20_000 });
const itemIds = (list) => list.items.map((i) => i.item_id);

async function waitFor(condition, what) {
  for (let t = 0; t < 100; t++) {
    if (condition()) return;
    await sleep(100);
  }
  assert.fail(`timed out waiting for ${what}`);
}

describe('attune.js in Chromium on the demo shop', () => {
  test('the tracker is served from the binary as the package source', async () => {
    const r = await fetch(`${demo.base}/v1/tracker.js`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'text/javascript; charset=utf-8');
    assert.equal(await r.text(), trackerSource);
  });

  test('browsing sends view, click, dwell, scroll, hover, impression and cart events with their fields, and the next list changes', async () => {
    const user = 'web-browse-1';
    const { context, page, errors, lists: requested } = await open(`user=${user}&flushMs=300`);
    const first = await page.evaluate(() => window.demo.lists[0]);
    assert.ok(first.items.length >= 4, JSON.stringify(first));
    // The widget is on screen: after a second its items count as seen.
    await page.waitForSelector('.attune-widget li');
    await sleep(1600);

    // Hover a catalog card for 0.7 s, then leave it.
    const card = page.locator('#grid .card').nth(5);
    const hovered = await card.getAttribute('data-attune-item');
    await card.hover();
    await sleep(700);
    await page.mouse.move(5, 5);

    // Click the first recommended item: its page opens.
    const clicked = first.items[0].item_id;
    await page.locator(`.attune-widget li[data-attune-item="${clicked}"] a`).click();
    await page.waitForSelector('#item-title');
    await page.waitForFunction((n) => window.demo.lists.length > n, 1);
    // Read to the end of the page and stay a while; put it in the cart.
    await page.mouse.wheel(0, 5000);
    await sleep(300);
    await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
    await sleep(1200);
    // A cart add, once stored, prefetches the next list: the catalog shows it without asking.
    const asked = requested.length;
    await page.click('#add-to-cart');
    await drained(page);
    await waitFor(() => requested.length === asked + 1, 'the prefetch');
    const shown = await page.evaluate(() => window.demo.lists.length);
    // Back to the catalog: the item page ends (its dwell and scroll are sent).
    await page.click('header a[href="#/"]');
    await page.waitForSelector('#grid');
    await page.waitForFunction((n) => window.demo.lists.length > n, shown);
    assert.equal(requested.length, asked + 1, 'the prefetched list was used');
    await page.evaluate(() => window.attune.flush());
    await drained(page);
    const lists = await page.evaluate(() => window.demo.lists);
    assert.deepEqual(errors, []);
    await context.close();

    const events = fromTracker(await storedEvents(demo.base, user));
    const one = (type, item) => {
      const found = events.filter((e) => e.type === type && (!item || e.item_id === item));
      assert.ok(found.length >= 1, `no ${type} of ${item}: ${JSON.stringify(events.map((e) => [e.type, e.item_id]))}`);
      return found[0];
    };
    for (const e of events) {
      assert.match(e.event_id, UUID);
      assert.ok(e.timestamp.endsWith(OFFSET), `${e.type} at ${e.timestamp}: the browser's offset is kept`);
      assert.ok(Math.abs(Date.parse(e.timestamp) - Date.now()) < 300_000, `${e.timestamp}: the right instant`);
      assert.equal(e.user_id, user);
      assert.ok(e.anonymous_id);
    }
    assert.equal(new Set(events.map((e) => e.event_id)).size, events.length, 'no event stored twice');

    const click = one('click', clicked);
    assert.equal(click.context.recommendation_id, first.recommendation_id);
    one('view', clicked);
    const dwell = one('dwell', clicked);
    assert.ok(dwell.properties.dwell_ms >= 1200 && dwell.properties.dwell_ms < 60_000, JSON.stringify(dwell));
    const scroll = one('scroll', clicked);
    assert.ok(scroll.properties.scroll_depth >= 0.95 && scroll.properties.scroll_depth <= 1, JSON.stringify(scroll));
    const hover = one('hover', hovered);
    assert.ok(hover.properties.hover_ms >= 500 && hover.properties.hover_ms < 5_000, JSON.stringify(hover));
    const cart = one('add_to_cart', clicked);
    assert.equal(cart.properties.quantity, 1);
    assert.equal(typeof cart.properties.price, 'number');

    // Impressions of the first list: its items, once each, carrying its recommendation_id.
    const seen = events.filter((e) => e.type === 'impression' && e.context.recommendation_id === first.recommendation_id);
    assert.ok(seen.length >= 4, `impressions of the first list: ${seen.length}`);
    const seenItems = seen.map((e) => e.item_id);
    assert.equal(new Set(seenItems).size, seenItems.length, 'one impression per item per list');
    for (const e of seen) {
      assert.ok(itemIds(first).includes(e.item_id));
      assert.equal(e.properties.position, itemIds(first).indexOf(e.item_id) + 1);
    }

    // The list after the click is another one, with other items.
    const next = lists[1];
    assert.notEqual(next.recommendation_id, first.recommendation_id);
    assert.notDeepEqual(itemIds(next), itemIds(first));
    assert.ok(!itemIds(next).includes(clicked), 'the clicked item is seen now, so not listed again');
  });

  test('west of UTC too: the offset is negative and the instant is right', async () => {
    const user = 'web-tz-1';
    const context = await browser.newContext({ timezoneId: 'Pacific/Marquesas' }); // -09:30, no DST
    const page = await context.newPage();
    await page.goto(`${demo.base}/demo?user=${user}`);
    await page.evaluate(() => window.demo.ready);
    await page.evaluate(() => window.attune.track('purchase', { item_id: 'item-1', price: 9.5, quantity: 2 }));
    await drained(page);
    await context.close();
    const [purchase] = fromTracker(await storedEvents(demo.base, user)).filter((e) => e.type === 'purchase');
    assert.ok(purchase, 'the purchase arrived');
    assert.match(purchase.timestamp, /-09:30$/);
    assert.ok(Math.abs(Date.parse(purchase.timestamp) - Date.now()) < 300_000, purchase.timestamp);
    assert.deepEqual(purchase.properties, { price: 9.5, quantity: 2 });
  });

  test('a lost answer and a 503 are retried, the event is stored once; a 403 drops the batch', async () => {
    const user = 'web-retry-1';
    const { context, page, answers } = await open(`user=${user}&flushMs=200`);
    await drained(page);
    let attempts = 0;
    await page.route('**/v1/events?*', async (route) => {
      attempts++;
      if (attempts === 1) {
        await route.fetch(); // the server stores the batch...
        return route.abort('connectionreset'); // ...and its answer never arrives
      }
      if (attempts === 2) {
        return route.fulfill({ status: 503, headers: { 'Retry-After': '1' }, body: '' });
      }
      return route.continue();
    });
    const id = await page.evaluate(() => window.attune.track('add_to_cart', { item_id: 'item-2', price: 3, quantity: 1 }));
    await drained(page);
    assert.equal(attempts, 3);
    // The third send carries the event again (with the list's impressions, queued since):
    // the server already had it from the first.
    await waitFor(() => answers.some((a) => a && a.events.some((e) => e.event_id === id && e.status === 'duplicate')),
      'the answer to the third send, naming the event a duplicate');
    const stored = fromTracker(await storedEvents(demo.base, user)).filter((e) => e.event_id === id);
    assert.equal(stored.length, 1);

    // An answer that will never change (a wrong key, say) drops the batch, not the queue.
    await page.unroute('**/v1/events?*');
    await page.route('**/v1/events?*', (route) => route.fulfill({ status: 403, body: '' }));
    const warnings = [];
    page.on('console', (m) => { if (m.type() === 'warning') warnings.push(m.text()); });
    const refused = await page.evaluate(() => window.attune.track('purchase', { item_id: 'item-2', price: 3, quantity: 1 }));
    await drained(page);
    await context.close();
    assert.ok(warnings.some((w) => w.includes('refused')), warnings.join('\n'));
    assert.deepEqual(fromTracker(await storedEvents(demo.base, user)).filter((e) => e.event_id === refused), []);
  });

  test('identify: a link that failed is made by the next page, and then never again', async () => {
    const { context, page, posts } = await open('flushMs=200');
    const identifies = () => posts.filter((u) => u.endsWith('/v1/identify')).length;
    await page.route('**/v1/identify', (route) => route.abort('connectionreset'));
    assert.equal(await page.evaluate(() => window.attune.identify('web-identify-1')), false);
    await page.unroute('**/v1/identify');
    await page.goto(`${demo.base}/demo?flushMs=200`); // a later page, same browser
    await page.evaluate(() => window.demo.ready);
    await page.waitForFunction(() => localStorage.getItem('attune.linked') === 'web-identify-1');
    assert.equal(identifies(), 2);
    await page.reload();
    await page.evaluate(() => window.demo.ready);
    await sleep(300);
    assert.equal(identifies(), 2, 'linked once, not on every page');
    await context.close();
  });

  test('offline: queued events arrive exactly once after the connection returns, and a resend changes nothing', async () => {
    const user = 'web-offline-1';
    const { context, page, answers } = await open(`user=${user}&flushMs=200`);
    await drained(page);
    await context.setOffline(true);
    // Hover, then open two item pages from the catalog and add one to the cart.
    const cards = page.locator('#grid .card');
    await cards.nth(1).hover();
    await sleep(600);
    await cards.nth(2).click();
    await page.waitForSelector('#item-title');
    await page.click('#add-to-cart');
    await page.click('header a[href="#/"]');
    await page.waitForSelector('#grid');
    await cards.nth(3).click();
    await page.waitForSelector('#item-title');
    await sleep(1500); // at least one retry fails meanwhile
    const queued = await page.evaluate(() => window.attune.queue().map((e) => e.event_id));
    assert.ok(queued.length >= 6, `queued while offline: ${queued.length}`);
    const saved = await page.evaluate(() => localStorage.getItem('attune.q'));
    assert.ok(saved && JSON.parse(saved).length === queued.length, 'the queue is in localStorage');

    await context.setOffline(false);
    await drained(page);
    let events = fromTracker(await storedEvents(demo.base, user));
    const count = (ids) => ids.map((id) => events.filter((e) => e.event_id === id).length);
    assert.deepEqual(count(queued), queued.map(() => 1), 'every queued event stored once');

    // A page that died before the answer came leaves its queue behind: the next page sends it
    // again, and the server keeps one copy of each (same event_id).
    await page.evaluate((q) => localStorage.setItem('attune.q', q), saved);
    const before = answers.length;
    await page.reload();
    await page.evaluate(() => window.demo.ready);
    await drained(page);
    const duplicates = () => new Set(answers.slice(before).flatMap((a) => (a ? a.events : []))
      .filter((e) => e.status === 'duplicate').map((e) => e.event_id));
    await waitFor(() => queued.every((id) => duplicates().has(id)), 'every resent event answered as a duplicate');
    await context.close();
    events = fromTracker(await storedEvents(demo.base, user));
    assert.deepEqual(count(queued), queued.map(() => 1), 'resent events are not stored twice');
    assert.equal(new Set(events.map((e) => e.event_id)).size, events.length);
  });

  test('Do-Not-Track: nothing is sent, until the visitor explicitly consents', async () => {
    const user = 'web-dnt-1';
    const { context, page, posts } = await open(`user=${user}&flushMs=200`,
      () => Object.defineProperty(Navigator.prototype, 'doNotTrack', { get: () => '1' }));
    const card = page.locator('#grid .card').nth(4);
    await card.hover();
    await sleep(700);
    await card.click();
    await page.waitForSelector('#item-title');
    await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
    await sleep(1500);
    await page.click('#add-to-cart');
    await sleep(500);
    assert.deepEqual(posts, [], 'no POST at all (no events, no identify)');
    assert.equal(await page.evaluate(() => window.attune.queue().length), 0);
    assert.equal(await page.evaluate(() => localStorage.getItem('attune.aid')), null, 'no device id is even created');
    assert.deepEqual(fromTracker(await storedEvents(demo.base, user)), []);

    // An explicit opt-in overrides the browser-wide signal.
    await page.evaluate(() => window.attune.consent(true));
    await page.click('#add-to-cart');
    await page.click('header a[href="#/"]');
    await page.waitForSelector('#grid');
    await page.evaluate(() => window.attune.flush());
    await drained(page);
    await context.close();
    // The cart add, then the item page's dwell and scroll counted from the opt-in on (sent
    // when the page ended); nothing of what happened before it.
    const events = fromTracker(await storedEvents(demo.base, user));
    assert.deepEqual(events.map((e) => e.type).sort(), ['add_to_cart', 'dwell', 'scroll'], JSON.stringify(events));
    const dwell = events.find((e) => e.type === 'dwell');
    assert.ok(dwell.properties.dwell_ms < 1500, `dwell before the opt-in is not counted: ${dwell.properties.dwell_ms}`);
  });

  test('consent withdrawn: the queue is cleared and nothing more is sent', async () => {
    const user = 'web-consent-1';
    const { context, page, posts } = await open(`user=${user}&flushMs=60000`);
    // A hover (and the list's impressions) wait for the flush timer, a minute here: queued.
    await page.locator('#grid .card').nth(2).hover();
    await sleep(700);
    await page.mouse.move(5, 5);
    const types = await page.evaluate(() => window.attune.queue().map((e) => e.type));
    assert.ok(types.includes('hover'), `${types}`);
    await page.evaluate(() => window.attune.consent(false));
    assert.equal(await page.evaluate(() => window.attune.queue().length), 0);
    assert.equal(await page.evaluate(() => localStorage.getItem('attune.q')), null);
    const before = posts.length;
    await page.locator('#grid .card').nth(1).click();
    await page.waitForSelector('#item-title');
    await page.click('#add-to-cart');
    await page.click('header a[href="#/"]');
    await page.waitForSelector('#grid');
    await page.evaluate(() => window.attune.flush());
    await sleep(500);
    assert.deepEqual(posts.slice(before), [], 'nothing sent after consent(false)');
    await context.close();
    assert.deepEqual(fromTracker(await storedEvents(demo.base, user)), []);
  });
});
