//! OCR with libtesseract.
//!
//! One [`Ocr`] per process: a rayon pool of `threads` workers and as many initialised Tesseract
//! instances (initialising `fra+eng` costs over 100 ms and tens of MB, so each instance is made
//! once, when first needed, and reused for every page: a worker takes an idle one for a page and
//! puts it back). Pages of one document are read in parallel, one page per thread, in page
//! order; page images are made on the OCR thread by the caller's `load` closure so that no more
//! images than threads are alive at once.
//!
//! Settings are those of `tesseract IMAGE OUT -l fra+eng --psm 3 --dpi D tsv`: default engine
//! mode, automatic page segmentation, the page's resolution. Debian's libtesseract is built with
//! OpenMP, which spreads one page over every core and fights our page-level parallelism: without
//! a limit, an A4 page took 8.6 s on one pool thread here instead of 1.06 s (the CLI: 4.2 s
//! instead of 1.5 s without `OMP_THREAD_LIMIT=1`). Setting `OMP_THREAD_LIMIT` from inside the
//! process does not work, because libgomp reads it when it is loaded, before `main`; instead
//! every pool thread (and the thread that calls [`Ocr::new`]) sets its OpenMP
//! `max-active-levels` to 0 (`omp_set_max_active_levels`, looked up with `dlsym`, so a build
//! without OpenMP just skips it), which makes every parallel region of Tesseract run on the
//! calling thread alone: one page, one core, like `OMP_THREAD_LIMIT=1 tesseract`.
//!
//! Words come from Tesseract's TSV output (level-5 rows). The page text is built from them:
//! words of a line joined by one space, lines by `\n`, paragraphs and blocks separated by a blank
//! line. Each word keeps its byte span in that text, its box in the image's pixels (clipped to
//! the image) and its confidence; `Word::block` is Tesseract's block number and `Word::line` the
//! line's number in the page (1-based, counting the lines of every block and paragraph, so that
//! it identifies a line on its own). Word texts are NFC, without control, format or space
//! characters, so the page text is already what `document::normalize_text` makes of it.
//!
//! Merged columns: when Tesseract's layout analysis misses the gutter between two side-by-side
//! columns whose lines interleave, it merges their lines into tall, badly read words and the
//! text of both is lost. A page with such words has the region read again column by column,
//! cut at its blank gutters (`split_merged_columns`, setting `ocr.split_merged_columns`, on by
//! default; docs/ocr.md has the measurements).
//!
//! Deadline: pages not started when the document's deadline passes are not loaded; a page being
//! read is stopped by Tesseract's own deadline monitor (`ETEXT_DESC`) and gives `TimedOut`.
//!
//! Rotated scans: a page turned by 180 or 270 degrees reads as garbage with a low confidence
//! (measured on the 120 SROIE receipts: turned pages 25 to 56, upright pages 53 to 95). So when
//! a page's mean confidence is under [`ROTATION_CHECK_BELOW`], it is read once more, turned the
//! way Tesseract's orientation detection suggests (with `osd.traineddata`; its confidence on
//! small receipts is too low to trust, so its answer is only a hint), or upside down when it has
//! no suggestion, and the better of the two readings is kept ([`OcrPage::rotation`] says which).
//! On the SROIE receipts turned upside down this gives back all 120; turned by 270 degrees, 79
//! are read upright, 20 partly (Tesseract's own handling of vertical text), 21 stay garbage.
//! A page turned by 90 degrees clockwise is read by Tesseract's vertical-text handling with a
//! high confidence, but not always in full, and is not retried. Orientation detection is not
//! run on every page because on a dense A4 page it costs about as much as the OCR itself; pages
//! that read well pay nothing.

use crate::config::OcrConfig;
use crate::document::{BBox, OcrInfo, Span, Word};
use crate::intake::Deadline;
use std::ffi::{CStr, CString};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

#[derive(Debug, thiserror::Error)]
pub enum OcrError {
    /// The engine could not start or failed (missing language data…): not the document's fault.
    #[error("OCR engine: {0}")]
    Engine(String),
    /// The page image could not be decoded or is unusable.
    #[error("page image: {0}")]
    Image(String),
    /// The document's time budget ran out before this page was read.
    #[error("OCR timed out")]
    TimedOut,
}

/// A page image ready for OCR: 8-bit grey, and its resolution.
pub struct PageImage {
    pub image: image::GrayImage,
    pub dpi: u32,
}

/// What OCR read on one page: the text (words joined by spaces, lines by `\n`, blocks by a blank
/// line), every word with its span in that text, box and confidence.
#[derive(Debug, Clone, PartialEq)]
pub struct OcrPage {
    pub text: String,
    pub words: Vec<Word>,
    pub info: OcrInfo,
    /// Degrees (0, 90, 180 or 270, clockwise) the page image was turned before it was read; the
    /// boxes and `info.image_width`/`image_height` are those of the turned image.
    pub rotation: u16,
}

/// Largest width or height of a page image: Tesseract keeps coordinates in 16-bit integers.
pub const MAX_SIDE: u32 = 32_767;

/// Resolutions outside this range are not believed (Tesseract's own bounds are 70..=2400).
pub const DPI_RANGE: std::ops::RangeInclusive<u32> = 70..=2400;

/// A page whose mean word confidence is below this is checked for a wrong orientation.
pub const ROTATION_CHECK_BELOW: f32 = 60.0;

/// The OCR engine: a pool of threads, each holding its own initialised Tesseract.
pub struct Ocr {
    pub config: OcrConfig,
    threads: usize,
    pool: rayon::ThreadPool,
    languages: CString,
    datapath: Option<CString>,
    version: String,
    /// Initialised Tesseracts not in use (the first one is made by `new`, which checks the
    /// configuration with it); a worker takes one for a page and puts it back, so there are
    /// never more than `threads`, and they are freed with the engine.
    idle: Mutex<Vec<tess::Tess>>,
    /// Same for orientation detection (`osd`), made only when a page needs it.
    idle_osd: Mutex<Vec<tess::Tess>>,
    /// Whether `osd.traineddata` is there (orientation detection of badly read pages).
    osd_available: bool,
}

impl Ocr {
    /// Checks the configuration by initialising Tesseract once (so a missing language fails here,
    /// naming its `.traineddata`), and starts the pool.
    pub fn new(config: &OcrConfig) -> Result<Ocr, OcrError> {
        let languages = check_languages(&config.languages)?;
        let datapath = match &config.tessdata {
            Some(dir) => {
                check_tessdata(dir, &config.languages)?;
                Some(path_cstring(dir)?)
            }
            None => None,
        };
        limit_openmp_on_this_thread();
        let first = match tess::Tess::init(datapath.as_deref(), &languages) {
            Ok(t) => t,
            Err(()) => return Err(explain_init_failure(config, datapath.as_deref())),
        };
        // Tesseract starts when the first language loads and only prints a message for the
        // others: check that every one is there.
        let loaded = first.loaded_languages();
        let missing: Vec<String> = config
            .languages
            .split('+')
            .filter(|l| !loaded.iter().any(|x| x == l))
            .map(|l| format!("{l}.traineddata"))
            .collect();
        if !missing.is_empty() {
            let place =
                first.datapath().map(|d| d.display().to_string()).unwrap_or_else(|| "tessdata".into());
            return Err(OcrError::Engine(format!(
                "language data {} not found in {place}",
                missing.join(", ")
            )));
        }
        let osd_available = match &config.tessdata {
            Some(dir) => dir.join("osd.traineddata").is_file(),
            None => first.datapath().map(|d| d.join("osd.traineddata").is_file()).unwrap_or(false),
        };
        let threads = if config.threads == 0 {
            std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
        } else {
            config.threads
        };
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("liasse-ocr-{i}"))
            .start_handler(|_| limit_openmp_on_this_thread())
            .build()
            .map_err(|e| OcrError::Engine(format!("cannot start the OCR threads: {e}")))?;
        Ok(Ocr {
            config: config.clone(),
            threads,
            pool,
            languages,
            datapath,
            version: format!("tesseract {}", tess::version()),
            idle: Mutex::new(vec![first]),
            idle_osd: Mutex::new(Vec::new()),
            osd_available,
        })
    }

    /// "tesseract 5.3.0" and the like.
    pub fn engine_version(&self) -> String {
        self.version.clone()
    }

    /// Number of pages read at once.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Whether badly read pages are checked for a wrong orientation (`osd.traineddata` found).
    pub fn detects_orientation(&self) -> bool {
        self.osd_available
    }

    /// One image.
    pub fn recognize(&self, image: &PageImage) -> Result<OcrPage, OcrError> {
        self.pool.install(|| self.read_on_this_thread(image, None, true))
    }

    /// `count` pages in parallel on the pool. `load(i)` makes page i's image and is called on the
    /// OCR thread, so that no more images than threads are held in memory at once. Results are in
    /// page order. Pages are started in order; once the deadline has passed, the pages not yet
    /// started give `OcrError::TimedOut` without being loaded, and a page being read is stopped.
    pub fn recognize_pages<F>(
        &self,
        count: usize,
        deadline: Deadline,
        load: F,
    ) -> Vec<Result<OcrPage, OcrError>>
    where
        F: Fn(usize) -> Result<PageImage, OcrError> + Sync,
    {
        self.recognize_pages_turnable(count, deadline, |_| true, load)
    }

    /// As [`Ocr::recognize_pages`], with image i checked for a wrong orientation only when
    /// `turnable(i)` (an image known to be upright, or whose turned reading would not be used,
    /// is read once).
    pub fn recognize_pages_turnable<F, T>(
        &self,
        count: usize,
        deadline: Deadline,
        turnable: T,
        load: F,
    ) -> Vec<Result<OcrPage, OcrError>>
    where
        F: Fn(usize) -> Result<PageImage, OcrError> + Sync,
        T: Fn(usize) -> bool + Sync,
    {
        let slots: Vec<Mutex<Option<Result<OcrPage, OcrError>>>> =
            (0..count).map(|_| Mutex::new(None)).collect();
        let next = AtomicUsize::new(0);
        let workers = self.threads.min(count);
        let work = || {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    break;
                }
                let result = if deadline.expired() {
                    Err(OcrError::TimedOut)
                } else {
                    self.load_and_read(i, &load, deadline, turnable(i))
                };
                *slots[i].lock().unwrap_or_else(|p| p.into_inner()) = Some(result);
            }
        };
        if workers > 0 {
            self.pool.scope(|s| {
                for _ in 0..workers {
                    s.spawn(|_| work());
                }
            });
        }
        slots
            .into_iter()
            .map(|slot| {
                slot.into_inner()
                    .unwrap_or_else(|p| p.into_inner())
                    .unwrap_or_else(|| Err(OcrError::Engine("the page was not processed".into())))
            })
            .collect()
    }

    fn load_and_read<F>(
        &self,
        i: usize,
        load: &F,
        deadline: Deadline,
        turnable: bool,
    ) -> Result<OcrPage, OcrError>
    where
        F: Fn(usize) -> Result<PageImage, OcrError> + Sync,
    {
        let image = match catch_unwind(AssertUnwindSafe(|| load(i))) {
            Ok(r) => r?,
            Err(panic) => {
                return Err(OcrError::Image(format!(
                    "the page image could not be made ({})",
                    panic_message(&panic)
                )));
            }
        };
        if deadline.expired() {
            return Err(OcrError::TimedOut);
        }
        self.read_on_this_thread(&image, Some(deadline), turnable)
    }

    /// Reads one image on the calling (pool) thread. A panic is caught here so that it fails
    /// the page, not the caller.
    fn read_on_this_thread(
        &self,
        page: &PageImage,
        deadline: Option<Deadline>,
        turnable: bool,
    ) -> Result<OcrPage, OcrError> {
        catch_unwind(AssertUnwindSafe(|| self.read_page(page, deadline, turnable)))
            .unwrap_or_else(|panic| Err(OcrError::Engine(format!("OCR failed ({})", panic_message(&panic)))))
    }

    fn read_page(
        &self,
        page: &PageImage,
        deadline: Option<Deadline>,
        turnable: bool,
    ) -> Result<OcrPage, OcrError> {
        check_image(page)?;
        let first = self.with_engine(|t| self.read_once(t, &page.image, page.dpi, 0, deadline))?;
        if !turnable || first.info.confidence >= ROTATION_CHECK_BELOW {
            return Ok(first);
        }
        self.retry_rotated(first, page, deadline)
    }

    /// A badly read page may be turned: read it again turned the way orientation detection
    /// suggests (upside down when it has no suggestion), and keep the better reading.
    fn retry_rotated(
        &self,
        first: OcrPage,
        page: &PageImage,
        deadline: Option<Deadline>,
    ) -> Result<OcrPage, OcrError> {
        let suggested = if self.osd_available {
            // A failure of orientation detection is no reason to fail the page.
            self.with_osd(|t| {
                t.set_image(&page.image, page.dpi)?;
                let o = t.detect_orientation();
                t.clear();
                Ok(o)
            })
            .ok()
            .flatten()
        } else {
            None
        };
        let rotation = match suggested {
            Some((deg @ (90 | 180 | 270), _)) => deg,
            _ => 180,
        };
        if deadline.is_some_and(|d| d.expired()) {
            return Ok(first);
        }
        let turned = match rotation {
            90 => image::imageops::rotate90(&page.image),
            270 => image::imageops::rotate270(&page.image),
            _ => image::imageops::rotate180(&page.image),
        };
        let second = match self.with_engine(|t| self.read_once(t, &turned, page.dpi, rotation, deadline)) {
            Ok(p) => p,
            Err(OcrError::TimedOut) => return Ok(first),
            Err(e) => return Err(e),
        };
        Ok(if quality(&second) > quality(&first) { second } else { first })
    }

    fn read_once(
        &self,
        t: &mut tess::Tess,
        image: &image::GrayImage,
        dpi: u32,
        rotation: u16,
        deadline: Option<Deadline>,
    ) -> Result<OcrPage, OcrError> {
        let dpi = if DPI_RANGE.contains(&dpi) { dpi } else { self.config.default_dpi.clamp(70, 2400) };
        t.set_image(image, dpi)?;
        let budget_ms = match deadline {
            Some(d) => {
                let ms = d.remaining().as_millis();
                if ms == 0 {
                    t.clear();
                    return Err(OcrError::TimedOut);
                }
                Some(i32::try_from(ms).unwrap_or(i32::MAX))
            }
            None => None,
        };
        let recognized = t.recognize(budget_ms);
        let result = match recognized {
            Ok(()) => t.tsv(),
            Err(()) if deadline.is_some_and(|d| d.expired()) => Err(OcrError::TimedOut),
            // The engine started and read other pages: this page is what it cannot read.
            Err(()) => Err(OcrError::Image("Tesseract could not recognise the page".into())),
        };
        let result = result.map(|tsv| {
            let rows: Vec<TsvWord> = parse_tsv(&tsv).collect();
            if self.config.split_merged_columns {
                split_merged_columns(t, image, dpi, rows, deadline)
            } else {
                rows
            }
        });
        t.clear();
        let rows = result?;
        let (text, words) = build_page_from(&rows, image.width(), image.height());
        let confidence = mean_confidence(&words);
        Ok(OcrPage {
            text,
            words,
            info: OcrInfo {
                engine: self.version.clone(),
                languages: self.config.languages.clone(),
                confidence,
                image_width: image.width(),
                image_height: image.height(),
                dpi,
            },
            rotation,
        })
    }

    /// Runs `f` with an idle Tesseract of this engine (one is made when none is idle; at most
    /// one per pool thread is ever busy), and puts it back afterwards. A Tesseract whose call
    /// panicked is dropped, not reused.
    fn with_engine<R>(&self, f: impl FnOnce(&mut tess::Tess) -> Result<R, OcrError>) -> Result<R, OcrError> {
        with_instance(
            &self.idle,
            || {
                tess::Tess::init(self.datapath.as_deref(), &self.languages).map_err(|()| {
                    OcrError::Engine(format!("Tesseract could not start with {}", self.config.languages))
                })
            },
            f,
        )
    }

    /// Same with an orientation-detection (`osd`) Tesseract.
    fn with_osd<R>(&self, f: impl FnOnce(&mut tess::Tess) -> Result<R, OcrError>) -> Result<R, OcrError> {
        with_instance(
            &self.idle_osd,
            || {
                tess::Tess::init(self.datapath.as_deref(), c"osd")
                    .map_err(|()| OcrError::Engine("Tesseract could not start with osd".into()))
            },
            f,
        )
    }
}

fn with_instance<R>(
    idle: &Mutex<Vec<tess::Tess>>,
    make: impl FnOnce() -> Result<tess::Tess, OcrError>,
    f: impl FnOnce(&mut tess::Tess) -> Result<R, OcrError>,
) -> Result<R, OcrError> {
    let taken = idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
    let mut t = match taken {
        Some(t) => t,
        None => make()?,
    };
    match catch_unwind(AssertUnwindSafe(|| f(&mut t))) {
        Ok(r) => {
            idle.lock().unwrap_or_else(|p| p.into_inner()).push(t);
            r
        }
        Err(panic) => Err(OcrError::Engine(format!("OCR failed ({})", panic_message(&panic)))),
    }
}

/// A word at least this many times taller than the page's median word is, when read with a
/// confidence below [`MERGED_LINE_CONF_BELOW`], the mark of lines of two columns merged into one.
pub const MERGED_LINE_HEIGHT: f32 = 1.8;

/// See [`MERGED_LINE_HEIGHT`].
pub const MERGED_LINE_CONF_BELOW: f32 = 50.0;

/// Narrowest blank vertical strip, in inches, taken for the gutter between two columns.
pub const MIN_COLUMN_GAP_INCHES: f32 = 0.2;

/// Tesseract's blocks that hold at least two words marked as merged lines (see
/// [`MERGED_LINE_HEIGHT`]). The median height is that of the words read with confidence 60 or
/// more; a page with fewer than 10 of them is not judged.
fn merged_blocks(rows: &[TsvWord]) -> Vec<u32> {
    let visible = |w: &&TsvWord| !clean_word(&w.text).is_empty();
    let mut heights: Vec<i64> =
        rows.iter().filter(visible).filter(|w| w.conf >= 60.0).map(|w| w.height).collect();
    if heights.len() < 10 {
        return Vec::new();
    }
    heights.sort_unstable();
    let median = heights[heights.len() / 2] as f32;
    let mut counts: std::collections::BTreeMap<u32, usize> = std::collections::BTreeMap::new();
    for w in rows.iter().filter(visible) {
        if w.height as f32 > MERGED_LINE_HEIGHT * median && w.conf < MERGED_LINE_CONF_BELOW {
            *counts.entry(w.block).or_default() += 1;
        }
    }
    counts.into_iter().filter(|&(_, n)| n >= 2).map(|(b, _)| b).collect()
}

/// A rectangle of the image, in pixels: `x0..x1` × `y0..y1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rect {
    x0: u32,
    y0: u32,
    x1: u32,
    y1: u32,
}

impl Rect {
    fn of_word(w: &TsvWord, width: u32, height: u32) -> Rect {
        let b = clip_box(w.left, w.top, w.width, w.height, width, height);
        Rect { x0: b.x, y0: b.y, x1: b.x + b.w, y1: b.y + b.h }
    }
    fn union(self, o: Rect) -> Rect {
        Rect { x0: self.x0.min(o.x0), y0: self.y0.min(o.y0), x1: self.x1.max(o.x1), y1: self.y1.max(o.y1) }
    }
    fn intersects(self, o: Rect) -> bool {
        self.x0 < o.x1 && o.x0 < self.x1 && self.y0 < o.y1 && o.y0 < self.y1
    }
}

/// The columns of ink in `r`: x ranges separated by blank strips of at least `min_gap` pixel
/// columns. A pixel column is blank when fewer than two of its pixels are darker than 60 % of the
/// paper's level (the rectangle's 90th percentile), so grain, a faint scanner streak or a speck
/// of dust does not close a gutter.
fn column_ranges(image: &image::GrayImage, r: Rect, min_gap: u32) -> Vec<(u32, u32)> {
    if r.x1 <= r.x0 || r.y1 <= r.y0 {
        return Vec::new();
    }
    let mut hist = [0u64; 256];
    for y in r.y0..r.y1 {
        for x in r.x0..r.x1 {
            hist[usize::from(image.get_pixel(x, y)[0])] += 1;
        }
    }
    let total: u64 = hist.iter().sum();
    let mut seen = 0;
    let paper = hist
        .iter()
        .position(|&c| {
            seen += c;
            seen * 10 >= total * 9
        })
        .unwrap_or(255) as u32;
    let ink_below = paper * 6 / 10;
    let mut ranges = Vec::new();
    let mut current: Option<(u32, u32)> = None;
    for x in r.x0..r.x1 {
        let dark = (r.y0..r.y1).filter(|&y| u32::from(image.get_pixel(x, y)[0]) < ink_below).take(2).count();
        if dark < 2 {
            continue;
        }
        current = match current {
            Some((start, end)) if x - end < min_gap => Some((start, x + 1)),
            Some(done) => {
                ranges.push(done);
                Some((x, x + 1))
            }
            None => Some((x, x + 1)),
        };
    }
    ranges.extend(current);
    ranges
}

/// A line of a column lying within this fraction of its height of a line of the next column
/// (centre to centre) is on the same row as it.
pub const SAME_ROW: f32 = 0.15;

/// Whether two neighbouring columns of a re-read are rows of one table (label and value, item
/// and amount) rather than independent columns: at least half the lines of the column with
/// fewer lines lie on the row of a line of the other ([`SAME_ROW`]). Cutting such rows apart
/// would separate each label from its value, so the first reading is kept.
fn rows_aligned(columns: &[Vec<TsvWord>]) -> bool {
    let lines = |words: &[TsvWord]| -> Vec<(f32, f32)> {
        let mut spans: Vec<((u32, u32, u32), i64, i64)> = Vec::new();
        for w in words.iter().filter(|w| !clean_word(&w.text).is_empty()) {
            let key = (w.block, w.par, w.line);
            match spans.iter_mut().find(|(k, _, _)| *k == key) {
                Some((_, top, bottom)) => {
                    *top = (*top).min(w.top);
                    *bottom = (*bottom).max(w.top + w.height);
                }
                None => spans.push((key, w.top, w.top + w.height)),
            }
        }
        spans.into_iter().map(|(_, t, b)| ((t + b) as f32 / 2.0, (b - t).max(1) as f32)).collect()
    };
    columns.windows(2).any(|pair| {
        let (a, b) = (lines(&pair[0]), lines(&pair[1]));
        let (few, many) = if a.len() <= b.len() { (a, b) } else { (b, a) };
        if few.is_empty() {
            return false;
        }
        let on_a_row = few
            .iter()
            .filter(|(centre, height)| many.iter().any(|(c, _)| (c - centre).abs() < SAME_ROW * height))
            .count();
        on_a_row * 2 >= few.len()
    })
}

/// Characters of the words read with a confidence of 80 or more.
fn well_read_chars<'a>(rows: impl Iterator<Item = &'a TsvWord>) -> usize {
    rows.filter(|w| w.conf >= 80.0).map(|w| clean_word(&w.text).chars().count()).sum()
}

/// Weighted confidence of a reading: the mean word confidence, each word counting its characters.
fn char_confidence<'a>(rows: impl Iterator<Item = &'a TsvWord>) -> f32 {
    let (mut sum, mut chars) = (0.0f32, 0usize);
    for w in rows {
        let n = clean_word(&w.text).chars().count();
        sum += w.conf * n as f32;
        chars += n;
    }
    if chars == 0 { 0.0 } else { sum / chars as f32 }
}

/// Repairs lines of side-by-side columns that Tesseract's layout analysis merged (see
/// docs/ocr.md): each block marked by [`merged_blocks`], with the blocks that overlap it, is cut
/// at its blank gutters into columns, each column is read again on its own as one block of text
/// (`--psm 6` on that rectangle), and the columns' words replace the region's, left column first,
/// when the columns are not rows of one table ([`rows_aligned`]) and their reading is better: a
/// higher confidence and at least 10 % (and 1) more well-read characters (confidence 80 or
/// more). Anything that fails leaves the first reading.
fn split_merged_columns(
    t: &mut tess::Tess,
    image: &image::GrayImage,
    dpi: u32,
    mut rows: Vec<TsvWord>,
    deadline: Option<Deadline>,
) -> Vec<TsvWord> {
    let (width, height) = image.dimensions();
    let min_gap = ((dpi as f32 * MIN_COLUMN_GAP_INCHES).round() as u32).max(2);
    let pad = (dpi / 30).max(2);
    for block in merged_blocks(&rows) {
        if !rows.iter().any(|w| w.block == block) {
            continue; // already replaced with an earlier region
        }
        // The block's rectangle, grown by every block that overlaps it.
        let bounds = |b: u32, rows: &[TsvWord]| {
            rows.iter()
                .filter(|w| w.block == b && !clean_word(&w.text).is_empty())
                .map(|w| Rect::of_word(w, width, height))
                .reduce(Rect::union)
        };
        let Some(mut region) = bounds(block, &rows) else { continue };
        let mut members = vec![block];
        let mut blocks: Vec<u32> = rows.iter().map(|w| w.block).collect();
        blocks.dedup();
        loop {
            let before = members.len();
            for &b in &blocks {
                if members.contains(&b) {
                    continue;
                }
                if let Some(r) = bounds(b, &rows).filter(|r| r.intersects(region)) {
                    region = region.union(r);
                    members.push(b);
                }
            }
            if members.len() == before {
                break;
            }
        }
        let columns = column_ranges(image, region, min_gap);
        if columns.len() < 2 {
            continue;
        }
        let first_block = rows.iter().map(|w| w.block).max().unwrap_or(0) + 1;
        let mut fresh: Vec<Vec<TsvWord>> = Vec::new();
        let mut failed = false;
        for (block, (x0, x1)) in (first_block..).zip(columns) {
            let budget = match deadline {
                Some(d) if d.expired() => {
                    failed = true;
                    break;
                }
                Some(d) => Some(i32::try_from(d.remaining().as_millis()).unwrap_or(i32::MAX)),
                None => None,
            };
            let rect = Rect {
                x0: x0.saturating_sub(pad).max(region.x0.saturating_sub(pad)),
                y0: region.y0.saturating_sub(pad),
                x1: (x1 + pad).min(width),
                y1: (region.y1 + pad).min(height),
            };
            let Ok(tsv) = t.read_rectangle(rect.x0, rect.y0, rect.x1 - rect.x0, rect.y1 - rect.y0, budget)
            else {
                failed = true;
                break;
            };
            fresh.push(parse_tsv(&tsv).map(|w| TsvWord { block, ..w }).collect());
        }
        if failed || rows_aligned(&fresh) {
            continue;
        }
        let fresh: Vec<TsvWord> = fresh.into_iter().flatten().collect();
        let region = || rows.iter().filter(|w| members.contains(&w.block));
        let (old_good, new_good) = (well_read_chars(region()), well_read_chars(fresh.iter()));
        if char_confidence(fresh.iter()) <= char_confidence(region()) || new_good * 10 < old_good * 11 + 10 {
            continue;
        }
        let Some(at) = rows.iter().position(|w| members.contains(&w.block)) else { continue };
        rows.retain(|w| !members.contains(&w.block));
        let at = at.min(rows.len());
        rows.splice(at..at, fresh);
    }
    rows
}

/// How good a reading is, to choose between two orientations: words read with confidence.
fn quality(page: &OcrPage) -> f32 {
    page.words.iter().map(|w| w.confidence * w.text.chars().count() as f32).sum()
}

fn mean_confidence(words: &[Word]) -> f32 {
    if words.is_empty() { 0.0 } else { words.iter().map(|w| w.confidence).sum::<f32>() / words.len() as f32 }
}

fn check_image(page: &PageImage) -> Result<(), OcrError> {
    let (w, h) = page.image.dimensions();
    if w == 0 || h == 0 {
        return Err(OcrError::Image(format!("the image is empty ({w}×{h} pixels)")));
    }
    if w > MAX_SIDE || h > MAX_SIDE {
        return Err(OcrError::Image(format!("the image is {w}×{h} pixels, more than {MAX_SIDE} on a side")));
    }
    Ok(())
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic".to_string()
    }
}

/// `fra+eng` → checked C string. Language names are file names in the tessdata folder: letters,
/// digits, `_`, `-`, and `/` for the `script/…` models, never `..`.
fn check_languages(languages: &str) -> Result<CString, OcrError> {
    let parts: Vec<&str> = languages.split('+').collect();
    let valid = |p: &str| {
        !p.is_empty()
            && !p.starts_with('/')
            && !p.split('/').any(|s| s.is_empty() || s == "." || s == "..")
            && p.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '/'))
    };
    if parts.iter().any(|p| !valid(p)) {
        return Err(OcrError::Engine(format!(
            "invalid OCR languages {languages:?} (expected e.g. \"fra+eng\")"
        )));
    }
    CString::new(languages).map_err(|_| OcrError::Engine("invalid OCR languages".into()))
}

/// With a configured tessdata folder, every language must have its file there.
fn check_tessdata(dir: &std::path::Path, languages: &str) -> Result<(), OcrError> {
    if !dir.is_dir() {
        return Err(OcrError::Engine(format!("the tessdata folder {} does not exist", dir.display())));
    }
    let missing: Vec<String> =
        languages.split('+').map(|l| format!("{l}.traineddata")).filter(|f| !dir.join(f).is_file()).collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(OcrError::Engine(format!("{} not found in {}", missing.join(", "), dir.display())))
    }
}

fn path_cstring(dir: &std::path::Path) -> Result<CString, OcrError> {
    use std::os::unix::ffi::OsStrExt;
    CString::new(dir.as_os_str().as_bytes())
        .map_err(|_| OcrError::Engine(format!("invalid tessdata folder {}", dir.display())))
}

/// Tesseract refused the language list: find which languages it cannot load, one by one.
fn explain_init_failure(config: &OcrConfig, datapath: Option<&CStr>) -> OcrError {
    let mut missing = Vec::new();
    let mut folder: Option<PathBuf> = None;
    for lang in config.languages.split('+') {
        let Ok(c) = CString::new(lang) else { continue };
        match tess::Tess::init(datapath, &c) {
            Ok(t) => {
                if folder.is_none() {
                    folder = t.datapath();
                }
            }
            Err(()) => missing.push(format!("{lang}.traineddata")),
        }
    }
    let place = match (&config.tessdata, folder) {
        (Some(d), _) => d.display().to_string(),
        (None, Some(d)) => d.display().to_string(),
        (None, None) => "the default tessdata folder (set ocr.tessdata or TESSDATA_PREFIX)".to_string(),
    };
    if missing.is_empty() {
        OcrError::Engine(format!("Tesseract could not start with languages {}", config.languages))
    } else {
        OcrError::Engine(format!("language data {} not found in {place}", missing.join(", ")))
    }
}

/// Makes every OpenMP parallel region started from this thread run on this thread alone (see the
/// module documentation). Does nothing when libgomp is not in the process.
fn limit_openmp_on_this_thread() {
    static SET_MAX_ACTIVE_LEVELS: std::sync::OnceLock<Option<unsafe extern "C" fn(libc::c_int)>> =
        std::sync::OnceLock::new();
    let f = SET_MAX_ACTIVE_LEVELS.get_or_init(|| {
        // SAFETY: dlsym with RTLD_DEFAULT and a NUL-terminated name only looks a symbol up.
        let sym = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"omp_set_max_active_levels".as_ptr()) };
        if sym.is_null() {
            None
        } else {
            // SAFETY: omp_set_max_active_levels is `void omp_set_max_active_levels(int)` in every
            // OpenMP runtime.
            Some(unsafe { std::mem::transmute::<*mut libc::c_void, unsafe extern "C" fn(libc::c_int)>(sym) })
        }
    });
    if let Some(f) = f {
        // SAFETY: a plain OpenMP runtime call that sets this thread's ICV.
        unsafe { f(0) };
    }
}

/// One row of Tesseract's TSV output at word level.
#[derive(Debug, Clone, PartialEq)]
struct TsvWord {
    block: u32,
    par: u32,
    line: u32,
    left: i64,
    top: i64,
    width: i64,
    height: i64,
    conf: f32,
    text: String,
}

fn parse_tsv(tsv: &str) -> impl Iterator<Item = TsvWord> + '_ {
    tsv.lines().filter_map(|row| {
        let f: Vec<&str> = row.splitn(12, '\t').collect();
        if f.len() != 12 || f[0] != "5" {
            return None;
        }
        let num = |s: &str| s.trim().parse::<i64>().ok();
        let conf = f[10].trim().parse::<f32>().ok().filter(|c| c.is_finite()).unwrap_or(0.0);
        Some(TsvWord {
            block: u32::try_from(num(f[2])?).ok()?,
            par: u32::try_from(num(f[3])?).ok()?,
            line: u32::try_from(num(f[4])?).ok()?,
            left: num(f[6])?,
            top: num(f[7])?,
            width: num(f[8])?,
            height: num(f[9])?,
            conf: conf.clamp(0.0, 100.0),
            text: f[11].to_string(),
        })
    })
}

/// A word as it goes into the page text: NFC, and without characters that the page text's
/// normalisation would change or drop (controls, spaces, soft hyphens, zero-width marks).
pub fn clean_word(raw: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    raw.nfc()
        .filter(|c| {
            !c.is_control()
                && !c.is_whitespace()
                && !matches!(c, '\u{ad}' | '\u{200b}'..='\u{200f}' | '\u{2060}' | '\u{feff}')
        })
        .collect()
}

/// Page text and words from Tesseract's TSV. `Word::line` is the line's 1-based number in the
/// page (counting every line of every block), `Word::block` Tesseract's block number; boxes are
/// clipped to the image.
#[cfg(test)]
fn build_page(tsv: &str, width: u32, height: u32) -> (String, Vec<Word>) {
    build_page_from(&parse_tsv(tsv).collect::<Vec<_>>(), width, height)
}

/// Same from parsed rows, in reading order.
fn build_page_from(rows: &[TsvWord], width: u32, height: u32) -> (String, Vec<Word>) {
    let mut text = String::new();
    let mut words: Vec<Word> = Vec::new();
    let mut last: Option<(u32, u32, u32)> = None;
    let mut line_no = 0u32;
    for w in rows {
        let cleaned = clean_word(&w.text);
        if cleaned.is_empty() {
            continue;
        }
        let key = (w.block, w.par, w.line);
        match last {
            None => line_no = 1,
            Some(prev) if prev == key => text.push(' '),
            Some((b, p, _)) => {
                line_no += 1;
                text.push_str(if (b, p) == (w.block, w.par) { "\n" } else { "\n\n" });
            }
        }
        last = Some(key);
        let start = text.len();
        text.push_str(&cleaned);
        let span = Span { start, end: text.len() };
        words.push(Word {
            text: cleaned,
            span,
            bbox: clip_box(w.left, w.top, w.width, w.height, width, height),
            confidence: w.conf,
            block: w.block,
            line: line_no,
        });
    }
    (text, words)
}

fn clip_box(left: i64, top: i64, w: i64, h: i64, width: u32, height: u32) -> BBox {
    let (width, height) = (i64::from(width), i64::from(height));
    let x0 = left.clamp(0, width);
    let y0 = top.clamp(0, height);
    let x1 = left.saturating_add(w.max(0)).clamp(x0, width);
    let y1 = top.saturating_add(h.max(0)).clamp(y0, height);
    // All four are within 0..=u32::MAX by the clamps above.
    let u = |v: i64| u32::try_from(v).unwrap_or(0);
    BBox { x: u(x0), y: u(y0), w: u(x1 - x0), h: u(y1 - y0) }
}

/// The thin, safe wrapper over the Tesseract C API used by this module. (tesseract-plumbing's
/// `TessBaseApi` does not give the raw handle nor a recognition monitor, which the deadline and
/// orientation detection need.)
mod tess {
    use super::OcrError;
    use std::ffi::{CStr, c_char, c_int};
    use std::path::PathBuf;
    use std::ptr::{NonNull, null, null_mut};
    use tesseract::plumbing::leptonica_sys as lept;
    use tesseract::plumbing::tesseract_sys as sys;

    pub struct Tess(NonNull<sys::TessBaseAPI>);

    // SAFETY: a TessBaseAPI instance may be used from any thread as long as it is used by one
    // thread at a time, which `&mut self` on every call ensures.
    unsafe impl Send for Tess {}

    pub fn version() -> String {
        // SAFETY: TessVersion returns a pointer to a static NUL-terminated string.
        let p = unsafe { sys::TessVersion() };
        if p.is_null() {
            return "unknown".into();
        }
        // SAFETY: non-null, static, NUL-terminated (above).
        unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
    }

    impl Tess {
        /// `TessBaseAPIInit3(datapath, languages)`: default engine mode, like the CLI.
        pub fn init(datapath: Option<&CStr>, languages: &CStr) -> Result<Tess, ()> {
            // SAFETY: creating an instance has no precondition.
            let api = NonNull::new(unsafe { sys::TessBaseAPICreate() }).ok_or(())?;
            let t = Tess(api);
            // SAFETY: valid handle; both strings NUL-terminated and alive for the call.
            let rc = unsafe {
                sys::TessBaseAPIInit3(t.0.as_ptr(), datapath.map_or(null(), CStr::as_ptr), languages.as_ptr())
            };
            if rc != 0 {
                return Err(());
            }
            // Tesseract's diagnostics ("Too few characters. Skipping this page", …) would go to
            // stderr, page by page; what matters of them is in the result (empty page, warning).
            // SAFETY: valid handle; both strings are NUL-terminated literals.
            unsafe {
                sys::TessBaseAPISetVariable(t.0.as_ptr(), c"debug_file".as_ptr(), c"/dev/null".as_ptr())
            };
            Ok(t)
        }

        /// The folder the language data was read from.
        pub fn datapath(&self) -> Option<PathBuf> {
            // SAFETY: valid handle; the string belongs to the instance and is copied at once.
            let p = unsafe { sys::TessBaseAPIGetDatapath(self.0.as_ptr()) };
            if p.is_null() {
                return None;
            }
            // SAFETY: non-null NUL-terminated string owned by the instance.
            let s = unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned();
            Some(PathBuf::from(s))
        }

        /// The languages actually loaded.
        pub fn loaded_languages(&self) -> Vec<String> {
            // SAFETY: valid handle; the array is NULL-terminated, owned by us, freed below.
            let arr = unsafe { sys::TessBaseAPIGetLoadedLanguagesAsVector(self.0.as_ptr()) };
            let mut out = Vec::new();
            if arr.is_null() {
                return out;
            }
            for i in 0..1024 {
                // SAFETY: entries up to the NULL terminator are valid NUL-terminated strings.
                let p = unsafe { *arr.add(i) };
                if p.is_null() {
                    break;
                }
                // SAFETY: as above.
                out.push(unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned());
            }
            // SAFETY: allocated by Tesseract, freed once.
            unsafe { sys::TessDeleteTextArray(arr) };
            out
        }

        /// Gives the image and its resolution (on the image itself too, which orientation
        /// detection reads); automatic page segmentation.
        pub fn set_image(&mut self, image: &image::GrayImage, dpi: u32) -> Result<(), OcrError> {
            let (w, h) = image.dimensions();
            let too_big = || OcrError::Image(format!("the image is too large ({w}×{h})"));
            let cw = c_int::try_from(w).map_err(|_| too_big())?;
            let ch = c_int::try_from(h).map_err(|_| too_big())?;
            let res = c_int::try_from(dpi).unwrap_or(300);
            let needed = (w as usize).checked_mul(h as usize).ok_or_else(too_big)?;
            let data: &[u8] = image.as_raw();
            if w == 0 || h == 0 || data.len() < needed {
                return Err(OcrError::Image(format!("the image buffer does not hold {w}×{h} pixels")));
            }
            // SAFETY: pixCreateNoInit has no precondition; the result is checked for null.
            let mut pix = unsafe { lept::pixCreateNoInit(cw, ch, 8) };
            if pix.is_null() {
                return Err(OcrError::Engine(format!("cannot allocate a {w}×{h} image")));
            }
            // SAFETY: `pix` is a valid 8-bit image of h rows of `wpl` 32-bit words, each word
            // holding 4 pixels, the leftmost in the most significant byte (Leptonica's layout).
            unsafe {
                lept::pixSetResolution(pix, res, res);
                let wpl = usize::try_from(lept::pixGetWpl(pix)).unwrap_or(0);
                let words = lept::pixGetData(pix);
                if wpl * 4 < w as usize || words.is_null() {
                    lept::pixDestroy(&mut pix);
                    return Err(OcrError::Engine("unexpected image layout".into()));
                }
                let dst = std::slice::from_raw_parts_mut(words, wpl * h as usize);
                for (row, out) in data.chunks_exact(w as usize).zip(dst.chunks_exact_mut(wpl)) {
                    let mut quads = row.chunks(4);
                    for word in out.iter_mut() {
                        *word = match quads.next() {
                            Some(q) => {
                                let b = |i: usize| u32::from(q.get(i).copied().unwrap_or(0));
                                b(0) << 24 | b(1) << 16 | b(2) << 8 | b(3)
                            }
                            None => 0,
                        };
                    }
                }
                // Tesseract keeps its own reference to the image; ours is released.
                sys::TessBaseAPISetImage2(self.0.as_ptr(), pix);
                lept::pixDestroy(&mut pix);
                sys::TessBaseAPISetSourceResolution(self.0.as_ptr(), res);
                sys::TessBaseAPISetPageSegMode(self.0.as_ptr(), sys::TessPageSegMode_PSM_AUTO);
            }
            Ok(())
        }

        /// Reads the rectangle of the image set last as one uniform block of text (`--psm 6`)
        /// and gives its TSV, with boxes in the whole image's pixels.
        pub fn read_rectangle(
            &mut self,
            left: u32,
            top: u32,
            width: u32,
            height: u32,
            budget_ms: Option<i32>,
        ) -> Result<String, ()> {
            let c = |v: u32| c_int::try_from(v).map_err(|_| ());
            let (l, t, w, h) = (c(left)?, c(top)?, c(width)?, c(height)?);
            // SAFETY: valid handle with an image set; Tesseract clips the rectangle to the image.
            unsafe {
                sys::TessBaseAPISetPageSegMode(self.0.as_ptr(), sys::TessPageSegMode_PSM_SINGLE_BLOCK);
                sys::TessBaseAPISetRectangle(self.0.as_ptr(), l, t, w, h);
            }
            let read = self.recognize(budget_ms).and_then(|()| self.tsv().map_err(|_| ()));
            // SAFETY: valid handle.
            unsafe { sys::TessBaseAPISetPageSegMode(self.0.as_ptr(), sys::TessPageSegMode_PSM_AUTO) };
            read
        }

        /// Recognises the image set last; stops (and fails) after `budget_ms` milliseconds.
        pub fn recognize(&mut self, budget_ms: Option<i32>) -> Result<(), ()> {
            // SAFETY: creating a monitor has no precondition; it is deleted below.
            let monitor = match budget_ms {
                Some(ms) => {
                    let m = unsafe { sys::TessMonitorCreate() };
                    if !m.is_null() {
                        // SAFETY: valid monitor.
                        unsafe { sys::TessMonitorSetDeadlineMSecs(m, ms.max(1)) };
                    }
                    m
                }
                None => null_mut(),
            };
            // SAFETY: valid handle; the monitor is null or valid for the whole call.
            let rc = unsafe { sys::TessBaseAPIRecognize(self.0.as_ptr(), monitor) };
            if !monitor.is_null() {
                // SAFETY: created above, not used after this.
                unsafe { sys::TessMonitorDelete(monitor) };
            }
            if rc == 0 { Ok(()) } else { Err(()) }
        }

        /// The TSV rendering of the last recognition.
        pub fn tsv(&mut self) -> Result<String, OcrError> {
            // SAFETY: valid handle; the returned text is owned by us and freed below.
            let p: *mut c_char = unsafe { sys::TessBaseAPIGetTsvText(self.0.as_ptr(), 0) };
            if p.is_null() {
                return Err(OcrError::Engine("Tesseract gave no TSV output".into()));
            }
            // SAFETY: non-null NUL-terminated string from Tesseract.
            let s = unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned();
            // SAFETY: allocated by Tesseract's GetTsvText, freed once.
            unsafe { sys::TessDeleteText(p) };
            Ok(s)
        }

        /// Orientation of the image set last: (degrees to turn it clockwise to be upright,
        /// confidence), when detection ran. Needs an instance initialised with `osd`.
        pub fn detect_orientation(&mut self) -> Option<(u16, f32)> {
            let mut deg: c_int = 0;
            let mut conf: f32 = 0.0;
            let mut script: *const c_char = null();
            let mut script_conf: f32 = 0.0;
            // SAFETY: valid handle and out-pointers to locals; the script name is a pointer into
            // Tesseract's static tables and is not kept.
            let ok = unsafe {
                sys::TessBaseAPIDetectOrientationScript(
                    self.0.as_ptr(),
                    &mut deg,
                    &mut conf,
                    &mut script,
                    &mut script_conf,
                )
            };
            if ok == 0 || !conf.is_finite() {
                return None;
            }
            // Tesseract gives the text's orientation; turning the image by the opposite angle
            // brings it upright.
            let turn = (360 - deg.rem_euclid(360)) % 360;
            u16::try_from(turn).ok().map(|t| (t, conf))
        }

        /// Frees the image and the results, keeps the loaded models.
        pub fn clear(&mut self) {
            // SAFETY: valid handle.
            unsafe { sys::TessBaseAPIClear(self.0.as_ptr()) };
        }
    }

    impl Drop for Tess {
        fn drop(&mut self) {
            // SAFETY: valid handle, deleted once.
            unsafe {
                sys::TessBaseAPIEnd(self.0.as_ptr());
                sys::TessBaseAPIDelete(self.0.as_ptr());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TSV: &str = "1\t1\t0\t0\t0\t0\t0\t0\t400\t300\t-1\t\n\
        2\t1\t1\t0\t0\t0\t10\t10\t300\t60\t-1\t\n\
        3\t1\t1\t1\t0\t0\t10\t10\t300\t60\t-1\t\n\
        4\t1\t1\t1\t1\t0\t10\t10\t300\t20\t-1\t\n\
        5\t1\t1\t1\t1\t1\t10\t10\t80\t20\t96.5\tFacture\n\
        5\t1\t1\t1\t1\t2\t100\t10\t40\t20\t91.0\tn\u{b0}\n\
        5\t1\t1\t1\t1\t3\t150\t10\t40\t20\t12.0\t \n\
        5\t1\t1\t1\t2\t1\t10\t40\t90\t20\t88.0\tMalauce\u{300}ne\n\
        5\t1\t1\t2\t1\t1\t10\t70\t50\t20\t70.0\tTotal\u{a0}\n\
        5\t1\t2\t1\t1\t1\t350\t290\t90\t20\t50.0\t12,5\u{ad}0\n";

    #[test]
    fn page_text_from_tsv() {
        let (text, words) = build_page(TSV, 400, 300);
        assert_eq!(text, "Facture n°\nMalaucène\n\nTotal\n\n12,50");
        assert_eq!(crate::document::normalize_text(&text), text);
        let got: Vec<(&str, u32, u32)> = words.iter().map(|w| (w.text.as_str(), w.block, w.line)).collect();
        assert_eq!(
            got,
            [("Facture", 1, 1), ("n°", 1, 1), ("Malaucène", 1, 2), ("Total", 1, 3), ("12,50", 2, 4)]
        );
        for w in &words {
            assert_eq!(&text[w.span.start..w.span.end], w.text);
            assert!(w.bbox.x + w.bbox.w <= 400 && w.bbox.y + w.bbox.h <= 300);
        }
        // The last box overflows the image and is clipped.
        assert_eq!(words[4].bbox, BBox { x: 350, y: 290, w: 50, h: 10 });
        assert_eq!(mean_confidence(&words), (96.5 + 91.0 + 88.0 + 70.0 + 50.0) / 5.0);
    }

    #[test]
    fn empty_and_malformed_tsv() {
        assert_eq!(build_page("", 10, 10), (String::new(), vec![]));
        let (text, words) = build_page("5\t1\tx\t1\t1\t1\t0\t0\t1\t1\t9\tbad\n5\t1\t1\t1\n", 10, 10);
        assert!(text.is_empty() && words.is_empty());
        assert_eq!(mean_confidence(&[]), 0.0);
    }

    #[test]
    fn language_names_are_checked() {
        assert!(check_languages("fra+eng").is_ok());
        assert!(check_languages("script/Latin").is_ok());
        for bad in ["", "fra+", "../etc/passwd", "fra eng", "/abs", "a//b"] {
            assert!(matches!(check_languages(bad), Err(OcrError::Engine(_))), "{bad:?}");
        }
    }

    fn row(block: u32, line: u32, height: i64, conf: f32, text: &str) -> TsvWord {
        TsvWord { block, par: 1, line, left: 10, top: 10, width: 30, height, conf, text: text.into() }
    }

    #[test]
    fn merged_lines_are_told_by_tall_badly_read_words() {
        let mut rows: Vec<TsvWord> = (0..12).map(|i| row(1, i, 20, 90.0, "Facture")).collect();
        rows.extend([
            row(2, 1, 52, 14.0, "en"),
            row(2, 1, 20, 95.0, "FA-2026"),
            row(2, 2, 55, 0.0, "Seician"),
        ]);
        // One tall word alone, a tall word read well, a tall blank: not enough.
        rows.extend([row(3, 1, 60, 10.0, "ee"), row(4, 1, 60, 96.0, "TITRE"), row(4, 1, 60, 96.0, "GRAND")]);
        rows.push(row(5, 1, 60, 5.0, "\u{a0}"));
        rows.push(row(5, 1, 60, 5.0, "x"));
        assert_eq!(merged_blocks(&rows), [2]);
        // Too few well-read words to know the page's text height.
        assert!(merged_blocks(&rows[9..]).is_empty());
    }

    #[test]
    fn gutters_are_found_through_grain_streaks_and_dust() {
        let mut img = image::GrayImage::from_pixel(400, 100, image::Luma([240]));
        for y in 20..80 {
            for x in (20..100).chain(300..380) {
                if (x + y) % 3 == 0 {
                    img.put_pixel(x, y, image::Luma([40]));
                }
            }
            img.put_pixel(200, y, image::Luma([200])); // a faint scanner streak
            img.put_pixel(x_grain(y), y, image::Luma([215])); // grain
        }
        img.put_pixel(250, 50, image::Luma([60])); // one speck of dust
        let all = Rect { x0: 0, y0: 0, x1: 400, y1: 100 };
        assert_eq!(column_ranges(&img, all, 40), [(20, 100), (300, 380)]);
        // A gap narrower than asked for is no gutter.
        assert_eq!(column_ranges(&img, all, 250), [(20, 380)]);
        // Inside one column there is nothing to cut.
        assert_eq!(column_ranges(&img, Rect { x0: 10, y0: 0, x1: 150, y1: 100 }, 40), [(20, 100)]);
        assert!(column_ranges(&img, Rect { x0: 5, y0: 5, x1: 5, y1: 50 }, 40).is_empty());
    }

    #[test]
    fn table_rows_are_not_independent_columns() {
        let line = |block: u32, line: u32, top: i64| TsvWord { top, ..row(block, line, 20, 90.0, "mot") };
        // The grey scan's header: 30 px line pitch on the left, 32 on the right.
        let left: Vec<TsvWord> = (0..5).map(|i| line(1, i, 276 + 30 * i64::from(i))).collect();
        let right: Vec<TsvWord> = [298, 330, 362, 395].iter().zip(1..).map(|(&t, i)| line(2, i, t)).collect();
        assert!(!rows_aligned(&[left.clone(), right]));
        // Labels and their values: the same rows, give or take two pixels.
        let values: Vec<TsvWord> = (0..4).map(|i| line(2, i, 278 + 30 * i64::from(i))).collect();
        assert!(rows_aligned(&[left.clone(), values.clone()]));
        assert!(rows_aligned(&[vec![], left, values]));
        assert!(!rows_aligned(&[vec![], vec![]]));
    }

    fn x_grain(y: u32) -> u32 {
        (y * 37) % 400
    }

    #[test]
    fn words_are_cleaned() {
        assert_eq!(clean_word("e\u{301}te\u{301}\u{200b}"), "été");
        assert_eq!(clean_word("\u{a0}\t"), "");
    }
}
