//! `attune apps create|list`.

use crate::common::{describe, stderr, Attune};
use crate::import::import_shop;

#[test]
fn create_is_idempotent_and_list_shows_counts() {
    let env = Attune::new();
    assert!(env.ok(&["apps", "list"]).contains("no apps yet"));
    assert_eq!(
        env.ok(&["apps", "create", "shop"]).trim(),
        "created app \"shop\""
    );
    assert_eq!(
        env.ok(&["apps", "create", "shop"]).trim(),
        "app \"shop\" already exists"
    );
    env.ok(&["apps", "create", "news-eu_2"]);
    import_shop(&env, "shop");
    let list = env.ok(&["apps", "list"]);
    let rows: Vec<Vec<&str>> = list
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows,
        vec![
            vec!["app", "events", "items", "users"],
            vec!["news-eu_2", "0", "0", "0"],
            vec!["shop", "50", "12", "8"],
        ],
        "{list}"
    );
}

#[test]
fn bad_names_are_refused_with_the_rule() {
    let env = Attune::new();
    let long = "a".repeat(64);
    for bad in ["Shop", "-shop", "my shop", "shop/eu", "", long.as_str()] {
        // `--` so that "-shop" reaches the name check instead of being read as an option.
        let out = env.run(&["apps", "create", "--", bad]);
        assert_eq!(out.status.code(), Some(2), "{bad}: {}", describe(&out));
        let err = stderr(&out);
        assert!(
            err.contains("invalid app name") && err.contains("a-z, 0-9, '-' and '_'"),
            "{bad}: {err}"
        );
    }
    assert!(
        env.ok(&["apps", "list"]).contains("no apps yet"),
        "nothing was created"
    );
    env.ok(&["apps", "create", &"a".repeat(63)]);
}
