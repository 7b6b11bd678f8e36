//! The graph as plain arrays ([`Parts`] of kind `hnsw`), so `attune-artifact` can store it
//! beside the model whose item factors it indexes, and the checks that make loading a corrupt
//! or mismatched graph an error instead of a panic or an out-of-bounds walk.
//!
//! Layout (every list of every node, node-major, then level):
//! - `levels` (`u32`, `[n_items]`): the top level of each node.
//! - `offsets` (`u64`, `[Σ (levels[i] + 1) + 1]`): list `(i, l)` is
//!   `neighbours[offsets[b_i + l]..offsets[b_i + l + 1]]` with `b_i = Σ_{j<i} (levels[j] + 1)`.
//! - `neighbours` (`u32`): the neighbour ids.
//! - parameters `m`, `ef_construction`, `ef_search`, `seed` (the `u64` bits as an integer),
//!   `n_items`, `dim`, `entry_point` and `max_sq_norm` (the largest squared norm of the
//!   factors, a fingerprint).
//!
//! The vectors are not part of it: they are the model's item factors, handed to
//! [`HnswGraph::from_parts`], which checks they are the ones the graph was built from and
//! recomputes what is a function of them (the seed entry points).

use std::borrow::Cow;

use super::check_items;
use super::graph::{HnswGraph, MAX_LEVEL};
use super::mips::max_sq_norm;
use super::params::HnswParams;
use crate::model::parts::int;
use crate::model::{Param, Parts, PartsError};

/// [`Parts::kind`] of a graph.
pub const KIND: &str = "hnsw";

/// Prefix of the graph's parameters and arrays when it is stored inside the parts of the model
/// whose factors it indexes ([`HnswGraph::attach_to`]): one artifact, one checksum, and model
/// loaders ignore names they do not read.
pub const PREFIX: &str = "ann.";

impl HnswGraph {
    /// The graph as parts (arrays are built, so they are owned).
    pub fn to_parts(&self) -> Parts<'static> {
        let levels: Vec<u32> = self.levels.iter().map(|&l| u32::from(l)).collect();
        let mut offsets: Vec<u64> = Vec::with_capacity(self.n + 1);
        let mut neighbours: Vec<u32> = Vec::new();
        offsets.push(0);
        for node in 0..self.n as u32 {
            for level in 0..=self.level(node) {
                neighbours.extend_from_slice(self.neighbours(node, level));
                offsets.push(neighbours.len() as u64);
            }
        }
        let p = &self.params;
        Parts::new(KIND)
            .param("m", int(p.m()))
            .param("ef_construction", int(p.ef_construction()))
            .param("ef_search", int(p.ef_search()))
            .param("seed", Param::Int(p.seed() as i64))
            .param("n_items", int(self.n))
            .param("dim", int(self.dim))
            .param("entry_point", Param::Int(i64::from(self.entry)))
            .param("max_sq_norm", Param::Float(self.max_sq_norm))
            .u32_vector("levels", Cow::Owned(levels))
            .u64_vector("offsets", Cow::Owned(offsets))
            .u32_vector("neighbours", Cow::Owned(neighbours))
    }

    /// Rebuild a graph from [`HnswGraph::to_parts`] for the row-major item factors `items`.
    ///
    /// Every parameter, shape and element is checked: ids in bounds and on the levels they are
    /// listed on, no self-loops or repeats, lists within capacity, offsets monotone, the entry
    /// point on the top level, and `max_sq_norm` equal to the factors' own (so a graph paired
    /// with another model's factors is refused). O(edges + n_items·dim).
    pub fn from_parts(mut parts: Parts<'_>, items: &[f32]) -> Result<Self, PartsError> {
        parts.expect_kind(KIND)?;
        let seed = match parts.params.get("seed") {
            Some(Param::Int(v)) => *v as u64,
            Some(other) => {
                return Err(PartsError::BadParam {
                    kind: KIND,
                    name: "seed",
                    value: other.to_string(),
                    rule: "must be an integer",
                })
            }
            None => {
                return Err(PartsError::MissingParam {
                    kind: KIND,
                    name: "seed",
                })
            }
        };
        let params = HnswParams::default()
            .m(parts.usize_param(KIND, "m", 0)?)
            .ef_construction(parts.usize_param(KIND, "ef_construction", 0)?)
            .ef_search(parts.usize_param(KIND, "ef_search", 0)?)
            .seed(seed)
            .check()
            .map_err(|e| PartsError::BadParam {
                kind: KIND,
                name: e.field,
                value: e.value,
                rule: e.rule,
            })?;
        let n = parts.usize_param(KIND, "n_items", 0)?;
        let dim = parts.usize_param(KIND, "dim", 1)?;
        if n.checked_mul(dim) != Some(items.len()) {
            return Err(PartsError::WrongShape {
                kind: KIND,
                name: "item_factors".into(),
                expected: format!("[{n}, {dim}] (n_items, dim)"),
                got: vec![items.len()],
            });
        }
        check_items(items, dim).map_err(|e| PartsError::BadValue {
            kind: KIND,
            name: "item_factors".into(),
            index: 0,
            rule: e.to_string(),
        })?;
        let m2 = match parts.params.get("max_sq_norm") {
            Some(Param::Float(v)) => *v,
            Some(other) => {
                return Err(PartsError::BadParam {
                    kind: KIND,
                    name: "max_sq_norm",
                    value: other.to_string(),
                    rule: "must be a number",
                })
            }
            None => {
                return Err(PartsError::MissingParam {
                    kind: KIND,
                    name: "max_sq_norm",
                })
            }
        };
        if m2.to_bits() != max_sq_norm(items, dim).to_bits() {
            return Err(PartsError::BadParam {
                kind: KIND,
                name: "max_sq_norm",
                value: m2.to_string(),
                rule: "must equal the item factors' largest squared norm: \
                       the graph was built from other factors",
            });
        }
        let entry = parts.usize_param(KIND, "entry_point", 0)?;

        let levels = parts.take_u32_vector(KIND, "levels", Some(n))?;
        if let Some(i) = levels.iter().position(|&l| l as usize > MAX_LEVEL) {
            return Err(bad(
                "levels",
                i,
                format!("level {} > {MAX_LEVEL}", levels[i]),
            ));
        }
        let n_lists: usize = levels.iter().map(|&l| l as usize + 1).sum();
        let offsets = parts.take_u64_vector(KIND, "offsets", Some(n_lists + 1))?;
        let neighbours = parts.take_u32_vector(KIND, "neighbours", None)?;
        if offsets[0] != 0 {
            return Err(bad("offsets", 0, format!("{} != 0", offsets[0])));
        }
        if let Some(i) = offsets.windows(2).position(|w| w[1] < w[0]) {
            return Err(bad("offsets", i + 1, "offsets must not decrease".into()));
        }
        if offsets[n_lists] != neighbours.len() as u64 {
            return Err(bad(
                "offsets",
                n_lists,
                format!(
                    "last offset {} != {} neighbours",
                    offsets[n_lists],
                    neighbours.len()
                ),
            ));
        }
        let top = levels.iter().copied().max().unwrap_or(0) as usize;
        if n == 0 && entry != 0 {
            return Err(bad_entry(entry, "an empty graph has entry point 0"));
        }
        if n > 0 && (entry >= n || levels[entry] as usize != top) {
            return Err(bad_entry(entry, "must be a node on the top level"));
        }

        let levels: Vec<u8> = levels.iter().map(|&l| l as u8).collect();
        let mut g = HnswGraph::with_levels(params, dim, m2, levels);
        g.set_seeds(items, dim);
        g.entry = entry as u32;
        g.top = top;
        let mut list = 0usize;
        let mut sorted: Vec<u32> = Vec::new();
        for node in 0..n as u32 {
            for level in 0..=g.level(node) {
                // Offsets are monotone and end at neighbours.len(), so these are in bounds.
                let (a, b) = (offsets[list] as usize, offsets[list + 1] as usize);
                let ids = &neighbours[a..b];
                if ids.len() > g.cap(level) {
                    return Err(bad(
                        "offsets",
                        list,
                        format!(
                            "node {node} has {} neighbours on level {level}, at most {}",
                            ids.len(),
                            g.cap(level)
                        ),
                    ));
                }
                for (t, &nb) in ids.iter().enumerate() {
                    let rule = if nb as usize >= n {
                        Some(format!("neighbour {nb} of node {node} is not below {n}"))
                    } else if nb == node {
                        Some(format!("node {node} lists itself"))
                    } else if g.level(nb) < level {
                        Some(format!(
                            "neighbour {nb} of node {node} is not on level {level}"
                        ))
                    } else {
                        None
                    };
                    if let Some(rule) = rule {
                        return Err(bad("neighbours", a + t, rule));
                    }
                }
                sorted.clear();
                sorted.extend_from_slice(ids);
                sorted.sort_unstable();
                if let Some(t) = sorted.windows(2).position(|w| w[0] == w[1]) {
                    return Err(bad(
                        "neighbours",
                        a,
                        format!("node {node} lists {} twice on level {level}", sorted[t]),
                    ));
                }
                g.set_neighbours(node, level, ids);
                list += 1;
            }
        }
        Ok(g)
    }
}

impl HnswGraph {
    /// `model` with this graph's parameters and arrays added under [`PREFIX`], so the graph
    /// travels in the model's artifact.
    pub fn attach_to<'a>(&self, mut model: Parts<'a>) -> Parts<'a> {
        let graph = self.to_parts();
        for (name, value) in graph.params {
            model.params.insert(format!("{PREFIX}{name}"), value);
        }
        for (name, array) in graph.arrays {
            model.arrays.insert(format!("{PREFIX}{name}"), array);
        }
        model
    }

    /// The graph parts [`HnswGraph::attach_to`] stored in `model`, taken out of it (for
    /// [`HnswGraph::from_parts`]); `None` when the model carries no graph.
    pub fn detach_from<'a>(model: &mut Parts<'a>) -> Option<Parts<'a>> {
        let mut graph = Parts::new(KIND);
        let names: Vec<String> = model
            .params
            .keys()
            .chain(model.arrays.keys())
            .filter(|n| n.starts_with(PREFIX))
            .cloned()
            .collect();
        for name in names {
            let short = name[PREFIX.len()..].to_string();
            if let Some(v) = model.params.remove(&name) {
                graph.params.insert(short.clone(), v);
            }
            if let Some(a) = model.arrays.remove(&name) {
                graph.arrays.insert(short, a);
            }
        }
        (!graph.params.is_empty() || !graph.arrays.is_empty()).then_some(graph)
    }
}

fn bad(name: &str, index: usize, rule: String) -> PartsError {
    PartsError::BadValue {
        kind: KIND,
        name: name.to_string(),
        index,
        rule,
    }
}

fn bad_entry(entry: usize, rule: &'static str) -> PartsError {
    PartsError::BadParam {
        kind: KIND,
        name: "entry_point",
        value: entry.to_string(),
        rule,
    }
}
