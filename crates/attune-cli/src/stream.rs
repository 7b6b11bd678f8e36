//! Running `[ingest.kafka]` beside the API (`attune serve`) or alone (`attune consume`): the
//! threads, their stop flag, and the origin name that keeps a replica from applying its own
//! changes twice.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::thread::JoinHandle;

use anyhow::Context as _;
use attune_server::streams::Publisher;
use attune_server::AppState;
use attune_stream::rabbit::RabbitConsumer;
use attune_stream::{Consumer, Fanout, Follower, Status, StoreSink, TopicPublisher};

use crate::config::Settings;

/// The running stream threads; dropping it stops them (the batch in hand is finished first).
pub struct Running {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    fanout: Option<Arc<Fanout>>,
    publisher: Option<Arc<TopicPublisher>>,
}

impl Running {
    fn new() -> Self {
        Self {
            stop: Arc::new(AtomicBool::new(false)),
            threads: Vec::new(),
            fanout: None,
            publisher: None,
        }
    }

    fn spawn(
        &mut self,
        name: &str,
        f: impl FnOnce(&AtomicBool) + Send + 'static,
    ) -> anyhow::Result<()> {
        let stop = self.stop.clone();
        let handle = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || f(&stop))
            .with_context(|| format!("cannot start the {name} thread"))?;
        self.threads.push(handle);
        Ok(())
    }

    /// The flag the threads watch.
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        self.stop.clone()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop.store(true, Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        if let Some(f) = &self.fanout {
            f.flush();
        }
        if let Some(p) = &self.publisher {
            p.flush();
        }
    }
}

/// A name unique to this process among the replicas (the fan-out's origin).
fn origin() -> String {
    let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("{}-{}-{}", host.trim(), std::process::id(), &id[..8])
}

/// Partitions of an events topic this process creates (a missing one; an existing topic is
/// used as it is).
const EVENT_PARTITIONS: i32 = 4;

/// Create the topics `config` uses that do not exist yet. A broker that is away is not an
/// error here: the clients retry, `/ready` reports it, and the topics are created by whoever
/// runs against the broker when it is back (or by its operators).
fn ensure_topics(config: &attune_stream::KafkaConfig, publish: bool) {
    let mut topics = vec![
        (config.topic.as_str(), EVENT_PARTITIONS),
        (config.dead_letter_topic.as_str(), 1),
    ];
    if let Some(c) = &config.changes_topic {
        topics.push((c.as_str(), 1));
    }
    if publish {
        let p = &config.publish;
        topics.extend([
            (p.lists.as_str(), 1),
            (p.impressions.as_str(), 1),
            (p.outcomes.as_str(), 1),
        ]);
    }
    if let Err(e) = attune_stream::tools::create_topics(config, &topics) {
        tracing::warn!(error = %e, "kafka topics not created; using them as they come");
    }
}

/// Start what `[ingest.kafka]` asks `attune serve` to run, reporting each part in `/ready`
/// and `/metrics`.
pub fn start_in_serve(
    settings: &Settings,
    mut state: AppState,
) -> anyhow::Result<(AppState, Option<Running>)> {
    let section = &settings.ingest.kafka;
    if !section.serves() && !settings.ingest.rabbitmq.consume {
        return Ok((state, None));
    }
    let config = section.to_stream();
    if section.serves() {
        ensure_topics(&config, section.publish);
    }
    let mut running = Running::new();
    let origin = origin();
    if section.fanout {
        let fanout = Arc::new(Fanout::new(&config, &origin)?);
        if let Some(serving) = state.serving.clone() {
            serving.set_feed(fanout.clone());
            let status = Arc::new(Status::new("kafka-changes"));
            let follower = Follower::new(&config, &origin, settings.event_rules(), status.clone())?;
            running.spawn("attune-follow", move |stop| follower.run(&serving, stop))?;
            state = state.with_stream(status);
        }
        running.fanout = Some(fanout);
    }
    let publisher = if section.publish {
        let p = Arc::new(TopicPublisher::new(&config)?);
        state = state.with_publisher(p.clone());
        running.publisher = Some(p.clone());
        Some(p as Arc<dyn Publisher>)
    } else {
        None
    };
    if section.consume {
        let status = Arc::new(Status::new("kafka"));
        let consumer = Consumer::new(
            &config,
            settings.event_rules(),
            settings.server.strict_fields,
            status.clone(),
        )?;
        let sink = StoreSink {
            store: state.store.clone(),
            serving: state.serving.clone(),
            fanout: None,
            publisher,
        };
        running.spawn("attune-consume", move |stop| consumer.run(&sink, stop))?;
        state = state.with_stream(status);
    }
    if settings.ingest.rabbitmq.consume {
        let status = Arc::new(Status::new("rabbitmq"));
        let consumer = RabbitConsumer::new(
            &settings.ingest.rabbitmq.to_stream(),
            settings.event_rules(),
            settings.server.strict_fields,
            status.clone(),
        )?;
        let sink = StoreSink {
            store: state.store.clone(),
            serving: state.serving.clone(),
            fanout: None,
            publisher: state.publisher.get().cloned(),
        };
        running.spawn("attune-rabbitmq", move |stop| consumer.run(&sink, stop))?;
        state = state.with_stream(status);
    }
    tracing::info!(
        origin,
        consume = section.consume,
        fanout = section.fanout,
        publish = section.publish,
        "kafka started"
    );
    Ok((state, Some(running)))
}

/// `attune consume`: the Kafka consumer alone (and the fan-out of what it writes, when on).
pub fn start_consumer(
    settings: &Settings,
    config: &attune_stream::KafkaConfig,
    store: Arc<dyn attune_store::Store>,
) -> anyhow::Result<(Running, Arc<Status>)> {
    ensure_topics(config, settings.ingest.kafka.publish);
    let status = Arc::new(Status::new("kafka"));
    let consumer = Consumer::new(
        config,
        settings.event_rules(),
        settings.server.strict_fields,
        status.clone(),
    )?;
    let publish = settings.ingest.kafka.publish;
    let running = run_alone(
        config,
        publish,
        store,
        "attune-consume",
        move |sink, stop| consumer.run(sink, stop),
    )?;
    Ok((running, status))
}

/// `attune consume --source rabbitmq`: the RabbitMQ consumer alone (and the Kafka fan-out of
/// what it writes, when `[ingest.kafka] fanout` is on).
pub fn start_rabbit_consumer(
    settings: &Settings,
    config: &attune_stream::rabbit::RabbitConfig,
    store: Arc<dyn attune_store::Store>,
) -> anyhow::Result<(Running, Arc<Status>)> {
    let status = Arc::new(Status::new("rabbitmq"));
    let consumer = RabbitConsumer::new(
        config,
        settings.event_rules(),
        settings.server.strict_fields,
        status.clone(),
    )?;
    let kafka = settings.ingest.kafka.to_stream();
    let running = run_alone(
        &kafka,
        false,
        store,
        "attune-rabbitmq",
        move |sink, stop| consumer.run(sink, stop),
    )?;
    Ok((running, status))
}

/// Run a consumer without a serving engine here: its sink is the store, the fan-out of what
/// it writes (when `kafka` has a changes topic, i.e. `fanout` is on) and, with `publish`,
/// the attributed outcomes.
fn run_alone(
    kafka: &attune_stream::KafkaConfig,
    publish: bool,
    store: Arc<dyn attune_store::Store>,
    thread: &str,
    consume: impl FnOnce(&StoreSink, &AtomicBool) + Send + 'static,
) -> anyhow::Result<Running> {
    let mut running = Running::new();
    if publish {
        running.publisher = Some(Arc::new(TopicPublisher::new(kafka)?));
    }
    if kafka.changes_topic.is_some() {
        running.fanout = Some(Arc::new(Fanout::new(kafka, &origin())?));
    }
    let sink = StoreSink {
        store,
        serving: None,
        fanout: running
            .fanout
            .clone()
            .map(|f| f as Arc<dyn attune_serving::feed::ChangeFeed>),
        publisher: running.publisher.clone().map(|p| p as Arc<dyn Publisher>),
    };
    running.spawn(thread, move |stop| consume(&sink, stop))?;
    Ok(running)
}
