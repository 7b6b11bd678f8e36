//! Times an item-kNN fit (cosine, `K` neighbours per item) on the standard synthetic matrix
//! and prints one JSON line for `scripts/bench-itemknn-vs-implicit.sh`, which fits `implicit`'s
//! `CosineRecommender` on exactly the same cells in the same run.
//!
//! ```text
//! cargo run --release -p attune-bench --example knn_scale -- \
//!     [--users N] [--items N] [--nnz N] [--neighbours K] [--threads T] [--dump PATH]
//! ```

use std::time::Instant;

use attune_bench::{cpu_seconds, matrix, peak_rss_mib, write_triples};
use attune_core::model::ItemKnnParams;

struct Args {
    users: u32,
    items: u32,
    nnz: usize,
    neighbours: usize,
    threads: usize,
    dump: Option<String>,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        users: 100_000,
        items: 50_000,
        nnz: 5_000_000,
        neighbours: 20,
        threads: 2,
        dump: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        let num = |v: String| v.replace('_', "");
        match flag.as_str() {
            "--users" => a.users = num(value()?).parse().map_err(|e| format!("--users: {e}"))?,
            "--items" => a.items = num(value()?).parse().map_err(|e| format!("--items: {e}"))?,
            "--nnz" => a.nnz = num(value()?).parse().map_err(|e| format!("--nnz: {e}"))?,
            "--neighbours" => {
                a.neighbours = value()?.parse().map_err(|e| format!("--neighbours: {e}"))?
            }
            "--threads" => a.threads = value()?.parse().map_err(|e| format!("--threads: {e}"))?,
            "--dump" => a.dump = Some(value()?),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(a)
}

fn main() {
    let a = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("knn_scale: {e}");
            std::process::exit(2);
        }
    };
    rayon::ThreadPoolBuilder::new()
        .num_threads(a.threads)
        .build_global()
        .expect("first pool");
    let data = matrix(a.users, a.items, a.nnz);
    if let Some(path) = &a.dump {
        write_triples(&data, std::path::Path::new(path)).expect("write the dump");
    }
    let params = ItemKnnParams::default()
        .neighbours(a.neighbours)
        .check()
        .expect("valid parameters");
    let rss_before = peak_rss_mib();
    let (t, cpu0) = (Instant::now(), cpu_seconds());
    let model = params.fit(&data);
    let wall = t.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    println!(
        "{}",
        serde_json::json!({
            "library": "attune",
            "users": a.users, "items": a.items, "nnz": data.nnz(),
            "neighbours": a.neighbours, "threads": a.threads,
            "fit_wall_s": wall, "fit_cpu_s": cpu,
            "neighbour_entries": model.neighbours().nnz(),
            "peak_rss_mib": peak_rss_mib(), "rss_before_fit_mib": rss_before,
        })
    );
}
