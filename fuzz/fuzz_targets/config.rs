//! A configuration file (`attune --config FILE`, TOML over the compiled-in defaults): loaded and
//! checked as `attune` does, without the environment. A file that loads prints (`attune config`)
//! as TOML that loads back and prints the same.
#![no_main]

use attune_cli::config::Settings;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(settings) = Settings::from_toml(text) else {
        return;
    };
    let printed = settings.to_toml().expect("a loaded configuration prints");
    let again = Settings::from_toml(&printed)
        .unwrap_or_else(|e| panic!("the printed configuration does not load: {e:#}\n{printed}"));
    let reprinted = again.to_toml().expect("prints");
    assert_eq!(reprinted, printed, "printing is not stable");
});
