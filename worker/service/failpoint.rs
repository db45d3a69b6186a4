//! Test-only failpoint, honoured only in debug builds (the integration tests run the debug
//! `liasse`): when `LIASSE_FAILPOINT_POISON` is set and a document's bytes contain that marker,
//! the pipeline panics (`LIASSE_FAILPOINT_ACTION=panic`, the default) or hangs (`hang`) on it.
//! Release builds ignore both variables.

/// Act on the failpoint if these bytes are marked. Called on a blocking thread, before the
/// pipeline.
pub fn check(bytes: &[u8]) {
    if !cfg!(debug_assertions) {
        return;
    }
    let Ok(marker) = std::env::var("LIASSE_FAILPOINT_POISON") else { return };
    if marker.is_empty() || !bytes.windows(marker.len()).any(|w| w == marker.as_bytes()) {
        return;
    }
    match std::env::var("LIASSE_FAILPOINT_ACTION").as_deref() {
        Ok("hang") => std::thread::sleep(std::time::Duration::from_secs(3600)),
        _ => panic!("failpoint: poison document"),
    }
}
