//! `attune import events|items|users`: formats, mapping, validation reports, --strict,
//! idempotence, standard input.

use crate::common::{describe, stderr, stdout, testdata, Attune};

/// The numbers of an import summary line
/// (`events: read 40, imported 35, duplicates 3, invalid 2 (app "x", 0.05 s)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub read: u64,
    pub imported: u64,
    pub duplicates: u64,
    pub invalid: u64,
}

pub fn summary(out: &std::process::Output) -> Summary {
    let text = stdout(out);
    let line = text
        .lines()
        .find(|l| l.contains(": read "))
        .unwrap_or_else(|| panic!("no summary line in {}", describe(out)));
    let num = |key: &str| -> u64 {
        let rest = &line[line.find(key).unwrap_or_else(|| panic!("{key} in {line}")) + key.len()..];
        rest.trim_start()
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    Summary {
        read: num("read"),
        imported: num("imported"),
        duplicates: num("duplicates"),
        invalid: num("invalid"),
    }
}

/// `(events, items, users)` of `app`, from `attune apps list`.
pub fn counts(env: &Attune, app: &str) -> (u64, u64, u64) {
    let list = env.ok(&["apps", "list"]);
    let row = list
        .lines()
        .find(|l| l.split_whitespace().next() == Some(app))
        .unwrap_or_else(|| panic!("app {app} not in\n{list}"));
    let n: Vec<u64> = row
        .split_whitespace()
        .skip(1)
        .map(|c| c.parse().unwrap())
        .collect();
    (n[0], n[1], n[2])
}

/// The shop's events CSV names its columns its own way; these map them.
pub const SHOP_MAP: [&str; 10] = [
    "--map",
    "user_id=customer",
    "--map",
    "item_id=sku",
    "--map",
    "type=action",
    "--map",
    "timestamp=ts",
    "--map",
    "context.session_id=session",
];

/// Import the whole shop fixture (catalog, users, both event files) into `app`.
pub fn import_shop(env: &Attune, app: &str) {
    import_shop_with(env, &[], app);
}

/// [`import_shop`] with extra environment variables (e.g. another store URL).
pub fn import_shop_with(env: &Attune, vars: &[(&str, &str)], app: &str) {
    let items = testdata("shop/items.csv");
    let users = testdata("shop/users.csv");
    let csv = testdata("shop/events.csv");
    let jsonl = testdata("shop/events.jsonl");
    ok_with(
        env,
        vars,
        &["import", "items", items.to_str().unwrap(), "--app", app],
    );
    ok_with(
        env,
        vars,
        &["import", "users", users.to_str().unwrap(), "--app", app],
    );
    let mut args = vec!["import", "events", csv.to_str().unwrap(), "--app", app];
    args.extend(SHOP_MAP);
    ok_with(env, vars, &args);
    ok_with(
        env,
        vars,
        &["import", "events", jsonl.to_str().unwrap(), "--app", app],
    );
}

/// Run with extra environment variables and require success; returns stdout.
pub fn ok_with(env: &Attune, vars: &[(&str, &str)], args: &[&str]) -> String {
    let mut cmd = env.command(args);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run attune");
    assert!(
        out.status.success(),
        "attune {args:?} with {vars:?} failed: {}",
        describe(&out)
    );
    stdout(&out)
}

#[test]
fn csv_with_mapping_imports_every_row() {
    let env = Attune::new();
    let csv = testdata("shop/events.csv");
    let mut args = vec!["import", "events", csv.to_str().unwrap()];
    args.extend(SHOP_MAP);
    let out = env.run(&args);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(
        summary(&out),
        Summary {
            read: 30,
            imported: 30,
            duplicates: 0,
            invalid: 0
        }
    );
    assert_eq!(counts(&env, "default").0, 30);

    // Mapped fields, auto-matched context (`device`), typed and free properties, Unix seconds.
    let events = env.ok(&["export", "events"]);
    let purchase = events
        .lines()
        .find(|l| l.contains("WELCOME10"))
        .expect("alice's purchase");
    let v: serde_json::Value = serde_json::from_str(purchase).unwrap();
    assert_eq!(v["user_id"], "u-alice");
    assert_eq!(v["item_id"], "sku-100");
    assert_eq!(v["type"], "purchase");
    assert_eq!(v["timestamp"], "2026-03-02T09:21:30+01:00");
    assert_eq!(v["context"]["session_id"], "s-a1");
    assert_eq!(v["context"]["device"], "desktop");
    assert_eq!(v["properties"]["price"], 89.9);
    assert_eq!(v["properties"]["quantity"], 1);
    assert_eq!(v["properties"]["coupon"], "WELCOME10");
    assert!(
        v["event_id"].as_str().unwrap().starts_with("row-"),
        "derived id: {v}"
    );
    let bob = events
        .lines()
        .find(|l| l.contains("remove_from_cart"))
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(bob).unwrap();
    assert_eq!(
        v["timestamp"], "2026-03-02T09:05:00Z",
        "1772442300 is Unix seconds, UTC"
    );
}

#[test]
fn jsonl_in_the_api_format_imports() {
    let env = Attune::new();
    let jsonl = testdata("shop/events.jsonl");
    let out = env.run(&["import", "events", jsonl.to_str().unwrap()]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(
        summary(&out),
        Summary {
            read: 20,
            imported: 20,
            duplicates: 0,
            invalid: 0
        }
    );
    let events = env.ok(&["export", "events"]);
    let anon: Vec<&str> = events.lines().filter(|l| l.contains("anon-7c2e")).collect();
    assert_eq!(anon.len(), 3);
    assert!(
        anon[0].contains(r#""query":"espresso cups""#),
        "{}",
        anon[0]
    );
    assert!(
        events.contains(r#""rating":3.5"#),
        "value fills properties.rating"
    );
}

#[test]
fn jsonl_keys_can_be_mapped() {
    let env = Attune::new();
    let input = br#"{"customer":"u1","sku":"i1","kind":"view","at":"2026-03-01T10:00:00Z","cost":3}
"#;
    let args = [
        "import",
        "events",
        "-",
        "--format",
        "jsonl",
        "--map",
        "user_id=customer",
        "--map",
        "item_id=sku",
        "--map",
        "type=kind",
        "--map",
        "timestamp=at",
        "--map",
        "properties.price=cost",
    ];
    let out = env.run_with_stdin(&args, input);
    assert!(out.status.success(), "{}", describe(&out));
    let events = env.ok(&["export", "events"]);
    let v: serde_json::Value = serde_json::from_str(events.trim()).unwrap();
    assert_eq!(
        (
            v["user_id"].as_str(),
            v["item_id"].as_str(),
            v["type"].as_str()
        ),
        (Some("u1"), Some("i1"), Some("view"))
    );
    assert_eq!(v["properties"]["price"], 3);
}

#[test]
fn invalid_rows_are_reported_with_line_and_field_and_fail_the_run() {
    let env = Attune::new();
    let file = testdata("shop/events-invalid.csv");
    let out = env.run(&["import", "events", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert_eq!(
        summary(&out),
        Summary {
            read: 8,
            imported: 3,
            duplicates: 0,
            invalid: 5
        }
    );
    let err = stderr(&out);
    let line = |n: u64| -> String {
        err.lines()
            .find(|l| l.contains(&format!(" line {n}: ")))
            .unwrap_or_else(|| panic!("no report for line {n} in\n{err}"))
            .to_string()
    };
    assert!(
        line(3).contains("type: unknown event type \"like\""),
        "{}",
        line(3)
    );
    assert!(
        line(5).contains("timestamp: must be an RFC 3339 timestamp"),
        "{}",
        line(5)
    );
    // The rating came in `value`: the error names `value`.
    assert!(
        line(6).contains("value: must be between 1 and 5, got 9"),
        "{}",
        line(6)
    );
    assert!(
        line(7).contains("user_id: one of user_id or anonymous_id is required"),
        "{}",
        line(7)
    );
    assert!(
        line(8).contains("value: expected a number, got \"abc\""),
        "{}",
        line(8)
    );
    for valid in [2, 4, 9] {
        assert!(
            !err.contains(&format!(" line {valid}: ")),
            "line {valid} is valid:\n{err}"
        );
    }
    assert!(err.contains("5 invalid rows were not imported"), "{err}");
    assert_eq!(counts(&env, "default").0, 3, "the valid rows were imported");
}

#[test]
fn strict_writes_nothing_when_any_row_is_invalid() {
    let env = Attune::new();
    let good = testdata("shop/events.jsonl");
    env.ok(&["import", "events", good.to_str().unwrap()]);
    let before = counts(&env, "default");

    let bad = testdata("shop/events-invalid.csv");
    let out = env.run(&["import", "events", bad.to_str().unwrap(), "--strict"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert_eq!(
        summary(&out),
        Summary {
            read: 8,
            imported: 0,
            duplicates: 0,
            invalid: 5
        }
    );
    assert!(
        stderr(&out).contains("nothing was imported"),
        "{}",
        describe(&out)
    );
    assert!(
        stderr(&out).contains(" line 3: "),
        "rows are still listed: {}",
        describe(&out)
    );
    assert_eq!(counts(&env, "default"), before);

    // The same from standard input (read into memory, validated, then imported).
    let input = std::fs::read(&bad).unwrap();
    let out = env.run_with_stdin(
        &["import", "events", "-", "--format", "csv", "--strict"],
        &input,
    );
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert_eq!(counts(&env, "default"), before);

    // A clean file passes --strict and is imported in full.
    let items = testdata("shop/items.csv");
    let out = env.run(&["import", "items", items.to_str().unwrap(), "--strict"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(summary(&out).imported, 12);
}

#[test]
fn reimport_is_idempotent_even_without_event_ids() {
    let env = Attune::new();
    let csv = testdata("shop/events.csv");
    let mut args = vec!["import", "events", csv.to_str().unwrap(), "--batch", "7"];
    args.extend(SHOP_MAP);
    let first = env.run(&args);
    assert_eq!(
        summary(&first),
        Summary {
            read: 30,
            imported: 30,
            duplicates: 0,
            invalid: 0
        }
    );
    let second = env.run(&args);
    assert!(second.status.success(), "{}", describe(&second));
    assert_eq!(
        summary(&second),
        Summary {
            read: 30,
            imported: 0,
            duplicates: 30,
            invalid: 0
        }
    );

    let jsonl = testdata("shop/events.jsonl");
    let a = env.run(&["import", "events", jsonl.to_str().unwrap()]);
    let b = env.run(&["import", "events", jsonl.to_str().unwrap()]);
    assert_eq!(summary(&a).imported, 20);
    assert_eq!(
        summary(&b),
        Summary {
            read: 20,
            imported: 0,
            duplicates: 20,
            invalid: 0
        }
    );
    assert_eq!(counts(&env, "default").0, 50);
}

#[test]
fn items_and_users_import_with_lists_attributes_and_flags() {
    let env = Attune::new();
    let items = testdata("shop/items.csv");
    let users = testdata("shop/users.csv");
    assert_eq!(
        summary(&env.run(&["import", "items", items.to_str().unwrap()])).imported,
        12
    );
    assert_eq!(
        summary(&env.run(&["import", "users", users.to_str().unwrap()])).imported,
        8
    );
    assert_eq!(counts(&env, "default"), (0, 12, 8));

    let exported = env.ok(&["export", "items"]);
    let item = |id: &str| -> serde_json::Value {
        let line = exported
            .lines()
            .find(|l| l.contains(&format!("\"item_id\":\"{id}\"")))
            .unwrap();
        serde_json::from_str(line).unwrap()
    };
    let knife = item("sku-100");
    assert_eq!(
        knife["categories"],
        serde_json::json!(["kitchen", "knives"])
    );
    assert_eq!(knife["tags"], serde_json::json!(["bestseller", "gift"]));
    assert_eq!(
        knife["attributes"],
        serde_json::json!({"brand": "Kuro", "price": 89.9})
    );
    assert_eq!(
        knife["description"],
        "Forged steel, full tang; the one knife you need."
    );
    assert_eq!(
        item("sku-103")["description"],
        "Enamelled cast iron, \"cherry\" red."
    );
    assert_eq!(
        item("sku-104")["published_at"],
        "2025-09-04T15:33:20Z",
        "Unix seconds"
    );
    assert_eq!(item("sku-107")["available"], false);

    let users_out = env.ok(&["export", "users"]);
    let dan: serde_json::Value =
        serde_json::from_str(users_out.lines().find(|l| l.contains("u-dan")).unwrap()).unwrap();
    assert_eq!(
        dan["attributes"],
        serde_json::json!({"age": 52, "country": "US", "tier": "gold"})
    );
    assert_eq!(
        dan["preferred_categories"],
        serde_json::json!(["cookware", "textiles"])
    );
    assert_eq!(dan["consent"]["personalization"], false);
}

#[test]
fn a_bad_cell_names_its_field() {
    let env = Attune::new();
    let input = b"item_id,available,published_at\nsku-1,perhaps,2026-01-01T00:00:00Z\nsku-2,true,last week\n";
    let out = env.run_with_stdin(&["import", "items", "-", "--format", "csv"], input);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let err = stderr(&out);
    assert!(
        err.contains("line 2: invalid: available: expected true/false"),
        "{err}"
    );
    assert!(
        err.contains("line 3: invalid: published_at: must be an RFC 3339 timestamp"),
        "{err}"
    );
}

#[test]
fn header_and_argument_mistakes_fail_before_writing() {
    let env = Attune::new();
    let csv = testdata("shop/events.csv");
    let path = csv.to_str().unwrap();
    // Without the mapping no column feeds `type`.
    let out = env.run(&["import", "events", path]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        stderr(&out).contains("no column feeds type"),
        "{}",
        describe(&out)
    );
    let out = env.run(&["import", "events", path, "--map", "type=kind"]);
    assert!(
        stderr(&out).contains("the file has no column \"kind\""),
        "{}",
        describe(&out)
    );
    let out = env.run(&["import", "events", path, "--map", "colour=action"]);
    assert!(
        stderr(&out).contains("unknown field \"colour\""),
        "{}",
        describe(&out)
    );
    let out = env.run_with_stdin(&["import", "events", "-"], b"");
    assert!(
        stderr(&out).contains("pass --format csv or --format jsonl"),
        "{}",
        describe(&out)
    );
    let out = env.run(&["import", "events", path, "--app", "nope"]);
    assert!(
        stderr(&out).contains("attune apps create nope"),
        "{}",
        describe(&out)
    );
}

#[test]
fn broken_json_lines_are_reported_and_skipped() {
    let env = Attune::new();
    let input = b"{\"type\":\"view\",\"user_id\":\"u1\",\"item_id\":\"i1\",\"timestamp\":\"2026-03-01T10:00:00Z\"}\n{not json\n\n{\"type\":\"view\",\"user_id\":\"u1\",\"item_id\":\"i1\",\"timestamp\":\"2026-03-01T10:00:00Z\",\"colour\":\"red\"}\n";
    let out = env.run_with_stdin(&["import", "events", "-", "--format", "jsonl"], input);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert_eq!(
        summary(&out),
        Summary {
            read: 3,
            imported: 1,
            duplicates: 0,
            invalid: 2
        }
    );
    let err = stderr(&out);
    assert!(
        err.contains("line 2: invalid: line: is not valid JSON"),
        "{err}"
    );
    // Unknown members are rejected as the API does with server.strict_fields (the default).
    assert!(
        err.contains("line 4: invalid: colour: unknown field"),
        "{err}"
    );
}

/// Issue 17: names are checked by the same core function on import as on the API, with a
/// message naming the field and a non-zero exit; the limits come from `[limits]`.
#[test]
fn property_and_attribute_names_are_limited_like_the_api() {
    let env = Attune::new();
    let events = env.path().join("names.jsonl");
    std::fs::write(
        &events,
        concat!(
            r#"{"type":"view","user_id":"u1","item_id":"i1","properties":{"ok":1}}"#,
            "\n",
            r#"{"type":"view","user_id":"u1","item_id":"i2","properties":{"a\u0000b":1}}"#,
            "\n",
            r#"{"type":"view","user_id":"u1","item_id":"i3","properties":{"":1}}"#,
            "\n",
        ),
    )
    .unwrap();
    let out = env.run(&["import", "events", events.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let err = stderr(&out);
    assert!(
        err.contains("line 2: invalid: properties: name \"a\\0b\" contains control characters"),
        "{err}"
    );
    assert!(
        err.contains("line 3: invalid: properties: the empty name"),
        "{err}"
    );
    assert_eq!(summary(&out).imported, 1);

    // A CSV column is a property name too: a header with an escape sequence is refused per row.
    let csv = env.path().join("names.csv");
    std::fs::write(&csv, "type,user_id,item_id,col\u{1b}[2J\nview,u1,i9,x\n").unwrap();
    let out = env.run(&["import", "events", csv.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        stderr(&out).contains("properties: name"),
        "{}",
        describe(&out)
    );

    // Items: the count limit, configured.
    let items = env.path().join("items.jsonl");
    std::fs::write(
        &items,
        r#"{"item_id":"i1","attributes":{"a":1,"b":2,"c":3}}"#,
    )
    .unwrap();
    let out = env
        .command(&["import", "items", items.to_str().unwrap()])
        .env("ATTUNE_LIMITS__MAX_ITEM_ATTRIBUTES", "2")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        stderr(&out).contains(
            "attributes: must have at most 2 members (limits.max_item_attributes), got 3"
        ),
        "{}",
        describe(&out)
    );
    env.ok(&["import", "items", items.to_str().unwrap()]);

    // Ids: 300 bytes is refused by default and accepted once `limits.max_id_len` allows it.
    let long = env.path().join("long-ids.jsonl");
    let id = "u".repeat(300);
    std::fs::write(
        &long,
        format!(r#"{{"type":"view","user_id":"{id}","item_id":"i1"}}"#),
    )
    .unwrap();
    let out = env.run(&["import", "events", long.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        stderr(&out).contains("user_id: must be at most 256 bytes, got 300"),
        "{}",
        describe(&out)
    );
    let out = env
        .command(&["import", "events", long.to_str().unwrap()])
        .env("ATTUNE_LIMITS__MAX_ID_LEN", "512")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(summary(&out).imported, 1);
}
