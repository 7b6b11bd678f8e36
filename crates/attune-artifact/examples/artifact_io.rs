//! Write and load an ALS-sized artifact and report the time of each step.
//!
//! `cargo run --release -p attune-artifact --example artifact_io -- [users] [items] [factors]`
//! (defaults 100000 50000 64: 38 MB of factors). Factors are filled deterministically; the
//! point is I/O, checksum and load cost, not model quality.

use std::collections::BTreeMap;
use std::time::Instant;

use attune_artifact::{write_file, Artifact, Contents, DataSnapshot, Metadata, Overwrite};
use attune_core::model::{AlsModel, ModelParts};
use attune_core::sparse::Interner;

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("sizes are integers"))
        .collect();
    let (n_users, n_items, k) = (
        args.first().copied().unwrap_or(100_000),
        args.get(1).copied().unwrap_or(50_000),
        args.get(2).copied().unwrap_or(64),
    );
    let fill = |n: usize, salt: usize| -> Vec<f32> {
        (0..n)
            .map(|i| (((i * 2_654_435_761 + salt) % 1000) as f32 - 500.0) / 5000.0)
            .collect()
    };
    let model = AlsModel::new(k, 40.0, 0.01, fill(n_users * k, 1), fill(n_items * k, 2));
    let ids = |p: &str, n: usize| {
        let mut t = Interner::default();
        for i in 0..n {
            t.intern(&format!("{p}{i}"));
        }
        t
    };
    let (users, items) = (ids("user-", n_users), ids("item-", n_items));
    let meta = Metadata {
        algorithm: "als".into(),
        parameters: BTreeMap::new(),
        created_at: "2026-01-01T00:00:00Z".into(),
        data: DataSnapshot::default(),
        metrics: BTreeMap::new(),
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.attune");
    let parts = model.to_parts();
    let contents = Contents {
        meta: &meta,
        model: &parts,
        users: &users,
        items: &items,
        history: None,
    };

    let t = Instant::now();
    write_file(&path, &contents, Overwrite::Allow).unwrap();
    let write = t.elapsed();
    let bytes = std::fs::metadata(&path).unwrap().len() as f64;

    let t = Instant::now();
    let a = Artifact::open(&path).unwrap();
    let open = t.elapsed();
    let t = Instant::now();
    let back: AlsModel = a.model().unwrap();
    let load = t.elapsed();
    let t = Instant::now();
    let (u, i) = (a.user_ids().unwrap(), a.item_ids().unwrap());
    let id_tables = t.elapsed();
    assert_eq!(back.n_users(), n_users);
    assert_eq!((u.len(), i.len()), (n_users, n_items));

    let mb = bytes / 1e6;
    println!("users={n_users} items={n_items} factors={k}: {mb:.1} MB");
    println!(
        "write (encode + xxh64 + fsync + rename): {:>8.1} ms  {:>7.0} MB/s",
        write.as_secs_f64() * 1e3,
        mb / write.as_secs_f64()
    );
    println!(
        "open (map + checksum + header + layout): {:>8.1} ms  {:>7.0} MB/s",
        open.as_secs_f64() * 1e3,
        mb / open.as_secs_f64()
    );
    println!(
        "model from parts (copy + Gram):          {:>8.1} ms",
        load.as_secs_f64() * 1e3
    );
    println!(
        "id tables (UTF-8 check + intern):        {:>8.1} ms",
        id_tables.as_secs_f64() * 1e3
    );
}
