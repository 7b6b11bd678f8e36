//! `POST /v1/events` with `Content-Type: application/x-ndjson`: one event per line, blank lines
//! skipped, then `attune_core::event::validate` per event.
#![no_main]

use attune_server::api::BodyFormat;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| attune_fuzz::events_body(data, BodyFormat::Ndjson));
