//! The backend-independent store contract. Every function here runs against every backend
//! (see `main.rs`). Each test works in its own uniquely named apps, so tests can share one
//! database (PostgreSQL) and be rerun without cleanup.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use attune_core::catalog::{AttrValue, Consent, Item, User};
use attune_core::event::{Context, Event, EventType, PropValue, Properties};
use attune_core::time::Timestamp;
use attune_store::{
    Activation, ActivationKind, AlertRecord, AppCounts, ArtifactRef, Erasure, EventFilter,
    ExperimentStatus, Exposure, InsertStatus, MetricPoint, ModelInfo, ModelRecord, ModelStatus,
    Store, StoreError, StudyRecord,
};

use InsertStatus::{Accepted, Duplicate};

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

/// A fresh app name no other test (or earlier run) uses: `t_<name>_<pid>_<nanos>_<n>`.
pub fn unique_app(name: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "t_{name}_{}_{nanos}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

thread_local! {
    /// Apps created by the test running on this thread (each test has its own thread).
    static CREATED: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The apps this thread's test created so far (for fixtures that clean up a shared database).
pub fn take_created_apps() -> Vec<String> {
    CREATED.with(|c| std::mem::take(&mut *c.borrow_mut()))
}

fn new_app(store: &dyn Store, name: &str) -> String {
    let app = unique_app(name);
    store.create_app(&app).unwrap();
    CREATED.with(|c| c.borrow_mut().push(app.clone()));
    app
}

/// 2026-11-28T00:00:00Z.
const T0: i64 = 1_795_824_000 * 1_000_000;
const MINUTE: i64 = 60_000_000;

/// A small deterministic generator (SplitMix64), so data is realistic but reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len() as u64) as usize]
    }
}

/// A minimal view event.
fn view(
    event_id: &str,
    user: Option<&str>,
    anon: Option<&str>,
    item: &str,
    ts_micros: i64,
) -> Event {
    Event {
        event_id: event_id.to_string(),
        event_type: EventType::View,
        user_id: user.map(str::to_string),
        anonymous_id: anon.map(str::to_string),
        item_id: Some(item.to_string()),
        timestamp: Timestamp::from_utc_micros(ts_micros),
        value: None,
        properties: Properties::default(),
        context: Context::default(),
    }
}

/// `n` realistic events from four users and six devices (two of them never log in) over three
/// days: every event type, typed properties, free-form extras, context, timezone offsets, and
/// some identical timestamps (so the event_id tie-break matters).
fn realistic_events(seed: u64, n: usize) -> Vec<Event> {
    let mut rng = Rng(seed);
    let users = ["alice", "bob", "chloé", "dmitri"];
    let devices = ["dev-a1", "dev-a2", "dev-b1", "dev-c1", "dev-x1", "dev-y1"];
    let offsets = [0, 3600, -5 * 3600, 5 * 3600 + 1800, -3 * 3600];
    let mut ts = T0;
    (0..n)
        .map(|i| {
            if !rng.chance(0.1) {
                ts += rng.below(10 * MINUTE as u64) as i64 + 1;
            }
            let (user_id, anonymous_id) = match rng.below(4) {
                0 => (Some(rng.pick(&users)), None),
                1 => (None, Some(rng.pick(&devices))),
                _ => (Some(rng.pick(&users)), Some(rng.pick(&devices))),
            };
            let item = format!("item-{:03}", rng.below(60));
            let t = EventType::BUILTIN[rng.below(10) as usize].clone();
            let custom = rng.chance(0.05);
            let mut properties = Properties::default();
            let mut value = None;
            match t {
                EventType::Dwell => properties.dwell_ms = Some(rng.below(600_000)),
                EventType::Scroll => properties.scroll_depth = Some(rng.unit()),
                EventType::Hover => properties.hover_ms = Some(rng.below(5_000)),
                EventType::Purchase | EventType::AddToCart | EventType::RemoveFromCart => {
                    properties.price = Some((rng.below(100_000) as f64) / 100.0 + 0.1 + 0.2);
                    properties.quantity = Some(1 + rng.below(5) as u32);
                }
                EventType::Rating => {
                    let r = 1.0 + rng.below(9) as f64 / 2.0;
                    properties.rating = Some(r);
                    value = Some(r);
                }
                _ => {
                    if rng.chance(0.2) {
                        value = Some(rng.unit() * 1e6);
                    }
                }
            }
            if rng.chance(0.3) {
                properties.extra.insert(
                    "referrer".into(),
                    PropValue::Text("https://exämple.com/?q=ünïcode&x=\"1\"".into()),
                );
                properties
                    .extra
                    .insert("logged_in".into(), PropValue::Bool(rng.chance(0.5)));
                properties
                    .extra
                    .insert("score".into(), PropValue::Number(rng.unit() / 3.0));
            }
            let context = Context {
                session_id: Some(format!("s-{}", i / 25)),
                device: rng
                    .chance(0.8)
                    .then(|| rng.pick(&["mobile", "desktop", "tablet"]).to_string()),
                page: rng.chance(0.5).then(|| {
                    rng.pick(&["/home", "/product", "/search?q=日本"])
                        .to_string()
                }),
                recommendation_id: rng.chance(0.3).then(|| format!("rec-{}", rng.below(40))),
                experiment: rng.chance(0.2).then(|| "ranker-v2".to_string()),
                variant: rng
                    .chance(0.2)
                    .then(|| rng.pick(&["control", "treatment"]).to_string()),
            };
            Event {
                event_id: format!("{:016x}-{i}", rng.next()),
                event_type: if custom {
                    EventType::Custom("share".into())
                } else {
                    t.clone()
                },
                user_id: user_id.map(str::to_string),
                anonymous_id: anonymous_id.map(str::to_string),
                item_id: if custom { None } else { Some(item) },
                timestamp: Timestamp {
                    utc_micros: ts,
                    offset_secs: offsets[rng.below(offsets.len() as u64) as usize],
                },
                value,
                properties,
                context,
            }
        })
        .collect()
}

fn sorted(mut events: Vec<Event>) -> Vec<Event> {
    events.sort_by(|a, b| {
        (a.timestamp.utc_micros, &a.event_id).cmp(&(b.timestamp.utc_micros, &b.event_id))
    });
    events
}

fn scan(store: &dyn Store, app: &str, filter: &EventFilter) -> Vec<Event> {
    let mut out = Vec::new();
    store
        .scan_events(app, filter, &mut |e| {
            out.push(e);
            true
        })
        .unwrap();
    out
}

fn scan_all(store: &dyn Store, app: &str) -> Vec<Event> {
    scan(store, app, &EventFilter::default())
}

fn by_user(user: &str) -> EventFilter {
    EventFilter {
        user_id: Some(user.into()),
        ..Default::default()
    }
}

fn ids(events: &[Event]) -> Vec<&str> {
    events.iter().map(|e| e.event_id.as_str()).collect()
}

fn items_of(store: &dyn Store, app: &str) -> Vec<Item> {
    let mut out = Vec::new();
    store
        .scan_items(app, &mut |i| {
            out.push(i);
            true
        })
        .unwrap();
    out
}

fn users_of(store: &dyn Store, app: &str) -> Vec<User> {
    let mut out = Vec::new();
    store
        .scan_users(app, &mut |u| {
            out.push(u);
            true
        })
        .unwrap();
    out
}

fn insert_in_batches(store: &dyn Store, app: &str, events: &[Event], batch: usize) {
    for chunk in events.chunks(batch) {
        let statuses = store.insert_events(app, chunk).unwrap();
        assert_eq!(statuses, vec![Accepted; chunk.len()]);
    }
}

fn full_item(id: &str) -> Item {
    Item {
        item_id: id.to_string(),
        title: Some(format!("Le Petit Prince — {id} 🌹")),
        description: Some(
            "Ein Buch über «Freundschaft».\nZeile 2 with 'quotes' and \"double\" and \\ backslash"
                .into(),
        ),
        categories: vec!["books".into(), "fiction".into(), "classics/français".into()],
        tags: vec!["award-winner".into(), "日本語".into()],
        attributes: BTreeMap::from([
            ("price".to_string(), AttrValue::Number(0.1 + 0.2)),
            ("tiny".to_string(), AttrValue::Number(1e-300)),
            (
                "huge".to_string(),
                AttrValue::Number(1.7976931348623157e308),
            ),
            ("year".to_string(), AttrValue::Number(1943.0)),
            ("negative".to_string(), AttrValue::Number(-273.15)),
            ("in_print".to_string(), AttrValue::Bool(true)),
            (
                "author".to_string(),
                AttrValue::Text("Antoine de Saint-Exupéry".into()),
            ),
            ("empty".to_string(), AttrValue::Text(String::new())),
        ]),
        published_at: Some(-845_000_000_000_000),
        available: false,
    }
}

fn full_user(id: &str) -> User {
    User {
        user_id: id.to_string(),
        attributes: BTreeMap::from([
            ("age".to_string(), AttrValue::Number(34.0)),
            (
                "ltv".to_string(),
                AttrValue::Number(1_234.567_890_123_456_7),
            ),
            ("premium".to_string(), AttrValue::Bool(false)),
            ("city".to_string(), AttrValue::Text("São Paulo".into())),
        ]),
        preferred_categories: vec!["jazz".into(), "électro".into(), "k-pop".into()],
        consent: Consent {
            personalization: false,
        },
    }
}

fn assert_bits_equal(a: &Event, b: &Event) {
    let pairs = [
        (a.value, b.value),
        (a.properties.scroll_depth, b.properties.scroll_depth),
        (a.properties.price, b.properties.price),
        (a.properties.rating, b.properties.rating),
    ];
    for (x, y) in pairs {
        assert_eq!(x.map(f64::to_bits), y.map(f64::to_bits), "{}", a.event_id);
    }
    for (k, v) in &a.properties.extra {
        if let (PropValue::Number(x), Some(PropValue::Number(y))) = (v, b.properties.extra.get(k)) {
            assert_eq!(x.to_bits(), y.to_bits(), "{}.{k}", a.event_id);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The suite
// ---------------------------------------------------------------------------------------------

/// Several hundred realistic events in batches come back complete, exact and in
/// (timestamp, event_id) order; the visitor can stop early.
pub fn insert_and_scan(store: &dyn Store) {
    let app = new_app(store, "insert_scan");
    let events = realistic_events(1, 600);
    assert!(
        events.iter().any(|e| e.user_id.is_none())
            && events.iter().any(|e| !e.properties.extra.is_empty())
    );
    insert_in_batches(store, &app, &events, 128);
    let expected = sorted(events);
    let got = scan_all(store, &app);
    assert_eq!(got.len(), expected.len());
    for (g, e) in got.iter().zip(&expected) {
        assert_eq!(g, e);
        assert_bits_equal(g, e);
    }
    assert_eq!(store.counts(&app).unwrap().events, 600);

    let mut seen = 0;
    store
        .scan_events(&app, &EventFilter::default(), &mut |_| {
            seen += 1;
            seen < 10
        })
        .unwrap();
    assert_eq!(seen, 10, "returning false stops the scan");
}

/// Floats survive storage bit for bit (typed columns and JSON extras).
pub fn floats_round_trip(store: &dyn Store) {
    let app = new_app(store, "floats");
    let awkward = [
        0.1 + 0.2,
        1e-300,
        5e-324,
        f64::MAX,
        f64::MIN_POSITIVE,
        1.0 / 3.0,
        123_456_789.123_456_79,
        2.0f64.powi(60),
    ];
    let events: Vec<Event> = awkward
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            let mut e = view(&format!("f{i}"), Some("u"), None, "i", T0 + i as i64);
            e.value = Some(-x);
            e.properties.price = Some(x);
            e.properties.scroll_depth = Some(x.fract().abs().min(1.0));
            e.properties.rating = Some(x);
            e.properties.extra.insert("x".into(), PropValue::Number(x));
            e.properties
                .extra
                .insert("neg".into(), PropValue::Number(-x));
            e
        })
        .collect();
    insert_in_batches(store, &app, &events, 100);
    let got = scan_all(store, &app);
    assert_eq!(got, events);
    for (g, e) in got.iter().zip(&events) {
        assert_bits_equal(g, e);
    }
}

/// Duplicates are reported in input order, within a batch and across batches, and the first
/// stored version wins.
pub fn duplicates_in_and_across_batches(store: &dyn Store) {
    let app = new_app(store, "dups");
    let a = view("a", Some("u1"), None, "i1", T0);
    let mut a2 = view("a", Some("u2"), None, "i2", T0 + 5);
    a2.value = Some(9.0);
    let b = view("b", Some("u1"), None, "i2", T0 + 1);
    let c = view("c", None, Some("d1"), "i3", T0 + 2);
    let d = view("d", Some("u3"), None, "i4", T0 + 3);
    assert_eq!(
        store
            .insert_events(&app, &[a.clone(), b.clone(), a2.clone(), c.clone()])
            .unwrap(),
        vec![Accepted, Accepted, Duplicate, Accepted]
    );
    assert_eq!(
        store
            .insert_events(&app, &[b.clone(), d.clone(), d.clone(), a2])
            .unwrap(),
        vec![Duplicate, Accepted, Duplicate, Duplicate]
    );
    assert_eq!(store.insert_events(&app, &[]).unwrap(), vec![]);
    assert_eq!(scan_all(store, &app), vec![a, b, c, d]);
    assert_eq!(store.counts(&app).unwrap().events, 4);

    // A whole batch redelivered (Kafka at-least-once) changes nothing.
    let batch = realistic_events(7, 300);
    insert_in_batches(store, &app, &batch, 300);
    assert_eq!(
        store.insert_events(&app, &batch).unwrap(),
        vec![Duplicate; 300]
    );
    assert_eq!(store.counts(&app).unwrap().events, 304);
}

/// One large batch (bigger than any internal chunking) is accepted whole.
pub fn large_batch(store: &dyn Store) {
    let app = new_app(store, "large");
    let events = realistic_events(3, 5_000);
    let statuses = store.insert_events(&app, &events).unwrap();
    assert!(statuses.iter().all(|s| *s == Accepted));
    assert_eq!(store.counts(&app).unwrap().events, 5_000);
    assert_eq!(scan_all(store, &app).len(), 5_000);
}

/// Everything written is there after the store is dropped and opened again.
pub fn durable_across_reopen(open: &dyn Fn() -> Box<dyn Store>) {
    let events = realistic_events(11, 400);
    let app;
    let counts;
    {
        let store = open();
        app = new_app(&*store, "durable");
        insert_in_batches(&*store, &app, &events, 100);
        store.upsert_items(&app, &[full_item("sku-1")]).unwrap();
        store.upsert_users(&app, &[full_user("alice")]).unwrap();
        store.identify(&app, "dev-x1", "alice").unwrap();
        counts = store.counts(&app).unwrap();
        assert_eq!(counts.events, 400);
    }
    let store = open();
    assert!(store.list_apps().unwrap().contains(&app));
    assert_eq!(store.counts(&app).unwrap(), counts);
    let mut expected = sorted(events);
    for e in &mut expected {
        if e.user_id.is_none() && e.anonymous_id.as_deref() == Some("dev-x1") {
            e.user_id = Some("alice".into());
        }
    }
    assert_eq!(scan_all(&*store, &app), expected);
    assert_eq!(
        store.get_item(&app, "sku-1").unwrap(),
        Some(full_item("sku-1"))
    );
    assert_eq!(
        store.get_user(&app, "alice").unwrap(),
        Some(full_user("alice"))
    );
    assert_eq!(
        store.resolve_identity(&app, "dev-x1").unwrap().as_deref(),
        Some("alice")
    );
    // Duplicates are still recognized after reopening.
    assert_eq!(
        store.insert_events(&app, &expected[..3]).unwrap(),
        vec![Duplicate; 3]
    );
}

/// Every read and write names an app that must exist.
pub fn unknown_app(store: &dyn Store) {
    let app = unique_app("never_created");
    fn is_unknown<T: std::fmt::Debug>(r: Result<T, StoreError>, app: &str) {
        match r {
            Err(StoreError::UnknownApp(a)) => assert_eq!(a, app),
            other => panic!("expected UnknownApp, got {other:?}"),
        }
    }
    let e = view("e1", Some("u"), None, "i", T0);
    is_unknown(store.insert_events(&app, &[e]), &app);
    is_unknown(store.insert_events(&app, &[]), &app);
    is_unknown(
        store.scan_events(&app, &EventFilter::default(), &mut |_| true),
        &app,
    );
    is_unknown(store.upsert_items(&app, &[Item::new("i")]), &app);
    is_unknown(store.get_item(&app, "i"), &app);
    is_unknown(store.delete_item(&app, "i"), &app);
    is_unknown(store.scan_items(&app, &mut |_| true), &app);
    is_unknown(store.upsert_users(&app, &[User::new("u")]), &app);
    is_unknown(store.get_user(&app, "u"), &app);
    is_unknown(store.delete_user(&app, "u"), &app);
    is_unknown(store.scan_users(&app, &mut |_| true), &app);
    is_unknown(store.identify(&app, "d", "u"), &app);
    is_unknown(store.resolve_identity(&app, "d"), &app);
    is_unknown(store.counts(&app), &app);
    is_unknown(store.reserve_model_version(&app), &app);
    is_unknown(store.register_model(&app, 1, &model_info(1)), &app);
    is_unknown(store.list_models(&app), &app);
    is_unknown(store.get_model(&app, 1), &app);
    is_unknown(store.activate_model(&app, 1, None), &app);
    is_unknown(store.rollback_model(&app, None), &app);
    is_unknown(store.active_model(&app), &app);
    is_unknown(store.model_activations(&app), &app);
    assert!(!store.list_apps().unwrap().contains(&app));
    let msg = store.counts(&app).unwrap_err().to_string();
    assert!(msg.contains(&app) && msg.contains("create"), "{msg}");
}

/// `create_app` is idempotent and keeps data; `list_apps` is sorted; `ping` works.
pub fn create_and_list_apps(store: &dyn Store) {
    store.ping().unwrap();
    assert!(["sqlite", "postgres"].contains(&store.backend()));
    let a = new_app(store, "list_b");
    let b = new_app(store, "list_a");
    store.upsert_items(&a, &[Item::new("x")]).unwrap();
    store.create_app(&a).unwrap();
    store.create_app(&a).unwrap();
    assert_eq!(store.counts(&a).unwrap().items, 1);
    let apps = store.list_apps().unwrap();
    assert!(apps.contains(&a) && apps.contains(&b));
    assert!(
        apps.windows(2).all(|w| w[0] < w[1]),
        "sorted and unique: {apps:?}"
    );
}

/// An anonymous-only event from a device already linked to a user is stored with that user.
pub fn stitching_on_insert(store: &dyn Store) {
    let app = new_app(store, "stitch");
    assert_eq!(store.identify(&app, "d1", "alice").unwrap(), 0);
    let batch = vec![
        view("e1", None, Some("d1"), "i1", T0),
        view("e2", None, Some("d2"), "i1", T0 + 1),
        view("e3", Some("bob"), Some("d1"), "i2", T0 + 2),
        view("e4", None, Some("d1"), "i3", T0 + 3),
        view("e5", Some("carol"), None, "i3", T0 + 4),
    ];
    store.insert_events(&app, &batch).unwrap();
    let got = scan_all(store, &app);
    let users: Vec<Option<&str>> = got.iter().map(|e| e.user_id.as_deref()).collect();
    assert_eq!(
        users,
        vec![
            Some("alice"),
            None,
            Some("bob"),
            Some("alice"),
            Some("carol")
        ]
    );
    assert!(got
        .iter()
        .all(|e| e.anonymous_id.is_some() || e.user_id.is_some()));
    assert_eq!(
        got[0].anonymous_id.as_deref(),
        Some("d1"),
        "the device id is kept"
    );
    // Linking happens only through identify: an event carrying both ids does not link.
    assert_eq!(store.resolve_identity(&app, "d2").unwrap(), None);
    assert_eq!(store.counts(&app).unwrap().identities, 1);
}

/// `identify` links a device, re-attributes its anonymous past, tolerates repetition, and
/// refuses relinking to someone else without changing anything.
pub fn identify_reattributes_and_conflicts(store: &dyn Store) {
    let app = new_app(store, "identify");
    let mut events: Vec<Event> = (0..5)
        .map(|i| view(&format!("a{i}"), None, Some("d1"), "i1", T0 + i))
        .collect();
    events.extend((0..2).map(|i| view(&format!("b{i}"), None, Some("d2"), "i2", T0 + 10 + i)));
    events.push(view("c0", Some("carol"), Some("d1"), "i3", T0 + 20));
    events.push(view("c1", Some("alice"), None, "i3", T0 + 21));
    store.insert_events(&app, &events).unwrap();

    assert_eq!(store.resolve_identity(&app, "d1").unwrap(), None);
    assert_eq!(store.identify(&app, "d1", "alice").unwrap(), 5);
    assert_eq!(
        store.resolve_identity(&app, "d1").unwrap().as_deref(),
        Some("alice")
    );
    let stored = scan_all(store, &app);
    for e in &stored {
        let expect = match e.event_id.as_str() {
            "c0" => Some("carol"),
            id if id.starts_with('a') || id == "c1" => Some("alice"),
            _ => None,
        };
        assert_eq!(e.user_id.as_deref(), expect, "{}", e.event_id);
    }
    // Same link again: fine, nothing left to re-attribute.
    assert_eq!(store.identify(&app, "d1", "alice").unwrap(), 0);
    // Another user: conflict, and nothing changes.
    let err = store.identify(&app, "d1", "mallory").unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert!(err.to_string().contains("d1"), "{err}");
    assert_eq!(
        store.resolve_identity(&app, "d1").unwrap().as_deref(),
        Some("alice")
    );
    assert_eq!(scan_all(store, &app), stored);
    // A second device for the same user.
    assert_eq!(store.identify(&app, "d2", "alice").unwrap(), 2);
    assert_eq!(store.counts(&app).unwrap().identities, 2);
    // Unlinked, never-seen device: link with nothing to re-attribute.
    assert_eq!(store.identify(&app, "d9", "bob").unwrap(), 0);
    // The user's resolved history: own events plus every event of a linked device.
    let alice = scan(store, &app, &by_user("alice"));
    assert_eq!(
        ids(&alice),
        vec!["a0", "a1", "a2", "a3", "a4", "b0", "b1", "c0", "c1"]
    );
}

/// Erasing a user removes the profile, their events, their devices' events and the links, and
/// nothing of anyone else.
pub fn delete_user_erases(store: &dyn Store) {
    let app = new_app(store, "erase");
    store
        .upsert_users(&app, &[full_user("alice"), full_user("bob")])
        .unwrap();
    let mut events = vec![
        view("own1", Some("alice"), None, "i1", T0),
        view("own2", Some("alice"), Some("d-unlinked"), "i1", T0 + 1),
        view("anon1", None, Some("d1"), "i2", T0 + 2),
        view("anon2", None, Some("d1"), "i2", T0 + 3),
        view("anon3", None, Some("d2"), "i2", T0 + 4),
        view("bob1", Some("bob"), None, "i3", T0 + 5),
        view("bob-on-d1", Some("bob"), Some("d1"), "i3", T0 + 6),
        view("stranger", None, Some("d-unlinked"), "i3", T0 + 7),
    ];
    store.insert_events(&app, &events).unwrap();
    store.identify(&app, "d1", "alice").unwrap();
    store.identify(&app, "d2", "alice").unwrap();
    store.identify(&app, "d3", "bob").unwrap();
    events.push(view("late", None, Some("d2"), "i4", T0 + 8));
    store.insert_events(&app, &events[8..]).unwrap();

    let erased = store.delete_user(&app, "alice").unwrap();
    // own1, own2, anon1, anon2, anon3, late, and bob-on-d1 (its device is alice's).
    assert_eq!(
        erased,
        Erasure {
            profile: true,
            events: 7,
            identities: 2
        }
    );
    assert_eq!(store.get_user(&app, "alice").unwrap(), None);
    assert_eq!(store.get_user(&app, "bob").unwrap(), Some(full_user("bob")));
    assert_eq!(store.resolve_identity(&app, "d1").unwrap(), None);
    assert_eq!(
        store.resolve_identity(&app, "d3").unwrap().as_deref(),
        Some("bob")
    );
    assert!(scan(store, &app, &by_user("alice")).is_empty());
    assert_eq!(ids(&scan_all(store, &app)), vec!["bob1", "stranger"]);
    assert_eq!(
        store.counts(&app).unwrap(),
        AppCounts {
            events: 2,
            items: 0,
            users: 1,
            identities: 1
        }
    );

    // Erasing again finds nothing; erasing someone without a profile still removes events.
    assert_eq!(
        store.delete_user(&app, "alice").unwrap(),
        Erasure::default()
    );
    store
        .insert_events(&app, &[view("ghost1", Some("ghost"), None, "i1", T0)])
        .unwrap();
    assert_eq!(
        store.delete_user(&app, "ghost").unwrap(),
        Erasure {
            profile: false,
            events: 1,
            identities: 0
        }
    );
    // The device can be linked again afterwards (to anyone).
    assert_eq!(store.identify(&app, "d1", "bob").unwrap(), 0);
}

/// Items: every field round-trips, upsert replaces, scans are in byte order of ids, delete
/// reports existence.
pub fn items_round_trip(store: &dyn Store) {
    let app = new_app(store, "items");
    let mut big = full_item("zeta");
    big.description = Some("ü".repeat(32 * 1024 - 1));
    let minimal = Item::new("Alpha");
    store
        .upsert_items(
            &app,
            &[
                full_item("beta"),
                big.clone(),
                minimal.clone(),
                full_item("ärger"),
            ],
        )
        .unwrap();
    assert_eq!(
        store.get_item(&app, "beta").unwrap(),
        Some(full_item("beta"))
    );
    assert_eq!(store.get_item(&app, "zeta").unwrap(), Some(big.clone()));
    assert_eq!(
        store.get_item(&app, "Alpha").unwrap(),
        Some(minimal.clone())
    );
    assert_eq!(
        store.get_item(&app, "alpha").unwrap(),
        None,
        "ids are case-sensitive"
    );
    if let Some(AttrValue::Number(x)) = store
        .get_item(&app, "beta")
        .unwrap()
        .unwrap()
        .attributes
        .get("price")
    {
        assert_eq!(x.to_bits(), (0.1f64 + 0.2).to_bits());
    } else {
        panic!("price attribute missing");
    }

    // Replace: fields removed and changed, available flips.
    let mut changed = full_item("beta");
    changed.title = None;
    changed.tags.clear();
    changed.attributes.retain(|k, _| k == "year");
    changed.published_at = None;
    changed.available = true;
    // Within one batch the last version of an id wins.
    let mut stale = changed.clone();
    stale.title = Some("stale".into());
    store.upsert_items(&app, &[stale, changed.clone()]).unwrap();
    assert_eq!(store.get_item(&app, "beta").unwrap(), Some(changed.clone()));

    let all = items_of(store, &app);
    let order: Vec<&str> = all.iter().map(|i| i.item_id.as_str()).collect();
    assert_eq!(
        order,
        vec!["Alpha", "beta", "zeta", "ärger"],
        "byte order of ids"
    );
    assert_eq!(all[1], changed);
    let mut first = Vec::new();
    store
        .scan_items(&app, &mut |i| {
            first.push(i.item_id);
            false
        })
        .unwrap();
    assert_eq!(first, vec!["Alpha"]);

    assert_eq!(store.counts(&app).unwrap().items, 4);
    assert!(store.delete_item(&app, "zeta").unwrap());
    assert!(!store.delete_item(&app, "zeta").unwrap());
    assert_eq!(store.get_item(&app, "zeta").unwrap(), None);
    assert_eq!(store.counts(&app).unwrap().items, 3);
    store.upsert_items(&app, &[]).unwrap();

    // Deleting an item keeps its history.
    store
        .insert_events(&app, &[view("e", Some("u"), None, "beta", T0)])
        .unwrap();
    assert!(store.delete_item(&app, "beta").unwrap());
    assert_eq!(store.counts(&app).unwrap().events, 1);
}

/// Users: every field round-trips, upsert replaces, scans are ordered.
pub fn users_round_trip(store: &dyn Store) {
    let app = new_app(store, "users");
    let minimal = User::new("Zoë");
    store
        .upsert_users(
            &app,
            &[full_user("bob"), minimal.clone(), full_user("alice")],
        )
        .unwrap();
    assert_eq!(store.get_user(&app, "bob").unwrap(), Some(full_user("bob")));
    assert_eq!(store.get_user(&app, "Zoë").unwrap(), Some(minimal.clone()));
    assert!(
        store
            .get_user(&app, "Zoë")
            .unwrap()
            .unwrap()
            .consent
            .personalization
    );
    assert_eq!(store.get_user(&app, "nobody").unwrap(), None);

    let mut changed = full_user("bob");
    changed.consent.personalization = true;
    changed.preferred_categories = vec!["news".into()];
    changed
        .attributes
        .insert("tier".into(), AttrValue::Text("gold".into()));
    changed.attributes.remove("age");
    store.upsert_users(&app, &[changed.clone()]).unwrap();
    assert_eq!(store.get_user(&app, "bob").unwrap(), Some(changed.clone()));

    let all = users_of(store, &app);
    assert_eq!(all, vec![minimal, full_user("alice"), changed]);
    assert_eq!(store.counts(&app).unwrap().users, 3);
}

/// Filters (user incl. linked devices, since inclusive, until exclusive) and ordering with ties.
pub fn scan_filters_and_order(store: &dyn Store) {
    let app = new_app(store, "filters");
    let mut events = realistic_events(5, 500);
    // Ties on timestamp with ids inserted out of order.
    for id in ["tie-c", "tie-a", "tie-b"] {
        events.push(view(id, Some("alice"), None, "item-000", T0 + 30 * MINUTE));
    }
    insert_in_batches(store, &app, &events, 250);
    store.identify(&app, "dev-a1", "alice").unwrap();
    store.identify(&app, "dev-a2", "alice").unwrap();
    let linked = ["dev-a1", "dev-a2"];

    // What the store should hold after stitching.
    let mut stored = events.clone();
    for e in &mut stored {
        if e.user_id.is_none()
            && e.anonymous_id
                .as_deref()
                .is_some_and(|a| linked.contains(&a))
        {
            e.user_id = Some("alice".into());
        }
    }
    let stored = sorted(stored);
    let all = scan_all(store, &app);
    assert_eq!(all, stored);
    let tie_ids: Vec<&str> = all
        .iter()
        .filter(|e| e.event_id.starts_with("tie-"))
        .map(|e| e.event_id.as_str())
        .collect();
    assert_eq!(tie_ids, vec!["tie-a", "tie-b", "tie-c"]);

    let is_alice = |e: &Event| {
        e.user_id.as_deref() == Some("alice")
            || e.anonymous_id
                .as_deref()
                .is_some_and(|a| linked.contains(&a))
    };
    let since = T0 + 6 * 60 * MINUTE;
    let until = all[400].timestamp.utc_micros;
    let cases = [
        EventFilter::default(),
        by_user("alice"),
        by_user("bob"),
        by_user("nobody"),
        EventFilter {
            since_micros: Some(since),
            ..Default::default()
        },
        EventFilter {
            until_micros: Some(until),
            ..Default::default()
        },
        EventFilter {
            since_micros: Some(since),
            until_micros: Some(until),
            ..Default::default()
        },
        EventFilter {
            user_id: Some("alice".into()),
            since_micros: Some(since),
            until_micros: Some(until),
            ..Default::default()
        },
        EventFilter {
            skip_impressions: true,
            ..Default::default()
        },
        EventFilter {
            user_id: Some("alice".into()),
            since_micros: Some(since),
            skip_impressions: true,
            ..Default::default()
        },
        EventFilter {
            since_micros: Some(until),
            until_micros: Some(since),
            ..Default::default()
        },
        EventFilter {
            since_micros: Some(until),
            until_micros: Some(until),
            ..Default::default()
        },
        EventFilter {
            since_micros: Some(i64::MIN),
            until_micros: Some(i64::MIN),
            ..Default::default()
        },
        EventFilter {
            since_micros: Some(i64::MIN),
            until_micros: Some(i64::MAX),
            ..Default::default()
        },
    ];
    for f in &cases {
        let expected: Vec<&Event> = stored
            .iter()
            .filter(|e| match f.user_id.as_deref() {
                Some("alice") => is_alice(e),
                Some(u) => e.user_id.as_deref() == Some(u),
                None => true,
            })
            .filter(|e| f.since_micros.is_none_or(|s| e.timestamp.utc_micros >= s))
            .filter(|e| f.until_micros.is_none_or(|u| e.timestamp.utc_micros < u))
            .filter(|e| !(f.skip_impressions && e.event_type == EventType::Impression))
            .collect();
        let got = scan(store, &app, f);
        assert_eq!(got.iter().collect::<Vec<_>>(), expected, "{f:?}");
    }
    let alice = scan(store, &app, &by_user("alice"));
    assert!(
        alice.len() > 50
            && alice
                .iter()
                .any(|e| e.anonymous_id.as_deref() == Some("dev-a2"))
    );
}

/// The same ids in two apps never meet: no cross-app duplicates, links, erasure or scans.
pub fn app_isolation(store: &dyn Store) {
    let a = new_app(store, "iso_a");
    let b = new_app(store, "iso_b");
    let events = realistic_events(9, 300);
    insert_in_batches(store, &a, &events, 100);
    insert_in_batches(store, &b, &events[..200], 100);
    store.upsert_items(&a, &[full_item("sku")]).unwrap();
    store.upsert_items(&b, &[Item::new("sku")]).unwrap();
    store.upsert_users(&a, &[full_user("alice")]).unwrap();
    assert!(store.identify(&a, "dev-x1", "alice").unwrap() > 0);

    assert_eq!(store.resolve_identity(&b, "dev-x1").unwrap(), None);
    assert_eq!(
        scan_all(store, &b),
        sorted(events[..200].to_vec()),
        "the link in a re-attributed nothing in b"
    );
    store
        .identify(&b, "dev-x1", "bob")
        .expect("no cross-app conflict");
    assert_eq!(store.get_item(&b, "sku").unwrap(), Some(Item::new("sku")));
    assert_eq!(store.get_user(&b, "alice").unwrap(), None);

    let erased = store.delete_user(&a, "alice").unwrap();
    assert!(erased.profile && erased.events > 0);
    let in_b = scan_all(store, &b);
    assert_eq!(in_b.len(), 200);
    assert!(in_b.iter().any(|e| e.user_id.as_deref() == Some("alice")));
    assert_eq!(
        store.counts(&b).unwrap(),
        AppCounts {
            events: 200,
            items: 1,
            users: 0,
            identities: 1
        }
    );
    let counts_a = store.counts(&a).unwrap();
    assert_eq!(counts_a.events, 300 - erased.events);
    assert_eq!(
        (counts_a.items, counts_a.users, counts_a.identities),
        (1, 0, 0)
    );
}

/// Counts follow every kind of write.
pub fn counts(store: &dyn Store) {
    let app = new_app(store, "counts");
    assert_eq!(store.counts(&app).unwrap(), AppCounts::default());
    insert_in_batches(store, &app, &realistic_events(13, 250), 50);
    store
        .upsert_items(
            &app,
            &(0..17)
                .map(|i| Item::new(format!("i{i}")))
                .collect::<Vec<_>>(),
        )
        .unwrap();
    store
        .upsert_users(
            &app,
            &(0..5)
                .map(|i| User::new(format!("u{i}")))
                .collect::<Vec<_>>(),
        )
        .unwrap();
    store.identify(&app, "dev-a1", "alice").unwrap();
    store.identify(&app, "dev-b1", "bob").unwrap();
    store.identify(&app, "dev-b1", "bob").unwrap();
    assert_eq!(
        store.counts(&app).unwrap(),
        AppCounts {
            events: 250,
            items: 17,
            users: 5,
            identities: 2
        }
    );
}

/// The store is shared between threads: concurrent writers and readers, and two writers racing
/// on the same event ids (exactly one of them stores each).
pub fn concurrent_use(store: &dyn Store) {
    let app = new_app(store, "concurrent");
    let race = realistic_events(21, 200);
    let results: Vec<Vec<InsertStatus>> = std::thread::scope(|s| {
        for t in 0..3 {
            let app = &app;
            s.spawn(move || {
                for b in 0..8 {
                    let batch: Vec<Event> = (0..50)
                        .map(|i| {
                            view(
                                &format!("w{t}-{b}-{i}"),
                                Some("u"),
                                None,
                                "i",
                                T0 + (t * 1000 + b * 50 + i) as i64,
                            )
                        })
                        .collect();
                    insert_in_batches(store, app, &batch, 50);
                }
            });
        }
        s.spawn(|| {
            for _ in 0..10 {
                let n = scan_all(store, &app).len();
                assert!(n <= 3 * 8 * 50 + 200);
                store.counts(&app).unwrap();
            }
        });
        let racers: Vec<_> = (0..2)
            .map(|_| s.spawn(|| store.insert_events(&app, &race).unwrap()))
            .collect();
        racers.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for i in 0..race.len() {
        let accepted = results.iter().filter(|r| r[i] == Accepted).count();
        assert_eq!(accepted, 1, "event {i} stored exactly once");
    }
    assert_eq!(store.counts(&app).unwrap().events, 3 * 8 * 50 + 200);
}

/// A visitor may call back into the store (reads and writes) without deadlocking.
pub fn reentrant_visitor(store: &dyn Store) {
    let app = new_app(store, "reentrant");
    let other = new_app(store, "reentrant_other");
    insert_in_batches(store, &app, &realistic_events(17, 300), 100);
    store.upsert_items(&app, &[Item::new("item-001")]).unwrap();
    let mut copied = 0;
    store
        .scan_events(&app, &EventFilter::default(), &mut |e| {
            let _ = store
                .get_item(&app, e.item_id.as_deref().unwrap_or(""))
                .unwrap();
            let mut inner = 0;
            store
                .scan_items(&app, &mut |_| {
                    inner += 1;
                    true
                })
                .unwrap();
            assert_eq!(inner, 1);
            store.insert_events(&other, &[e]).unwrap();
            copied += 1;
            true
        })
        .unwrap();
    assert_eq!(copied, 300);
    assert_eq!(scan_all(store, &other), scan_all(store, &app));
    let _: HashSet<String> = store.list_apps().unwrap().into_iter().collect();
}

// ---------------------------------------------------------------------------------------------
// Model registry
// ---------------------------------------------------------------------------------------------

/// A realistic record for version `n`: JSON the way `attune train` writes it, metrics whose
/// floats only survive an exact round trip, a checksum with the top bit set.
fn model_info(n: u32) -> ModelInfo {
    ModelInfo {
        algorithm: if n.is_multiple_of(2) { "item-knn" } else { "als" }.into(),
        params: format!(r#"{{"factors":"{}","alpha":"40","note":"naïve \"q\" 日本"}}"#, 8 * n),
        data_snapshot: r#"{"app":"shop","users":943,"items":1682,"interactions":100000,"first_event":"1997-09-20T03:05:10Z","cleaning":{"input_events":100000,"kept":99990,"removed_by_reason":{"bot":10}}}"#
            .into(),
        metrics: BTreeMap::from([
            ("validation.ndcg@10".to_string(), 0.1 + 0.2 + f64::from(n)),
            ("validation.recall@10".to_string(), 1e-300),
            ("negative".to_string(), -2.5),
        ]),
        artifact: ArtifactRef {
            location: format!("models/shop/v{n:04}.attune"),
            checksum: 0xfedc_ba98_7654_3210 ^ u64::from(n),
            size_bytes: 5_000_000_000 + u64::from(n),
        },
        created_micros: T0 + i64::from(n) * MINUTE,
    }
}

/// Reserve and register `n` versions; returns their numbers.
fn register_n(store: &dyn Store, app: &str, n: u32) -> Vec<u32> {
    (0..n)
        .map(|_| {
            let v = store.reserve_model_version(app).unwrap();
            store.register_model(app, v, &model_info(v)).unwrap();
            v
        })
        .collect()
}

fn assert_bits_equal_metrics(a: &ModelInfo, b: &ModelInfo) {
    assert_eq!(a, b);
    for (k, x) in &a.metrics {
        assert_eq!(x.to_bits(), b.metrics[k].to_bits(), "{k}");
    }
}

fn statuses(store: &dyn Store, app: &str) -> Vec<(u32, ModelStatus)> {
    store
        .list_models(app)
        .unwrap()
        .into_iter()
        .map(|m| (m.version, m.status))
        .collect()
}

/// Versions are 1, 2, 3, ... per app, independently, and never handed out twice.
pub fn registry_versions_per_app(store: &dyn Store) {
    let a = new_app(store, "reg_ver_a");
    let b = new_app(store, "reg_ver_b");
    assert_eq!(store.reserve_model_version(&a).unwrap(), 1);
    assert_eq!(store.reserve_model_version(&a).unwrap(), 2);
    assert_eq!(store.reserve_model_version(&b).unwrap(), 1);
    assert_eq!(store.reserve_model_version(&a).unwrap(), 3);
    assert_eq!(store.reserve_model_version(&b).unwrap(), 2);
    // Reserving changes nothing visible: no models, nothing active.
    assert!(store.list_models(&a).unwrap().is_empty());
    assert_eq!(store.active_model(&a).unwrap(), None);
    // A reserved version that is never registered is a gap, not reused.
    store.register_model(&a, 3, &model_info(3)).unwrap();
    assert_eq!(store.reserve_model_version(&a).unwrap(), 4);
    assert_eq!(statuses(store, &a), vec![(3, ModelStatus::Candidate)]);
}

/// Every field comes back as registered, from `register`, `list` and `get`.
pub fn registry_round_trip(store: &dyn Store) {
    let app = new_app(store, "reg_rt");
    let before = now_micros();
    let mut registered: Vec<ModelRecord> = Vec::new();
    for _ in 0..3 {
        let v = store.reserve_model_version(&app).unwrap();
        let rec = store.register_model(&app, v, &model_info(v)).unwrap();
        assert_eq!(rec.version, v);
        assert_eq!(rec.status, ModelStatus::Candidate);
        assert!(rec.registered_micros >= before && rec.registered_micros <= now_micros());
        assert_bits_equal_metrics(&rec.info, &model_info(v));
        registered.push(rec);
    }
    let mut empty_metrics = model_info(4);
    empty_metrics.metrics.clear();
    empty_metrics.params = "{}".into();
    let v = store.reserve_model_version(&app).unwrap();
    registered.push(store.register_model(&app, v, &empty_metrics).unwrap());

    let listed = store.list_models(&app).unwrap();
    assert_eq!(listed, registered);
    for (l, r) in listed.iter().zip(&registered) {
        assert_bits_equal_metrics(&l.info, &r.info);
        assert_eq!(store.get_model(&app, l.version).unwrap().as_ref(), Some(r));
    }
    assert_eq!(listed[2].info.artifact.checksum, 0xfedc_ba98_7654_3210 ^ 3);
    assert_eq!(store.get_model(&app, 99).unwrap(), None);
    assert_eq!(store.get_model(&app, 0).unwrap(), None);
}

fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros() as i64
}

/// Registration takes only reserved versions, each once, and only valid records; a refused
/// registration stores nothing and the version can still be registered.
pub fn registry_register_rules(store: &dyn Store) {
    let app = new_app(store, "reg_rules");
    let conflict = |r: Result<ModelRecord, StoreError>, what: &str| match r {
        Err(StoreError::Conflict(msg)) => assert!(msg.contains(what), "{msg}"),
        other => panic!("expected Conflict ({what}), got {other:?}"),
    };
    conflict(
        store.register_model(&app, 1, &model_info(1)),
        "not reserved",
    );
    let v = store.reserve_model_version(&app).unwrap();
    conflict(
        store.register_model(&app, 0, &model_info(1)),
        "not reserved",
    );
    conflict(
        store.register_model(&app, v + 1, &model_info(1)),
        "not reserved",
    );

    let mut bad = model_info(v);
    bad.metrics.insert("broken".into(), f64::INFINITY);
    match store.register_model(&app, v, &bad) {
        Err(StoreError::InvalidModel { field, .. }) => assert_eq!(field, "metrics.broken"),
        other => panic!("expected InvalidModel, got {other:?}"),
    }
    let mut bad = model_info(v);
    bad.params = "factors=8".into();
    let err = store.register_model(&app, v, &bad).unwrap_err();
    assert!(matches!(err, StoreError::InvalidModel { .. }), "{err:?}");
    assert!(err.to_string().contains("params"), "{err}");
    assert!(store.list_models(&app).unwrap().is_empty());

    store.register_model(&app, v, &model_info(v)).unwrap();
    conflict(
        store.register_model(&app, v, &model_info(v)),
        "already registered",
    );
    assert_eq!(store.list_models(&app).unwrap().len(), 1);
    assert_bits_equal_metrics(
        &store.get_model(&app, v).unwrap().unwrap().info,
        &model_info(v),
    );
}

/// The operator's sequence: activate 1, 2, 3; re-activating is a no-op; rollback walks back
/// one activation at a time until there is nothing before; an activation after a rollback is
/// what the next rollback undoes. Every change bumps the seq by one.
pub fn registry_activate_and_rollback(store: &dyn Store) {
    let app = new_app(store, "reg_act");
    register_n(store, &app, 4);
    assert_eq!(store.active_model(&app).unwrap(), None);
    assert!(store.model_activations(&app).unwrap().is_empty());

    let before = now_micros();
    let o = store.activate_model(&app, 1, None).unwrap();
    assert!(o.changed);
    assert_eq!(
        (
            o.activation.seq,
            o.activation.version,
            o.activation.previous,
            o.activation.kind
        ),
        (1, 1, None, ActivationKind::Activate)
    );
    assert!(o.activation.at_micros >= before);
    let active = store.active_model(&app).unwrap().unwrap();
    assert_eq!(
        (active.version, active.seq, active.rollback_to),
        (1, 1, None)
    );
    assert_eq!(active.since_micros, o.activation.at_micros);

    let o = store.activate_model(&app, 2, None).unwrap();
    assert_eq!((o.activation.seq, o.activation.previous), (2, Some(1)));
    let again = store.activate_model(&app, 2, None).unwrap();
    assert!(
        !again.changed,
        "re-activating the active version changes nothing"
    );
    assert_eq!(again.activation, o.activation);
    store.activate_model(&app, 3, None).unwrap();
    let active = store.active_model(&app).unwrap().unwrap();
    assert_eq!(
        (active.version, active.seq, active.rollback_to),
        (3, 3, Some(2))
    );
    assert_eq!(
        statuses(store, &app),
        vec![
            (1, ModelStatus::Inactive),
            (2, ModelStatus::Inactive),
            (3, ModelStatus::Active),
            (4, ModelStatus::Candidate)
        ]
    );

    let o = store.rollback_model(&app, None).unwrap();
    assert!(o.changed);
    assert_eq!(
        (
            o.activation.seq,
            o.activation.version,
            o.activation.previous,
            o.activation.kind
        ),
        (4, 2, Some(3), ActivationKind::Rollback)
    );
    assert_eq!(
        store.active_model(&app).unwrap().unwrap().rollback_to,
        Some(1)
    );
    let o = store.rollback_model(&app, None).unwrap();
    assert_eq!((o.activation.seq, o.activation.version), (5, 1));
    assert_eq!(store.active_model(&app).unwrap().unwrap().rollback_to, None);
    match store.rollback_model(&app, None) {
        Err(StoreError::NoRollbackTarget { app: a }) => assert_eq!(a, app),
        other => panic!("expected NoRollbackTarget, got {other:?}"),
    }
    assert_eq!(
        store.active_model(&app).unwrap().unwrap().seq,
        5,
        "the refused rollback changed nothing"
    );

    // Activate after rolling back; the next rollback undoes exactly that activation.
    store.activate_model(&app, 4, None).unwrap();
    let o = store.rollback_model(&app, None).unwrap();
    assert_eq!(
        (
            o.activation.seq,
            o.activation.version,
            o.activation.previous
        ),
        (7, 1, Some(4))
    );

    let history: Vec<(u64, u32, Option<u32>, ActivationKind)> = store
        .model_activations(&app)
        .unwrap()
        .iter()
        .map(|a| (a.seq, a.version, a.previous, a.kind))
        .collect();
    use ActivationKind::{Activate, Rollback};
    assert_eq!(
        history,
        vec![
            (1, 1, None, Activate),
            (2, 2, Some(1), Activate),
            (3, 3, Some(2), Activate),
            (4, 2, Some(3), Rollback),
            (5, 1, Some(2), Rollback),
            (6, 4, Some(1), Activate),
            (7, 1, Some(4), Rollback),
        ]
    );
    let times: Vec<i64> = store
        .model_activations(&app)
        .unwrap()
        .iter()
        .map(|a| a.at_micros)
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    assert_eq!(
        statuses(store, &app),
        vec![
            (1, ModelStatus::Active),
            (2, ModelStatus::Inactive),
            (3, ModelStatus::Inactive),
            (4, ModelStatus::Inactive)
        ]
    );
}

/// Unknown versions, rollbacks with nothing before, and stale expectations are errors that
/// change nothing.
pub fn registry_refusals_change_nothing(store: &dyn Store) {
    let app = new_app(store, "reg_refuse");
    let unknown = |r: Result<_, StoreError>, version: u32| match r {
        Err(StoreError::UnknownModel { app: a, version: v }) => {
            assert_eq!((a.as_str(), v), (app.as_str(), version))
        }
        other => panic!("expected UnknownModel {version}, got {other:?}"),
    };
    match store.rollback_model(&app, None) {
        Err(StoreError::NoRollbackTarget { .. }) => {}
        other => panic!("expected NoRollbackTarget, got {other:?}"),
    }
    unknown(store.activate_model(&app, 1, None), 1);
    let reserved = store.reserve_model_version(&app).unwrap();
    unknown(store.activate_model(&app, reserved, None), reserved);
    store
        .register_model(&app, reserved, &model_info(reserved))
        .unwrap();
    let err = store.activate_model(&app, 42, None).unwrap_err();
    assert!(
        err.to_string().contains("42") && err.to_string().contains(&app),
        "{err}"
    );
    unknown(Err(err), 42);
    assert_eq!(store.active_model(&app).unwrap(), None);

    // expected_seq = 0: "only if nothing was ever activated".
    let stale = |r: Result<_, StoreError>, expected: u64, current: u64| match r {
        Err(StoreError::StaleActivation {
            app: a,
            expected: e,
            current: c,
        }) => assert_eq!((a.as_str(), e, c), (app.as_str(), expected, current)),
        other => panic!("expected StaleActivation, got {other:?}"),
    };
    stale(store.activate_model(&app, 1, Some(3)), 3, 0);
    assert_eq!(store.active_model(&app).unwrap(), None);
    assert!(store.activate_model(&app, 1, Some(0)).unwrap().changed);
    register_n(store, &app, 2);
    stale(store.activate_model(&app, 2, Some(0)), 0, 1);
    store.activate_model(&app, 2, Some(1)).unwrap();
    stale(store.rollback_model(&app, Some(1)), 1, 2);
    let active = store.active_model(&app).unwrap().unwrap();
    assert_eq!((active.version, active.seq), (2, 2));
    assert_eq!(store.model_activations(&app).unwrap().len(), 2);
    assert_eq!(
        store
            .rollback_model(&app, Some(2))
            .unwrap()
            .activation
            .version,
        1
    );
}

/// Random activations and rollbacks agree with the obvious model: a stack whose top is the
/// active version (activate pushes unless already on top, rollback pops).
pub fn registry_walk_matches_a_stack(store: &dyn Store) {
    let app = new_app(store, "reg_walk");
    let versions = register_n(store, &app, 5);
    let mut rng = Rng(77);
    let mut stack: Vec<u32> = Vec::new();
    let mut seq = 0u64;
    for step in 0..120 {
        if rng.chance(0.6) {
            let v = versions[rng.below(versions.len() as u64) as usize];
            let o = store.activate_model(&app, v, None).unwrap();
            let changed = stack.last() != Some(&v);
            assert_eq!(o.changed, changed, "step {step}");
            if changed {
                stack.push(v);
                seq += 1;
            }
        } else {
            let r = store.rollback_model(&app, None);
            if stack.len() < 2 {
                assert!(
                    matches!(r, Err(StoreError::NoRollbackTarget { .. })),
                    "step {step}: {r:?}"
                );
            } else {
                stack.pop();
                seq += 1;
                assert_eq!(
                    r.unwrap().activation.version,
                    *stack.last().unwrap(),
                    "step {step}"
                );
            }
        }
        let active = store.active_model(&app).unwrap();
        assert_eq!(
            active.map(|a| a.version),
            stack.last().copied(),
            "step {step}"
        );
        assert_eq!(active.map_or(0, |a| a.seq), seq, "step {step}");
        assert_eq!(
            active.and_then(|a| a.rollback_to),
            (stack.len() >= 2).then(|| stack[stack.len() - 2]),
            "step {step}"
        );
    }
    assert_eq!(store.model_activations(&app).unwrap().len() as u64, seq);
}

/// Replay a history on the stack model: every entry must be what a serial run would give.
fn assert_history_is_serial(history: &[Activation]) {
    let mut stack: Vec<u32> = Vec::new();
    for (i, a) in history.iter().enumerate() {
        assert_eq!(
            a.seq,
            i as u64 + 1,
            "seqs are 1..n without gaps: {history:?}"
        );
        assert_eq!(a.previous, stack.last().copied(), "{a:?} in {history:?}");
        match a.kind {
            ActivationKind::Activate => {
                assert_ne!(Some(a.version), stack.last().copied(), "{history:?}");
                stack.push(a.version);
            }
            ActivationKind::Rollback => {
                stack.pop();
                assert_eq!(Some(a.version), stack.last().copied(), "{history:?}");
            }
        }
    }
}

/// Many threads reserving at once get distinct versions; concurrent activations and rollbacks
/// end in a state (history, active version, seq) that some serial order would give.
pub fn registry_concurrent_use(store: &dyn Store) {
    let app = new_app(store, "reg_conc");
    const THREADS: u32 = 8;
    const EACH: u32 = 6;
    let reserved: Vec<u32> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|_| {
                s.spawn(|| {
                    (0..EACH)
                        .map(|_| {
                            let v = store.reserve_model_version(&app).unwrap();
                            store.register_model(&app, v, &model_info(v)).unwrap();
                            v
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let mut sorted_versions = reserved.clone();
    sorted_versions.sort_unstable();
    assert_eq!(sorted_versions, (1..=THREADS * EACH).collect::<Vec<_>>());
    assert_eq!(
        store.list_models(&app).unwrap().len(),
        (THREADS * EACH) as usize
    );

    let changes: Vec<u64> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let app = &app;
                s.spawn(move || {
                    let mut rng = Rng(u64::from(t) + 100);
                    let mut changed = 0u64;
                    for _ in 0..10 {
                        if rng.chance(0.7) {
                            let v = 1 + rng.below(u64::from(THREADS * EACH)) as u32;
                            changed +=
                                u64::from(store.activate_model(app, v, None).unwrap().changed);
                        } else {
                            match store.rollback_model(app, None) {
                                Ok(o) => changed += u64::from(o.changed),
                                Err(StoreError::NoRollbackTarget { .. }) => {}
                                Err(e) => panic!("{e}"),
                            }
                        }
                        // Readers poll while writers change it.
                        store.active_model(app).unwrap();
                    }
                    changed
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let history = store.model_activations(&app).unwrap();
    assert_eq!(history.len() as u64, changes.iter().sum::<u64>());
    assert_history_is_serial(&history);
    let active = store.active_model(&app).unwrap().unwrap();
    let last = history.last().unwrap();
    assert_eq!((active.version, active.seq), (last.version, last.seq));
    let n_active = store
        .list_models(&app)
        .unwrap()
        .iter()
        .filter(|m| m.status == ModelStatus::Active)
        .count();
    assert_eq!(n_active, 1);
}

/// Two apps' registries never meet: versions, records, activations, rollbacks.
pub fn registry_app_isolation(store: &dyn Store) {
    let a = new_app(store, "reg_iso_a");
    let b = new_app(store, "reg_iso_b");
    register_n(store, &a, 3);
    store.activate_model(&a, 1, None).unwrap();
    store.activate_model(&a, 3, None).unwrap();
    assert!(store.list_models(&b).unwrap().is_empty());
    assert_eq!(store.get_model(&b, 1).unwrap(), None);
    assert_eq!(store.active_model(&b).unwrap(), None);
    assert!(matches!(
        store.activate_model(&b, 1, None),
        Err(StoreError::UnknownModel { .. })
    ));
    assert!(matches!(
        store.rollback_model(&b, None),
        Err(StoreError::NoRollbackTarget { .. })
    ));
    assert_eq!(store.reserve_model_version(&b).unwrap(), 1);
    store.register_model(&b, 1, &model_info(7)).unwrap();
    store.activate_model(&b, 1, None).unwrap();
    assert_eq!(store.active_model(&b).unwrap().unwrap().seq, 1);
    assert_eq!(store.get_model(&b, 1).unwrap().unwrap().info, model_info(7));
    // a is untouched by b's registration and activation.
    assert_eq!(store.get_model(&a, 1).unwrap().unwrap().info, model_info(1));
    let active = store.active_model(&a).unwrap().unwrap();
    assert_eq!((active.version, active.seq), (3, 2));
    assert_eq!(
        store.rollback_model(&a, None).unwrap().activation.version,
        1
    );
    assert_eq!(store.active_model(&b).unwrap().unwrap().version, 1);
    assert_eq!(store.model_activations(&b).unwrap().len(), 1);
}

/// Registry state survives the store being dropped and opened again.
pub fn registry_durable_across_reopen(open: &dyn Fn() -> Box<dyn Store>) {
    let app;
    {
        let store = open();
        app = new_app(&*store, "reg_durable");
        register_n(&*store, &app, 3);
        store.reserve_model_version(&app).unwrap();
        store.activate_model(&app, 2, None).unwrap();
        store.activate_model(&app, 3, None).unwrap();
    }
    let store = open();
    let listed = store.list_models(&app).unwrap();
    assert_eq!(listed.len(), 3);
    for m in &listed {
        assert_bits_equal_metrics(&m.info, &model_info(m.version));
    }
    let active = store.active_model(&app).unwrap().unwrap();
    assert_eq!(
        (active.version, active.seq, active.rollback_to),
        (3, 2, Some(2))
    );
    assert_eq!(store.reserve_model_version(&app).unwrap(), 5);
    assert_eq!(
        store.rollback_model(&app, None).unwrap().activation.version,
        2
    );
}

// ---------------------------------------------------------------------------------------------
// Experiments
// ---------------------------------------------------------------------------------------------

fn definition(variants: &[(&str, f64)]) -> String {
    let v: Vec<String> = variants
        .iter()
        .map(|(n, s)| format!("{{\"name\": \"{n}\", \"share\": {s}}}"))
        .collect();
    format!("{{\"variants\": [{}]}}", v.join(", "))
}

/// Draft → running (phase 1, buckets) → stopped → a new phase with a changed definition; every
/// phase is kept with its own definition, and a running phase never changes.
pub fn experiment_lifecycle(store: &dyn Store) {
    let app = new_app(store, "exp_life");
    let d1 = definition(&[("control", 0.5), ("als", 0.5)]);
    let e = store
        .create_experiment(&app, "homepage", "recs", &d1)
        .unwrap();
    assert_eq!(
        (e.status, e.phase, e.buckets, e.started_micros),
        (ExperimentStatus::Draft, 0, None, None)
    );
    assert!(matches!(
        store.create_experiment(&app, "homepage", "recs", &d1),
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store.stop_experiment(&app, "homepage"),
        Err(StoreError::Conflict(_))
    ));
    let running = store.start_experiment(&app, "homepage", 5_000).unwrap();
    assert_eq!(
        (running.status, running.phase, running.buckets),
        (ExperimentStatus::Running, 1, Some((0, 5_000)))
    );
    assert!(running.started_micros.is_some());
    assert!(matches!(
        store.start_experiment(&app, "homepage", 5_000),
        Err(StoreError::Conflict(_))
    ));
    // A running phase's definition cannot change.
    let d2 = definition(&[("control", 0.2), ("als", 0.8)]);
    assert!(matches!(
        store.update_experiment(&app, "homepage", &d2),
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.get_experiment(&app, "homepage").unwrap().unwrap(),
        running
    );

    let stopped = store.stop_experiment(&app, "homepage").unwrap();
    assert_eq!(
        (stopped.status, stopped.buckets),
        (ExperimentStatus::Stopped, None)
    );
    assert!(stopped.stopped_micros.is_some());
    // Stopping again changes nothing.
    assert_eq!(store.stop_experiment(&app, "homepage").unwrap(), stopped);
    store.update_experiment(&app, "homepage", &d2).unwrap();
    let phase2 = store.start_experiment(&app, "homepage", 2_000).unwrap();
    assert_eq!((phase2.phase, phase2.buckets), (2, Some((0, 2_000))));
    assert_eq!(phase2.definition, d2);
    let phases = store.experiment_phases(&app, "homepage").unwrap();
    assert_eq!(phases.len(), 2);
    assert_eq!((phases[0].phase, &phases[0].definition), (1, &d1));
    assert!(phases[0].stopped_micros.is_some());
    assert_eq!((phases[1].phase, &phases[1].definition), (2, &d2));
    assert_eq!(phases[1].stopped_micros, None);
    assert_eq!(store.list_experiments(&app).unwrap(), vec![phase2]);

    // Unknown names and bad records.
    assert!(matches!(
        store.start_experiment(&app, "nope", 10),
        Err(StoreError::UnknownExperiment { .. })
    ));
    assert!(matches!(
        store.create_experiment(&app, "x", "recs", "not json"),
        Err(StoreError::InvalidExperiment { ref field, .. }) if field == "definition"
    ));
    assert!(matches!(
        store.create_experiment(&app, "", "recs", "{}"),
        Err(StoreError::InvalidExperiment { ref field, .. }) if field == "name"
    ));
    assert_eq!(store.get_experiment(&app, "x").unwrap(), None);
}

/// Experiments running in one layer never overlap; a full layer refuses and changes nothing;
/// another layer is independent; a stopped experiment frees its range.
pub fn experiment_layers_are_exclusive(store: &dyn Store) {
    let app = new_app(store, "exp_layers");
    let d = definition(&[("a", 0.5), ("b", 0.5)]);
    for name in ["e1", "e2", "e3"] {
        store.create_experiment(&app, name, "recs", &d).unwrap();
    }
    store.create_experiment(&app, "other", "email", &d).unwrap();
    assert_eq!(
        store.start_experiment(&app, "e1", 6_000).unwrap().buckets,
        Some((0, 6_000))
    );
    assert_eq!(
        store.start_experiment(&app, "e2", 3_000).unwrap().buckets,
        Some((6_000, 9_000))
    );
    match store.start_experiment(&app, "e3", 2_000) {
        Err(StoreError::LayerFull {
            layer,
            wanted,
            total,
            ..
        }) => assert_eq!((layer.as_str(), wanted, total), ("recs", 2_000, 10_000)),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        store.get_experiment(&app, "e3").unwrap().unwrap().status,
        ExperimentStatus::Draft
    );
    // Another layer has all its buckets.
    assert_eq!(
        store
            .start_experiment(&app, "other", 10_000)
            .unwrap()
            .buckets,
        Some((0, 10_000))
    );
    store.stop_experiment(&app, "e1").unwrap();
    assert_eq!(
        store.start_experiment(&app, "e3", 2_000).unwrap().buckets,
        Some((0, 2_000))
    );
    assert!(matches!(
        store.start_experiment(&app, "e1", 0),
        Err(StoreError::InvalidExperiment { ref field, .. }) if field == "traffic_buckets"
    ));
}

/// Concurrent starts in one layer (threads, and on PostgreSQL sessions) never take
/// overlapping buckets.
pub fn experiment_concurrent_starts(store: &dyn Store) {
    let app = new_app(store, "exp_conc");
    let d = definition(&[("a", 1.0)]);
    for i in 0..8 {
        store
            .create_experiment(&app, &format!("e{i}"), "recs", &d)
            .unwrap();
    }
    let results: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let app = &app;
                s.spawn(move || store.start_experiment(app, &format!("e{i}"), 2_000))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut ranges: Vec<(u32, u32)> = results
        .iter()
        .filter_map(|r| r.as_ref().ok().and_then(|e| e.buckets))
        .collect();
    assert_eq!(ranges.len(), 5, "five ranges of 2,000 fill 10,000 buckets");
    assert_eq!(
        results
            .iter()
            .filter(|r| matches!(r, Err(StoreError::LayerFull { .. })))
            .count(),
        3
    );
    ranges.sort_unstable();
    for w in ranges.windows(2) {
        assert!(w[0].1 <= w[1].0, "overlap: {ranges:?}");
    }
}

/// The first exposure per user and phase stands; identify carries a device's exposures to the
/// user; erasing the user erases them.
pub fn experiment_exposures(store: &dyn Store) {
    let app = new_app(store, "exp_expo");
    store
        .create_experiment(
            &app,
            "homepage",
            "recs",
            &definition(&[("a", 0.5), ("b", 0.5)]),
        )
        .unwrap();
    let x = |user: &str, variant: &str, at: i64| Exposure {
        experiment: "homepage".into(),
        phase: 1,
        user_key: user.into(),
        variant: variant.into(),
        at_micros: T0 + at,
    };
    // Within one batch and across batches the first one wins.
    assert_eq!(
        store
            .record_exposures(
                &app,
                &[x("u1", "a", 1), x("dev-9", "b", 2), x("u1", "b", 3)]
            )
            .unwrap(),
        2
    );
    assert_eq!(store.record_exposures(&app, &[x("u1", "b", 4)]).unwrap(), 0);
    assert_eq!(
        store.get_exposure(&app, "homepage", 1, "u1").unwrap(),
        Some(x("u1", "a", 1))
    );
    assert_eq!(store.get_exposure(&app, "homepage", 2, "u1").unwrap(), None);
    // Another phase is another exposure.
    let mut p2 = x("u1", "b", 5);
    p2.phase = 2;
    assert_eq!(store.record_exposures(&app, &[p2.clone()]).unwrap(), 1);

    // The device logs in as u2: it keeps variant b; u1 (already exposed) is not overwritten.
    store.identify(&app, "dev-9", "u2").unwrap();
    assert_eq!(
        store.get_exposure(&app, "homepage", 1, "u2").unwrap(),
        Some(x("u2", "b", 2))
    );
    let mut all = Vec::new();
    store
        .scan_exposures(&app, "homepage", 1, &mut |e| {
            all.push(e);
            true
        })
        .unwrap();
    assert_eq!(
        all,
        vec![x("dev-9", "b", 2), x("u1", "a", 1), x("u2", "b", 2)]
    );

    // Erasure removes the user's exposures and their device's.
    store.delete_user(&app, "u2").unwrap();
    assert_eq!(store.get_exposure(&app, "homepage", 1, "u2").unwrap(), None);
    assert_eq!(
        store.get_exposure(&app, "homepage", 1, "dev-9").unwrap(),
        None
    );
    assert_eq!(
        store.get_exposure(&app, "homepage", 1, "u1").unwrap(),
        Some(x("u1", "a", 1))
    );
    assert_eq!(
        store.get_exposure(&app, "homepage", 2, "u1").unwrap(),
        Some(p2)
    );

    // Allocation state: the latest save wins.
    assert_eq!(store.get_experiment_state(&app, "homepage").unwrap(), None);
    store
        .put_experiment_state(&app, "homepage", "{\"alpha\": [1, 2]}")
        .unwrap();
    store
        .put_experiment_state(&app, "homepage", "{\"alpha\": [3, 4]}")
        .unwrap();
    let (state, at) = store
        .get_experiment_state(&app, "homepage")
        .unwrap()
        .unwrap();
    assert_eq!(state, "{\"alpha\": [3, 4]}");
    assert!(at > 0);
    assert!(matches!(
        store.put_experiment_state(&app, "nope", "{}"),
        Err(StoreError::UnknownExperiment { .. })
    ));
    assert!(matches!(
        store.put_experiment_state(&app, "homepage", "[]"),
        Err(StoreError::InvalidExperiment { .. })
    ));
    // Other apps see none of it.
    let other = new_app(store, "exp_expo_other");
    assert!(store.list_experiments(&other).unwrap().is_empty());
    assert_eq!(
        store.get_exposure(&other, "homepage", 1, "u1").unwrap(),
        None
    );
}

/// Experiments, phases and exposures survive closing and reopening the store.
pub fn experiments_durable_across_reopen(open: &dyn Fn() -> Box<dyn Store>) {
    let store = open();
    let app = new_app(&*store, "exp_durable");
    store
        .create_experiment(&app, "e", "recs", &definition(&[("a", 1.0)]))
        .unwrap();
    let started = store.start_experiment(&app, "e", 100).unwrap();
    store
        .record_exposures(
            &app,
            &[Exposure {
                experiment: "e".into(),
                phase: 1,
                user_key: "u".into(),
                variant: "a".into(),
                at_micros: T0,
            }],
        )
        .unwrap();
    drop(store);
    let store = open();
    assert_eq!(store.get_experiment(&app, "e").unwrap().unwrap(), started);
    assert_eq!(store.experiment_phases(&app, "e").unwrap().len(), 1);
    assert_eq!(
        store
            .get_exposure(&app, "e", 1, "u")
            .unwrap()
            .map(|e| e.variant),
        Some("a".into())
    );
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn points_of(
    store: &dyn Store,
    app: &str,
    metric: &str,
    since: i64,
    until: i64,
) -> Vec<MetricPoint> {
    let mut out = Vec::new();
    store
        .scan_points(app, metric, since, until, &mut |p| {
            out.push(p);
            true
        })
        .unwrap();
    out
}

/// Series: written, replaced by time, read by range in time then label order, refused whole
/// when one point is invalid, pruned by time, kept per app.
pub fn monitor_points(store: &dyn Store) {
    let app = new_app(store, "mon_points");
    let other = new_app(store, "mon_points_other");
    let v1 = labels(&[("model_version", "1")]);
    let v2 = labels(&[("variant", "b"), ("model_version", "2")]);
    let p = |labels: &BTreeMap<String, String>, at: i64, value: f64| MetricPoint {
        metric: "ctr".into(),
        labels: labels.clone(),
        at_micros: T0 + at,
        value,
    };
    store
        .put_points(
            &app,
            &[p(&v2, 10, 0.05), p(&v1, 10, 0.04), p(&v1, 20, 0.041)],
        )
        .unwrap();
    // The same series and time again: the value is replaced (also within one batch).
    store
        .put_points(&app, &[p(&v1, 20, 0.5), p(&v1, 20, 0.042)])
        .unwrap();
    let got = points_of(store, &app, "ctr", T0, T0 + 100);
    assert_eq!(
        got,
        vec![p(&v1, 10, 0.04), p(&v2, 10, 0.05), p(&v1, 20, 0.042)]
    );
    assert_eq!(points_of(store, &app, "ctr", T0 + 11, T0 + 20), vec![]);
    assert_eq!(points_of(store, &app, "ctr", T0 + 20, T0 + 21).len(), 1);
    assert!(points_of(store, &other, "ctr", T0, T0 + 100).is_empty());

    // One bad point refuses the batch, naming it.
    let mut bad = p(&v1, 30, f64::NAN);
    let err = store.put_points(&app, &[p(&v1, 30, 0.1), bad.clone()]);
    assert!(
        matches!(err, Err(StoreError::InvalidMonitoring { ref field, .. }) if field == "points[1].value"),
        "{err:?}"
    );
    bad.value = 1.0;
    bad.metric = String::new();
    assert!(store.put_points(&app, &[bad]).is_err());
    assert_eq!(points_of(store, &app, "ctr", T0, T0 + 100).len(), 3);

    store
        .put_points(
            &app,
            &[MetricPoint {
                metric: "latency_p99_ms".into(),
                labels: BTreeMap::new(),
                at_micros: T0 + 5,
                value: 3.5,
            }],
        )
        .unwrap();
    assert_eq!(store.metric_names(&app).unwrap(), ["ctr", "latency_p99_ms"]);
    assert_eq!(store.prune_points(&app, T0 + 11).unwrap(), 3);
    assert_eq!(
        points_of(store, &app, "ctr", T0, T0 + 100),
        vec![p(&v1, 20, 0.042)]
    );
    assert!(matches!(
        store.put_points("no_such_app_mon", &[p(&v1, 1, 1.0)]),
        Err(StoreError::UnknownApp(_))
    ));
}

/// Alert states replace per rule and labels; training profiles per version.
pub fn monitor_alerts_and_profiles(store: &dyn Store) {
    let app = new_app(store, "mon_alerts");
    let a = AlertRecord {
        rule: "ctr_drop".into(),
        labels: labels(&[("model_version", "3")]),
        state: "pending".into(),
        since_micros: T0,
        updated_micros: T0,
        value: Some(0.01),
        detail: r#"{"summary": "CTR fell"}"#.into(),
    };
    store.put_alert(&app, &a).unwrap();
    let firing = AlertRecord {
        state: "firing".into(),
        since_micros: T0 + 60,
        updated_micros: T0 + 60,
        ..a.clone()
    };
    store.put_alert(&app, &firing).unwrap();
    let drift = AlertRecord {
        rule: "drift".into(),
        labels: BTreeMap::new(),
        value: None,
        ..a.clone()
    };
    store.put_alert(&app, &drift).unwrap();
    assert_eq!(
        store.list_alerts(&app).unwrap(),
        vec![firing.clone(), drift]
    );
    let bad = AlertRecord {
        detail: "[1]".into(),
        ..a.clone()
    };
    assert!(matches!(
        store.put_alert(&app, &bad),
        Err(StoreError::InvalidMonitoring { ref field, .. }) if field == "detail"
    ));
    assert_eq!(store.list_alerts(&app).unwrap()[0], firing);

    assert_eq!(store.get_training_profile(&app, 1).unwrap(), None);
    store
        .put_training_profile(&app, 1, r#"{"events": 10}"#)
        .unwrap();
    store
        .put_training_profile(&app, 1, r#"{"events": 12}"#)
        .unwrap();
    assert_eq!(
        store.get_training_profile(&app, 1).unwrap().as_deref(),
        Some(r#"{"events": 12}"#)
    );
    assert!(store.put_training_profile(&app, 2, "not json").is_err());
    assert_eq!(store.get_training_profile(&app, 2).unwrap(), None);
}

pub fn monitoring_durable_across_reopen(open: &dyn Fn() -> Box<dyn Store>) {
    let store = open();
    let app = new_app(&*store, "mon_durable");
    let point = MetricPoint {
        metric: "ctr".into(),
        labels: labels(&[("source", "personalized")]),
        at_micros: T0,
        value: 0.0625,
    };
    store
        .put_points(&app, std::slice::from_ref(&point))
        .unwrap();
    store.put_training_profile(&app, 4, "{}").unwrap();
    drop(store);
    let store = open();
    assert_eq!(points_of(&*store, &app, "ctr", T0, T0 + 1), vec![point]);
    assert_eq!(
        store.get_training_profile(&app, 4).unwrap().as_deref(),
        Some("{}")
    );
}

/// A `not_interested` event: of `item`, or with `category` of that category.
fn not_interested(
    id: &str,
    user: Option<&str>,
    anon: Option<&str>,
    item: Option<&str>,
    category: Option<&str>,
    at: i64,
) -> Event {
    let mut e = view(id, user, anon, item.unwrap_or(""), at);
    e.event_type = EventType::NotInterested;
    e.item_id = item.map(str::to_string);
    if let Some(c) = category {
        e.properties.extra.insert(
            attune_core::event::DISMISSED_CATEGORY.into(),
            PropValue::Text(c.into()),
        );
    }
    e
}

/// Dismissals follow stored `not_interested` events: per user key, kept once, carried from a
/// device to the user at identify, erased with the user, and per app.
pub fn dismissals_from_events(store: &dyn Store) {
    use attune_core::event::Dismissal::{Category, Item};
    let app = new_app(store, "dismiss");
    let other = new_app(store, "dismiss_other");
    store
        .insert_events(
            &app,
            &[
                not_interested("n1", Some("u1"), None, Some("sku-1"), None, T0),
                not_interested("n2", Some("u1"), None, None, Some("shoes"), T0 + 10),
                // The same dismissal again, later: one row, the latest time.
                not_interested("n3", Some("u1"), None, Some("sku-1"), None, T0 + 20),
                not_interested("n4", None, Some("dev-9"), Some("sku-2"), None, T0 + 30),
                view("v1", Some("u1"), None, "sku-3", T0 + 40),
            ],
        )
        .unwrap();
    // A duplicate event id changes nothing.
    let again = store
        .insert_events(
            &app,
            &[not_interested(
                "n2",
                Some("u1"),
                None,
                Some("sku-7"),
                None,
                T0 + 50,
            )],
        )
        .unwrap();
    assert_eq!(again, vec![Duplicate]);
    assert_eq!(
        store.dismissals(&app, "u1").unwrap(),
        vec![
            (Category("shoes".into()), T0 + 10),
            (Item("sku-1".into()), T0 + 20)
        ]
    );
    assert_eq!(
        store.dismissals(&app, "dev-9").unwrap(),
        vec![(Item("sku-2".into()), T0 + 30)]
    );
    assert!(store.dismissals(&other, "u1").unwrap().is_empty());
    // The device logs in: its dismissals are the user's too.
    store.identify(&app, "dev-9", "u1").unwrap();
    assert_eq!(store.dismissals(&app, "u1").unwrap().len(), 3);
    // Later events of the linked device count for the user.
    store
        .insert_events(
            &app,
            &[not_interested(
                "n5",
                None,
                Some("dev-9"),
                Some("sku-4"),
                None,
                T0 + 60,
            )],
        )
        .unwrap();
    assert!(store
        .dismissals(&app, "u1")
        .unwrap()
        .contains(&(Item("sku-4".into()), T0 + 60)));
    store.delete_user(&app, "u1").unwrap();
    assert!(store.dismissals(&app, "u1").unwrap().is_empty());
    assert!(store.dismissals(&app, "dev-9").unwrap().is_empty());
}

/// Retention: pages delete only the asked type within the time range, oldest first; paging by
/// `last_ts_micros` deletes exactly what one unbounded delete would; other types, newer events
/// and other apps are untouched; the store reports a size that grows with its data.
pub fn retention_deletes_one_type_by_age(store: &dyn Store) {
    let app = new_app(store, "retention");
    let other = new_app(store, "retention_other");
    let events = realistic_events(29, 600);
    insert_in_batches(store, &app, &events, 100);
    insert_in_batches(store, &other, &events, 100);
    let size = store.size_bytes().unwrap();
    assert!(size > 0, "size {size}");
    // The n-th newest event before a time, from the time index.
    let mut times: Vec<i64> = events.iter().map(|e| e.timestamp.utc_micros).collect();
    times.sort_unstable();
    let until = times[500];
    let before: Vec<i64> = times.iter().copied().filter(|t| *t < until).collect();
    for n in [1, 2, 37, before.len()] {
        assert_eq!(
            store.nth_newest_event_ts(&app, until, n).unwrap(),
            Some(before[before.len() - n]),
            "n = {n}"
        );
    }
    assert_eq!(
        store
            .nth_newest_event_ts(&app, until, before.len() + 1)
            .unwrap(),
        None
    );
    assert_eq!(store.nth_newest_event_ts(&app, until, 0).unwrap(), None);

    let cutoff = events[400].timestamp.utc_micros;
    let doomed =
        |e: &Event| e.event_type == EventType::Impression && e.timestamp.utc_micros < cutoff;
    let mut expected: Vec<Event> = scan_all(store, &app);
    let n_doomed = expected.iter().filter(|e| doomed(e)).count();
    assert!(
        n_doomed >= 20,
        "the fixture holds {n_doomed} old impressions"
    );
    expected.retain(|e| !doomed(e));

    let (mut from, mut total, mut pages) = (i64::MIN, 0, 0);
    loop {
        let page = store
            .delete_events(&app, "impression", from, cutoff, 7)
            .unwrap();
        assert!(page.deleted <= 7);
        total += page.deleted;
        pages += 1;
        match page.last_ts_micros {
            Some(t) => {
                assert!(t < cutoff && t >= from);
                from = t;
            }
            None => assert_eq!(page.deleted, 0),
        }
        if page.deleted < 7 {
            break;
        }
    }
    assert_eq!(total, n_doomed);
    assert!(pages > n_doomed / 7, "{pages} pages");
    assert_eq!(scan_all(store, &app), expected);
    assert_eq!(scan_all(store, &other).len(), events.len());
    // Nothing left to delete.
    let again = store
        .delete_events(&app, "impression", i64::MIN, cutoff, 1000)
        .unwrap();
    assert_eq!(again, attune_store::DeletedEvents::default());
    // An unknown app is an error, not an empty page.
    assert!(store
        .delete_events("no_such_app_here", "impression", i64::MIN, cutoff, 10)
        .is_err());
}

// ---------------------------------------------------------------------------------------------
// Tuning studies
// ---------------------------------------------------------------------------------------------

/// A real study (EASE's lambda on a log scale, random proposals, values from a smooth curve)
/// after `n` told trials, as the pipeline stores it.
fn study_record(name: &str, n: usize) -> StudyRecord {
    use attune_core::tune::{Direction, Outcome, Param, RandomSampler, SearchSpace, Study};
    let space = SearchSpace::new(vec![Param::log_float("lambda", 1.0, 10_000.0)]).unwrap();
    let mut study = Study::new(space.clone(), Direction::Maximize);
    let sampler = RandomSampler::new(7);
    for _ in 0..n {
        let (id, params) = study.ask(&sampler).unwrap();
        let lambda = params["lambda"].as_f64().unwrap();
        // NDCG-like: best near lambda = 300, with an irrational tail to test the round trip.
        let v = 0.3 - 0.01 * (lambda.ln() - 300f64.ln()).powi(2) + 1e-9 / 3.0;
        study.tell(id, Outcome::Complete(v)).unwrap();
    }
    StudyRecord {
        name: name.into(),
        algorithm: "ease".into(),
        objective: r#"{"metric":"ndcg","k":10,"folds":null}"#.into(),
        space: serde_json::to_string(&space).unwrap(),
        best_value: study.best().and_then(|t| t.value),
        n_trials: study.trials().len() as u32,
        study: serde_json::to_string(&study).unwrap(),
        state: "running".into(),
        created_micros: 0,
        updated_micros: 0,
    }
}

pub fn studies_round_trip(store: &dyn Store) {
    let app = new_app(store, "studies");
    let other = new_app(store, "studies_other");
    assert!(store.list_studies(&app).unwrap().is_empty());
    assert_eq!(store.load_study(&app, "ease").unwrap(), None);

    let first = study_record("ease", 3);
    let saved = store.save_study(&app, &first).unwrap();
    assert!(saved.created_micros > 0 && saved.updated_micros == saved.created_micros);
    let loaded = store.load_study(&app, "ease").unwrap().unwrap();
    assert_eq!(loaded, saved);
    // The study comes back bit-exact (floats included), so a resumed search proposes what an
    // uninterrupted one would.
    let back: attune_core::tune::Study = serde_json::from_str(&loaded.study).unwrap();
    let orig: attune_core::tune::Study = serde_json::from_str(&first.study).unwrap();
    assert_eq!(back, orig);
    assert_eq!(
        loaded.best_value.map(f64::to_bits),
        first.best_value.map(f64::to_bits)
    );

    // An update after more trials keeps the creation time.
    std::thread::sleep(std::time::Duration::from_millis(2));
    let more = StudyRecord {
        state: "done".into(),
        ..study_record("ease", 5)
    };
    let updated = store.save_study(&app, &more).unwrap();
    assert_eq!(updated.created_micros, saved.created_micros);
    assert!(updated.updated_micros > saved.updated_micros);
    let loaded = store.load_study(&app, "ease").unwrap().unwrap();
    assert_eq!((loaded.n_trials, loaded.state.as_str()), (5, "done"));

    // A second study; listing is by name; apps are isolated.
    store
        .save_study(&app, &study_record("als/segment=heavy", 1))
        .unwrap();
    let names: Vec<String> = store
        .list_studies(&app)
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(
        names,
        vec!["als/segment=heavy".to_string(), "ease".to_string()]
    );
    assert!(store.list_studies(&other).unwrap().is_empty());
    assert_eq!(store.load_study(&other, "ease").unwrap(), None);

    assert!(store.delete_study(&app, "als/segment=heavy").unwrap());
    assert!(!store.delete_study(&app, "als/segment=heavy").unwrap());
    assert_eq!(store.list_studies(&app).unwrap().len(), 1);
    assert!(matches!(
        store.list_studies("no_such_app_for_studies"),
        Err(StoreError::UnknownApp(_))
    ));
}

pub fn study_refusals_change_nothing(store: &dyn Store) {
    let app = new_app(store, "studies_refused");
    let stored = store.save_study(&app, &study_record("ease", 4)).unwrap();

    // Another algorithm, another space, or fewer trials under the same name: a conflict.
    let als = StudyRecord {
        algorithm: "als".into(),
        ..study_record("ease", 6)
    };
    let other_space = StudyRecord {
        space: r#"[{"name":"lambda","kind":"float","low":1.0,"high":10.0,"log":true}]"#.into(),
        ..study_record("ease", 6)
    };
    let fewer = study_record("ease", 2);
    for bad in [als, other_space, fewer] {
        assert!(
            matches!(store.save_study(&app, &bad), Err(StoreError::Conflict(_))),
            "{bad:?}"
        );
    }
    // Broken records name their field.
    let cases: [(&str, StudyRecord); 3] = [
        (
            "name",
            StudyRecord {
                name: "".into(),
                ..study_record("x", 1)
            },
        ),
        (
            "study",
            StudyRecord {
                study: "{".into(),
                ..study_record("x", 1)
            },
        ),
        (
            "best_value",
            StudyRecord {
                best_value: Some(f64::INFINITY),
                ..study_record("x", 1)
            },
        ),
    ];
    for (field, bad) in cases {
        assert!(
            matches!(store.save_study(&app, &bad), Err(StoreError::InvalidStudy { field: ref f, .. }) if f == field),
            "{field}"
        );
    }
    assert_eq!(store.load_study(&app, "ease").unwrap().unwrap(), stored);
    assert_eq!(store.list_studies(&app).unwrap(), vec![stored]);
}

pub fn studies_durable_across_reopen(open: &dyn Fn() -> Box<dyn Store>) {
    let store = open();
    let app = new_app(&*store, "studies_durable");
    let saved = store.save_study(&app, &study_record("ease", 3)).unwrap();
    drop(store);
    let store = open();
    assert_eq!(store.load_study(&app, "ease").unwrap(), Some(saved));
}
