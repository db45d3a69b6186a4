//! Intake benchmark: `cargo bench --bench intake` (inputs made by `fixtures/make.sh bench`, see
//! scripts/bench). In one run, on the same files:
//! - the text path: text-layer pages per second of `Intake::read` against `pdftotext`;
//! - the OCR path: seconds per page of our engine against the `tesseract` command line at the same
//!   settings (fra+eng, page segmentation 3, the page's resolution, TSV output, one core each),
//!   and our engine on two threads;
//! - peak memory (maximum resident set) of `liasse process` on the 100-page scanned PDF.
//!
//! `cargo test` runs this target without `--bench`: it then does nothing.

use liasse::config::Config;
use liasse::document::PageMethod;
use liasse::intake::{Deadline, Input, Intake, pdf};
use liasse::ocr::{Ocr, PageImage};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Pages of the scan used for the per-page OCR comparison.
const OCR_PAGES: u32 = 8;

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let inputs =
        std::env::var_os("LIASSE_BENCH_DIR").map(PathBuf::from).unwrap_or(root.join("target/bench-inputs"));
    let scan = inputs.join("scan_100p_g4.pdf");
    if !scan.exists() {
        eprintln!(
            "no benchmark inputs in {}: run `fixtures/make.sh bench {}`",
            inputs.display(),
            inputs.display()
        );
        std::process::exit(1);
    }
    let liasse = root.join("target/release/liasse");
    if !liasse.exists() {
        eprintln!("build the release binary first: cargo build --release");
        std::process::exit(1);
    }
    let mut config = Config::default();
    config.sandbox.helper = Some(liasse.clone());

    println!("# Liasse intake benchmark");
    println!("machine: {} cores; tesseract {}", cores(), tesseract_version());
    text_path(&config, &inputs.join("text"));
    ocr_path(&config, &scan);
    memory(&liasse, &scan);
}

fn cores() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

fn tesseract_version() -> String {
    let out = Command::new("tesseract").arg("--version").output().map(|o| o.stdout).unwrap_or_default();
    String::from_utf8_lossy(&out).lines().next().unwrap_or("?").trim_start_matches("tesseract ").to_string()
}

/// Text-layer pages per second: `Intake::read` (structure, sandboxed pdf-extract, per document)
/// against one `pdftotext` process per document, both sequential, best of 3 rounds.
fn text_path(config: &Config, dir: &Path) {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("bench text folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "pdf"))
        .collect();
    files.sort();
    let docs: Vec<(String, Vec<u8>)> =
        files.iter().map(|p| (p.display().to_string(), std::fs::read(p).unwrap())).collect();
    let intake = Intake::new(config).expect("intake starts");
    let mut pages = 0usize;
    let ours = best_of(3, || {
        pages = 0;
        for (name, bytes) in &docs {
            for item in intake.read(Input::file(bytes.clone(), name, None)) {
                let doc = item.result.expect("bench documents are readable");
                assert!(doc.pages.iter().all(|p| p.method == PageMethod::TextLayer), "{name}: not all text");
                pages += doc.pages.len();
            }
        }
    });
    let theirs = best_of(3, || {
        for (name, _) in &docs {
            let ok = Command::new("pdftotext")
                .args([name.as_str(), "-"])
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "pdftotext failed on {name}");
        }
    });
    let (a, b) = (pages as f64 / ours.as_secs_f64(), pages as f64 / theirs.as_secs_f64());
    println!("\n## Text layer ({} PDFs, {pages} pages, sequential)", docs.len());
    println!(
        "liasse intake: {a:8.1} pages/s ({:.1} ms/document)",
        ours.as_secs_f64() * 1e3 / docs.len() as f64
    );
    println!("pdftotext    : {b:8.1} pages/s");
    println!("ratio        : pdftotext is {:.2}x faster (target: at most 3x)", b / a);
}

/// OCR seconds per page on the first pages of the scan, ours against the tesseract CLI.
fn ocr_path(config: &Config, scan: &Path) {
    let bytes = std::fs::read(scan).unwrap();
    let tmp = std::env::temp_dir().join(format!("liasse-bench-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let mut images = Vec::new();
    let mut list = String::new();
    for page in 1..=OCR_PAGES {
        let img = pdf::page_image(config, &bytes, page).expect("page image").expect("a scanned page");
        let png = tmp.join(format!("p{page}.png"));
        save_png(&img, &png);
        list.push_str(&format!("{}\n", png.display()));
        images.push(img);
    }
    let dpi = images[0].dpi;
    let list_path = tmp.join("pages.txt");
    std::fs::write(&list_path, list).unwrap();

    // The CLI on one core, all pages in one process (its start-up counted once), TSV output.
    let cli = best_of(2, || {
        let ok = Command::new("tesseract")
            .env("OMP_THREAD_LIMIT", "1")
            .args([list_path.to_str().unwrap(), tmp.join("cli").to_str().unwrap()])
            .args(["-l", "fra+eng", "--psm", "3", "--dpi", &dpi.to_string(), "tsv"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "tesseract CLI failed");
    });
    let mut per_threads = Vec::new();
    for threads in [1, 2] {
        let mut c = config.ocr.clone();
        c.threads = threads;
        let ocr = Ocr::new(&c).expect("OCR engine");
        // Warm the engines (their start-up is once per worker, not per page).
        let _ =
            ocr.recognize_pages(threads, Deadline::after(Duration::from_secs(600)), |i| Ok(copy(&images[i])));
        let t = best_of(2, || {
            let out = ocr.recognize_pages(images.len(), Deadline::after(Duration::from_secs(600)), |i| {
                Ok(copy(&images[i]))
            });
            assert!(out.iter().all(|r| r.is_ok()));
        });
        per_threads.push(t);
    }
    let n = images.len() as f64;
    let (c, o1, o2) =
        (cli.as_secs_f64() / n, per_threads[0].as_secs_f64() / n, per_threads[1].as_secs_f64() / n);
    println!("\n## OCR ({} pages of the G4 scan, {} dpi, fra+eng, psm 3)", images.len(), dpi);
    println!("tesseract CLI, 1 core : {c:6.3} s/page");
    println!("liasse, 1 thread      : {o1:6.3} s/page  ({:.3}x the CLI; target at most 1.15x)", o1 / c);
    println!("liasse, 2 threads     : {o2:6.3} s/page  ({:.2}x faster than 1 thread)", o1 / o2);
    let _ = std::fs::remove_dir_all(&tmp);
}

/// Peak resident memory of `liasse process` on the whole scan, by wait4's rusage.
fn memory(liasse: &Path, scan: &Path) {
    println!("\n## Peak memory: `liasse process` on the 100-page scan (2 OCR threads)");
    let start = Instant::now();
    // Reaped below by wait4 (for its rusage), which clippy cannot see.
    #[allow(clippy::zombie_processes)]
    let child = Command::new(liasse)
        .args(["process", scan.to_str().unwrap()])
        .env("LIASSE_OCR__THREADS", "2")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("liasse starts");
    let pid = child.id() as libc::pid_t;
    let mut out = child.stdout.expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut out, &mut s).map(|_| s)
    });
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our child, not yet waited for.
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(rc, pid, "wait4");
    let elapsed = start.elapsed();
    let json = reader.join().unwrap().unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(json.lines().next().unwrap_or("{}")).unwrap_or_default();
    let pages = v["document"]["pages"].as_array().map(|a| a.len()).unwrap_or(0);
    let ocr = v["document"]["pages"]
        .as_array()
        .map(|a| a.iter().filter(|p| p["method"] == "ocr").count())
        .unwrap_or(0);
    println!(
        "peak RSS {:.0} MB (target: under 500 MB); {pages} pages, {ocr} by OCR, {:.1} s ({:.2} s/page)",
        usage.ru_maxrss as f64 / 1024.0,
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() / pages.max(1) as f64
    );
}

fn copy(p: &PageImage) -> PageImage {
    PageImage { image: p.image.clone(), dpi: p.dpi }
}

fn save_png(img: &PageImage, path: &Path) {
    let file = std::fs::File::create(path).unwrap();
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), img.image.width(), img.image.height());
    enc.set_color(png::ColorType::Grayscale);
    enc.set_depth(png::BitDepth::Eight);
    let ppm = (img.dpi as f64 / 0.0254).round() as u32;
    enc.set_pixel_dims(Some(png::PixelDimensions { xppu: ppm, yppu: ppm, unit: png::Unit::Meter }));
    enc.write_header().unwrap().write_image_data(img.image.as_raw()).unwrap();
}

fn best_of(n: usize, mut f: impl FnMut()) -> Duration {
    (0..n)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .min()
        .unwrap()
}
