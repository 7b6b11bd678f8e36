//! [`HybridModel`] as model parts: the hyperparameters (fold-in reuses them), the item and
//! training-user representations, and the external feature embeddings for items and users
//! that arrive after training. The per-epoch training losses are diagnostics and are not kept.

use super::{HybridLoss, HybridModel, HybridParams, HybridValidParams};
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
        Parts::new(KIND)
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
        let (user_feature_emb, _, _) =
            parts.take_f32_matrix(KIND, "user_feature_emb", None, Some(k))?;
        Ok(Self {
            params,
            item_vecs,
            item_bias,
            user_vecs,
            item_feature_emb,
            item_feature_bias,
            user_feature_emb,
            epoch_losses: Vec::new(),
        })
    }
}
