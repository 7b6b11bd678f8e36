/*! attune.js 0.1.0, the attune browser tracker and widget (ES2017). Apache-2.0. docs/web.md */
(function (root) {
  'use strict';
  const doc = root.document;
  const nav = root.navigator;
  const K = 'attune.';
  const ITEM = 'data-attune-item';
  const LIST = 'data-attune-rec'; // a rendered list: its recommendation_id
  const HOVER_MS = 500;
  const SEEN_MS = 1000; // an impression: half visible this long
  const MAX_QUEUE = 1000; // then the oldest are dropped
  const INTERACTION = /^(click|add_to_cart|purchase)$/; // sent at once; prefetch after

  let cfg = null;
  let inflight = null;
  let timer = 0;
  let attempt = 0; // failed sends in a row
  let retryAt = 0;
  let consent = null; // null: not stated, Do-Not-Track decides
  let page = null; // the item page being viewed
  let hover = null;
  const seen = new Set(); // impressions counted: `${recommendation_id} ${item}`
  let io = null;
  let prefetch = null; // {key, promise}: the next list, fetched after an interaction
  let lastList = null;

  // ---- storage: local (session for the session id); memory when disabled ----
  const mem = {};
  const area = (s) => (s ? root.sessionStorage : root.localStorage);
  const store = {
    get(k, s) {
      try {
        const v = area(s).getItem(K + k);
        if (v !== null) return v;
      } catch (e) { /* disabled */ }
      return k in mem ? mem[k] : null;
    },
    set(k, v, s) {
      if (v === null) delete mem[k];
      else mem[k] = v;
      try {
        if (v === null) area(s).removeItem(K + k);
        else area(s).setItem(K + k, v);
      } catch (e) { /* full or disabled */ }
    },
  };

  // A random (v4) UUID; randomUUID exists on https and localhost pages only.
  const uuid = () => (root.crypto.randomUUID ? root.crypto.randomUUID()
    : '10000000-1000-4000-8000-100000000000'.replace(/[018]/g, (c) =>
      (c ^ (root.crypto.getRandomValues(new Uint8Array(1))[0] & (15 >> (c / 4)))).toString(16)));

  // RFC 3339 local time with the UTC offset (the server refuses naive times, keeps offsets).
  function stamp(d) {
    const p = (n, w) => String(n).padStart(w || 2, '0');
    const off = -d.getTimezoneOffset();
    const a = Math.abs(off);
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:` +
      `${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}` +
      `${off < 0 ? '-' : '+'}${p((a / 60) | 0)}:${p(a % 60)}`;
  }

  const now = () => Date.now();
  const dnt = () => nav.doNotTrack === '1' || root.doNotTrack === '1' || nav.globalPrivacyControl === true;
  // Explicit consent wins; without it, Do-Not-Track (or GPC) means nothing is sent.
  const allowed = () => !!cfg && (consent === null ? !dnt() : consent);

  function anonymousId() {
    let id = store.get('aid');
    if (!id) store.set('aid', (id = uuid()));
    return id;
  }

  function sessionId() {
    let id = store.get('sid', 1);
    if (!id) store.set('sid', (id = uuid()), 1);
    return id;
  }

  function headers(json) {
    const h = {};
    if (json) h['Content-Type'] = 'application/json';
    if (cfg.app) h['X-Attune-App'] = cfg.app;
    if (cfg.apiKey) h['X-Api-Key'] = cfg.apiKey;
    return h;
  }

  // ---- the queue: in localStorage until the server answered for each event (its event_id,
  // made once, makes resends count once); rewritten whole at each change, so the pages and
  // tabs of a site share it and none overwrites another's events ----
  function load() {
    try {
      const q = JSON.parse(store.get('q') || '[]');
      return Array.isArray(q) ? q : [];
    } catch (e) { return []; }
  }
  const save = (q) => store.set('q', q.length ? JSON.stringify(q) : null);

  /** Queue an event; its event_id, or null when not allowed. */
  function track(type, item, properties, context) {
    if (!allowed()) return null;
    const e = {
      event_id: uuid(),
      type,
      anonymous_id: anonymousId(),
      timestamp: stamp(new Date()),
      context: Object.assign({
        session_id: sessionId(),
        page: (root.location.pathname + root.location.search).slice(0, 200),
      }, context),
    };
    const user = store.get('uid');
    if (user) e.user_id = user;
    if (item != null) e.item_id = String(item);
    if (properties && Object.keys(properties).length) e.properties = properties;
    const queue = load();
    queue.push(e);
    if (queue.length > MAX_QUEUE) queue.splice(0, queue.length - MAX_QUEUE);
    save(queue);
    if (queue.length >= cfg.batchSize || INTERACTION.test(type)) flush();
    else schedule(cfg.flushMs);
    return e.event_id;
  }

  function schedule(ms) {
    if (!timer) timer = setTimeout(() => { timer = 0; flush(); }, ms);
  }

  function backoff(retryAfterSecs) {
    attempt++;
    const ms = retryAfterSecs > 0 ? retryAfterSecs * 1000
      : Math.min(60000, 1000 * 2 ** attempt) * (0.5 + Math.random() / 2);
    retryAt = now() + ms;
    clearTimeout(timer);
    timer = 0;
    schedule(ms);
  }

  /**
   * Send queued events. `leaving`: the page goes away; send all with a keepalive fetch, which
   * outlives the page like sendBeacon but can send the key and app headers (sendBeacon sends
   * none). They stay queued until answered: if the page dies first, the next page resends.
   */
  function flush(leaving) {
    const queue = load();
    if (!cfg || !queue.length || !allowed()) return Promise.resolve();
    if (leaving) {
      for (let i = 0, bytes = 0; i < queue.length; i += cfg.batchSize) {
        const body = JSON.stringify(queue.slice(i, i + cfg.batchSize));
        bytes += body.length;
        if (bytes > 60000) break; // keepalive bodies: 64 KiB at most
        post(body, true).catch(() => {});
      }
      return Promise.resolve();
    }
    if (inflight) return inflight.then(() => flush());
    if (now() < retryAt) return Promise.resolve(schedule(retryAt - now()));
    if (timer) { clearTimeout(timer); timer = 0; }
    const batch = queue.slice(0, cfg.batchSize);
    const ids = new Set(batch.map((e) => e.event_id));
    const interaction = batch.some((e) => INTERACTION.test(e.type));
    inflight = post(JSON.stringify(batch), false).then((res) => {
      inflight = null;
      // 2xx: stored (or duplicate; invalid ones are listed, dropped). Other 4xx never pass.
      if (res.status === 408 || res.status === 429 || res.status >= 500) {
        return backoff(+res.headers.get('Retry-After'));
      }
      if (!res.ok) console.warn('attune: events refused', res.status);
      else res.json().then((b) => b.rejected && console.warn('attune: invalid events', b.errors), () => {});
      attempt = 0;
      retryAt = 0;
      const rest = load().filter((e) => !ids.has(e.event_id));
      save(rest);
      if (interaction) prefetchNext();
      if (rest.length) return flush();
    }, () => {
      inflight = null; // offline or down: keep them, try later
      backoff(0);
    });
    return inflight;
  }

  const post = (body, keepalive) => root.fetch(`${cfg.endpoint}/v1/events?partial=true`, {
    method: 'POST', headers: headers(true), body, keepalive, credentials: 'omit',
  });

  // ---- item pages: view, dwell (visible time only), scroll depth ----
  /** Start an item page (a `view`); ends the previous one (its dwell and scroll). */
  function pageView(item) {
    endPage();
    if (item == null) return;
    page = { item: String(item), since: now(), ms: 0, depth: 0, sent: 0 };
    track('view', page.item);
    onScroll();
  }

  // Dwell since the last send, scroll if deeper than sent: when hidden (it may never come
  // back) and when the page ends. The clock stops until the page is visible again.
  function settle() {
    if (!page) return;
    if (page.since) page.ms += now() - page.since;
    page.since = 0;
    if (page.ms >= 1) track('dwell', page.item, { dwell_ms: Math.round(page.ms) });
    page.ms = 0;
    if (page.depth > page.sent) {
      track('scroll', page.item, { scroll_depth: page.depth });
      page.sent = page.depth;
    }
  }

  function endPage() {
    settle();
    page = null;
  }

  function onScroll() {
    if (!page) return;
    const el = doc.documentElement;
    const h = Math.max(el.scrollHeight, 1);
    const d = Math.min(1, Math.round(((root.scrollY + root.innerHeight) / h) * 100) / 100);
    if (d > page.depth) page.depth = d;
  }

  function onVisibility() {
    if (doc.hidden) {
      endHover();
      settle();
      flush(true);
    } else if (page && !page.since) {
      page.since = now();
    }
  }

  // ---- clicks, hovers, impressions ----
  const itemOf = (el) => el && el.closest && el.closest(`[${ITEM}]`);
  function listContext(el) {
    const list = el.closest(`[${LIST}]`);
    return list ? { recommendation_id: list.getAttribute(LIST) } : undefined;
  }

  function onClick(ev) {
    const el = itemOf(ev.target);
    if (el) track('click', el.getAttribute(ITEM), null, listContext(el));
  }

  function onOver(ev) {
    const el = itemOf(ev.target);
    if (hover && hover.el === el) return;
    endHover();
    if (el) hover = { el, t: now() };
  }

  function onOut(ev) {
    if (hover && !hover.el.contains(ev.relatedTarget)) endHover();
  }

  function endHover() {
    if (!hover) return;
    const ms = now() - hover.t;
    const el = hover.el;
    hover = null;
    if (ms >= HOVER_MS) track('hover', el.getAttribute(ITEM), { hover_ms: Math.round(ms) }, listContext(el));
  }

  function onIntersect(entries) {
    for (const en of entries) {
      const el = en.target;
      if (en.intersectionRatio >= 0.5) {
        if (!el._attuneT) arm(el);
      } else if (el._attuneT) {
        clearTimeout(el._attuneT);
        el._attuneT = 0;
      }
    }
  }

  function arm(el) {
    el._attuneT = setTimeout(() => { el._attuneT = 0; impression(el); }, SEEN_MS);
  }

  function impression(el) {
    const ctx = listContext(el);
    if (!ctx || !el.isConnected) return;
    if (doc.hidden) return arm(el); // in a background tab: seen once it shows
    const key = `${ctx.recommendation_id} ${el.getAttribute(ITEM)}`;
    if (seen.has(key)) return;
    seen.add(key);
    io.unobserve(el);
    // The list's id in context, as on clicks: as a property it would pass for one of the
    // server's "served" impressions, from which attribution rebuilds lists.
    const pos = +el.getAttribute('data-attune-pos');
    track('impression', el.getAttribute(ITEM), pos ? { position: pos } : null, ctx);
  }

  /** Watch the items of the rendered lists under `el` (default: all) for impressions. */
  function observe(el) {
    if (!io || !root.IntersectionObserver) return;
    (el || doc).querySelectorAll(`[${LIST}] [${ITEM}]`).forEach((x) => io.observe(x));
  }

  // ---- recommendations ----
  function listKey(user, opts) {
    const q = new URLSearchParams();
    Object.keys(opts || {}).sort().forEach((k) => q.set(k, opts[k]));
    const s = q.toString();
    // Without consent an anonymous visitor gets the popular list: no id is sent.
    if (user == null && !allowed()) return `/v1/popular${s ? `?${s}` : ''}`;
    const id = user == null ? store.get('uid') || anonymousId() : user;
    return `/v1/users/${encodeURIComponent(id)}/recommendations${s ? `?${s}` : ''}`;
  }

  function fetchList(key) {
    return root.fetch(cfg.endpoint + key, { headers: headers(false), credentials: 'omit' })
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error(`attune: ${r.status} for ${key}`))));
  }

  /**
   * The list for `user` (default: the identified user, else this device); `opts`: the query
   * (`n`, `category`, ...). A click, cart add or purchase once stored prefetches the next list.
   */
  function recommendations(user, opts) {
    const key = listKey(user, opts);
    lastList = key;
    // Queued events first, so the list reflects what the visitor just did.
    return taken(key) || flush().then(() => taken(key) || fetchList(key));
  }

  function taken(key) {
    const p = prefetch && prefetch.key === key && prefetch.promise;
    if (p) prefetch = null;
    return p;
  }

  function prefetchNext() {
    if (!lastList) return;
    const p = fetchList(lastList);
    p.catch(() => { if (prefetch && prefetch.promise === p) prefetch = null; });
    prefetch = { key: lastList, promise: p };
  }

  /** Render `list` into `el`, each item with its reason, tracked; `opts.href(id)`: links. */
  function renderWidget(el, list, opts) {
    const o = opts || {};
    const ol = doc.createElement('ol');
    ol.className = 'attune-widget';
    ol.setAttribute(LIST, list.recommendation_id);
    (list.items || []).forEach((it, i) => {
      const li = doc.createElement('li');
      li.setAttribute(ITEM, it.item_id);
      li.setAttribute('data-attune-pos', i + 1);
      const t = doc.createElement(o.href ? 'a' : 'span');
      if (o.href) t.href = o.href(it.item_id);
      t.className = 'attune-title';
      t.textContent = it.title || it.item_id;
      const why = doc.createElement('small');
      why.className = 'attune-reason';
      why.textContent = (it.explanation && it.explanation.text) || '';
      li.append(t, ' ', why);
      ol.append(li);
    });
    el.replaceChildren(ol);
    observe(el);
    return ol;
  }

  // ---- identity and consent ----
  /** The visitor is `userId` now; this device is linked to them (retried by later pages). */
  function identify(userId) {
    const id = String(userId);
    store.set('uid', id);
    if (!cfg || !allowed() || store.get('linked') === id) return Promise.resolve(true);
    return root.fetch(`${cfg.endpoint}/v1/identify`, {
      method: 'POST',
      headers: headers(true),
      body: JSON.stringify({ anonymous_id: anonymousId(), user_id: id }),
      credentials: 'omit',
    }).then((r) => {
      // 409: this device is linked to someone else; their events still carry user_id.
      if (r.ok || r.status === 409) store.set('linked', id);
      return r.ok;
    }, () => false);
  }

  /** Logout: later events are anonymous, from a new device id. */
  function reset() {
    ['uid', 'aid', 'linked'].forEach((k) => store.set(k, null));
  }

  /** State (or withdraw) consent. `false` stops sending and clears the queue. */
  function setConsent(granted) {
    const was = allowed();
    consent = !!granted;
    store.set('consent', consent ? '1' : '0');
    if (!consent) {
      save([]);
      if (timer) clearTimeout(timer);
      timer = 0;
    } else {
      // Dwell and scroll count from the moment of consent, not before.
      if (!was && page) {
        Object.assign(page, { ms: 0, since: doc.hidden ? 0 : now(), depth: 0, sent: 0 });
        onScroll();
      }
      flush();
    }
  }

  /** Start: {endpoint ('' = this origin), app, apiKey, consent, batchSize, flushMs, item}. */
  function init(options) {
    cfg = Object.assign({ endpoint: '', batchSize: 20, flushMs: 5000 }, options);
    cfg.endpoint = String(cfg.endpoint).replace(/\/+$/, '');
    const stored = store.get('consent');
    if (typeof cfg.consent === 'boolean') setConsent(cfg.consent);
    else consent = stored === null ? null : stored === '1';
    if (root.IntersectionObserver && !io) io = new IntersectionObserver(onIntersect, { threshold: [0, 0.5, 1] });
    if (!init.done) {
      init.done = true;
      doc.addEventListener('click', onClick, true);
      doc.addEventListener('pointerover', onOver, true);
      doc.addEventListener('pointerout', onOut, true);
      doc.addEventListener('visibilitychange', onVisibility);
      root.addEventListener('pagehide', () => { endHover(); settle(); flush(true); });
      root.addEventListener('scroll', onScroll, { passive: true });
      root.addEventListener('online', () => { attempt = 0; retryAt = 0; flush(); });
    }
    observe();
    const user = store.get('uid');
    if (user) identify(user); // a link an earlier page could not make
    if (cfg.item != null) pageView(cfg.item);
    if (load().length) schedule(0); // left by an earlier page
    return api;
  }

  const api = {
    version: '0.1.0',
    init,
    track: (type, props) => {
      const p = Object.assign({}, props);
      const item = p.item_id;
      const ctx = p.recommendation_id ? { recommendation_id: p.recommendation_id } : undefined;
      delete p.item_id;
      delete p.recommendation_id;
      return track(type, item, p, ctx);
    },
    page: pageView,
    identify,
    reset,
    consent: setConsent,
    flush: () => flush(false),
    recommendations,
    renderWidget,
    observe,
    queue: load,
  };
  root.attune = api;
})(window);
