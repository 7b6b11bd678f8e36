//! RFM: recency, frequency and monetary value per actor.
//!
//! The classic engagement summary: how long since the actor last did something, how often they
//! act, and how much they spend. It separates highly engaged users from casual and lapsed ones,
//! both as model inputs and for per-segment tuning.

use std::collections::HashMap;

use crate::clean::is_user_action;
use crate::event::{Event, EventType};
use crate::time::{Timestamp, MICROS_PER_DAY};

/// The RFM values of one actor.
#[derive(Debug, Clone, PartialEq)]
pub struct Rfm<'a> {
    /// The actor ([`Event::actor`]).
    pub actor: &'a str,
    /// Days (fractional) from the actor's last action at or before `now` to `now`.
    pub recency_days: f64,
    /// Actions in the period `(now - period, now]`.
    pub frequency: u64,
    /// Sum of `price × quantity` (quantity defaults to 1) over purchases in the period.
    /// Purchases without a price add nothing.
    pub monetary: f64,
}

/// RFM per actor as of `now`, over a period of `period_days` days (`u32::MAX` for all history).
///
/// Only user actions count (impressions are left out: see [`is_user_action`]). Events after
/// `now` are ignored, so RFM can be computed "as of" a train/test split time without leaking
/// the future. An actor whose last action predates the period still appears, with frequency 0:
/// lapsed users are exactly who RFM is meant to find. Sorted by actor.
pub fn rfm(events: &[Event], now: Timestamp, period_days: u32) -> Vec<Rfm<'_>> {
    let now_us = now.utc_micros;
    let period_start = now_us.saturating_sub(i64::from(period_days).saturating_mul(MICROS_PER_DAY));
    // actor -> (last action, frequency, monetary)
    let mut acc: HashMap<&str, (i64, u64, f64)> = HashMap::new();
    for e in events {
        let t = e.timestamp.utc_micros;
        if t > now_us || !is_user_action(&e.event_type) {
            continue;
        }
        let entry = acc.entry(e.actor()).or_insert((i64::MIN, 0, 0.0));
        entry.0 = entry.0.max(t);
        if t > period_start {
            entry.1 += 1;
            if e.event_type == EventType::Purchase {
                if let Some(price) = e.properties.price {
                    entry.2 += price * f64::from(e.properties.quantity.unwrap_or(1));
                }
            }
        }
    }
    let mut out: Vec<Rfm<'_>> = acc
        .into_iter()
        .map(|(actor, (last, frequency, monetary))| Rfm {
            actor,
            recency_days: (now_us - last) as f64 / MICROS_PER_DAY as f64,
            frequency,
            monetary,
        })
        .collect();
    out.sort_unstable_by(|a, b| a.actor.cmp(b.actor));
    out
}

/// Quintile scores 1..=5 (5 = best) of one actor, for RFM segmentation ("555" = champions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RfmScore {
    /// 5 for the most recent fifth of actors.
    pub recency: u8,
    /// 5 for the most frequent fifth.
    pub frequency: u8,
    /// 5 for the biggest spenders.
    pub monetary: u8,
}

/// Score each value 1..=5 by its rank; tied values share the score of the first of them, so
/// equal behaviour always gets equal scores.
fn quintiles(values: &[f64], higher_is_better: bool) -> Vec<u8> {
    let n = values.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| {
        let c = values[a].total_cmp(&values[b]);
        if higher_is_better {
            c
        } else {
            c.reverse()
        }
    });
    let mut scores = vec![0u8; n];
    let mut first_of_tie = 0;
    for (rank, &i) in order.iter().enumerate() {
        if rank > 0 && values[i] != values[order[rank - 1]] {
            first_of_tie = rank;
        }
        scores[i] = 1 + (5 * first_of_tie / n) as u8;
    }
    scores
}

/// Quintile scores for each entry of `rfm`, in the same order.
pub fn rfm_scores(rfm: &[Rfm<'_>]) -> Vec<RfmScore> {
    let r = quintiles(
        &rfm.iter().map(|x| x.recency_days).collect::<Vec<_>>(),
        false,
    );
    let f = quintiles(
        &rfm.iter().map(|x| x.frequency as f64).collect::<Vec<_>>(),
        true,
    );
    let m = quintiles(&rfm.iter().map(|x| x.monetary).collect::<Vec<_>>(), true);
    (0..rfm.len())
        .map(|i| RfmScore {
            recency: r[i],
            frequency: f[i],
            monetary: m[i],
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Properties;
    use crate::time::MICROS_PER_SEC;

    /// 2026-11-28T12:00:00Z
    const NOW: i64 = 1_795_867_200 * MICROS_PER_SEC;

    fn ev(
        actor: &str,
        t: EventType,
        days_ago: f64,
        price: Option<f64>,
        quantity: Option<u32>,
    ) -> Event {
        Event {
            event_id: format!("{actor}-{days_ago}"),
            event_type: t,
            user_id: Some(actor.to_string()),
            anonymous_id: None,
            item_id: Some("sku-1".into()),
            timestamp: Timestamp::from_utc_micros(NOW - (days_ago * MICROS_PER_DAY as f64) as i64),
            value: None,
            properties: Properties {
                price,
                quantity,
                ..Default::default()
            },
            context: Default::default(),
        }
    }

    #[test]
    fn recency_frequency_monetary_over_a_30_day_period() {
        use EventType::*;
        let events = vec![
            // ana: regular buyer
            ev("ana", View, 2.0, None, None),
            ev("ana", Purchase, 1.5, Some(19.99), Some(2)),
            ev("ana", Purchase, 10.0, Some(5.0), None),
            ev("ana", Purchase, 45.0, Some(1000.0), None), // before the period
            ev("ana", Impression, 0.1, None, None),        // shown, not done
            // ben: lapsed
            ev("ben", Click, 60.0, None, None),
            // cy: acts tomorrow only (clock skew or test data): not as of now
            ev("cy", View, -1.0, None, None),
            // dee: a purchase without a price
            ev("dee", Purchase, 0.5, None, Some(3)),
        ];
        let now = Timestamp::from_utc_micros(NOW);
        let got = rfm(&events, now, 30);
        let actors: Vec<&str> = got.iter().map(|r| r.actor).collect();
        assert_eq!(actors, vec!["ana", "ben", "dee"]);
        assert_eq!(got[0].recency_days, 1.5);
        assert_eq!(got[0].frequency, 3);
        assert!(
            (got[0].monetary - 44.98).abs() < 1e-9,
            "{}",
            got[0].monetary
        );
        assert_eq!(
            (got[1].recency_days, got[1].frequency, got[1].monetary),
            (60.0, 0, 0.0)
        );
        assert_eq!((got[2].frequency, got[2].monetary), (1, 0.0));

        let all_time = rfm(&events, now, u32::MAX);
        assert_eq!(all_time[0].frequency, 4);
        assert!((all_time[0].monetary - 1044.98).abs() < 1e-9);
        assert_eq!(all_time[1].frequency, 1);
    }

    #[test]
    fn quintile_scores_rank_and_share_ties() {
        assert_eq!(
            quintiles(&[10.0, 20.0, 30.0, 40.0, 50.0], true),
            vec![1, 2, 3, 4, 5]
        );
        assert_eq!(
            quintiles(&[10.0, 20.0, 30.0, 40.0, 50.0], false),
            vec![5, 4, 3, 2, 1]
        );
        assert_eq!(
            quintiles(&[0.0, 0.0, 0.0, 0.0, 9.0], true),
            vec![1, 1, 1, 1, 5]
        );
        let ten: Vec<f64> = (0..10).map(f64::from).collect();
        assert_eq!(quintiles(&ten, true), vec![1, 1, 2, 2, 3, 3, 4, 4, 5, 5]);
        assert!(quintiles(&[], true).is_empty());
    }

    #[test]
    fn scores_line_up_with_rfm_rows() {
        let rows = vec![
            Rfm {
                actor: "a",
                recency_days: 1.0,
                frequency: 40,
                monetary: 500.0,
            },
            Rfm {
                actor: "b",
                recency_days: 90.0,
                frequency: 1,
                monetary: 0.0,
            },
        ];
        let s = rfm_scores(&rows);
        assert_eq!(
            s[0],
            RfmScore {
                recency: 3,
                frequency: 3,
                monetary: 3
            }
        );
        assert_eq!(
            s[1],
            RfmScore {
                recency: 1,
                frequency: 1,
                monetary: 1
            }
        );
    }
}
