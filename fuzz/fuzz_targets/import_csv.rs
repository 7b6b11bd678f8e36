//! `attune import events|items|users FILE.csv`: the header resolved to fields, each row decoded
//! and validated as the importer does; accepted rows must survive the API's encode-then-decode.
#![no_main]

use attune_cli::cli::Entity;
use attune_cli::import::CsvSource;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for entity in [Entity::Events, Entity::Items, Entity::Users] {
        let input = Box::new(std::io::Cursor::new(data.to_vec()));
        let Ok(mut source) = CsvSource::new(input, entity, &[], &mut |_: &str| {}) else {
            continue;
        };
        let mut last_line = 0;
        for _ in 0..attune_fuzz::MAX_ROWS {
            match source.next_record() {
                Ok(Some(record)) => {
                    // Rows come in file order (0: the reader could not tell).
                    assert!(record.line == 0 || record.line >= last_line);
                    last_line = last_line.max(record.line);
                    attune_fuzz::check_imported(record);
                }
                Ok(None) | Err(_) => break,
            }
        }
    }
});
