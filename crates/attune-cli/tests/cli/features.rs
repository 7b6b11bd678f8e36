//! `attune features users` on a small data set whose numbers are worked out by hand.

use serde_json::Value;

use crate::common::{describe, stderr, Attune};

const ITEMS: &str = r#"{"item_id":"book","categories":["books"]}
{"item_id":"lamp","categories":["home"]}
"#;

const USERS: &str = r#"{"user_id":"tokyo","attributes":{"age":34,"tier":"gold"}}
{"user_id":"paris","attributes":{"age":41,"tier":"free"}}
{"user_id":"quiet","consent":{"personalization":false},"attributes":{"age":70}}
"#;

/// tokyo acts on Monday evening local time (+09:00) in two sessions, on a phone then a desktop;
/// lima late on a Friday local time (−05:00), which is Saturday in UTC; quiet opted out.
const EVENTS: &str = r#"{"event_id":"1","type":"view","user_id":"tokyo","item_id":"book","timestamp":"2026-11-30T19:00:00+09:00","context":{"device":"mobile"}}
{"event_id":"2","type":"view","user_id":"tokyo","item_id":"lamp","timestamp":"2026-11-30T19:20:00+09:00","context":{"device":"desktop"}}
{"event_id":"3","type":"purchase","user_id":"tokyo","item_id":"book","timestamp":"2026-11-30T20:00:00+09:00","properties":{"price":12.5,"quantity":2},"context":{"device":"mobile"}}
{"event_id":"4","type":"view","user_id":"lima","item_id":"lamp","timestamp":"2026-12-04T21:00:00-05:00"}
{"event_id":"5","type":"view","user_id":"quiet","item_id":"lamp","timestamp":"2026-12-04T10:00:00Z"}
"#;

fn shop() -> Attune {
    let env = Attune::new();
    for (name, body) in [("items", ITEMS), ("users", USERS), ("events", EVENTS)] {
        let path = env.path().join(format!("{name}.jsonl"));
        std::fs::write(&path, body).unwrap();
        env.ok(&["import", name, path.to_str().unwrap()]);
    }
    env
}

const AS_OF: &str = "2026-12-10T00:00:00Z";

fn features(env: &Attune, args: &[&str]) -> std::process::Output {
    let mut all = vec!["features", "users", "--as-of", AS_OF];
    all.extend_from_slice(args);
    env.command(&all)
        .env("ATTUNE_TRAIN__CLEAN", "false")
        .output()
        .unwrap()
}

#[test]
fn raw_features_match_a_hand_computation() {
    let env = shop();
    let out = features(&env, &["--format", "jsonl"]);
    assert!(out.status.success(), "{}", describe(&out));
    let rows: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // Sorted by id; the user who opted out has no row.
    let ids: Vec<&str> = rows
        .iter()
        .map(|r| r["user_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["lima", "paris", "tokyo"]);
    let (lima, paris, tokyo) = (&rows[0], &rows[1], &rows[2]);
    assert_eq!(tokyo["frequency"], 3.0);
    assert_eq!(tokyo["monetary"], 25.0);
    assert_eq!(tokyo["sessions"], 2.0); // 19:00, 19:20 | 20:00 (40 minutes later)
    assert_eq!(tokyo["session_minutes"], 10.0);
    assert_eq!(tokyo["evening_share"], 1.0);
    assert_eq!(tokyo["weekend_share"], 0.0);
    assert_eq!(tokyo["mobile_share"].as_f64().unwrap(), 2.0 / 3.0);
    assert_eq!(tokyo["attr.age"], 34.0);
    assert_eq!(tokyo["attr.tier"], "gold");
    // 2026-11-30T11:00Z to 2026-12-10T00:00Z.
    let recency = tokyo["recency_days"].as_f64().unwrap();
    assert!((recency - (9.0 + 13.0 / 24.0)).abs() < 1e-9, "{recency}");
    // Friday 21:00 in Lima: evening, a weekday, although Saturday in UTC.
    assert_eq!(lima["evening_share"], 1.0);
    assert_eq!(lima["weekend_share"], 0.0);
    assert_eq!(lima["attr.age"], Value::Null);
    // A profile without behaviour: zero counts, unknown recency.
    assert_eq!(paris["frequency"], 0.0);
    assert_eq!(paris["recency_days"], Value::Null);
    assert_eq!(paris["attr.tier"], "free");
}

#[test]
fn columns_and_prepared_matrix() {
    let env = shop();
    let out = features(&env, &["--columns", "attr.tier,frequency"]);
    assert!(out.status.success(), "{}", describe(&out));
    let csv = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        csv,
        "user_id,frequency,attr.tier\nlima,1,\nparis,0,free\ntokyo,3,gold\n"
    );

    let out = features(
        &env,
        &[
            "--columns",
            "frequency,attr.tier",
            "--prepared",
            "--min-count",
            "1",
        ],
    );
    assert!(out.status.success(), "{}", describe(&out));
    let csv = String::from_utf8(out.stdout).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "user_id,frequency,attr.tier=free,attr.tier=gold"
    );
    // frequency 1, 0, 3: mean 4/3, population std sqrt(14/9).
    let (mean, sd) = (4.0 / 3.0, (14.0f64 / 9.0).sqrt());
    let rows: Vec<Vec<f64>> = lines
        .map(|l| l.split(',').skip(1).map(|x| x.parse().unwrap()).collect())
        .collect();
    for (row, (f, free, gold)) in
        rows.iter()
            .zip([(1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (3.0, 0.0, 1.0)])
    {
        assert!((row[0] - (f - mean) / sd).abs() < 1e-12, "{row:?}");
        assert_eq!(row[1..], [free, gold]);
    }
}

#[test]
fn bad_input_is_refused_and_writes_nothing() {
    let env = shop();
    let target = env.path().join("features.csv");
    let out = features(
        &env,
        &[
            "--columns",
            "frequency,shoe_size",
            "-o",
            target.to_str().unwrap(),
        ],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("unknown feature \"shoe_size\""), "{err}");
    assert!(err.contains("recency_days"), "lists what exists: {err}");
    assert!(!target.exists());
    assert_eq!(
        std::fs::read_dir(env.path())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .contains(".tmp-")
            })
            .count(),
        0
    );

    let out = features(&env, &["--as-of", "yesterday"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--as-of"), "{}", stderr(&out));

    env.ok(&["apps", "create", "empty"]);
    let out = features(&env, &["--app", "empty"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no users to describe"),
        "{}",
        stderr(&out)
    );

    // It worked once the request is right, and the file is whole.
    let out = features(&env, &["-o", target.to_str().unwrap()]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(std::fs::read_to_string(&target).unwrap().lines().count(), 4);
}

/// The Parquet export holds the CSV export's table: the same header, rows and values (absent
/// cells null, numbers as float64, attributes with text as text), raw and prepared.
#[cfg(feature = "parquet")]
#[test]
fn parquet_export_reads_back_as_the_csv_export() {
    use arrow_array::{Array, Float64Array, StringArray};
    use arrow_schema::DataType;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    let env = shop();
    for extra in [&[][..], &["--prepared", "--min-count", "1"][..]] {
        let csv_out = features(&env, extra);
        assert!(csv_out.status.success(), "{}", describe(&csv_out));
        let mut csv = csv::Reader::from_reader(&csv_out.stdout[..]);
        let header: Vec<String> = csv.headers().unwrap().iter().map(String::from).collect();
        let rows: Vec<Vec<String>> = csv
            .records()
            .map(|r| r.unwrap().iter().map(String::from).collect())
            .collect();

        let path = env.path().join("users.parquet");
        let mut args = vec!["--format", "parquet", "--out", path.to_str().unwrap()];
        args.extend_from_slice(extra);
        let out = features(&env, &args);
        assert!(out.status.success(), "{}", describe(&out));
        let file = std::fs::File::open(&path).unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap()
            .build()
            .unwrap();
        let batches: Vec<_> = reader.map(Result::unwrap).collect();
        let schema = batches[0].schema();
        let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
        assert_eq!(names, header, "{extra:?}");
        if extra.is_empty() {
            let kind = |name: &str| schema.field_with_name(name).unwrap().data_type().clone();
            assert_eq!(kind("attr.tier"), DataType::Utf8);
            assert_eq!(kind("frequency"), DataType::Float64);
            assert_eq!(kind("attr.age"), DataType::Float64);
        }
        let mut read: Vec<Vec<String>> = Vec::new();
        for batch in &batches {
            for i in 0..batch.num_rows() {
                let row = batch
                    .columns()
                    .iter()
                    .map(|col| {
                        if col.is_null(i) {
                            String::new()
                        } else if let Some(f) = col.as_any().downcast_ref::<Float64Array>() {
                            f.value(i).to_string()
                        } else {
                            let s = col.as_any().downcast_ref::<StringArray>().unwrap();
                            s.value(i).to_string()
                        }
                    })
                    .collect();
                read.push(row);
            }
        }
        assert_eq!(read.len(), rows.len(), "{extra:?}");
        assert!(!rows.is_empty());
        assert_eq!(read, rows, "{extra:?}");
    }
    // A binary format is not written to a terminal or pipe.
    let out = features(&env, &["--format", "parquet"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("-o/--out FILE"), "{}", stderr(&out));
}

/// Without the `parquet` feature the format is refused by name, saying how to get it.
#[cfg(not(feature = "parquet"))]
#[test]
fn parquet_needs_the_parquet_feature() {
    let env = shop();
    let path = env.path().join("users.parquet");
    let out = features(&env, &["--format", "parquet", "-o", path.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("--format parquet") && stderr(&out).contains("--features parquet"),
        "{}",
        stderr(&out)
    );
    assert!(!path.exists(), "nothing written");
}
