//! When to try a notification again: exponential backoff, a bounded number of attempts, and
//! which answers are worth retrying (Alertmanager's rule for webhooks: 2xx is delivered, 5xx
//! is recoverable, any other answer will not get better by asking again).

use std::time::Duration;

/// How often and how patiently to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (at least 1).
    pub max_attempts: u32,
    /// The wait after the first failure.
    pub initial_backoff: Duration,
    /// The longest wait.
    pub max_backoff: Duration,
}

impl RetryPolicy {
    /// The wait after failed attempt number `attempt` (1-based): `initial × 2^(attempt-1)`,
    /// at most `max_backoff`. No jitter: a handful of replicas do not stampede a receiver,
    /// and a fixed schedule is one an operator can read off the log.
    pub fn delay(&self, attempt: u32) -> Duration {
        let factor = 1u32
            .checked_shl(attempt.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }

    /// The longest a notification can take from its first attempt to giving up, given each
    /// attempt's time limit (what a caller that waits for delivery should allow).
    pub fn worst_case(&self, timeout: Duration) -> Duration {
        let waits: Duration = (1..self.max_attempts).map(|a| self.delay(a)).sum();
        waits + timeout.saturating_mul(self.max_attempts)
    }
}

/// What one attempt's answer means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// 2xx: delivered.
    Delivered(u16),
    /// Worth another attempt: 5xx, 408, 429, or no answer (refused, reset, timed out).
    Retry(String),
    /// Not worth another: any other status (a 4xx says the request itself is wrong).
    GiveUp(String),
}

/// The meaning of an HTTP status.
pub fn classify(status: u16) -> Attempt {
    match status {
        200..=299 => Attempt::Delivered(status),
        408 | 429 | 500..=599 => Attempt::Retry(format!("HTTP {status}")),
        _ => Attempt::GiveUp(format!("HTTP {status}")),
    }
}

/// How a notification ended at one receiver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Whether it was delivered.
    pub delivered: bool,
    /// Attempts made.
    pub attempts: u32,
    /// The last failure (`HTTP 500`, `connection refused`, ...), if not delivered.
    pub error: Option<String>,
}

/// Run `attempt` until it delivers, gives up or `policy.max_attempts` are spent, calling
/// `sleep` with each backoff (the caller's thread sleeps; tests pass a recorder).
pub fn run(
    policy: &RetryPolicy,
    mut attempt: impl FnMut(u32) -> Attempt,
    mut sleep: impl FnMut(Duration),
) -> Outcome {
    let mut last = String::new();
    for n in 1..=policy.max_attempts.max(1) {
        match attempt(n) {
            Attempt::Delivered(_) => {
                return Outcome {
                    delivered: true,
                    attempts: n,
                    error: None,
                }
            }
            Attempt::GiveUp(e) => {
                return Outcome {
                    delivered: false,
                    attempts: n,
                    error: Some(e),
                }
            }
            Attempt::Retry(e) => last = e,
        }
        if n < policy.max_attempts {
            sleep(policy.delay(n));
        }
    }
    Outcome {
        delivered: false,
        attempts: policy.max_attempts.max(1),
        error: Some(last),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(max_attempts: u32) -> RetryPolicy {
        RetryPolicy {
            max_attempts,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(350),
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let p = policy(5);
        let d: Vec<u128> = (1..=5).map(|a| p.delay(a).as_millis()).collect();
        assert_eq!(d, vec![100, 200, 350, 350, 350]);
        assert_eq!(p.delay(200), Duration::from_millis(350));
    }

    #[test]
    fn statuses_are_classified_like_alertmanager() {
        assert_eq!(classify(200), Attempt::Delivered(200));
        assert_eq!(classify(204), Attempt::Delivered(204));
        assert!(matches!(classify(500), Attempt::Retry(_)));
        assert!(matches!(classify(503), Attempt::Retry(_)));
        assert!(matches!(classify(429), Attempt::Retry(_)));
        assert!(matches!(classify(400), Attempt::GiveUp(_)));
        assert!(matches!(classify(404), Attempt::GiveUp(_)));
        assert!(matches!(classify(301), Attempt::GiveUp(_)));
    }

    #[test]
    fn retries_with_backoff_until_delivered() {
        let mut slept = Vec::new();
        let o = run(
            &policy(5),
            |n| {
                if n < 3 {
                    classify(500)
                } else {
                    classify(200)
                }
            },
            |d| slept.push(d.as_millis()),
        );
        assert_eq!(
            o,
            Outcome {
                delivered: true,
                attempts: 3,
                error: None
            }
        );
        assert_eq!(slept, vec![100, 200]);
    }

    #[test]
    fn attempts_are_bounded_and_the_last_error_kept() {
        let mut slept = 0;
        let o = run(
            &policy(3),
            |n| Attempt::Retry(format!("fail {n}")),
            |_| slept += 1,
        );
        assert_eq!(
            o,
            Outcome {
                delivered: false,
                attempts: 3,
                error: Some("fail 3".into())
            }
        );
        assert_eq!(slept, 2, "no wait after the last attempt");
    }

    #[test]
    fn a_client_error_is_not_retried() {
        let mut calls = 0;
        let o = run(
            &policy(5),
            |_| {
                calls += 1;
                classify(400)
            },
            |_| panic!("no wait"),
        );
        assert_eq!(calls, 1);
        assert_eq!(o.error.as_deref(), Some("HTTP 400"));
    }

    #[test]
    fn worst_case_adds_waits_and_timeouts() {
        let p = policy(3);
        assert_eq!(
            p.worst_case(Duration::from_millis(1000)),
            Duration::from_millis(100 + 200 + 3000)
        );
    }
}
