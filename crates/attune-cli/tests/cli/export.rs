//! `attune export`: JSON lines round-trips exactly; CSV re-imports without a mapping.

use crate::common::{describe, stderr, Attune};
use crate::import::{counts, import_shop, summary};

const ENTITIES: [&str; 3] = ["events", "items", "users"];

#[test]
fn jsonl_round_trip_is_identical() {
    let env = Attune::new();
    import_shop(&env, "default");
    env.ok(&["apps", "create", "copy"]);
    for entity in ENTITIES {
        let first = env.ok(&["export", entity, "--format", "jsonl"]);
        assert!(!first.is_empty(), "{entity}");
        let file = env.path().join(format!("{entity}.jsonl"));
        std::fs::write(&file, &first).unwrap();
        let out = env.run(&["import", entity, file.to_str().unwrap(), "--app", "copy"]);
        assert!(out.status.success(), "{}", describe(&out));
        let second = env.ok(&["export", entity, "--format", "jsonl", "--app", "copy"]);
        assert_eq!(first, second, "{entity} changed on the way through import");
    }
    assert_eq!(counts(&env, "copy"), counts(&env, "default"));
    assert_eq!(counts(&env, "copy"), (50, 12, 8));
}

#[test]
fn csv_export_has_the_documented_header_and_reimports() {
    let env = Attune::new();
    import_shop(&env, "default");
    env.ok(&["apps", "create", "from-csv"]);
    let events = env.ok(&["export", "events", "--format", "csv"]);
    assert_eq!(
        events.lines().next().unwrap(),
        "event_id,type,user_id,anonymous_id,item_id,timestamp,value,context.session_id,context.device,\
         context.page,context.recommendation_id,context.experiment,context.variant,properties.coupon,\
         properties.discount,properties.dwell_ms,properties.first_visit,properties.hover_ms,properties.price,\
         properties.quantity,properties.query,properties.rating,properties.referrer,properties.scroll_depth"
    );
    assert_eq!(events.lines().count(), 51);
    let items = env.ok(&["export", "items", "--format", "csv"]);
    assert_eq!(
        items.lines().next().unwrap(),
        "item_id,title,description,categories,tags,published_at,available,attributes.brand,attributes.price"
    );
    assert!(items.contains("sku-100,Chef's Knife 20 cm,\"Forged steel, full tang; the one knife you need.\",kitchen|knives,bestseller|gift,2025-09-01T08:00:00Z,true,Kuro,89.9"), "{items}");
    let users = env.ok(&["export", "users", "--format", "csv"]);
    assert_eq!(
        users.lines().next().unwrap(),
        "user_id,preferred_categories,consent.personalization,attributes.age,attributes.country,attributes.tier"
    );

    // Read back with no --map: the same data, as the lossless JSON-lines export shows.
    for (entity, csv) in [("events", &events), ("items", &items), ("users", &users)] {
        let file = env.path().join(format!("{entity}.csv"));
        std::fs::write(&file, csv).unwrap();
        let out = env.run(&[
            "import",
            entity,
            file.to_str().unwrap(),
            "--app",
            "from-csv",
        ]);
        assert!(out.status.success(), "{}", describe(&out));
        assert_eq!(summary(&out).invalid, 0);
        assert_eq!(
            env.ok(&["export", entity, "--app", "from-csv"]),
            env.ok(&["export", entity]),
            "{entity} differs after a CSV round trip"
        );
    }
}

#[test]
fn output_file_is_written_whole() {
    let env = Attune::new();
    import_shop(&env, "default");
    let target = env.path().join("out").join("items.jsonl");
    std::fs::create_dir_all(target.parent().unwrap()).unwrap();
    let out = env.run(&["export", "items", "-o", target.to_str().unwrap()]);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        stderr(&out).contains("exported 12 rows"),
        "{}",
        describe(&out)
    );
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        env.ok(&["export", "items"])
    );
    let leftovers: Vec<_> = std::fs::read_dir(target.parent().unwrap())
        .unwrap()
        .collect();
    assert_eq!(leftovers.len(), 1, "no temporary file left behind");
}

#[test]
fn export_of_an_unknown_app_fails() {
    let env = Attune::new();
    let out = env.run(&["export", "events", "--app", "ghost"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        stderr(&out).contains("unknown app \"ghost\""),
        "{}",
        describe(&out)
    );
}
