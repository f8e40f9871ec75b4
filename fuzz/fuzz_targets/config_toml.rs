//! `cordon.toml` as the command reads it. What is accepted must write back
//! as TOML that reads as the same configuration; what is refused is refused
//! with an error, never a panic.
//!
//! `cordon` is a binary crate; its `config` module is self-contained and
//! included here as it is.
#![no_main]

#[path = "../../crates/cli/src/config.rs"]
mod config;

use config::ConfigFile;
use cordon_fuzz::{allocation_bound, assert_allocation_within, peak_allocation};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (parsed, peak) = peak_allocation(|| ConfigFile::parse(text));
    // The TOML parser holds about 840 bytes for each byte of some malformed
    // inputs (measured: linear, 1.17 MB for 1,394 bytes, 5.5 MB for
    // 11,152), which is why a cordon.toml is refused past 64 KiB.
    let toml_parser = 1024 * text.len().min(config::MAX_CONFIG_BYTES);
    assert_allocation_within(peak, allocation_bound(text.len(), toml_parser), "cordon.toml", text.len());
    let Ok(config) = parsed else {
        return;
    };
    let written = toml::to_string(&config).expect("a configuration writes as TOML");
    let again = ConfigFile::parse(&written).expect("a written configuration reads back");
    assert_eq!(again, config, "a configuration changed in a round trip through {written:?}");
});
