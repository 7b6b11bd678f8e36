//! `attune consume`: the events topic into the store, until a signal (or until idle with
//! `--idle-exit-secs`); progress every few seconds and the totals at the end.

use std::process::ExitCode;

use crate::cli::ConsumeArgs;
#[cfg(feature = "kafka")]
use crate::cli::StreamSourceArg;
use crate::config::Settings;

#[cfg(not(feature = "kafka"))]
pub fn run(_args: ConsumeArgs, _settings: &Settings) -> anyhow::Result<ExitCode> {
    Err(crate::ingest::not_built())
}

#[cfg(feature = "kafka")]
pub fn run(args: ConsumeArgs, settings: &Settings) -> anyhow::Result<ExitCode> {
    use std::sync::atomic::Ordering::Relaxed;
    use std::time::{Duration, Instant};

    use attune_server::streams::StreamSource as _;

    if let Some(s) = args.idle_exit_secs {
        anyhow::ensure!(
            s.is_finite() && s > 0.0,
            "--idle-exit-secs must be a positive number of seconds, got {s}"
        );
    }
    let store = super::serve::open_configured_store(settings)?;
    let (running, status, what) = match args.source {
        StreamSourceArg::Kafka => {
            let mut section = settings.ingest.kafka.clone();
            if let Some(b) = args.brokers {
                section.brokers = b;
            }
            if let Some(t) = args.topic {
                section.topic = t;
            }
            if let Some(g) = args.group {
                section.group_id = g;
            }
            if let Some(a) = args.app {
                section.app = a;
            }
            section.check()?;
            let config = section.to_stream();
            store.create_app(&config.app)?;
            let what = format!(
                "kafka topic {} (group {}, app {})",
                config.topic, config.group_id, config.app
            );
            let (r, s) = crate::stream::start_consumer(settings, &config, store)?;
            (r, s, what)
        }
        StreamSourceArg::Rabbitmq => {
            anyhow::ensure!(
                args.brokers.is_none() && args.group.is_none(),
                "--brokers and --group are Kafka settings; RabbitMQ is configured by [ingest.rabbitmq] url"
            );
            let mut section = settings.ingest.rabbitmq.clone();
            if let Some(q) = args.topic {
                section.queue = q;
            }
            if let Some(a) = args.app {
                section.app = a;
            }
            section.check()?;
            let config = section.to_stream();
            store.create_app(&config.app)?;
            let what = format!("rabbitmq queue {} (app {})", config.queue, config.app);
            let (r, s) = crate::stream::start_rabbit_consumer(settings, &config, store)?;
            (r, s, what)
        }
    };
    // Signals set the threads' stop flag.
    let stop = running.stop_flag();
    let runtime = super::serve::runtime()?;
    let signal = runtime.block_on(async { super::serve::shutdown_signal() })?;
    let on_signal = stop.clone();
    runtime.spawn(async move {
        signal.await;
        on_signal.store(true, Relaxed);
    });
    tracing::info!("consuming {what}");
    let start = Instant::now();
    let mut last_received = 0;
    let mut last_change = Instant::now();
    let mut last_report = Instant::now();
    while !stop.load(Relaxed) {
        std::thread::sleep(Duration::from_millis(100));
        let s = status.status();
        if s.received != last_received {
            last_received = s.received;
            last_change = Instant::now();
        }
        if last_report.elapsed() >= Duration::from_secs(5) {
            last_report = Instant::now();
            tracing::info!(
                received = s.received,
                written = s.written,
                duplicates = s.duplicates,
                rejected = s.rejected,
                connected = s.connected,
                "progress"
            );
        }
        if args
            .idle_exit_secs
            .is_some_and(|secs| s.received > 0 && last_change.elapsed().as_secs_f64() >= secs)
        {
            break;
        }
    }
    drop(running);
    let s = status.status();
    let secs = start.elapsed().as_secs_f64();
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "received": s.received, "written": s.written, "duplicates": s.duplicates,
                "rejected": s.rejected, "dead_lettered": s.dead_lettered,
                "committed": s.committed, "seconds": secs,
            })
        );
    } else {
        println!(
            "received {} · written {} · duplicates {} · rejected {} (dead-lettered {}) · committed {} in {secs:.1}s",
            s.received, s.written, s.duplicates, s.rejected, s.dead_lettered, s.committed
        );
    }
    Ok(ExitCode::SUCCESS)
}
