//! HNSW parameters: a consuming builder checked into [`HnswValidParams`], like every model's.

use crate::model::ParamError;

const ALGORITHM: &str = "hnsw";

/// Largest `m`: level-0 lists hold `2·m` neighbours, and above 64 the lists stop paying for
/// themselves at 64 factors (every expanded node costs `2·m` dot products).
pub const MAX_M: usize = 64;

/// Largest `ef_construction` / `ef_search`: beyond this the beam is a brute-force scan in
/// disguise, and [`super::Exact`] is faster and exact.
pub const MAX_EF: usize = 10_000;

/// HNSW hyperparameters (unchecked). Build with [`HnswParams::default`], then
/// [`HnswParams::check`].
///
/// Defaults: `m = 16` (hnswlib's usual choice), `ef_construction = 100` (half of hnswlib's
/// usual 200: 2.5x faster to build at 50,000 items for a recall@10 loss of 0.003 at `ef = 80`
/// on ALS factors, which a wider query beam buys back for microseconds; 64 saved only ~15% more
/// at a million items) and `ef_search = 100` (recall@10 ≈ 0.995 on ALS factors of a
/// million items, ~0.2 ms); `docs/benchmarks.md` has the recall/latency trade-off measured on
/// 1,000,000 items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HnswParams {
    m: usize,
    ef_construction: usize,
    ef_search: usize,
    seed: u64,
}

/// Checked HNSW hyperparameters: the only way to [`build`](super::HnswGraph::build) a graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HnswValidParams(HnswParams);

impl Default for HnswParams {
    fn default() -> Self {
        Self {
            m: 16,
            ef_construction: 100,
            ef_search: 100,
            seed: 0,
        }
    }
}

impl HnswParams {
    /// Neighbours kept per node on the upper levels (`2·m` on level 0, as in the paper and
    /// hnswlib). More means better recall per visited node and more memory and work per node.
    pub fn m(mut self, m: usize) -> Self {
        self.m = m;
        self
    }

    /// Beam width while inserting: wider finds better neighbours and builds slower.
    pub fn ef_construction(mut self, ef: usize) -> Self {
        self.ef_construction = ef;
        self
    }

    /// Default beam width of queries (a query may pass its own).
    pub fn ef_search(mut self, ef: usize) -> Self {
        self.ef_search = ef;
        self
    }

    /// Seed of the level draws and of the insertion order.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Validate every field.
    pub fn check(self) -> Result<HnswValidParams, ParamError> {
        if !(2..=MAX_M).contains(&self.m) {
            return Err(ParamError::new(
                ALGORITHM,
                "m",
                self.m,
                "must be between 2 and 64",
            ));
        }
        if self.ef_construction < self.m || self.ef_construction > MAX_EF {
            return Err(ParamError::new(
                ALGORITHM,
                "ef_construction",
                self.ef_construction,
                "must be between m and 10000",
            ));
        }
        if self.ef_search == 0 || self.ef_search > MAX_EF {
            return Err(ParamError::new(
                ALGORITHM,
                "ef_search",
                self.ef_search,
                "must be between 1 and 10000",
            ));
        }
        Ok(HnswValidParams(self))
    }
}

impl HnswValidParams {
    /// Neighbours per node on the upper levels.
    pub fn m(&self) -> usize {
        self.0.m
    }

    /// Neighbours per node on level 0 (`2·m`).
    pub fn m0(&self) -> usize {
        2 * self.0.m
    }

    /// Beam width while inserting.
    pub fn ef_construction(&self) -> usize {
        self.0.ef_construction
    }

    /// Default beam width of queries.
    pub fn ef_search(&self) -> usize {
        self.0.ef_search
    }

    /// Seed.
    pub fn seed(&self) -> u64 {
        self.0.seed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(p: HnswParams) -> &'static str {
        p.check().unwrap_err().field
    }

    #[test]
    fn defaults_are_valid() {
        let p = HnswParams::default().check().unwrap();
        assert_eq!(
            (p.m(), p.m0(), p.ef_construction(), p.ef_search()),
            (16, 32, 100, 100)
        );
    }

    #[test]
    fn m_must_be_between_2_and_64() {
        assert_eq!(field(HnswParams::default().m(1)), "m");
        assert_eq!(field(HnswParams::default().m(65)), "m");
        assert!(HnswParams::default().m(2).check().is_ok());
        assert!(HnswParams::default().m(64).check().is_ok());
    }

    #[test]
    fn ef_construction_must_be_at_least_m() {
        assert_eq!(
            field(HnswParams::default().m(16).ef_construction(15)),
            "ef_construction"
        );
        assert_eq!(
            field(HnswParams::default().ef_construction(MAX_EF + 1)),
            "ef_construction"
        );
        let e = HnswParams::default()
            .ef_construction(3)
            .check()
            .unwrap_err();
        assert_eq!(e.algorithm, "hnsw");
        assert_eq!(e.value, "3");
    }

    #[test]
    fn ef_search_must_be_positive() {
        assert_eq!(field(HnswParams::default().ef_search(0)), "ef_search");
        assert_eq!(
            field(HnswParams::default().ef_search(MAX_EF + 1)),
            "ef_search"
        );
    }
}
