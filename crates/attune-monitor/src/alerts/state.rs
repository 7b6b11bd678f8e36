//! An alert's life, as a pure function of its state, whether its condition holds and the
//! time: inactive → pending → firing → resolved (and back). Kept free of I/O so every
//! transition is unit-tested; the evaluator persists what it returns.

use std::fmt;

/// Where an alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AlertState {
    /// The condition holds and has fired: a notification went out.
    Firing,
    /// The condition holds but not yet for `for_secs`.
    Pending,
    /// It fired, then the condition stopped holding: a resolved notification went out.
    Resolved,
    /// The condition does not hold (or stopped holding before it fired).
    Inactive,
}

impl AlertState {
    /// The stored word.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Firing => "firing",
            AlertState::Pending => "pending",
            AlertState::Resolved => "resolved",
            AlertState::Inactive => "inactive",
        }
    }

    /// The stored word read back; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "firing" => AlertState::Firing,
            "pending" => AlertState::Pending,
            "resolved" => AlertState::Resolved,
            "inactive" => AlertState::Inactive,
            _ => return None,
        })
    }
}

impl fmt::Display for AlertState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A state and when it began (UTC micros).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateSince {
    /// The state.
    pub state: AlertState,
    /// When it began.
    pub since_micros: i64,
}

impl StateSince {
    /// Never evaluated: inactive since the epoch.
    pub const NEW: StateSince = StateSince {
        state: AlertState::Inactive,
        since_micros: 0,
    };
}

/// The state after an evaluation at `now_micros`. `holds` is whether the condition holds;
/// `None` (unknown: no data) changes nothing, so a gap in the data neither fires nor
/// resolves an alert. `for_micros` is how long the condition must hold before firing.
///
/// A pending alert fires once `now - since >= for`, so with ticks every `t` it fires at the
/// first tick at least `for` after the condition was first seen. A firing alert's `since` is
/// when it fired (Alertmanager's `startsAt`).
pub fn next(
    current: StateSince,
    holds: Option<bool>,
    now_micros: i64,
    for_micros: i64,
) -> StateSince {
    use AlertState::{Firing, Inactive, Pending, Resolved};
    let at = |state| StateSince {
        state,
        since_micros: now_micros,
    };
    match (current.state, holds) {
        (_, None) => current,
        (Inactive | Resolved, Some(true)) if for_micros <= 0 => at(Firing),
        (Inactive | Resolved, Some(true)) => at(Pending),
        (Pending, Some(true)) if now_micros.saturating_sub(current.since_micros) >= for_micros => {
            at(Firing)
        }
        (Pending, Some(false)) => at(Inactive),
        (Firing, Some(false)) => at(Resolved),
        (Pending | Firing, Some(true)) | (Inactive | Resolved, Some(false)) => current,
    }
}

/// Whether going from `from` to `to` sends a notification, and which: firing when an alert
/// fires, resolved when a firing alert stops. Pending and inactive are nobody's business.
pub fn notifies(from: AlertState, to: AlertState) -> Option<AlertState> {
    match (from, to) {
        (AlertState::Firing, AlertState::Firing) => None,
        (_, AlertState::Firing) => Some(AlertState::Firing),
        (AlertState::Firing, AlertState::Resolved) => Some(AlertState::Resolved),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::AlertState::*;
    use super::*;

    const MIN: i64 = 60_000_000;

    fn s(state: AlertState, since: i64) -> StateSince {
        StateSince {
            state,
            since_micros: since,
        }
    }

    #[test]
    fn holding_goes_pending_then_fires_after_for() {
        let p = next(StateSince::NEW, Some(true), 10 * MIN, 5 * MIN);
        assert_eq!(p, s(Pending, 10 * MIN));
        assert_eq!(next(p, Some(true), 14 * MIN, 5 * MIN), p);
        assert_eq!(next(p, Some(true), 15 * MIN, 5 * MIN), s(Firing, 15 * MIN));
    }

    #[test]
    fn for_zero_fires_at_once() {
        assert_eq!(next(StateSince::NEW, Some(true), MIN, 0), s(Firing, MIN));
        assert_eq!(
            next(s(Resolved, MIN), Some(true), 2 * MIN, 0),
            s(Firing, 2 * MIN)
        );
    }

    #[test]
    fn pending_that_stops_holding_goes_inactive_without_firing() {
        let p = s(Pending, MIN);
        let q = next(p, Some(false), 2 * MIN, 5 * MIN);
        assert_eq!(q, s(Inactive, 2 * MIN));
        assert_eq!(notifies(p.state, q.state), None);
    }

    #[test]
    fn firing_stays_firing_then_resolves() {
        let f = s(Firing, MIN);
        assert_eq!(next(f, Some(true), 9 * MIN, 5 * MIN), f);
        assert_eq!(
            next(f, Some(false), 10 * MIN, 5 * MIN),
            s(Resolved, 10 * MIN)
        );
    }

    #[test]
    fn resolved_fires_again_through_pending() {
        let r = s(Resolved, MIN);
        assert_eq!(next(r, Some(false), 2 * MIN, 5 * MIN), r);
        assert_eq!(next(r, Some(true), 3 * MIN, 5 * MIN), s(Pending, 3 * MIN));
    }

    #[test]
    fn unknown_changes_nothing_in_any_state() {
        for st in [s(Inactive, 1), s(Pending, 1), s(Firing, 1), s(Resolved, 1)] {
            assert_eq!(next(st, None, 100 * MIN, 0), st);
        }
    }

    #[test]
    fn only_firing_and_its_end_notify() {
        assert_eq!(notifies(Pending, Firing), Some(Firing));
        assert_eq!(notifies(Inactive, Firing), Some(Firing));
        assert_eq!(notifies(Firing, Resolved), Some(Resolved));
        assert_eq!(notifies(Firing, Firing), None);
        assert_eq!(notifies(Inactive, Pending), None);
        assert_eq!(notifies(Pending, Inactive), None);
    }

    #[test]
    fn words_round_trip() {
        for st in [Firing, Pending, Resolved, Inactive] {
            assert_eq!(AlertState::parse(st.as_str()), Some(st));
        }
        assert_eq!(AlertState::parse("FIRING"), None);
    }
}
