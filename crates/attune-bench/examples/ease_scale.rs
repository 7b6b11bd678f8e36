//! Times an EASE fit on the standard synthetic matrix and prints one JSON line for
//! `scripts/bench-ease-vs-numpy.sh`, which runs the EASE paper's numpy code on exactly the same
//! cells in the same run. The default shape is MovieLens-1M's after its rating filter.
//!
//! ```text
//! cargo run --release -p attune-bench --example ease_scale -- \
//!     [--users N] [--items N] [--nnz N] [--lambda L] [--threads T] [--dump PATH] [--dump-b PATH]
//!     [--popularity-exponent A] [--activity-exponent B] [--two-hop G] [--rating-exponent P]
//! ```
//!
//! The last four time EASE's optional weights and two-hop paths (docs/benchmarks.md); with
//! `--rating-exponent` every cell gets a rating of 1 to 5 (a hash of the cell), and the timed
//! fit includes reading them.
//!
//! `--dump` writes the matrix as (u32 user, u32 item, f32 value) records; `--dump-b` writes the
//! fitted weights (`n_items²` f32, row-major) so the script can compare them with numpy's.

use std::io::Write as _;
use std::time::Instant;

use attune_bench::{cpu_seconds, matrix, peak_rss_mib, write_triples};
use attune_core::model::EaseParams;

struct Args {
    users: u32,
    items: u32,
    nnz: usize,
    lambda: f32,
    popularity_exponent: f32,
    activity_exponent: f32,
    two_hop: f32,
    rating_exponent: f32,
    threads: usize,
    dump: Option<String>,
    dump_b: Option<String>,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        users: 6_040,
        items: 3_600,
        nnz: 1_000_000,
        lambda: 500.0,
        popularity_exponent: 0.0,
        activity_exponent: 0.0,
        two_hop: 0.0,
        rating_exponent: 0.0,
        threads: 2,
        dump: None,
        dump_b: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        let num = |v: String| v.replace('_', "");
        match flag.as_str() {
            "--users" => a.users = num(value()?).parse().map_err(|e| format!("--users: {e}"))?,
            "--items" => a.items = num(value()?).parse().map_err(|e| format!("--items: {e}"))?,
            "--nnz" => a.nnz = num(value()?).parse().map_err(|e| format!("--nnz: {e}"))?,
            "--lambda" => a.lambda = value()?.parse().map_err(|e| format!("--lambda: {e}"))?,
            "--popularity-exponent" => {
                a.popularity_exponent = value()?.parse().map_err(|e| format!("{flag}: {e}"))?
            }
            "--activity-exponent" => {
                a.activity_exponent = value()?.parse().map_err(|e| format!("{flag}: {e}"))?
            }
            "--two-hop" => a.two_hop = value()?.parse().map_err(|e| format!("{flag}: {e}"))?,
            "--rating-exponent" => {
                a.rating_exponent = value()?.parse().map_err(|e| format!("{flag}: {e}"))?
            }
            "--threads" => a.threads = value()?.parse().map_err(|e| format!("--threads: {e}"))?,
            "--dump" => a.dump = Some(value()?),
            "--dump-b" => a.dump_b = Some(value()?),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(a)
}

fn main() {
    let a = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("ease_scale: {e}");
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
    let params = EaseParams::default()
        .reg(a.lambda)
        .popularity_exponent(a.popularity_exponent)
        .activity_exponent(a.activity_exponent)
        .two_hop(a.two_hop)
        .rating_exponent(a.rating_exponent)
        .check()
        .unwrap_or_else(|e| {
            eprintln!("ease_scale: {e}");
            std::process::exit(2);
        });
    let ratings = (a.rating_exponent != 0.0)
        .then(|| data.map_values(|u, i, _| (1 + (u as u64 * 31 + u64::from(i) * 17) % 5) as f32));
    let rss_before = peak_rss_mib();
    let (t, cpu0) = (Instant::now(), cpu_seconds());
    let model = params.fit_rated(&data, ratings.as_ref()).expect("fit");
    let wall = t.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    if let Some(path) = &a.dump_b {
        let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
        for w in model.weights() {
            out.write_all(&w.to_le_bytes()).expect("write B");
        }
    }
    println!(
        "{}",
        serde_json::json!({
            "library": "attune",
            "users": a.users, "items": a.items, "nnz": data.nnz(), "lambda": a.lambda,
            "popularity_exponent": a.popularity_exponent,
            "activity_exponent": a.activity_exponent, "two_hop": a.two_hop,
            "rating_exponent": a.rating_exponent,
            "threads": a.threads,
            "fit_wall_s": wall, "fit_cpu_s": cpu,
            "peak_rss_mib": peak_rss_mib(), "rss_before_mib": rss_before,
        })
    );
}
