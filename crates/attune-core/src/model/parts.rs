//! Trained models as plain data: named, shaped arrays plus scalar parameters.
//!
//! Persistence is split in two so the core stays free of I/O: every model type implements
//! [`ModelParts`], which turns it into [`Parts`] (borrowing its arrays, no copy) and back
//! (validating every shape, so inconsistent arrays are an error, never a later panic or
//! out-of-bounds read); the `attune-artifact` crate writes `Parts` to a file and reads them
//! back from a memory map.
//!
//! Arrays are [`Cow`]s: [`ModelParts::to_parts`] borrows the model's own vectors, a reader may
//! hand in slices of a mapped file, and [`ModelParts::from_parts`] takes ownership (an owned
//! array moves into the model, a borrowed one is copied once).
//!
//! Only what serving needs is kept. Caches that are a pure function of the stored arrays (the
//! ALS item Gram matrix, user-kNN's weighted item index) are recomputed on load by the same
//! code that built them at training time, so a loaded model scores bit-identically.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use crate::sparse::{Csr, SparseError};

mod fitted;

/// Element type of a stored array.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DType {
    /// Bytes (string tables).
    U8,
    /// Indices.
    U32,
    /// Offsets and row pointers.
    U64,
    /// Factors, weights, scores.
    F32,
    /// Double-precision values.
    F64,
}

impl DType {
    /// Every type, for parsing.
    pub const ALL: [DType; 5] = [DType::U8, DType::U32, DType::U64, DType::F32, DType::F64];

    /// The name used in files (`f32`, ...).
    pub fn name(self) -> &'static str {
        match self {
            DType::U8 => "u8",
            DType::U32 => "u32",
            DType::U64 => "u64",
            DType::F32 => "f32",
            DType::F64 => "f64",
        }
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            DType::U8 => 1,
            DType::U32 | DType::F32 => 4,
            DType::U64 | DType::F64 => 8,
        }
    }

    /// The type named `name`, if any.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The elements of an array, borrowed or owned.
#[derive(Debug, Clone, PartialEq)]
pub enum ArrayData<'a> {
    /// `u8` elements.
    U8(Cow<'a, [u8]>),
    /// `u32` elements.
    U32(Cow<'a, [u32]>),
    /// `u64` elements.
    U64(Cow<'a, [u64]>),
    /// `f32` elements.
    F32(Cow<'a, [f32]>),
    /// `f64` elements.
    F64(Cow<'a, [f64]>),
}

impl ArrayData<'_> {
    /// Element type.
    pub fn dtype(&self) -> DType {
        match self {
            ArrayData::U8(_) => DType::U8,
            ArrayData::U32(_) => DType::U32,
            ArrayData::U64(_) => DType::U64,
            ArrayData::F32(_) => DType::F32,
            ArrayData::F64(_) => DType::F64,
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            ArrayData::U8(v) => v.len(),
            ArrayData::U32(v) => v.len(),
            ArrayData::U64(v) => v.len(),
            ArrayData::F32(v) => v.len(),
            ArrayData::F64(v) => v.len(),
        }
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A named array's shape and elements. `shape` multiplies out to the number of elements (checked
/// by [`Array::new`]); matrices are row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Array<'a> {
    shape: Vec<usize>,
    data: ArrayData<'a>,
}

impl<'a> Array<'a> {
    /// An array of this shape, or `None` when the shape does not multiply out to the number of
    /// elements (or overflows).
    pub fn new(shape: Vec<usize>, data: ArrayData<'a>) -> Option<Self> {
        let n = shape
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))?;
        (n == data.len()).then_some(Self { shape, data })
    }

    /// A one-dimensional array.
    pub fn vector(data: ArrayData<'a>) -> Self {
        Self {
            shape: vec![data.len()],
            data,
        }
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The elements.
    pub fn data(&self) -> &ArrayData<'a> {
        &self.data
    }

    /// Take the elements.
    pub fn into_data(self) -> ArrayData<'a> {
        self.data
    }
}

/// A scalar parameter of a trained model.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    /// An integer (sizes, counts).
    Int(i64),
    /// A real number (`f32` parameters are widened exactly and narrowed back exactly).
    Float(f64),
    /// A name (an enum variant).
    Text(String),
}

impl fmt::Display for Param {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Param::Int(v) => write!(f, "{v}"),
            Param::Float(v) => write!(f, "{v}"),
            Param::Text(v) => write!(f, "{v:?}"),
        }
    }
}

/// A trained model as data: its kind, scalar parameters and named arrays.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Parts<'a> {
    /// The model type ([`ModelParts::KIND`]), e.g. `als`.
    pub kind: String,
    /// Scalar parameters by name.
    pub params: BTreeMap<String, Param>,
    /// Arrays by name.
    pub arrays: BTreeMap<String, Array<'a>>,
}

/// A model that can be taken apart into [`Parts`] and rebuilt from them.
pub trait ModelParts: Sized {
    /// The kind recorded in [`Parts::kind`].
    const KIND: &'static str;

    /// The model as parts, borrowing its arrays.
    fn to_parts(&self) -> Parts<'_>;

    /// Rebuild from parts, checking the kind, every parameter and every shape.
    fn from_parts(parts: Parts<'_>) -> Result<Self, PartsError>;
}

/// Parts do not describe a valid model. Raised on load: a file that passed its checksum but
/// was written by an incompatible or buggy writer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PartsError {
    /// The parts are of another model type.
    #[error("the parts describe a `{got}` model, not `{expected}`")]
    WrongKind {
        /// The kind asked for.
        expected: &'static str,
        /// The kind found.
        got: String,
    },
    /// A required array is absent.
    #[error("{kind}: array `{name}` is missing")]
    MissingArray {
        /// Model kind.
        kind: &'static str,
        /// Array name.
        name: String,
    },
    /// An array has the wrong element type.
    #[error("{kind}: array `{name}` holds {got}, expected {expected}")]
    WrongDType {
        /// Model kind.
        kind: &'static str,
        /// Array name.
        name: String,
        /// Required type.
        expected: DType,
        /// Type found.
        got: DType,
    },
    /// An array has the wrong shape, or disagrees with another array or a parameter.
    #[error("{kind}: array `{name}` has shape {got:?}, expected {expected}")]
    WrongShape {
        /// Model kind.
        kind: &'static str,
        /// Array name.
        name: String,
        /// The rule, e.g. `[n_items, factors] with factors = 8`.
        expected: String,
        /// Shape found.
        got: Vec<usize>,
    },
    /// A required parameter is absent.
    #[error("{kind}: parameter `{name}` is missing")]
    MissingParam {
        /// Model kind.
        kind: &'static str,
        /// Parameter name.
        name: &'static str,
    },
    /// A parameter has the wrong type or an invalid value.
    #[error("{kind}: parameter `{name}` = {value} is invalid: {rule}")]
    BadParam {
        /// Model kind.
        kind: &'static str,
        /// Parameter name.
        name: &'static str,
        /// The value found.
        value: String,
        /// The rule it breaks.
        rule: &'static str,
    },
    /// An element of an array breaks a rule (an index out of bounds, offsets that decrease):
    /// the shapes agree but the contents do not describe a valid structure.
    #[error("{kind}: array `{name}` at position {index}: {rule}")]
    BadValue {
        /// Model kind.
        kind: &'static str,
        /// Array name.
        name: String,
        /// Position of the offending element.
        index: usize,
        /// The rule it breaks, with the values involved.
        rule: String,
    },
    /// A stored sparse matrix breaks the CSR invariants.
    #[error("{kind}: matrix `{name}`: {source}")]
    Matrix {
        /// Model kind.
        kind: &'static str,
        /// Matrix name (array prefix).
        name: String,
        /// The broken invariant.
        source: SparseError,
    },
}

impl<'a> Parts<'a> {
    /// Empty parts of this kind.
    pub fn new(kind: &str) -> Self {
        Self {
            kind: kind.to_string(),
            ..Self::default()
        }
    }

    /// Add a scalar parameter.
    pub fn param(mut self, name: &str, value: Param) -> Self {
        self.params.insert(name.to_string(), value);
        self
    }

    /// Add an `f32` matrix of `rows x cols`, borrowed.
    ///
    /// # Panics
    /// If `data.len() != rows * cols` (a model's own arrays always agree with its shape).
    pub fn f32_matrix(mut self, name: &str, rows: usize, cols: usize, data: &'a [f32]) -> Self {
        let a = Array::new(vec![rows, cols], ArrayData::F32(Cow::Borrowed(data)))
            .expect("model arrays agree with their shape");
        self.arrays.insert(name.to_string(), a);
        self
    }

    /// Add an `f32` vector, borrowed.
    pub fn f32_vector(mut self, name: &str, data: &'a [f32]) -> Self {
        self.arrays.insert(
            name.to_string(),
            Array::vector(ArrayData::F32(Cow::Borrowed(data))),
        );
        self
    }

    /// Add a `u32` vector (indices), borrowed or owned.
    pub fn u32_vector(mut self, name: &str, data: Cow<'a, [u32]>) -> Self {
        self.arrays
            .insert(name.to_string(), Array::vector(ArrayData::U32(data)));
        self
    }

    /// Add a `u64` vector (offsets), borrowed or owned.
    pub fn u64_vector(mut self, name: &str, data: Cow<'a, [u64]>) -> Self {
        self.arrays
            .insert(name.to_string(), Array::vector(ArrayData::U64(data)));
        self
    }

    /// Add a CSR matrix as `{name}.indptr` (`u64`, copied), `{name}.indices` and `{name}.data`
    /// (borrowed), with its column count as parameter `{name}.n_cols`.
    pub fn csr(mut self, name: &str, m: &'a Csr) -> Self {
        let indptr: Vec<u64> = m.indptr().iter().map(|&p| p as u64).collect();
        self.arrays.insert(
            format!("{name}.indptr"),
            Array::vector(ArrayData::U64(Cow::Owned(indptr))),
        );
        self.arrays.insert(
            format!("{name}.indices"),
            Array::vector(ArrayData::U32(Cow::Borrowed(m.indices()))),
        );
        self.arrays.insert(
            format!("{name}.data"),
            Array::vector(ArrayData::F32(Cow::Borrowed(m.data()))),
        );
        self.params
            .insert(format!("{name}.n_cols"), Param::Int(m.n_cols() as i64));
        self
    }

    /// Check that these parts are of `kind`.
    pub fn expect_kind(&self, kind: &'static str) -> Result<(), PartsError> {
        if self.kind == kind {
            Ok(())
        } else {
            Err(PartsError::WrongKind {
                expected: kind,
                got: self.kind.clone(),
            })
        }
    }

    fn get_param(&self, kind: &'static str, name: &'static str) -> Result<&Param, PartsError> {
        self.params
            .get(name)
            .ok_or(PartsError::MissingParam { kind, name })
    }

    /// Integer parameter `name`, which must be at least `min`.
    pub fn usize_param(
        &self,
        kind: &'static str,
        name: &'static str,
        min: usize,
    ) -> Result<usize, PartsError> {
        match self.get_param(kind, name)? {
            Param::Int(v) if *v >= 0 && (*v as u64) <= usize::MAX as u64 && *v as usize >= min => {
                Ok(*v as usize)
            }
            other => Err(PartsError::BadParam {
                kind,
                name,
                value: other.to_string(),
                rule: if min > 0 {
                    "must be a positive integer"
                } else {
                    "must be a non-negative integer"
                },
            }),
        }
    }

    /// Finite real parameter `name`, narrowed to `f32`.
    pub fn f32_param(&self, kind: &'static str, name: &'static str) -> Result<f32, PartsError> {
        match self.get_param(kind, name)? {
            Param::Float(v) if v.is_finite() && v.abs() <= f64::from(f32::MAX) => Ok(*v as f32),
            other => Err(PartsError::BadParam {
                kind,
                name,
                value: other.to_string(),
                rule: "must be a finite number",
            }),
        }
    }

    /// Text parameter `name`.
    pub fn text_param(&self, kind: &'static str, name: &'static str) -> Result<&str, PartsError> {
        match self.get_param(kind, name)? {
            Param::Text(v) => Ok(v),
            other => Err(PartsError::BadParam {
                kind,
                name,
                value: other.to_string(),
                rule: "must be text",
            }),
        }
    }

    fn take(&mut self, kind: &'static str, name: &str) -> Result<Array<'a>, PartsError> {
        self.arrays
            .remove(name)
            .ok_or_else(|| PartsError::MissingArray {
                kind,
                name: name.to_string(),
            })
    }

    /// Take `f32` array `name`, which must have shape `[rows, cols]` (`None` = any size on that
    /// axis); returns the elements and the actual shape.
    pub fn take_f32_matrix(
        &mut self,
        kind: &'static str,
        name: &str,
        rows: Option<usize>,
        cols: Option<usize>,
    ) -> Result<(Vec<f32>, usize, usize), PartsError> {
        let a = self.take(kind, name)?;
        let shape = a.shape.clone();
        let ok = shape.len() == 2
            && rows.is_none_or(|r| shape[0] == r)
            && cols.is_none_or(|c| shape[1] == c);
        if !ok {
            let dim = |d: Option<usize>, what: &str| d.map_or(what.to_string(), |v| v.to_string());
            return Err(PartsError::WrongShape {
                kind,
                name: name.to_string(),
                expected: format!("[{}, {}]", dim(rows, "rows"), dim(cols, "cols")),
                got: shape,
            });
        }
        let data = f32_data(kind, name, a)?;
        Ok((data, shape[0], shape[1]))
    }

    /// Take `f32` vector `name`, which must have `len` elements when given.
    pub fn take_f32_vector(
        &mut self,
        kind: &'static str,
        name: &str,
        len: Option<usize>,
    ) -> Result<Vec<f32>, PartsError> {
        let a = self.take(kind, name)?;
        if a.shape.len() != 1 || len.is_some_and(|n| a.shape[0] != n) {
            return Err(PartsError::WrongShape {
                kind,
                name: name.to_string(),
                expected: len.map_or("a vector".to_string(), |n| format!("[{n}]")),
                got: a.shape,
            });
        }
        f32_data(kind, name, a)
    }

    /// Take `u32` vector `name`, which must have `len` elements when given.
    pub fn take_u32_vector(
        &mut self,
        kind: &'static str,
        name: &str,
        len: Option<usize>,
    ) -> Result<Vec<u32>, PartsError> {
        let a = self.take_vector(kind, name, len)?;
        match a.data {
            ArrayData::U32(v) => Ok(v.into_owned()),
            other => Err(PartsError::WrongDType {
                kind,
                name: name.to_string(),
                expected: DType::U32,
                got: other.dtype(),
            }),
        }
    }

    /// Take `u64` vector `name`, which must have `len` elements when given.
    pub fn take_u64_vector(
        &mut self,
        kind: &'static str,
        name: &str,
        len: Option<usize>,
    ) -> Result<Vec<u64>, PartsError> {
        let a = self.take_vector(kind, name, len)?;
        match a.data {
            ArrayData::U64(v) => Ok(v.into_owned()),
            other => Err(PartsError::WrongDType {
                kind,
                name: name.to_string(),
                expected: DType::U64,
                got: other.dtype(),
            }),
        }
    }

    /// Take array `name`, which must be one-dimensional with `len` elements when given.
    fn take_vector(
        &mut self,
        kind: &'static str,
        name: &str,
        len: Option<usize>,
    ) -> Result<Array<'a>, PartsError> {
        let a = self.take(kind, name)?;
        if a.shape.len() != 1 || len.is_some_and(|n| a.shape[0] != n) {
            return Err(PartsError::WrongShape {
                kind,
                name: name.to_string(),
                expected: len.map_or("a vector".to_string(), |n| format!("[{n}]")),
                got: a.shape,
            });
        }
        Ok(a)
    }

    /// Take the CSR matrix stored by [`Parts::csr`] under `name`, with `rows` rows when given.
    /// Every CSR invariant is checked ([`Csr::from_parts`]).
    pub fn take_csr(
        &mut self,
        kind: &'static str,
        name: &'static str,
        rows: Option<usize>,
    ) -> Result<Csr, PartsError> {
        let n_cols_key = format!("{name}.n_cols");
        let n_cols = match self.params.get(&n_cols_key) {
            None => {
                return Err(PartsError::MissingArray {
                    kind,
                    name: n_cols_key,
                })
            }
            Some(Param::Int(v)) if *v >= 0 && *v <= i64::from(u32::MAX) => *v as usize,
            Some(other) => {
                return Err(PartsError::BadParam {
                    kind,
                    name,
                    value: other.to_string(),
                    rule: "n_cols must be an integer in 0..=u32::MAX",
                })
            }
        };
        let indptr_name = format!("{name}.indptr");
        let indptr = self.take(kind, &indptr_name)?;
        let indptr: Vec<usize> = match indptr.data {
            ArrayData::U64(v) if indptr.shape.len() == 1 => v
                .iter()
                .map(|&p| usize::try_from(p).unwrap_or(usize::MAX))
                .collect(),
            other => {
                return Err(PartsError::WrongDType {
                    kind,
                    name: indptr_name,
                    expected: DType::U64,
                    got: other.dtype(),
                })
            }
        };
        if indptr.is_empty() || rows.is_some_and(|r| indptr.len() != r + 1) {
            return Err(PartsError::WrongShape {
                kind,
                name: indptr_name,
                expected: rows.map_or("[n_rows + 1]".to_string(), |r| format!("[{}]", r + 1)),
                got: vec![indptr.len()],
            });
        }
        let indices_name = format!("{name}.indices");
        let indices = self.take(kind, &indices_name)?;
        let indices = match indices.data {
            ArrayData::U32(v) => v.into_owned(),
            other => {
                return Err(PartsError::WrongDType {
                    kind,
                    name: indices_name,
                    expected: DType::U32,
                    got: other.dtype(),
                })
            }
        };
        let data_name = format!("{name}.data");
        let data = self.take(kind, &data_name)?;
        let data = f32_data(kind, &data_name, data)?;
        Csr::from_parts(indptr.len() - 1, n_cols, indptr, indices, data).map_err(|source| {
            PartsError::Matrix {
                kind,
                name: name.to_string(),
                source,
            }
        })
    }
}

fn f32_data(kind: &'static str, name: &str, a: Array<'_>) -> Result<Vec<f32>, PartsError> {
    match a.data {
        ArrayData::F32(v) => Ok(v.into_owned()),
        other => Err(PartsError::WrongDType {
            kind,
            name: name.to_string(),
            expected: DType::F32,
            got: other.dtype(),
        }),
    }
}

/// `Param::Float` of an `f32` (exact).
pub(crate) fn float(v: f32) -> Param {
    Param::Float(f64::from(v))
}

/// `Param::Int` of a size.
pub(crate) fn int(v: usize) -> Param {
    Param::Int(v as i64)
}

#[cfg(test)]
mod round_trip;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_shape_must_multiply_out() {
        let d = || ArrayData::F32(Cow::Owned(vec![0.0; 6]));
        assert!(Array::new(vec![2, 3], d()).is_some());
        assert!(Array::new(vec![2, 4], d()).is_none());
        assert!(Array::new(vec![usize::MAX, 2], d()).is_none());
    }

    #[test]
    fn dtype_names_round_trip() {
        for t in DType::ALL {
            assert_eq!(DType::from_name(t.name()), Some(t));
        }
        assert_eq!(DType::from_name("i8"), None);
    }

    #[test]
    fn csr_round_trips_and_bad_parts_are_errors() {
        let m = Csr::from_triplets(3, 4, [(0, 1, 1.0), (2, 3, 2.0), (2, 0, 0.5)]).unwrap();
        let mut p = Parts::new("t").csr("m", &m);
        assert_eq!(p.clone().take_csr("t", "m", Some(3)).unwrap(), m);
        assert!(matches!(
            p.clone().take_csr("t", "m", Some(4)),
            Err(PartsError::WrongShape { .. })
        ));
        // Unsorted columns in a row.
        p.arrays.insert(
            "m.indices".into(),
            Array::vector(ArrayData::U32(Cow::Owned(vec![1, 3, 0]))),
        );
        assert!(matches!(
            p.clone().take_csr("t", "m", None),
            Err(PartsError::Matrix { .. })
        ));
        // Row pointers past the end.
        p.arrays.insert(
            "m.indptr".into(),
            Array::vector(ArrayData::U64(Cow::Owned(vec![0, 1, 1, u64::MAX]))),
        );
        assert!(p.take_csr("t", "m", None).is_err());
    }

    #[test]
    fn index_vectors_round_trip_and_are_type_checked() {
        let p = Parts::new("t")
            .u32_vector("a", Cow::Owned(vec![1, 2, 3]))
            .u64_vector("b", Cow::Owned(vec![0, 9]));
        assert_eq!(
            p.clone().take_u32_vector("t", "a", Some(3)).unwrap(),
            [1, 2, 3]
        );
        assert_eq!(p.clone().take_u64_vector("t", "b", None).unwrap(), [0, 9]);
        assert!(matches!(
            p.clone().take_u32_vector("t", "a", Some(2)),
            Err(PartsError::WrongShape { .. })
        ));
        assert!(matches!(
            p.clone().take_u64_vector("t", "a", None),
            Err(PartsError::WrongDType { .. })
        ));
        assert!(matches!(
            p.clone().take_u32_vector("t", "c", None),
            Err(PartsError::MissingArray { .. })
        ));
    }

    #[test]
    fn params_are_checked() {
        let p = Parts::new("t")
            .param("k", Param::Int(-1))
            .param("a", Param::Float(f64::NAN))
            .param("s", Param::Int(3));
        assert!(matches!(
            p.usize_param("t", "k", 1),
            Err(PartsError::BadParam { name: "k", .. })
        ));
        assert!(p.f32_param("t", "a").is_err());
        assert!(p.text_param("t", "s").is_err());
        assert!(matches!(
            p.usize_param("t", "missing", 0),
            Err(PartsError::MissingParam { .. })
        ));
    }
}
