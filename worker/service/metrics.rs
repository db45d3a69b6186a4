//! Worker metrics in the Prometheus text format (counters and histograms kept here; document
//! counts by status, queue depths and lag are read at scrape time).

use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Bucket bounds in seconds.
const BUCKETS: [f64; 14] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0];

#[derive(Default)]
pub struct Histogram {
    inner: Mutex<(Vec<u64>, u64, f64)>,
}

impl Histogram {
    pub fn observe(&self, secs: f64) {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if g.0.is_empty() {
            g.0 = vec![0; BUCKETS.len()];
        }
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                g.0[i] += 1;
            }
        }
        g.1 += 1;
        g.2 += secs;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let sep = if labels.is_empty() { "" } else { "," };
        for (i, b) in BUCKETS.iter().enumerate() {
            let c = g.0.get(i).copied().unwrap_or(0);
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{b}\"}} {c}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}", g.1);
        let l = if labels.is_empty() { String::new() } else { format!("{{{labels}}}") };
        let _ = writeln!(out, "{name}_sum{l} {}", g.2);
        let _ = writeln!(out, "{name}_count{l} {}", g.1);
    }
}

#[derive(Default)]
pub struct Metrics {
    pub results_written: AtomicU64,
    pub redeliveries_skipped: AtomicU64,
    pub retries: AtomicU64,
    pub dead_lettered: AtomicU64,
    pub pipeline_failures: AtomicU64,
    pub ocr_pages: AtomicU64,
    pub pages: AtomicU64,
    pub stage_pipeline: Histogram,
    pub stage_store: Histogram,
    pub stage_fetch: Histogram,
    pub end_to_end: Histogram,
}

/// What is read at scrape time.
#[derive(Default)]
pub struct Snapshot {
    pub statuses: Vec<(String, i64)>,
    pub oldest_open_job_secs: Option<f64>,
    pub queue_documents: Option<u32>,
    pub queue_retry: Option<u32>,
    pub queue_dead: Option<u32>,
}

impl Metrics {
    pub fn inc(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Ordering::Relaxed);
    }

    pub fn render(&self, snap: &Snapshot) -> String {
        let mut o = String::new();
        let counter = |o: &mut String, name: &str, help: &str, v: &AtomicU64| {
            let _ = writeln!(
                o,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                v.load(Ordering::Relaxed)
            );
        };
        counter(
            &mut o,
            "liasse_results_written_total",
            "Documents whose results this worker committed.",
            &self.results_written,
        );
        counter(
            &mut o,
            "liasse_redeliveries_skipped_total",
            "Deliveries of jobs already finished (nothing written).",
            &self.redeliveries_skipped,
        );
        counter(&mut o, "liasse_retries_total", "Jobs sent to a retry queue.", &self.retries);
        counter(&mut o, "liasse_dead_lettered_total", "Jobs this worker dead-lettered.", &self.dead_lettered);
        counter(
            &mut o,
            "liasse_pipeline_failures_total",
            "Pipeline runs that panicked or timed out.",
            &self.pipeline_failures,
        );
        counter(&mut o, "liasse_pages_total", "Pages read.", &self.pages);
        counter(&mut o, "liasse_ocr_pages_total", "Pages read by OCR.", &self.ocr_pages);
        let _ = writeln!(
            o,
            "# HELP liasse_stage_duration_seconds Time spent per stage of a job.\n# TYPE liasse_stage_duration_seconds histogram"
        );
        self.stage_fetch.render(&mut o, "liasse_stage_duration_seconds", "stage=\"fetch\"");
        self.stage_pipeline.render(&mut o, "liasse_stage_duration_seconds", "stage=\"pipeline\"");
        self.stage_store.render(&mut o, "liasse_stage_duration_seconds", "stage=\"store\"");
        let _ = writeln!(
            o,
            "# HELP liasse_end_to_end_seconds From publish to commit.\n# TYPE liasse_end_to_end_seconds histogram"
        );
        self.end_to_end.render(&mut o, "liasse_end_to_end_seconds", "");
        let _ = writeln!(o, "# HELP liasse_documents Documents by status.\n# TYPE liasse_documents gauge");
        for (s, n) in &snap.statuses {
            let _ = writeln!(o, "liasse_documents{{status=\"{s}\"}} {n}");
        }
        if let Some(lag) = snap.oldest_open_job_secs {
            let _ = writeln!(
                o,
                "# HELP liasse_queue_lag_seconds Age of the oldest unfinished job.\n# TYPE liasse_queue_lag_seconds gauge\nliasse_queue_lag_seconds {lag}"
            );
        }
        let _ = writeln!(
            o,
            "# HELP liasse_queue_messages Messages waiting per queue.\n# TYPE liasse_queue_messages gauge"
        );
        for (q, v) in
            [("documents", snap.queue_documents), ("retry", snap.queue_retry), ("dead", snap.queue_dead)]
        {
            if let Some(v) = v {
                let _ = writeln!(o, "liasse_queue_messages{{queue=\"{q}\"}} {v}");
            }
        }
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_is_cumulative() {
        let h = Histogram::default();
        h.observe(0.02);
        h.observe(2.0);
        let mut s = String::new();
        h.render(&mut s, "x", "");
        assert!(s.contains("x_bucket{le=\"0.01\"} 0"));
        assert!(s.contains("x_bucket{le=\"0.025\"} 1"));
        assert!(s.contains("x_bucket{le=\"2.5\"} 2"));
        assert!(s.contains("x_bucket{le=\"+Inf\"} 2"));
        assert!(s.contains("x_count 2"));
    }
}
