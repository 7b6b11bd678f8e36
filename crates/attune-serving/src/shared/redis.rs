//! [`SharedState`] on Redis: generations and lists as plain string keys, through a small pool
//! of synchronous connections with short timeouts.
//!
//! - A generation read is one `MGET` of the app's epoch and the user's token; a missing one is
//!   created with `SET NX` and read back in the same round trip, so racing replicas agree on
//!   whichever token was written first.
//! - The epoch a replica sees is the stored one mixed with the server's `run_id` (read once per
//!   connection), so a restarted or failed-over Redis changes every generation even when it
//!   restored an older snapshot: old tokens coming back (an ABA) would otherwise let a replica
//!   keep a user whose later change the snapshot lost.
//! - A bump is one pipeline of `SET token PX ttl` per user; tokens are random 64-bit values.
//!   Generation keys expire after [`RedisConfig::generation_ttl`] without bumps, which only
//!   costs replicas a reload (a recreated key has a new token).
//! - Lists are `SET key bytes PX ttl` and `GET key`.
//!
//! **Outages.** Any failure (connect, timeout, I/O, an error reply) drops the idle connections
//! and closes the gate: until [`RedisConfig::retry_interval`] has passed, every call fails at
//! once with [`SharedError::Unavailable`] without touching the network, then a single caller
//! probes with a new connection. An idle connection the server closed (a restart, its client
//! timeout) is replaced and the command tried once more, so a Redis that came back is used at
//! once rather than after another pause.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use ::redis::{Client, Connection, RedisError, RedisResult};

use super::{epoch_key, generation_key, SharedError, SharedGeneration, SharedState};

const NAME: &str = "redis";

/// How to reach Redis and how patient to be with it.
#[derive(Debug, Clone, PartialEq)]
pub struct RedisConfig {
    /// `redis://[user:password@]host:port[/db]`.
    pub url: String,
    /// Opening a connection (TCP and handshake) gives up after this long.
    pub connect_timeout: Duration,
    /// One command's write or read gives up after this long.
    pub io_timeout: Duration,
    /// After a failure, no new connection is attempted for this long.
    pub retry_interval: Duration,
    /// Idle connections kept for reuse (more are opened under load and closed after use).
    pub max_idle: usize,
    /// A user's generation key expires this long after its last bump.
    pub generation_ttl: Duration,
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            url: "redis://127.0.0.1:6379".into(),
            connect_timeout: Duration::from_millis(100),
            io_timeout: Duration::from_millis(100),
            retry_interval: Duration::from_millis(500),
            max_idle: 8,
            generation_ttl: Duration::from_secs(24 * 3600),
        }
    }
}

/// A connection and the server it reached (the first 64 bits of its `run_id`).
struct Conn {
    inner: Connection,
    server: u64,
}

/// Shared state in Redis.
pub struct RedisShared {
    client: Client,
    config: RedisConfig,
    idle: Mutex<Vec<Conn>>,
    /// While the gate is closed (after a failure): when the next connection may be attempted.
    retry_at: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for RedisShared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the URL: it may carry a password.
        f.debug_struct("RedisShared")
            .field(
                "addr",
                &self.client.get_connection_info().addr().to_string(),
            )
            .finish_non_exhaustive()
    }
}

impl RedisShared {
    /// Check the address; connects lazily, so a replica starts (degraded) while Redis is down.
    pub fn open(config: RedisConfig) -> Result<Self, SharedError> {
        let client = Client::open(config.url.as_str()).map_err(|e| SharedError::InvalidUrl {
            backend: NAME,
            reason: e.to_string(),
        })?;
        Ok(Self {
            client,
            config,
            idle: Mutex::default(),
            retry_at: Mutex::default(),
        })
    }

    /// The settings.
    pub fn config(&self) -> &RedisConfig {
        &self.config
    }

    /// Run `op` on a pooled or new connection (with the server's id), with the outage rules
    /// of the module docs.
    fn with_conn<T>(
        &self,
        mut op: impl FnMut(&mut Connection, u64) -> RedisResult<T>,
    ) -> Result<T, SharedError> {
        let pooled = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let (mut conn, reused) = match pooled {
            Some(c) => (c, true),
            None => (self.connect()?, false),
        };
        let result = match op(&mut conn.inner, conn.server) {
            Err(e) if reused && e.is_connection_dropped() => {
                conn = self.connect()?;
                op(&mut conn.inner, conn.server)
            }
            other => other,
        };
        match result {
            Ok(v) => {
                *self.retry_at.lock().unwrap_or_else(PoisonError::into_inner) = None;
                let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
                if idle.len() < self.config.max_idle {
                    idle.push(conn);
                }
                Ok(v)
            }
            Err(e) => Err(self.failed(e)),
        }
    }

    /// A new connection with the I/O timeouts set, unless the gate is closed. While closed,
    /// the first caller after `retry_at` probes and moves `retry_at` on, so a down Redis sees
    /// at most one attempt per interval from this replica.
    fn connect(&self) -> Result<Conn, SharedError> {
        {
            let mut retry_at = self.retry_at.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(at) = *retry_at {
                let now = Instant::now();
                if now < at {
                    return Err(SharedError::Unavailable {
                        backend: NAME,
                        retry_in: at - now,
                    });
                }
                *retry_at = Some(now + self.config.retry_interval);
            }
        }
        let io = Some(self.config.io_timeout.max(Duration::from_millis(1)));
        self.client
            .get_connection_with_timeout(self.config.connect_timeout)
            .and_then(|mut c| {
                c.set_read_timeout(io)?;
                c.set_write_timeout(io)?;
                let server = server_id(&mut c)?;
                Ok(Conn { inner: c, server })
            })
            .map_err(|e| self.failed(e))
    }

    /// Close the gate for an interval and drop idle connections (after a restart they are all
    /// dead; after a timeout they may hold a late reply).
    fn failed(&self, e: RedisError) -> SharedError {
        *self.retry_at.lock().unwrap_or_else(PoisonError::into_inner) =
            Some(Instant::now() + self.config.retry_interval);
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        SharedError::Backend {
            backend: NAME,
            source: Box::new(e),
        }
    }

    fn ttl_millis(d: Duration) -> u64 {
        (d.as_millis() as u64).max(1)
    }
}

/// The first 64 bits of the server's `run_id` (random per server process). 0 when the
/// account may not run `INFO`: restarts are then only detected when they lose keys.
fn server_id(c: &mut Connection) -> RedisResult<u64> {
    let info: String = match ::redis::cmd("INFO").arg("server").query(c) {
        Ok(info) => info,
        Err(e) if e.is_io_error() => return Err(e),
        Err(e) => {
            tracing::debug!(error = %e, "INFO not allowed; Redis restarts are not detected");
            return Ok(0);
        }
    };
    Ok(info
        .lines()
        .find_map(|l| l.trim().strip_prefix("run_id:"))
        .and_then(|id| u64::from_str_radix(id.get(..16)?, 16).ok())
        .unwrap_or(0))
}

/// A fresh random token (64 random bits: the two halves of a v4 UUID, whose fixed version
/// and variant bits sit at different positions).
fn token() -> u64 {
    let (hi, lo) = uuid::Uuid::new_v4().as_u64_pair();
    hi ^ lo
}

fn parse_token(key: &str, value: Option<String>) -> Result<u64, SharedError> {
    let protocol = |reason: String| SharedError::Protocol {
        backend: NAME,
        key: key.to_string(),
        reason,
    };
    let v = value.ok_or_else(|| protocol("missing right after it was created".into()))?;
    v.parse::<u64>()
        .map_err(|_| protocol(format!("{v:?} is not a token")))
}

impl SharedState for RedisShared {
    fn user_generation(&self, app: &str, user: &str) -> Result<SharedGeneration, SharedError> {
        let ek = epoch_key(app);
        let gk = generation_key(app, user);
        let ttl = Self::ttl_millis(self.config.generation_ttl);
        let ((epoch, gen), server) = self.with_conn(|c, server| {
            let v: (Option<String>, Option<String>) =
                ::redis::cmd("MGET").arg(&ek).arg(&gk).query(c)?;
            if v.0.is_some() && v.1.is_some() {
                return Ok((v, server));
            }
            // Create what is missing; read back whatever won.
            let (v,): ((Option<String>, Option<String>),) = ::redis::pipe()
                .cmd("SET")
                .arg(&ek)
                .arg(token())
                .arg("NX")
                .ignore()
                .cmd("SET")
                .arg(&gk)
                .arg(token())
                .arg("NX")
                .arg("PX")
                .arg(ttl)
                .ignore()
                .cmd("MGET")
                .arg(&ek)
                .arg(&gk)
                .query(c)?;
            Ok((v, server))
        })?;
        Ok(SharedGeneration {
            epoch: parse_token(&ek, epoch)? ^ server,
            user: parse_token(&gk, gen)?,
        })
    }

    fn bump_users(&self, app: &str, users: &[String]) -> Result<(), SharedError> {
        if users.is_empty() {
            return Ok(());
        }
        let ttl = Self::ttl_millis(self.config.generation_ttl);
        let mut p = ::redis::pipe();
        for u in users {
            p.cmd("SET")
                .arg(generation_key(app, u))
                .arg(token())
                .arg("PX")
                .arg(ttl)
                .ignore();
        }
        self.with_conn(|c, _| p.query::<()>(c))
    }

    fn renew_epoch(&self, app: &str) -> Result<(), SharedError> {
        let ek = epoch_key(app);
        self.with_conn(|c, _| ::redis::cmd("SET").arg(&ek).arg(token()).query::<()>(c))
    }

    fn get_list(&self, key: &str) -> Result<Option<Vec<u8>>, SharedError> {
        self.with_conn(|c, _| ::redis::cmd("GET").arg(key).query(c))
    }

    fn put_list(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), SharedError> {
        let ttl = Self::ttl_millis(ttl);
        self.with_conn(|c, _| {
            ::redis::cmd("SET")
                .arg(key)
                .arg(value)
                .arg("PX")
                .arg(ttl)
                .query::<()>(c)
        })
    }

    fn name(&self) -> &'static str {
        NAME
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A port nothing listens on (bound, then released).
    fn closed_port() -> u16 {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    }

    #[test]
    fn a_bad_url_is_refused_without_io() {
        let err = RedisShared::open(RedisConfig {
            url: "http://nope".into(),
            ..RedisConfig::default()
        })
        .unwrap_err();
        assert!(matches!(err, SharedError::InvalidUrl { .. }), "{err}");
    }

    #[test]
    fn a_down_redis_is_probed_once_per_interval() {
        let r = RedisShared::open(RedisConfig {
            url: format!("redis://127.0.0.1:{}", closed_port()),
            retry_interval: Duration::from_secs(1),
            ..RedisConfig::default()
        })
        .unwrap();
        let t = Instant::now();
        // The first call tries and fails (connection refused)...
        let err = r.get_list("k").unwrap_err();
        assert!(matches!(err, SharedError::Backend { .. }), "{err}");
        // ...the next ones inside the interval do not try at all.
        for _ in 0..100 {
            let err = r.user_generation("shop", "u").unwrap_err();
            assert!(matches!(err, SharedError::Unavailable { .. }), "{err}");
        }
        assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
        std::thread::sleep(Duration::from_millis(1050));
        let err = r.bump_users("shop", &["u".into()]).unwrap_err();
        assert!(matches!(err, SharedError::Backend { .. }), "{err}");
        assert!(matches!(
            r.put_list("k", b"v", Duration::from_secs(1)),
            Err(SharedError::Unavailable { .. })
        ));
    }
}
