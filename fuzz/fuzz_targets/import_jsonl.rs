//! `attune import events|items|users FILE.jsonl`: each line decoded by the API's decoders and
//! validated as the importer does; accepted rows must survive the API's encode-then-decode.
#![no_main]

use attune_cli::cli::Entity;
use attune_cli::import::JsonlSource;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = attune_fuzz::default_settings().limits.to_core();
    for entity in [Entity::Events, Entity::Items, Entity::Users] {
        for strict in [true, false] {
            let input = Box::new(std::io::Cursor::new(data.to_vec()));
            let mut source = JsonlSource::new(input, entity, &[], strict, limits);
            let mut last_line = 0;
            for _ in 0..attune_fuzz::MAX_ROWS {
                match source.next_record() {
                    Ok(Some(record)) => {
                        assert!(record.line > last_line, "lines are counted up");
                        last_line = record.line;
                        attune_fuzz::check_imported(record);
                    }
                    Ok(None) | Err(_) => break,
                }
            }
        }
    }
});
