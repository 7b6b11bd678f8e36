//! [`ModelParts`] for [`AlsModel`]: the factors and what fold-in needs (alpha, reg, the
//! confidence mapping). The item Gram matrix is recomputed on load.

use super::{AlsModel, Confidence};
use crate::model::parts::{float, int};
use crate::model::{ModelParts, Param, Parts, PartsError};

impl ModelParts for AlsModel {
    const KIND: &'static str = "als";

    fn to_parts(&self) -> Parts<'_> {
        let k = self.k;
        let mut p = Parts::new(Self::KIND)
            .param("factors", int(k))
            .param("alpha", float(self.alpha))
            .param("reg", float(self.reg))
            .f32_matrix("user_factors", self.n_users(), k, &self.user_factors)
            .f32_matrix(
                "item_factors",
                self.item_factors.len() / k,
                k,
                &self.item_factors,
            );
        let confidence = match self.confidence {
            Confidence::Linear => "linear",
            Confidence::Proportional => "proportional",
            Confidence::Log { epsilon } => {
                p = p.param("confidence.epsilon", float(epsilon));
                "log"
            }
        };
        p.param("confidence", Param::Text(confidence.into()))
    }

    fn from_parts(mut parts: Parts<'_>) -> Result<Self, PartsError> {
        const KIND: &str = AlsModel::KIND;
        parts.expect_kind(KIND)?;
        let k = parts.usize_param(KIND, "factors", 1)?;
        let alpha = parts.f32_param(KIND, "alpha")?;
        let reg = parts.f32_param(KIND, "reg")?;
        let confidence = match parts.text_param(KIND, "confidence")? {
            "linear" => Confidence::Linear,
            "proportional" => Confidence::Proportional,
            "log" => Confidence::Log {
                epsilon: parts.f32_param(KIND, "confidence.epsilon")?,
            },
            other => {
                return Err(PartsError::BadParam {
                    kind: KIND,
                    name: "confidence",
                    value: other.to_string(),
                    rule: "must be linear, proportional or log",
                })
            }
        };
        let (users, _, _) = parts.take_f32_matrix(KIND, "user_factors", None, Some(k))?;
        let (items, _, _) = parts.take_f32_matrix(KIND, "item_factors", None, Some(k))?;
        Ok(AlsModel::new(k, alpha, reg, users, items).with_confidence(confidence))
    }
}
