//! The binary form of a shared list: what one replica computed, in the model's own indices, so
//! another replica serving the same version renders the same items and explanations from its
//! snapshot. Titles and sentences are not stored: they come from the local catalog.
//!
//! Layout (little-endian): a format byte ([`FORMAT`]), the source (`u8`), the item count
//! (`u32`), then per item its model index (`u32`), score (`f32`), reason kind (`u8`) and the
//! reason's payload (`u32`: the history item, the category or the segment, else 0). 13 bytes per item.
//!
//! **Invariant:** decoding never panics and never yields an index the snapshot does not have:
//! every byte is checked (format, source, kinds, exact length, item and category ranges,
//! finite scores), so a value from another build, a truncated write or garbage is an error the
//! caller treats as a miss.

use crate::engine::Source;
use crate::explain::Reason;

/// Bump when the layout changes: replicas of different builds then miss each other's lists
/// instead of misreading them.
pub const FORMAT: u8 = 1;

const HEADER: usize = 1 + 1 + 4;
const PER_ITEM: usize = 4 + 4 + 1 + 4;

/// One item of a list as stored: model item index, score, reason.
pub type ListItem = (u32, f32, Reason);

/// Why bytes are not a list this snapshot can serve.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    /// Shorter than the header, or not exactly header + count × 13 bytes.
    #[error("{found} bytes, expected {expected}")]
    Length {
        /// Bytes expected (the header's size when even that is missing).
        expected: usize,
        /// Bytes present.
        found: usize,
    },
    /// Written by a build with another layout.
    #[error("format {found}, this build reads {FORMAT}")]
    Format {
        /// The format byte.
        found: u8,
    },
    /// An unknown source or reason kind.
    #[error("unknown {what} code {code} (item {at})")]
    Code {
        /// `source` or `reason`.
        what: &'static str,
        /// The byte.
        code: u8,
        /// Position of the item (0 for the source).
        at: usize,
    },
    /// An item or category index the snapshot does not have.
    #[error("item {at}: {what} index {index} out of range (0..{len})")]
    OutOfRange {
        /// `item` or `category`.
        what: &'static str,
        /// The index.
        index: u32,
        /// How many there are.
        len: usize,
        /// Position of the item.
        at: usize,
    },
    /// A score that is NaN or infinite (lists only ever hold finite scores).
    #[error("item {at}: score {score} is not finite")]
    Score {
        /// The score.
        score: f32,
        /// Position of the item.
        at: usize,
    },
}

fn source_code(s: Source) -> u8 {
    match s {
        Source::Personalized => 0,
        Source::ColdStart => 1,
        Source::NonPersonalized => 2,
        Source::Popular => 3,
        Source::Trending => 4,
        Source::Similar => 5,
        Source::Holdout => 6,
    }
}

fn reason_code(r: Reason) -> (u8, u32) {
    match r {
        Reason::Because { item, rated: false } => (0, item),
        Reason::Because { item, rated: true } => (1, item),
        Reason::InterestIn { category } => (2, category),
        Reason::ForYou => (3, 0),
        Reason::PopularIn { category } => (4, category),
        Reason::Trending => (5, 0),
        Reason::Popular => (6, 0),
        // Lists with fresh items are never shared (their items are not model items); the
        // code is here so every reason has one.
        Reason::NewItemLike { item } => (7, item),
        Reason::PopularInSegment { segment } => (8, segment),
    }
}

/// Encode a list.
pub fn encode(source: Source, items: &[ListItem]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + PER_ITEM * items.len());
    out.push(FORMAT);
    out.push(source_code(source));
    out.extend_from_slice(&(items.len() as u32).to_le_bytes());
    for &(item, score, reason) in items {
        let (kind, payload) = reason_code(reason);
        out.extend_from_slice(&item.to_le_bytes());
        out.extend_from_slice(&score.to_le_bytes());
        out.push(kind);
        out.extend_from_slice(&payload.to_le_bytes());
    }
    out
}

/// Decode a list for a snapshot with `n_items` items and `n_categories` categories.
pub fn decode(
    bytes: &[u8],
    n_items: usize,
    n_categories: usize,
    n_segments: usize,
) -> Result<(Source, Vec<ListItem>), DecodeError> {
    if bytes.len() < HEADER {
        return Err(DecodeError::Length {
            expected: HEADER,
            found: bytes.len(),
        });
    }
    if bytes[0] != FORMAT {
        return Err(DecodeError::Format { found: bytes[0] });
    }
    let source = match bytes[1] {
        0 => Source::Personalized,
        1 => Source::ColdStart,
        2 => Source::NonPersonalized,
        3 => Source::Popular,
        6 => Source::Holdout,
        4 => Source::Trending,
        5 => Source::Similar,
        code => {
            return Err(DecodeError::Code {
                what: "source",
                code,
                at: 0,
            })
        }
    };
    let n = u32_at(bytes, 2) as usize;
    let expected = n
        .checked_mul(PER_ITEM)
        .and_then(|b| b.checked_add(HEADER))
        .unwrap_or(usize::MAX);
    if bytes.len() != expected {
        return Err(DecodeError::Length {
            expected,
            found: bytes.len(),
        });
    }
    let item_index = |index: u32, at: usize| in_range("item", index, n_items, at);
    let category_index = |index: u32, at: usize| in_range("category", index, n_categories, at);
    let segment_index = |index: u32, at: usize| in_range("segment", index, n_segments, at);
    let mut items = Vec::with_capacity(n);
    for at in 0..n {
        let o = HEADER + at * PER_ITEM;
        let item = item_index(u32_at(bytes, o), at)?;
        let score = f32::from_bits(u32_at(bytes, o + 4));
        if !score.is_finite() {
            return Err(DecodeError::Score { score, at });
        }
        let payload = u32_at(bytes, o + 9);
        let reason = match bytes[o + 8] {
            0 => Reason::Because {
                item: item_index(payload, at)?,
                rated: false,
            },
            1 => Reason::Because {
                item: item_index(payload, at)?,
                rated: true,
            },
            2 => Reason::InterestIn {
                category: category_index(payload, at)?,
            },
            3 => Reason::ForYou,
            4 => Reason::PopularIn {
                category: category_index(payload, at)?,
            },
            5 => Reason::Trending,
            6 => Reason::Popular,
            7 => Reason::NewItemLike {
                item: item_index(payload, at)?,
            },
            8 => Reason::PopularInSegment {
                segment: segment_index(payload, at)?,
            },
            code => {
                return Err(DecodeError::Code {
                    what: "reason",
                    code,
                    at,
                })
            }
        };
        items.push((item, score, reason));
    }
    Ok((source, items))
}

/// `index` if it is below `len`, else the error naming `what` and the item position `at`.
fn in_range(what: &'static str, index: u32, len: usize, at: usize) -> Result<u32, DecodeError> {
    if (index as usize) < len {
        Ok(index)
    } else {
        Err(DecodeError::OutOfRange {
            what,
            index,
            len,
            at,
        })
    }
}

/// The `u32` at `o` (the caller checked the length).
fn u32_at(bytes: &[u8], o: usize) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&bytes[o..o + 4]);
    u32::from_le_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_reason() -> Vec<ListItem> {
        vec![
            (
                3,
                0.75,
                Reason::Because {
                    item: 9,
                    rated: false,
                },
            ),
            (
                4,
                -1.5,
                Reason::Because {
                    item: 0,
                    rated: true,
                },
            ),
            (5, 0.0, Reason::InterestIn { category: 2 }),
            (6, 1e-8, Reason::ForYou),
            (7, 42.0, Reason::PopularIn { category: 0 }),
            (8, 3.5, Reason::Trending),
            (9, 1.0, Reason::Popular),
            (1, 0.5, Reason::NewItemLike { item: 2 }),
            (2, 0.25, Reason::PopularInSegment { segment: 1 }),
        ]
    }

    #[test]
    fn lists_round_trip_with_every_source_and_reason() {
        for source in [
            Source::Personalized,
            Source::ColdStart,
            Source::NonPersonalized,
            Source::Popular,
        ] {
            let items = every_reason();
            let bytes = encode(source, &items);
            assert_eq!(bytes.len(), HEADER + PER_ITEM * items.len());
            assert_eq!(decode(&bytes, 10, 3, 2).unwrap(), (source, items));
        }
        let empty = encode(Source::ColdStart, &[]);
        assert_eq!(
            decode(&empty, 0, 0, 2).unwrap(),
            (Source::ColdStart, vec![])
        );
    }

    #[test]
    fn truncated_or_extended_bytes_are_errors() {
        let bytes = encode(Source::Personalized, &every_reason());
        for cut in 0..bytes.len() {
            let err = decode(&bytes[..cut], 10, 3, 2).unwrap_err();
            assert!(matches!(err, DecodeError::Length { .. }), "{cut}: {err}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(matches!(
            decode(&longer, 10, 3, 2),
            Err(DecodeError::Length { .. })
        ));
        // A count so large the expected length overflows.
        let mut huge = bytes;
        huge[2..6].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            decode(&huge, 10, 3, 2),
            Err(DecodeError::Length { .. })
        ));
    }

    #[test]
    fn foreign_formats_codes_indices_and_scores_are_errors() {
        let good = encode(Source::Personalized, &every_reason());
        let with = |at: usize, b: u8| {
            let mut v = good.clone();
            v[at] = b;
            v
        };
        assert_eq!(
            decode(&with(0, FORMAT + 1), 10, 3, 2),
            Err(DecodeError::Format { found: FORMAT + 1 })
        );
        assert!(matches!(
            decode(&with(1, 9), 10, 3, 2),
            Err(DecodeError::Code { what: "source", .. })
        ));
        // The first item's reason kind.
        assert!(matches!(
            decode(&with(HEADER + 8, 200), 10, 3, 2),
            Err(DecodeError::Code { what: "reason", .. })
        ));
        // Fewer items or categories than the list names (another version's snapshot).
        assert!(matches!(
            decode(&good, 9, 3, 2),
            Err(DecodeError::OutOfRange { what: "item", .. })
        ));
        assert!(matches!(
            decode(&good, 10, 2, 2),
            Err(DecodeError::OutOfRange {
                what: "category",
                ..
            })
        ));
        // A segment the decoding snapshot does not have (it counted fewer segments).
        assert!(matches!(
            decode(&good, 10, 3, 1),
            Err(DecodeError::OutOfRange {
                what: "segment",
                ..
            })
        ));
        let nan = encode(Source::Popular, &[(1, f32::NAN, Reason::Popular)]);
        assert!(matches!(
            decode(&nan, 10, 3, 2),
            Err(DecodeError::Score { .. })
        ));
    }

    #[test]
    fn garbage_never_panics() {
        // A fixed xorshift stream: random lengths and bytes, some with a valid header.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..20_000 {
            let len = (next() % 80) as usize;
            let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if len >= HEADER && next() % 2 == 0 {
                bytes[0] = FORMAT;
                bytes[1] = (next() % 4) as u8;
                let n = ((len - HEADER) / PER_ITEM) as u32;
                bytes[2..6].copy_from_slice(&n.to_le_bytes());
            }
            if let Ok((_, items)) = decode(&bytes, 16, 4, 2) {
                assert!(items.iter().all(|&(i, s, _)| i < 16 && s.is_finite()));
            }
        }
    }
}
