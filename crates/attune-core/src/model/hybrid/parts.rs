//! [`HybridModel`] as model parts: the hyperparameters (fold-in reuses them), the item and
//! training-user representations, and the external feature embeddings for items and users
//! that arrive after training, and the profile encoding of the user features (the text param
//! `user_columns`, absent in files without it). The per-epoch training losses are diagnostics and are not kept.

use super::{
    HybridLoss, HybridModel, HybridParams, HybridValidParams, UserColumn, UserFeatureEncoding,
};
use crate::model::parts::{float, int, ModelParts, Param, Parts, PartsError};

const KIND: &str = "hybrid";

fn seed_param(parts: &Parts<'_>) -> Result<u64, PartsError> {
    match parts.params.get("seed") {
        // Stored as the two's-complement i64 of the u64 seed.
        Some(Param::Int(v)) => Ok(*v as u64),
        Some(other) => Err(PartsError::BadParam {
            kind: KIND,
            name: "seed",
            value: other.to_string(),
            rule: "must be an integer",
        }),
        None => Err(PartsError::MissingParam {
            kind: KIND,
            name: "seed",
        }),
    }
}

impl ModelParts for HybridModel {
    const KIND: &'static str = KIND;

    fn to_parts(&self) -> Parts<'_> {
        let p = &self.params.0;
        let k = p.factors;
        let parts = Parts::new(KIND);
        let parts = if self.user_encoding.width() > 0 {
            parts.param(
                "user_columns",
                Param::Text(write_columns(self.user_encoding.columns())),
            )
        } else {
            parts
        };
        parts
            .param("factors", int(k))
            .param(
                "loss",
                Param::Text(
                    match p.loss {
                        HybridLoss::Bpr => "bpr",
                        HybridLoss::Warp => "warp",
                    }
                    .into(),
                ),
            )
            .param("learning_rate", float(p.learning_rate))
            .param("item_reg", float(p.item_reg))
            .param("user_reg", float(p.user_reg))
            .param("epochs", int(p.epochs))
            .param("max_sampled", int(p.max_sampled))
            .param("identity_weight", float(p.identity_weight))
            .param("fold_in_epochs", int(p.fold_in_epochs))
            .param("seed", Param::Int(p.seed as i64))
            .f32_matrix("item_vecs", self.item_bias.len(), k, &self.item_vecs)
            .f32_vector("item_bias", &self.item_bias)
            .f32_matrix("user_vecs", self.user_vecs.len() / k, k, &self.user_vecs)
            .f32_matrix(
                "item_feature_emb",
                self.item_feature_bias.len(),
                k,
                &self.item_feature_emb,
            )
            .f32_vector("item_feature_bias", &self.item_feature_bias)
            .f32_matrix(
                "user_feature_emb",
                self.user_feature_emb.len() / k,
                k,
                &self.user_feature_emb,
            )
    }

    fn from_parts(mut parts: Parts<'_>) -> Result<Self, PartsError> {
        parts.expect_kind(KIND)?;
        let k = parts.usize_param(KIND, "factors", 1)?;
        let loss = match parts.text_param(KIND, "loss")? {
            "bpr" => HybridLoss::Bpr,
            "warp" => HybridLoss::Warp,
            other => {
                return Err(PartsError::BadParam {
                    kind: KIND,
                    name: "loss",
                    value: other.to_string(),
                    rule: "must be bpr or warp",
                })
            }
        };
        let params: HybridValidParams = HybridParams::new(k)
            .loss(loss)
            .learning_rate(parts.f32_param(KIND, "learning_rate")?)
            .item_reg(parts.f32_param(KIND, "item_reg")?)
            .user_reg(parts.f32_param(KIND, "user_reg")?)
            .epochs(parts.usize_param(KIND, "epochs", 1)?)
            .max_sampled(parts.usize_param(KIND, "max_sampled", 1)?)
            .identity_weight(parts.f32_param(KIND, "identity_weight")?)
            .fold_in_epochs(parts.usize_param(KIND, "fold_in_epochs", 1)?)
            .seed(seed_param(&parts)?)
            .check()
            .map_err(|e| PartsError::BadParam {
                kind: KIND,
                name: e.field,
                value: e.value,
                rule: e.rule,
            })?;
        let (item_vecs, n_items, _) = parts.take_f32_matrix(KIND, "item_vecs", None, Some(k))?;
        let item_bias = parts.take_f32_vector(KIND, "item_bias", Some(n_items))?;
        let (user_vecs, _, _) = parts.take_f32_matrix(KIND, "user_vecs", None, Some(k))?;
        let (item_feature_emb, n_item_features, _) =
            parts.take_f32_matrix(KIND, "item_feature_emb", None, Some(k))?;
        let item_feature_bias =
            parts.take_f32_vector(KIND, "item_feature_bias", Some(n_item_features))?;
        let (user_feature_emb, n_user_features, _) =
            parts.take_f32_matrix(KIND, "user_feature_emb", None, Some(k))?;
        let user_encoding = match parts.params.get("user_columns") {
            None => UserFeatureEncoding::default(),
            Some(Param::Text(t)) => UserFeatureEncoding::new(read_columns(t)?),
            Some(other) => return Err(bad_columns(other.to_string(), "must be text")),
        };
        if user_encoding.width() != n_user_features {
            return Err(bad_columns(
                user_encoding.width().to_string(),
                "must have one column per user feature embedding",
            ));
        }
        Ok(Self {
            params,
            item_vecs,
            item_bias,
            user_vecs,
            item_feature_emb,
            item_feature_bias,
            user_feature_emb,
            user_encoding,
            epoch_losses: Vec::new(),
        })
    }
}

fn bad_columns(value: String, rule: &'static str) -> PartsError {
    PartsError::BadParam {
        kind: KIND,
        name: "user_columns",
        value,
        rule,
    }
}

/// One line per column, fields separated by tabs: `num <attr> <fill> <mean> <std>` (floats in
/// Rust's shortest round-trip form, so they read back bit-identical) or `hot <attr> <value>`.
/// Names and values are escaped (`\\`, `\t`, `\n`) so any text survives.
fn write_columns(columns: &[UserColumn]) -> String {
    let esc = |s: &str| {
        s.replace('\\', "\\\\")
            .replace('\t', "\\t")
            .replace('\n', "\\n")
    };
    let lines: Vec<String> = columns
        .iter()
        .map(|c| match c {
            UserColumn::Numeric {
                attr,
                fill,
                mean,
                std,
            } => format!("num\t{}\t{fill:?}\t{mean:?}\t{std:?}", esc(attr)),
            UserColumn::OneHot { attr, value } => format!("hot\t{}\t{}", esc(attr), esc(value)),
        })
        .collect();
    lines.join("\n")
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

fn read_columns(text: &str) -> Result<Vec<UserColumn>, PartsError> {
    let float = |s: &str, line: &str| {
        s.parse::<f64>()
            .ok()
            .filter(|x| x.is_finite())
            .ok_or_else(|| bad_columns(line.to_string(), "numbers must be finite"))
    };
    text.split('\n')
        .filter(|l| !l.is_empty())
        .map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            match f.as_slice() {
                ["num", attr, fill, mean, std] => Ok(UserColumn::Numeric {
                    attr: unescape(attr),
                    fill: float(fill, line)?,
                    mean: float(mean, line)?,
                    std: float(std, line)?,
                }),
                ["hot", attr, value] => Ok(UserColumn::OneHot {
                    attr: unescape(attr),
                    value: unescape(value),
                }),
                _ => Err(bad_columns(
                    line.to_string(),
                    "must be `num attr fill mean std` or `hot attr value`",
                )),
            }
        })
        .collect()
}
