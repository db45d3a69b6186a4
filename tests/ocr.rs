//! OCR engine (`liasse::ocr`) and image intake (PNG, JPEG, TIFF) against the real libtesseract
//! and real documents: SROIE scanned receipts, invoice2data renders, a French Factur-X invoice
//! rendered to images (fixtures/ocr, see SOURCES.md), and TIFF files built here with the `tiff`
//! and `fax` encoders.

use image::{GrayImage, Luma};
use liasse::config::{Config, OcrConfig};
use liasse::document::{Document, PageMethod, normalize_text};
use liasse::intake::{Deadline, Input, Intake, IntakeError};
use liasse::ocr::{Ocr, OcrError, OcrPage, PageImage};
use std::io::Cursor;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use unicode_normalization::UnicodeNormalization;

const SROIE: &str = "../shared/corpus/sroie/data";
const COMPARE: &str = "../shared/corpus/invoice2data/tests/compare";
const FRENCH_PNG: &str = "fixtures/ocr/facture_fr_top.png";

/// One engine and one intake for the tests that use the default configuration (starting
/// Tesseract costs a tenth of a second and some memory each time).
fn ocr() -> &'static Ocr {
    static OCR: OnceLock<Ocr> = OnceLock::new();
    OCR.get_or_init(|| {
        Ocr::new(&OcrConfig { threads: 2, ..OcrConfig::default() }).expect("Tesseract with fra+eng")
    })
}

fn intake() -> &'static Intake {
    static INTAKE: OnceLock<Intake> = OnceLock::new();
    INTAKE.get_or_init(|| Intake::new(&Config::default()).expect("intake"))
}

fn read_doc(intake: &Intake, bytes: Vec<u8>, name: &str) -> Result<Document, IntakeError> {
    let mut items = intake.read(Input::file(bytes, name, None));
    assert_eq!(items.len(), 1);
    items.remove(0).result
}

fn grey(path: &str) -> GrayImage {
    image::open(path).unwrap_or_else(|e| panic!("{path}: {e}")).to_luma8()
}

fn far_deadline() -> Deadline {
    Deadline::after(Duration::from_secs(3600))
}

/// Everything a page's words must satisfy: spans point at the word in the text, the text is
/// normalised, words are NFC without spaces or controls, boxes lie in the image, confidences are
/// percentages, and words come in reading order (spans increasing, line numbers not
/// decreasing).
fn check_page(text: &str, words: &[liasse::document::Word], width: u32, height: u32) {
    assert_eq!(normalize_text(text), text, "the page text is normalised");
    let mut last_end = 0;
    let mut last_line = 0;
    for w in words {
        assert!(!w.text.is_empty());
        assert_eq!(&text[w.span.start..w.span.end], w.text, "span of {:?}", w.text);
        assert!(w.span.start >= last_end, "words in text order");
        last_end = w.span.end;
        assert!(w.line >= last_line, "line numbers in reading order");
        last_line = w.line;
        assert_eq!(w.text.nfc().collect::<String>(), w.text);
        assert!(!w.text.chars().any(|c| c.is_whitespace() || c.is_control()));
        assert!(w.bbox.x + w.bbox.w <= width && w.bbox.y + w.bbox.h <= height, "box {:?}", w.bbox);
        assert!((0.0..=100.0).contains(&w.confidence));
    }
    // Nothing in the text but the words and their separators.
    let letters: usize = words.iter().map(|w| w.text.len()).sum();
    let separators = text.len() - letters;
    assert!(separators <= 2 * words.len(), "only separators between words");
}

fn contains_all(text: &str, needles: &[&str]) {
    for n in needles {
        assert!(text.contains(n), "{n:?} not found in:\n{text}");
    }
}

// ------------------------------------------------------------------------------------------
// The engine

#[test]
fn engine_names_its_version() {
    let v = ocr().engine_version();
    assert!(v.starts_with("tesseract 5"), "{v}");
    assert_eq!(ocr().threads(), 2);
}

#[test]
fn missing_language_fails_fast_naming_the_file() {
    let config = OcrConfig { languages: "fra+xyz".into(), ..OcrConfig::default() };
    match Ocr::new(&config) {
        Err(OcrError::Engine(m)) => {
            assert!(m.contains("xyz.traineddata"), "{m}");
            assert!(!m.contains("fra.traineddata"), "{m}");
        }
        Err(e) => panic!("expected an engine error, got {e}"),
        Ok(_) => panic!("a missing language must fail"),
    }
    // A configured tessdata folder without the files.
    let dir = std::env::temp_dir().join(format!("liasse-empty-tessdata-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = OcrConfig { tessdata: Some(dir.clone()), ..OcrConfig::default() };
    let err = Ocr::new(&config).err().expect("no language data there");
    assert!(
        matches!(&err, OcrError::Engine(m) if m.contains("fra.traineddata") && m.contains("eng.traineddata")),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
    // Not a language name.
    let config = OcrConfig { languages: "../../etc/passwd".into(), ..OcrConfig::default() };
    assert!(matches!(Ocr::new(&config), Err(OcrError::Engine(_))));
}

#[test]
fn french_accents_survive() {
    let image = grey(FRENCH_PNG);
    let (w, h) = image.dimensions();
    let page = ocr().recognize(&PageImage { image, dpi: 300 }).unwrap();
    contains_all(
        &page.text,
        &[
            "Malaucène",
            "République",
            "Date d'échéance 13/12/2017",
            "Votre référence PO445",
            "Réf. marché MSPE2017",
            "Facture FA-2017-0010",
            "FR19787878784",
        ],
    );
    check_page(&page.text, &page.words, w, h);
    assert_eq!((page.info.image_width, page.info.image_height, page.info.dpi), (w, h, 300));
    assert_eq!(page.info.languages, "fra+eng");
    assert!(page.info.engine.starts_with("tesseract 5"));
    assert!(page.info.confidence > 80.0, "{}", page.info.confidence);
    assert_eq!(page.rotation, 0);
    // The word "Malaucène" and its box: on the first line, in the top tenth of the image.
    let word = page.words.iter().find(|w| w.text == "Malaucène").expect("the word");
    assert!(word.bbox.y < h / 10 && word.bbox.w > 50 && word.bbox.h > 10, "{:?}", word.bbox);
    assert_eq!(word.line, page.words[0].line);
    // Lines joined by \n, blocks by a blank line.
    assert!(page.text.contains("\n\n") && page.text.lines().count() > 10);
    let mean = page.words.iter().map(|w| w.confidence).sum::<f32>() / page.words.len() as f32;
    assert!((mean - page.info.confidence).abs() < 1e-3);
}

#[test]
fn upside_down_page_is_turned_back() {
    let image = image::imageops::rotate180(&grey(FRENCH_PNG));
    let (w, h) = image.dimensions();
    let page = ocr().recognize(&PageImage { image, dpi: 300 }).unwrap();
    assert_eq!(page.rotation, 180);
    contains_all(&page.text, &["Malaucène", "Date d'échéance 13/12/2017"]);
    check_page(&page.text, &page.words, w, h);
}

#[test]
fn an_image_not_turnable_is_read_once_as_it_is() {
    // The upside-down page, in a batch where only the second copy may be turned.
    let image = image::imageops::rotate180(&grey(FRENCH_PNG));
    let results = ocr().recognize_pages_turnable(
        2,
        far_deadline(),
        |i| i == 1,
        |_| Ok(PageImage { image: image.clone(), dpi: 300 }),
    );
    let pages: Vec<OcrPage> = results.into_iter().map(|r| r.unwrap()).collect();
    assert_eq!(pages[0].rotation, 0);
    assert!(pages[0].info.confidence < 60.0, "{}", pages[0].info.confidence);
    assert!(!pages[0].text.contains("Malaucène"));
    assert_eq!(pages[1].rotation, 180);
    contains_all(&pages[1].text, &["Malaucène"]);
}

#[test]
fn blank_and_unusable_images() {
    let blank = GrayImage::from_pixel(800, 600, Luma([255]));
    let page = ocr().recognize(&PageImage { image: blank, dpi: 300 }).unwrap();
    assert!(page.text.is_empty() && page.words.is_empty());
    assert_eq!(page.info.confidence, 0.0);
    for (w, h) in [(0, 0), (0, 10), (40_000, 2)] {
        let r = ocr().recognize(&PageImage { image: GrayImage::new(w, h), dpi: 300 });
        assert!(matches!(r, Err(OcrError::Image(_))), "{w}×{h}");
    }
    // A resolution nobody believes is replaced by the default one.
    let page =
        ocr().recognize(&PageImage { image: GrayImage::from_pixel(50, 50, Luma([255])), dpi: 1 }).unwrap();
    assert_eq!(page.info.dpi, 300);
}

#[test]
fn pages_in_parallel_keep_their_order_and_results() {
    let images: Vec<GrayImage> =
        ["000", "001", "002", "003", "004"].iter().map(|n| grey(&format!("{SROIE}/img/{n}.jpg"))).collect();
    let loaded = AtomicUsize::new(0);
    let results = ocr().recognize_pages(images.len(), far_deadline(), |i| {
        loaded.fetch_add(1, Ordering::Relaxed);
        Ok(PageImage { image: images[i].clone(), dpi: 150 })
    });
    assert_eq!(loaded.load(Ordering::Relaxed), images.len());
    let pages: Vec<OcrPage> = results.into_iter().map(|r| r.unwrap()).collect();
    // Each page alone, on one thread of its own engine, reads the same: results do not depend on
    // which thread or which Tesseract instance read them.
    let single = Ocr::new(&OcrConfig { threads: 1, ..OcrConfig::default() }).unwrap();
    for (i, page) in pages.iter().enumerate() {
        let alone = single.recognize(&PageImage { image: images[i].clone(), dpi: 150 }).unwrap();
        assert_eq!(&alone, page, "page {i}");
        check_page(&page.text, &page.words, images[i].width(), images[i].height());
    }
    contains_all(&pages[0].text, &["Total : 9.00", "JALAN SAGU 18"]);
}

#[test]
fn expired_deadline_reads_nothing() {
    let loaded = AtomicUsize::new(0);
    let results = ocr().recognize_pages(5, Deadline::after(Duration::ZERO), |_| {
        loaded.fetch_add(1, Ordering::Relaxed);
        Ok(PageImage { image: GrayImage::new(10, 10), dpi: 300 })
    });
    assert_eq!(results.len(), 5);
    assert!(results.iter().all(|r| matches!(r, Err(OcrError::TimedOut))));
    assert_eq!(loaded.load(Ordering::Relaxed), 0, "no page is even loaded");
    assert!(ocr().recognize_pages(0, far_deadline(), |_| Err(OcrError::Image("none".into()))).is_empty());
}

#[test]
fn load_errors_stay_with_their_page() {
    let image = grey(&format!("{SROIE}/img/000.jpg"));
    let results = ocr().recognize_pages(3, far_deadline(), |i| match i {
        1 => Err(OcrError::Image("page 2 is broken".into())),
        _ => Ok(PageImage { image: image.clone(), dpi: 150 }),
    });
    assert!(results[0].is_ok() && results[2].is_ok());
    assert!(matches!(&results[1], Err(OcrError::Image(m)) if m == "page 2 is broken"));
}

// ------------------------------------------------------------------------------------------
// Image files through intake

/// An amount as OCR may read it: "33.90" also as "33,90" or "33. 90".
/// The greyscale scan's header: two columns whose lines interleave (the seller's address on
/// the left, number and dates on the right). Tesseract's layout analysis merged their lines into
/// garbage and the issue date was lost; the merged lines are now read again column by column
/// (`ocr.split_merged_columns`), and the date is found with its OCR box as evidence.
#[test]
fn grey_scan_header_columns_are_read_apart() {
    let path = crate::common::fixture("scan/facture_fr_scan_gris.pdf");
    let out = crate::common::process_file(&path);
    let doc = out[0].document.as_ref().expect("a document");
    let page = &doc.pages[0];
    assert_eq!(page.method, PageMethod::Ocr);
    let lines: Vec<&str> = page.text.lines().collect();
    for line in ["51100 Reims", "Facture n° : FA-2026-0142", "Date : 23/11/2026", "Échéance : 31/12/2026"]
    {
        assert!(lines.contains(&line), "{line:?} is not a line of:\n{}", page.text);
    }
    let ocr = page.ocr.as_ref().expect("OCR information");
    check_page(&page.text, &page.words, ocr.image_width, ocr.image_height);
    // Left column before right column, each word once.
    let at = |s: &str| page.text.find(s).unwrap_or_else(|| panic!("{s:?} not found"));
    assert!(at("compta@") < at("Facture n°"));
    assert_eq!(page.text.matches("23/11/2026").count(), 1);

    let invoice = &out[0].invoice.as_ref().expect("an invoice").invoices[0];
    let date = invoice.extracted.issue_date.as_ref().expect("the issue date is found");
    assert_eq!(date.value.to_string(), "2026-11-23");
    let loc = &date.evidence.locations[0];
    assert_eq!((loc.page, loc.text.as_str()), (1, "23/11/2026"));
    let bbox = loc.bbox.expect("an OCR box");
    let word = page.words.iter().find(|w| w.text == "23/11/2026").unwrap();
    assert_eq!(bbox, word.bbox);
    // In the right-hand column, on the line of its label.
    let label = page.words.iter().find(|w| w.text == "Date").unwrap();
    assert!(bbox.x > ocr.image_width / 2 && label.bbox.x < bbox.x);
    assert!(label.bbox.y.abs_diff(bbox.y) < bbox.h, "{:?} {bbox:?}", label.bbox);
}

fn amount_found(text: &str, amount: &str) -> bool {
    let pattern = regex::escape(amount).replace(r"\.", r"\s?[.,]\s?");
    regex::Regex::new(&format!(r"(^|[^0-9]){pattern}($|[^0-9])")).unwrap().is_match(text)
}

#[test]
fn scanned_receipts_give_their_totals_and_dates() {
    // The first 20 SROIE receipts (JPEG), with their key fields.
    let mut totals = 0;
    let mut dates = 0;
    let mut companies = 0;
    let n = 20;
    for i in 0..n {
        let bytes = std::fs::read(format!("{SROIE}/img/{i:03}.jpg")).unwrap();
        let key: serde_json::Value =
            serde_json::from_slice(&std::fs::read(format!("{SROIE}/key/{i:03}.json")).unwrap()).unwrap();
        let doc = read_doc(intake(), bytes, "receipt.jpg").unwrap();
        assert_eq!(doc.pages.len(), 1);
        let page = &doc.pages[0];
        assert_eq!(page.method, PageMethod::Ocr);
        let info = page.ocr.as_ref().unwrap();
        // The JFIF densities `file` reports: 150 dpi, 200 dpi, or none (units 0: the default).
        let dpi = match i {
            0..=7 => 150,
            19 => 200,
            _ => 300,
        };
        assert_eq!(info.dpi, dpi, "receipt {i:03}");
        check_page(&page.text, &page.words, info.image_width, info.image_height);
        totals += usize::from(amount_found(&page.text, key["total"].as_str().unwrap()));
        dates += usize::from(page.text.contains(key["date"].as_str().unwrap()));
        // Company names: most of their words are found.
        let company = key["company"].as_str().unwrap();
        let words: Vec<&str> = company.split_whitespace().collect();
        let found = words.iter().filter(|w| page.words.iter().any(|pw| pw.text.contains(*w))).count();
        companies += usize::from(found * 2 >= words.len());
    }
    // Tesseract 5.3.0 with Debian's fra+eng finds 16 of 20 of each.
    assert!(totals >= 14, "{totals}/{n} totals found");
    assert!(dates >= 14, "{dates}/{n} dates found");
    assert!(companies >= 14, "{companies}/{n} company names found");
}

#[test]
fn invoice_renders_png() {
    // invoice2data's renders of its test invoices, with its expected values beside them: RGB,
    // RGBA (transparent background) and palette PNGs.
    for (name, needles) in [
        ("oyo", &["IBZY2087", "1939"][..]),
        // "OD3041…" is read "0D3041…".
        ("FlipkartInvoice", &["304175096047380001", "319"][..]),
        ("SammyMaystoneLinesTest", &["cap_a", "shop supplies"][..]),
    ] {
        let bytes = std::fs::read(format!("{COMPARE}/{name}.png")).unwrap();
        let doc = read_doc(intake(), bytes, &format!("{name}.png")).unwrap();
        let page = &doc.pages[0];
        contains_all(&page.text, needles);
        let info = page.ocr.as_ref().unwrap();
        check_page(&page.text, &page.words, info.image_width, info.image_height);
    }
}

#[test]
fn png_resolution_is_read() {
    let doc = read_doc(intake(), std::fs::read(FRENCH_PNG).unwrap(), "facture.png").unwrap();
    let page = &doc.pages[0];
    assert_eq!(page.ocr.as_ref().unwrap().dpi, 300, "pHYs");
    contains_all(&page.text, &["Malaucène", "République"]);
    assert_eq!(doc.format, liasse::document::Format::Png);
}

#[test]
fn jpeg_exif_orientation_is_applied() {
    // A receipt stored turned a quarter left, with EXIF orientation 6 ("turn right to view").
    let upright = grey(&format!("{SROIE}/img/000.jpg"));
    let stored = image::imageops::rotate270(&upright);
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 95).encode_image(&stored).unwrap();
    let with_exif = insert_exif_orientation(&jpeg, 6);
    let doc = read_doc(intake(), with_exif, "turned.jpg").unwrap();
    let info = doc.pages[0].ocr.as_ref().unwrap();
    assert_eq!((info.image_width, info.image_height), upright.dimensions());
    contains_all(&doc.pages[0].text, &["Total : 9.00", "JALAN SAGU 18"]);
}

/// A JPEG with an EXIF APP1 segment holding only the Orientation tag, right after SOI.
fn insert_exif_orientation(jpeg: &[u8], orientation: u16) -> Vec<u8> {
    let mut tiff = Vec::new();
    tiff.extend_from_slice(b"II*\0");
    tiff.extend_from_slice(&8u32.to_le_bytes());
    tiff.extend_from_slice(&1u16.to_le_bytes());
    tiff.extend_from_slice(&0x0112u16.to_le_bytes());
    tiff.extend_from_slice(&3u16.to_le_bytes());
    tiff.extend_from_slice(&1u32.to_le_bytes());
    tiff.extend_from_slice(&orientation.to_le_bytes());
    tiff.extend_from_slice(&[0, 0]);
    tiff.extend_from_slice(&0u32.to_le_bytes());
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&u16::try_from(app1.len() + 2).unwrap().to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}

// ------------------------------------------------------------------------------------------
// TIFF

/// A multi-page TIFF written by the `tiff` crate (LZW, 8-bit grey, with resolutions).
fn lzw_tiff(pages: &[(&GrayImage, u32)]) -> Vec<u8> {
    use tiff::encoder::{Compression, Rational, TiffEncoder, colortype};
    use tiff::tags::ResolutionUnit;
    let mut out = Cursor::new(Vec::new());
    let mut encoder = TiffEncoder::new(&mut out).unwrap().with_compression(Compression::Lzw);
    for (image, dpi) in pages {
        let mut page = encoder.new_image::<colortype::Gray8>(image.width(), image.height()).unwrap();
        page.resolution(ResolutionUnit::Inch, Rational { n: *dpi, d: 1 });
        page.write_data(image.as_raw()).unwrap();
    }
    out.into_inner()
}

/// One page of a TIFF written by [`raw_tiff`]: its tags (besides the strip tags) and its single
/// strip of data.
struct RawPage {
    width: u32,
    height: u32,
    /// (tag, type, values): type 3 SHORT, 4 LONG, 5 RATIONAL (values in pairs).
    tags: Vec<(u16, u16, Vec<u32>)>,
    data: Vec<u8>,
}

/// A little-endian TIFF of `pages`, each a single strip: enough to write what the `tiff` crate's
/// encoder cannot (CCITT fax data, palettes, odd compressions).
fn raw_tiff(pages: &[RawPage]) -> Vec<u8> {
    let mut out = b"II*\0\0\0\0\0".to_vec();
    let mut link = 4usize; // where the offset of the next directory goes
    for page in pages {
        let strip_at = out.len() as u32;
        out.extend_from_slice(&page.data);
        if out.len() % 2 == 1 {
            out.push(0);
        }
        let mut tags = page.tags.clone();
        tags.push((256, 4, vec![page.width]));
        tags.push((257, 4, vec![page.height]));
        tags.push((273, 4, vec![strip_at]));
        tags.push((278, 4, vec![page.height]));
        tags.push((279, 4, vec![page.data.len() as u32]));
        tags.sort_by_key(|t| t.0);
        // Values that do not fit in an entry go before the directory.
        let mut entries = Vec::new();
        for (tag, typ, values) in &tags {
            let bytes: Vec<u8> = match typ {
                3 => values.iter().flat_map(|v| (*v as u16).to_le_bytes()).collect(),
                _ => values.iter().flat_map(|v| v.to_le_bytes()).collect(),
            };
            let count = if *typ == 5 { values.len() / 2 } else { values.len() } as u32;
            let field = if bytes.len() <= 4 {
                let mut f = bytes.clone();
                f.resize(4, 0);
                f
            } else {
                let at = out.len() as u32;
                out.extend_from_slice(&bytes);
                at.to_le_bytes().to_vec()
            };
            entries.push((*tag, *typ, count, field));
        }
        let ifd_at = out.len() as u32;
        out[link..link + 4].copy_from_slice(&ifd_at.to_le_bytes());
        out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        for (tag, typ, count, field) in entries {
            out.extend_from_slice(&tag.to_le_bytes());
            out.extend_from_slice(&typ.to_le_bytes());
            out.extend_from_slice(&count.to_le_bytes());
            out.extend_from_slice(&field);
        }
        link = out.len();
        out.extend_from_slice(&0u32.to_le_bytes());
    }
    out
}

/// A bilevel page (threshold 160) as CCITT Group 4 data, white runs as in fax.
fn group4(image: &GrayImage) -> Vec<u8> {
    let width = u16::try_from(image.width()).unwrap();
    let mut encoder = fax::encoder::Encoder::new(fax::VecWriter::new());
    for row in image.rows() {
        let pels = row.map(|p| if p.0[0] < 160 { fax::Color::Black } else { fax::Color::White });
        encoder.encode_line(pels, width).unwrap();
    }
    encoder.finish().unwrap().finish()
}

fn fax_page(image: &GrayImage, fill_order: u32) -> RawPage {
    RawPage {
        width: image.width(),
        height: image.height(),
        tags: vec![
            (259, 3, vec![4]), // Compression: CCITT Group 4
            (262, 3, vec![0]), // WhiteIsZero
            (266, 3, vec![fill_order]),
            (258, 3, vec![1]), // 1 bit per sample
            (282, 5, vec![300, 1]),
            (283, 5, vec![300, 1]),
            (296, 3, vec![2]), // per inch
        ],
        data: {
            let data = group4(image);
            if fill_order == 2 { data.iter().map(|b| b.reverse_bits()).collect() } else { data }
        },
    }
}

#[test]
fn multi_page_lzw_tiff_keeps_page_order() {
    let french = grey(FRENCH_PNG);
    let receipt = grey(&format!("{SROIE}/img/000.jpg"));
    let bytes = lzw_tiff(&[(&receipt, 150), (&french, 300), (&receipt, 150)]);
    let doc = read_doc(intake(), bytes, "scan.tif").unwrap();
    assert_eq!(doc.format, liasse::document::Format::Tiff);
    assert_eq!(doc.pages.len(), 3);
    for (i, page) in doc.pages.iter().enumerate() {
        assert_eq!(page.number as usize, i + 1);
        assert_eq!(page.method, PageMethod::Ocr);
        let info = page.ocr.as_ref().unwrap();
        check_page(&page.text, &page.words, info.image_width, info.image_height);
    }
    contains_all(&doc.pages[0].text, &["Total : 9.00", "JALAN SAGU 18"]);
    contains_all(&doc.pages[1].text, &["Malaucène", "République"]);
    assert_eq!(doc.pages[0].text, doc.pages[2].text);
    assert_eq!(doc.pages[0].ocr.as_ref().unwrap().dpi, 150);
    assert_eq!(doc.pages[1].ocr.as_ref().unwrap().dpi, 300);
    assert_eq!(doc.span_text(2, doc.pages[1].words[0].span), Some(doc.pages[1].words[0].text.as_str()));
    assert!(doc.warnings.is_empty(), "{:?}", doc.warnings);
}

#[test]
fn rgb_and_16_bit_tiff_pages() {
    use tiff::encoder::{Compression, TiffEncoder, colortype};
    let french = grey(FRENCH_PNG);
    let (w, h) = french.dimensions();
    // Colour page: black text on a pale yellow background; 16-bit grey page.
    let rgb: Vec<u8> = french.as_raw().iter().flat_map(|v| [*v, *v, (u16::from(*v) * 3 / 4) as u8]).collect();
    let grey16: Vec<u16> = french.as_raw().iter().map(|v| u16::from(*v) * 257).collect();
    let mut out = Cursor::new(Vec::new());
    let mut encoder =
        TiffEncoder::new(&mut out).unwrap().with_compression(Compression::Deflate(Default::default()));
    encoder.write_image::<colortype::RGB8>(w, h, &rgb).unwrap();
    encoder.write_image::<colortype::Gray16>(w, h, &grey16).unwrap();
    let doc = read_doc(intake(), out.into_inner(), "colour.tif").unwrap();
    assert_eq!(doc.pages.len(), 2);
    for page in &doc.pages {
        contains_all(&page.text, &["Malaucène", "République"]);
        // No resolution in these files: the default.
        assert_eq!(page.ocr.as_ref().unwrap().dpi, 300);
    }
}

#[test]
fn group4_fax_tiff_in_both_bit_orders() {
    let french = grey(FRENCH_PNG);
    let bytes = raw_tiff(&[fax_page(&french, 1), fax_page(&french, 2)]);
    let doc = read_doc(intake(), bytes, "fax.tif").unwrap();
    assert_eq!(doc.pages.len(), 2);
    for page in &doc.pages {
        contains_all(&page.text, &["Malaucène", "République", "FA-2017-0010"]);
        let info = page.ocr.as_ref().unwrap();
        assert_eq!((info.image_width, info.image_height, info.dpi), (french.width(), french.height(), 300));
    }
    // The same bits, read by the `tiff` crate (order 1) and here (order 2): the same page.
    assert_eq!(doc.pages[0].text, doc.pages[1].text);
}

#[test]
fn group3_fax_tiffs() {
    // Made by Pillow/libtiff from the French invoice (fixtures/ocr/SOURCES.md): two pages in fine
    // resolution (204×196 dpi), and one page in normal resolution (204×98), whose rows are
    // doubled before OCR.
    let doc =
        read_doc(intake(), std::fs::read("fixtures/ocr/fax_g3_fine_2pages.tif").unwrap(), "fax.tif").unwrap();
    assert_eq!(doc.pages.len(), 2);
    contains_all(&doc.pages[0].text, &["Malaucène", "République", "Facture FA-2017-0010"]);
    contains_all(&doc.pages[1].text, &["Huile d'olive", "Règlement"]);
    assert!(!doc.pages[1].text.contains("Malaucène"));
    let info = doc.pages[0].ocr.as_ref().unwrap();
    assert_eq!((info.image_width, info.image_height, info.dpi), (1686, 917, 204));

    let doc =
        read_doc(intake(), std::fs::read("fixtures/ocr/fax_g3_normal.tif").unwrap(), "fax.tif").unwrap();
    let info = doc.pages[0].ocr.as_ref().unwrap();
    assert_eq!((info.image_width, info.image_height), (1686, 2 * 458));
    contains_all(&doc.pages[0].text, &["Facture FA-2017-0010", "35 rue de la République", "FR19787878784"]);
}

#[test]
fn palette_tiff() {
    // 8-bit palette page whose colour map reverses grey levels: index i is grey 255 - i.
    let french = grey(FRENCH_PNG);
    let indices: Vec<u8> = french.as_raw().iter().map(|v| 255 - v).collect();
    let mut map = Vec::with_capacity(768);
    for _ in 0..3 {
        map.extend((0..256u32).map(|i| (255 - i) * 257));
    }
    let page = RawPage {
        width: french.width(),
        height: french.height(),
        tags: vec![(258, 3, vec![8]), (259, 3, vec![1]), (262, 3, vec![3]), (277, 3, vec![1]), (320, 3, map)],
        data: indices,
    };
    let doc = read_doc(intake(), raw_tiff(&[page]), "palette.tif").unwrap();
    contains_all(&doc.pages[0].text, &["Malaucène", "République"]);
}

#[test]
fn a_broken_page_does_not_lose_the_others() {
    let french = grey(FRENCH_PNG);
    let mut broken = fax_page(&french, 1);
    broken.data = vec![0; 64]; // no fax row in there
    let bytes = raw_tiff(&[fax_page(&french, 1), broken]);
    let doc = read_doc(intake(), bytes, "fax.tif").unwrap();
    assert_eq!(doc.pages.len(), 2);
    assert_eq!(doc.pages[0].method, PageMethod::Ocr);
    assert_eq!(doc.pages[1].method, PageMethod::None);
    assert!(doc.pages[1].text.is_empty());
    assert!(
        doc.warnings.iter().any(|w| w.code == "page_unreadable" && w.page == Some(2)),
        "{:?}",
        doc.warnings
    );
}

#[test]
fn unsupported_tiff_compression_is_named() {
    let page = RawPage {
        width: 16,
        height: 16,
        tags: vec![(258, 3, vec![8]), (259, 3, vec![34712]), (262, 3, vec![1])],
        data: vec![0; 64],
    };
    match read_doc(intake(), raw_tiff(&[page]), "j2k.tif") {
        Err(IntakeError::Unsupported(m)) => assert!(m.contains("34712"), "{m}"),
        other => panic!("{other:?}"),
    }
    let page = RawPage {
        width: 16,
        height: 16,
        tags: vec![(258, 3, vec![1]), (259, 3, vec![3]), (262, 3, vec![0]), (292, 4, vec![1])],
        data: vec![0; 64],
    };
    match read_doc(intake(), raw_tiff(&[page]), "g3-2d.tif") {
        Err(IntakeError::Unsupported(m)) => assert!(m.contains("2-D"), "{m}"),
        other => panic!("{other:?}"),
    }
}

// ------------------------------------------------------------------------------------------
// Hostile, broken and oversized files

#[test]
fn corrupt_images_are_typed_errors() {
    let png = std::fs::read(FRENCH_PNG).unwrap();
    let jpeg = std::fs::read(format!("{SROIE}/img/000.jpg")).unwrap();
    for (name, bytes) in [
        ("truncated.png", png[..png.len() / 3].to_vec()),
        ("header-only.png", png[..40].to_vec()),
        ("truncated.jpg", jpeg[..200].to_vec()),
        ("bad.tif", b"II*\0\x08\0\0\0\xff\xff garbage".to_vec()),
        ("loop.tif", b"II*\0\x04\0\0\0".to_vec()),
    ] {
        match read_doc(intake(), bytes, name) {
            Err(IntakeError::Corrupt(_)) => {}
            other => panic!("{name}: {other:?}"),
        }
    }
}

#[test]
fn decompression_bombs_are_refused_before_decoding() {
    // A PNG header claiming 60000×60000 pixels (3.6 gigapixels), and nothing behind it.
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend_from_slice(&60_000u32.to_be_bytes());
    ihdr.extend_from_slice(&60_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
    png.extend_from_slice(&13u32.to_be_bytes());
    png.extend_from_slice(&ihdr);
    png.extend_from_slice(&crc32(&ihdr).to_be_bytes());
    // One stored (uncompressed) deflate block of one byte, then the end.
    let mut idat = b"IDAT".to_vec();
    idat.extend_from_slice(&[0x78, 0x01, 0x01, 0x01, 0x00, 0xFE, 0xFF, 0x00, 0x00, 0x01, 0x00, 0x01]);
    png.extend_from_slice(&(idat.len() as u32 - 4).to_be_bytes());
    png.extend_from_slice(&idat);
    png.extend_from_slice(&crc32(&idat).to_be_bytes());
    png.extend_from_slice(&0u32.to_be_bytes());
    png.extend_from_slice(b"IEND");
    png.extend_from_slice(&crc32(b"IEND").to_be_bytes());
    match read_doc(intake(), png, "bomb.png") {
        Err(IntakeError::TooLarge { actual, limit, .. }) => {
            assert_eq!(actual, 3_600_000_000);
            assert_eq!(limit, Config::default().limits.max_image_pixels);
        }
        other => panic!("{other:?}"),
    }
    // A TIFF page of 50000×50000 (1 bit per pixel: a few hundred MB decoded).
    let page = RawPage {
        width: 50_000,
        height: 50_000,
        tags: vec![(258, 3, vec![1]), (259, 3, vec![1]), (262, 3, vec![0])],
        data: vec![0; 16],
    };
    assert!(matches!(read_doc(intake(), raw_tiff(&[page]), "bomb.tif"), Err(IntakeError::TooLarge { .. })));
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for b in bytes {
        crc ^= u32::from(*b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

#[test]
fn limits_on_pages_and_time() {
    let small = GrayImage::from_pixel(64, 64, Luma([255]));
    let bytes = lzw_tiff(&[(&small, 300), (&small, 300), (&small, 300)]);
    let mut config = Config::default();
    config.limits.max_pages = 2;
    config.ocr.threads = 1;
    let strict = Intake::new(&config).unwrap();
    match read_doc(&strict, bytes.clone(), "long.tif") {
        Err(IntakeError::TooLarge { actual: 3, limit: 2, .. }) => {}
        other => panic!("{other:?}"),
    }
    // Blank pages: read, but no text anywhere.
    assert!(matches!(read_doc(intake(), bytes, "blank.tif"), Err(IntakeError::Empty(_))));
    // No time at all: nothing is read.
    let mut config = Config::default();
    config.limits.document_timeout_secs = 0;
    config.ocr.threads = 1;
    let hurried = Intake::new(&config).unwrap();
    let png = std::fs::read(FRENCH_PNG).unwrap();
    assert!(matches!(read_doc(&hurried, png, "facture.png"), Err(IntakeError::TimedOut { .. })));
}
