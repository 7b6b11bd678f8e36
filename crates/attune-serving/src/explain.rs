//! Why an item is in a list, in words an end user can be shown.
//!
//! Personalized items are explained by the history item most similar to them under the model's
//! own similarity ("Because you viewed *Dune*"); when none is similar enough, by a category the
//! user engages with ("Matches your interest in *Sci-fi*"); otherwise "Recommended for you".
//! Non-personalized lists say what they are ("Popular in *Books*", "Trending now", "Popular").
//! An item added since the model was trained says which recent item it is like ("New, like
//! *Trail shoe Alpha*").

/// The reason for one item (indices are the model's item and category indices).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reason {
    /// Similar to an item of the user's history.
    Because {
        /// The history item.
        item: u32,
        /// The user rated it (explicit-feedback models) rather than viewed it.
        rated: bool,
    },
    /// In a category the user engages with.
    InterestIn {
        /// The category.
        category: u32,
    },
    /// The personalized model ranked it, no single reason stands out.
    ForYou,
    /// Among the most popular items of a preferred category (cold start).
    PopularIn {
        /// The category.
        category: u32,
    },
    /// Trending (time-decayed interactions).
    Trending,
    /// A catalog item newer than the model, listed by its content's similarity to an item of
    /// the user's recent history ([`attune_core::model::fresh`]).
    NewItemLike {
        /// The history item (a model item).
        item: u32,
    },
    /// Among the most popular items of the user's segment (cold start, `[serving.segments]`).
    PopularInSegment {
        /// The segment, an index into the snapshot's segments.
        segment: u32,
    },
    /// Popular overall.
    Popular,
}

impl Reason {
    /// A short machine-readable kind: `because`, `interest`, `for_you`, `popular_in`,
    /// `trending`, `popular`, `new_item_like`, `popular_in_segment`.
    pub fn kind(&self) -> &'static str {
        match self {
            Reason::Because { .. } => "because",
            Reason::InterestIn { .. } => "interest",
            Reason::ForYou => "for_you",
            Reason::PopularIn { .. } => "popular_in",
            Reason::Trending => "trending",
            Reason::Popular => "popular",
            Reason::NewItemLike { .. } => "new_item_like",
            Reason::PopularInSegment { .. } => "popular_in_segment",
        }
    }

    /// The sentence shown to a user; `item_name`, `category_name` and `segment_name` turn
    /// indices into names.
    pub fn text(
        &self,
        item_name: impl Fn(u32) -> String,
        category_name: impl Fn(u32) -> String,
        segment_name: impl Fn(u32) -> String,
    ) -> String {
        match *self {
            Reason::Because { item, rated: false } => {
                format!("Because you viewed {}", item_name(item))
            }
            Reason::Because { item, rated: true } => {
                format!("Because you rated {}", item_name(item))
            }
            Reason::InterestIn { category } => {
                format!("Matches your interest in {}", category_name(category))
            }
            Reason::ForYou => "Recommended for you".into(),
            Reason::PopularIn { category } => format!("Popular in {}", category_name(category)),
            Reason::Trending => "Trending now".into(),
            Reason::Popular => "Popular".into(),
            Reason::NewItemLike { item } => format!("New, like {}", item_name(item)),
            Reason::PopularInSegment { segment } => {
                format!("Popular with users like you ({})", segment_name(segment))
            }
        }
    }
}

/// Below this similarity a history item does not "explain" a recommendation.
pub const MIN_SIMILARITY: f32 = 0.05;

/// The reason for personalized item `item`: the most similar of `history` (most recent first,
/// already capped by the caller; `sims[k]` is the similarity of `history[k]` to `item`) if
/// similar enough, else the user's strongest category that the item belongs to, else
/// [`Reason::ForYou`].
pub fn personalized(
    item: u32,
    history: &[u32],
    rated: bool,
    sims: &[f32],
    item_categories: &[u32],
    user_categories: &[u32],
) -> Reason {
    debug_assert_eq!(history.len(), sims.len(), "one similarity per history item");
    let mut best: Option<(u32, f32)> = None;
    for (&h, &s) in history.iter().zip(sims) {
        if h == item {
            continue;
        }
        if s >= MIN_SIMILARITY && best.is_none_or(|(_, b)| s > b) {
            best = Some((h, s));
        }
    }
    if let Some((h, _)) = best {
        return Reason::Because { item: h, rated };
    }
    user_categories
        .iter()
        .find(|c| item_categories.contains(c))
        .map_or(Reason::ForYou, |&category| Reason::InterestIn { category })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_similar_history_item_explains() {
        let sim = |a: u32, b: u32| match (a.min(b), a.max(b)) {
            (1, 7) => 0.9,
            (2, 7) => 0.3,
            _ => 0.0,
        };
        let sims =
            |item: u32, history: &[u32]| history.iter().map(|&h| sim(h, item)).collect::<Vec<_>>();
        let r = personalized(7, &[2, 1, 3], false, &sims(7, &[2, 1, 3]), &[], &[]);
        assert_eq!(
            r,
            Reason::Because {
                item: 1,
                rated: false
            }
        );
        let name = |i: u32| format!("item {i}");
        let cat = |c: u32| format!("cat {c}");
        let seg = |s: u32| format!("segment {s}");
        assert_eq!(r.text(name, cat, seg), "Because you viewed item 1");
        // Nothing similar: the user's first category the item is in.
        let r = personalized(8, &[2], false, &sims(8, &[2]), &[4, 5], &[5, 4]);
        assert_eq!(r, Reason::InterestIn { category: 5 });
        assert_eq!(r.text(name, cat, seg), "Matches your interest in cat 5");
        assert_eq!(personalized(8, &[], true, &[], &[1], &[2]), Reason::ForYou);
        assert_eq!(
            Reason::PopularIn { category: 2 }.text(name, cat, seg),
            "Popular in cat 2"
        );
        assert_eq!(Reason::Trending.kind(), "trending");
        let new = Reason::NewItemLike { item: 3 };
        assert_eq!(
            (new.kind(), new.text(name, cat, seg).as_str()),
            ("new_item_like", "New, like item 3")
        );
        let r = Reason::PopularInSegment { segment: 1 };
        assert_eq!(
            (r.kind(), r.text(name, cat, seg).as_str()),
            (
                "popular_in_segment",
                "Popular with users like you (segment 1)"
            )
        );
    }
}
