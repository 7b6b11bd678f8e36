//! The hybrid's user features: profile attributes encoded exactly as
//! `attune features users --prepared` encodes them ([`crate::features::prepare`]: numeric
//! attributes median-filled then z-scored, categorical ones one-hot over the frequent values),
//! kept with the model so serving can encode the profile of a user who arrived after training.
//!
//! Only `attr.*` columns are used. Behavioural columns (RFM, sessions, shares) are learned from
//! the same interactions the identity embeddings already see, and at serving they would have to
//! be recomputed from the user's events on the hot path; a profile is what a new user has before
//! any history, which is the case user features are for.

use std::collections::BTreeMap;

use crate::catalog::AttrValue;
use crate::features::{FeatureError, NumericTransform, PreparedFeatures};
use crate::sparse::Csr;

/// One encoded column.
#[derive(Debug, Clone, PartialEq)]
pub enum UserColumn {
    /// A numeric attribute: `(value or fill − mean) / std` (0 when `std` is 0).
    Numeric {
        /// Attribute name (without `attr.`).
        attr: String,
        /// Median of the training values, for a missing one.
        fill: f64,
        /// Training mean.
        mean: f64,
        /// Training population standard deviation.
        std: f64,
    },
    /// 1 when the categorical attribute equals `value`.
    OneHot {
        /// Attribute name (without `attr.`).
        attr: String,
        /// The category.
        value: String,
    },
}

/// How profile attributes become the hybrid's user feature row; column `j` is the `j`-th
/// user feature embedding of the model.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UserFeatureEncoding {
    columns: Vec<UserColumn>,
}

const ATTR: &str = "attr.";

impl UserFeatureEncoding {
    /// Build from encoded columns (for example read back from a model file).
    pub fn new(columns: Vec<UserColumn>) -> Self {
        Self { columns }
    }

    /// The columns, in embedding order.
    pub fn columns(&self) -> &[UserColumn] {
        &self.columns
    }

    /// Number of columns.
    pub fn width(&self) -> usize {
        self.columns.len()
    }

    /// Column names as `attune features users --prepared` prints them (`attr.age`,
    /// `attr.gender=F`).
    pub fn names(&self) -> Vec<String> {
        self.columns
            .iter()
            .map(|c| match c {
                UserColumn::Numeric { attr, .. } => format!("{ATTR}{attr}"),
                UserColumn::OneHot { attr, value } => format!("{ATTR}{attr}={value}"),
            })
            .collect()
    }

    /// The attribute columns of `prepared` and its rows restricted to them, as a users x
    /// columns matrix (zeros omitted). `prepared` must hold only `attr.*` columns; anything
    /// else is refused by name rather than silently dropped.
    pub fn from_prepared(prepared: &PreparedFeatures) -> Result<(Self, Csr), FeatureError> {
        let strip = |name: &str| -> Result<String, FeatureError> {
            name.strip_prefix(ATTR)
                .map(str::to_string)
                .ok_or_else(|| FeatureError::UnknownColumn {
                    name: name.to_string(),
                    available: "profile attribute columns (attr.*) only".into(),
                })
        };
        let mut columns = Vec::with_capacity(prepared.columns.len());
        for n in &prepared.numeric {
            columns.push(UserColumn::Numeric {
                attr: strip(&n.name)?,
                fill: n.imputer.median,
                mean: n.scaler.mean,
                std: n.scaler.std,
            });
        }
        for c in &prepared.categorical {
            let attr = strip(&c.name)?;
            for value in c.encoder.column_names() {
                columns.push(UserColumn::OneHot {
                    attr: attr.clone(),
                    value,
                });
            }
        }
        let enc = Self { columns };
        // `prepare` lays numeric columns first, then each categorical one's labels: the same
        // order, which this checks instead of assuming.
        if enc.names() != prepared.columns {
            return Err(FeatureError::UnknownColumn {
                name: prepared.columns.join(", "),
                available: enc.names().join(", "),
            });
        }
        let w = enc.width();
        let triplets = (0..prepared.users.len()).flat_map(|u| {
            prepared
                .row(u)
                .iter()
                .enumerate()
                .filter(|(_, &x)| x != 0.0)
                .map(move |(j, &x)| (u as u32, j as u32, x as f32))
        });
        let m = Csr::from_triplets(prepared.users.len(), w, triplets)
            .expect("prepared rows are finite and inside the width");
        Ok((enc, m))
    }

    /// One profile's feature row (zeros omitted), the same values `prepare` gave training
    /// users: a missing numeric attribute is the median, a missing, rare or unseen category
    /// is all zeros.
    pub fn encode(&self, attributes: &BTreeMap<String, AttrValue>) -> Vec<(u32, f32)> {
        let mut row = Vec::new();
        for (j, c) in self.columns.iter().enumerate() {
            let x = match c {
                UserColumn::Numeric {
                    attr,
                    fill,
                    mean,
                    std,
                } => {
                    let v = match attributes.get(attr) {
                        Some(AttrValue::Number(x)) if x.is_finite() => *x,
                        Some(AttrValue::Bool(b)) => f64::from(u8::from(*b)),
                        _ => *fill,
                    };
                    crate::features::ZScoreScaler {
                        mean: *mean,
                        std: *std,
                    }
                    .transform_one(v)
                }
                UserColumn::OneHot { attr, value } => {
                    let hit = match attributes.get(attr) {
                        Some(AttrValue::Text(s)) => s == value,
                        Some(AttrValue::Number(x)) => x.to_string() == *value,
                        Some(AttrValue::Bool(b)) => b.to_string() == *value,
                        Some(AttrValue::Vector(_)) | None => false,
                    };
                    f64::from(u8::from(hit))
                }
            };
            if x != 0.0 {
                row.push((j as u32, x as f32));
            }
        }
        row
    }
}
