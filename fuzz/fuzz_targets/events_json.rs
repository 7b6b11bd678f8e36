//! `POST /v1/events` with `Content-Type: application/json`: the body as the route decodes it
//! (one object or an array of them), then `attune_core::event::validate` per event.
#![no_main]

use attune_server::api::BodyFormat;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| attune_fuzz::events_body(data, BodyFormat::Json));
