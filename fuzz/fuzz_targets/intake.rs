//! Fuzz target: the bytes-to-Document entry point, `Intake::read`, on any bytes.
//! Run: `cargo +nightly fuzz run intake fuzz/seeds` (see fuzz/README.md).

#![no_main]

use libfuzzer_sys::fuzz_target;
use liasse::config::Config;
use liasse::intake::sandbox::Sandbox;
use liasse::intake::{Input, Intake};
use std::sync::OnceLock;

fn intake() -> &'static Intake {
    static INTAKE: OnceLock<Intake> = OnceLock::new();
    INTAKE.get_or_init(|| {
        // libfuzzer-sys aborts on every panic. The sandbox's thread ("pdf-extract") is where
        // pdf-extract's known panics are caught by design, as the child process catches them in
        // production; any other panic still aborts and is a finding.
        std::panic::set_hook(Box::new(|info| {
            if std::thread::current().name() == Some("pdf-extract") {
                return;
            }
            eprintln!("{info}");
            std::process::abort();
        }));
        // pdf-extract's own panics are contained by the sandbox, as in production; the fuzzer
        // must still see every other panic, which libfuzzer-sys turns into a crash.
        let mut config = Config::default();
        config.limits.max_pages = 8;
        config.limits.max_image_pixels = 4_000_000;
        config.limits.document_timeout_secs = 10;
        config.ocr.threads = 1;
        let mut intake = Intake::new(&config).expect("intake starts");
        intake.sandbox = Sandbox::in_process(&config.sandbox);
        intake
    })
}

fuzz_target!(|data: &[u8]| {
    let items = intake().read(Input::file(data.to_vec(), "fuzz.bin", None));
    assert!(!items.is_empty(), "every input gives at least one item");
});
