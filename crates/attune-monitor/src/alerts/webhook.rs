//! One webhook receiver: POST a JSON body, retried by [`crate::alerts::retry`]. Blocking
//! (ureq): it runs on the notifier's delivery thread, or in `attune alerts test-webhook`,
//! never on the evaluation tick.

use std::time::Duration;

use crate::alerts::retry::{self, Attempt, Outcome, RetryPolicy};

/// A webhook receiver.
#[derive(Debug, Clone)]
pub struct Webhook {
    url: String,
    agent: ureq::Agent,
}

impl Webhook {
    /// A receiver at `url` (checked by [`crate::alerts::sinks::check_webhook_url`]); each
    /// attempt may take `timeout` in all.
    pub fn new(url: &str, timeout: Duration) -> Self {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            // Every status is an answer to classify, not an error.
            .http_status_as_error(false)
            // A redirected POST is not a delivery; it is reported as the 3xx it is.
            .max_redirects(0)
            .user_agent(concat!("attune/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Self {
            url: url.to_string(),
            agent,
        }
    }

    /// Where it posts.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// One POST of `body` (JSON).
    pub fn post_once(&self, body: &[u8]) -> Attempt {
        match self
            .agent
            .post(&self.url)
            .header("content-type", "application/json")
            .send(body)
        {
            Ok(res) => retry::classify(res.status().as_u16()),
            Err(e) => Attempt::Retry(e.to_string()),
        }
    }

    /// POST `body` until delivered or `policy` gives up, sleeping between attempts.
    pub fn deliver(&self, body: &[u8], policy: &RetryPolicy) -> Outcome {
        retry::run(policy, |_| self.post_once(body), std::thread::sleep)
    }
}
