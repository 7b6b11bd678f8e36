//! The cold-start chain for a user without history: popular in their onboarding categories,
//! then popular in their segment (`[serving.segments]`), then trending, then popular overall,
//! without repeats and without what they have seen.
//! Each stage runs only while the list is short ([`chain`], pure and tested on its own).

use attune_core::model::topk::top_k_into;
use attune_core::model::Scorer as _;

use super::config::{RecRequest, Recommended};
use super::lists::{popular_items, trending_items};
use super::render::recommended;
use super::snapshot::Snapshot;
use super::AppServing;
use crate::explain::Reason;
use crate::live::LiveUser;

/// A pick of the chain: the model item (so the page can be rendered), its score, why.
type Pick = (u32, f32, Reason);

/// One stage of a chain: given the items taken so far (sorted), its picks, best first.
type Stage<'a, T> = Box<dyn FnOnce(&[u32]) -> Vec<(u32, T)> + 'a>;

/// Up to `want` picks from `stages` in order: a stage runs only while fewer than `want` are
/// picked, sees every item taken so far (`seen` and earlier picks, sorted), and its picks of
/// taken items are skipped.
pub(crate) fn chain<T>(want: usize, seen: &[u32], stages: Vec<Stage<'_, T>>) -> Vec<T> {
    let mut taken: Vec<u32> = seen.to_vec();
    taken.sort_unstable();
    let mut picked = Vec::new();
    for stage in stages {
        if picked.len() >= want {
            break;
        }
        for (i, pick) in stage(&taken) {
            if picked.len() >= want {
                break;
            }
            if let Err(at) = taken.binary_search(&i) {
                taken.insert(at, i);
                picked.push(pick);
            }
        }
    }
    picked
}

/// The best `want` of `scores` among `allowed` items not `taken`, keeping only positive
/// scores: an item nobody in the category or segment touched is no pick of that stage.
fn best_positive(
    mut scores: Vec<f32>,
    allowed: &[bool],
    want: usize,
    taken: &[u32],
) -> Vec<(u32, f32)> {
    for (s, ok) in scores.iter_mut().zip(allowed) {
        if !ok {
            *s = f32::NEG_INFINITY;
        }
    }
    let mut top = Vec::new();
    top_k_into(&scores, want, taken, &mut top);
    top.retain(|e| e.1 > 0.0 && e.1.is_finite());
    top
}

/// The chain for `live`'s user (see the module docs), one page of `req`.
pub(crate) fn cold_start(
    a: &AppServing,
    snap: &Snapshot,
    live: &LiveUser,
    req: &RecRequest,
    seen: &[u32],
    allowed: &[bool],
) -> Vec<Recommended> {
    let want = req.offset + req.n;
    let full = RecRequest {
        n: want,
        offset: 0,
        ..req.clone()
    };
    let preferred: Vec<u32> = live
        .preferred_categories
        .iter()
        .filter_map(|c| snap.catalog.category_names().get(c))
        .collect();
    let in_preferred: Stage<'_, Pick> = Box::new(|taken| {
        let Some(cp) = snap
            .category_popularity
            .as_ref()
            .filter(|_| !preferred.is_empty())
        else {
            return Vec::new();
        };
        let repr = cp.for_categories(&preferred);
        let mut scores = vec![0f32; snap.model.items.len()];
        cp.score_all_into(&repr, &mut scores);
        best_positive(scores, allowed, want, taken)
            .into_iter()
            .map(|(i, s)| {
                let category = preferred
                    .iter()
                    .copied()
                    .find(|c| snap.catalog.categories(i).contains(c))
                    .unwrap_or(preferred[0]);
                (i, (i, s, Reason::PopularIn { category }))
            })
            .collect()
    });
    let in_segment: Stage<'_, Pick> = Box::new(|taken| {
        let Some((prefs, segment)) = snap
            .segments
            .as_ref()
            .zip(live.segment.as_deref())
            .and_then(|(p, s)| Some((p, p.get(s)?)))
        else {
            return Vec::new();
        };
        let mut scores = vec![0f32; snap.model.items.len()];
        if !prefs.popularity.scores_into(segment, &mut scores) {
            return Vec::new();
        }
        best_positive(scores, allowed, want, taken)
            .into_iter()
            .map(|(i, s)| (i, (i, s, Reason::PopularInSegment { segment })))
            .collect()
    });
    let trending: Stage<'_, Pick> = Box::new(|taken| {
        trending_items(a, snap, &full, taken, allowed)
            .into_iter()
            .map(|(i, s)| (i, (i, s, Reason::Trending)))
            .collect()
    });
    let popular: Stage<'_, Pick> = Box::new(|taken| {
        popular_items(snap, &full, taken, allowed)
            .into_iter()
            .map(|(i, s)| (i, (i, s, Reason::Popular)))
            .collect()
    });
    chain(
        want,
        seen,
        vec![in_preferred, in_segment, trending, popular],
    )
    .into_iter()
    .skip(req.offset)
    .take(req.n)
    .map(|(i, s, r)| recommended(snap, i, s, r))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed(picks: &[u32]) -> Stage<'static, u32> {
        let picks = picks.to_vec();
        Box::new(move |_| picks.into_iter().map(|i| (i, i)).collect())
    }

    #[test]
    fn stages_fill_in_order_without_repeats_or_seen_items() {
        let picked = chain(
            5,
            &[7, 2],
            vec![fixed(&[1, 2]), fixed(&[3, 1, 7]), fixed(&[4, 5, 6])],
        );
        assert_eq!(picked, vec![1, 3, 4, 5, 6]);
    }

    #[test]
    fn a_stage_sees_what_is_taken_and_later_stages_do_not_run_once_full() {
        let second: Stage<'_, u32> = Box::new(|taken| {
            assert_eq!(taken, &[1, 2, 9]);
            vec![(5, 5), (6, 6)]
        });
        let never: Stage<'_, u32> = Box::new(|_| panic!("the list is full already"));
        let picked = chain(3, &[9], vec![fixed(&[2, 1]), second, never]);
        assert_eq!(picked, vec![2, 1, 5]);
    }

    #[test]
    fn short_stages_give_a_short_list() {
        assert_eq!(chain(4, &[], vec![fixed(&[]), fixed(&[8])]), vec![8]);
        assert!(chain::<u32>(0, &[], vec![fixed(&[1])]).is_empty());
    }
}
