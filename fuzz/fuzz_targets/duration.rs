//! Fuzz target: the configuration's duration strings (`500ms`, `30d`). Never a panic; what
//! parses, formatted back in milliseconds, parses to the same duration.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_core::parse_duration;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(duration) = parse_duration(text) {
        let millis = duration.as_millis();
        assert_eq!(parse_duration(&format!("{millis}ms")), Ok(duration));
    }
});
