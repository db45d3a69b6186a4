//! Image files (PNG, JPEG, TIFF with all its pages): decoded, then read by OCR.
//!
//! PNG and JPEG are decoded with the `image` crate (the EXIF orientation of a JPEG is applied);
//! TIFF with the `tiff` crate, every page (image directory) of it, reduced-resolution copies
//! (thumbnails) skipped. The `tiff` crate reads uncompressed, LZW, Deflate, PackBits, JPEG and
//! CCITT Group 4 pages; CCITT Group 3 one-dimensional pages (compression 3, the fax format) and
//! bit-reversed (`FillOrder` 2) Group 4 pages are decoded here with the `fax` crate. Palette
//! pages are read through their colour map. Every page becomes an 8-bit grey image, transparent
//! parts laid over white; fax pages in "normal" resolution (204×98 dpi) get their rows doubled
//! so that letters keep their shape.
//!
//! A TIFF is first walked through (headers only): page count, page sizes, compressions and
//! resolutions are checked against the limits before anything is decoded; each page is decoded
//! only when an OCR thread asks for it, so a 100-page TIFF never has more decoded pages in
//! memory than there are OCR threads.
//!
//! Resolution: PNG `pHYs`, JPEG JFIF density (the EXIF resolution is not used: cameras and
//! phones write 72 dpi whatever they shot), TIFF `XResolution`/`ResolutionUnit`; when missing or
//! outside [`CREDIBLE_DPI`], `ocr.default_dpi`.

use super::{Deadline, Intake, IntakeError};
use crate::config::Limits;
use crate::document::{Format, Page, PageMethod, Warning};
use crate::ocr::{MAX_SIDE, OcrError, OcrPage, PageImage};
use image::{DynamicImage, GrayImage, ImageDecoder, Luma};
use std::borrow::Cow;
use std::io::Cursor;
use std::sync::Mutex;
use tiff::decoder::{Decoder as TiffDecoder, DecodingResult};
use tiff::tags::{CompressionMethod, Tag};
use tiff::{ColorType, TiffError};

pub struct ImageRead {
    pub pages: Vec<Page>,
    pub warnings: Vec<Warning>,
}

/// Resolutions believed when an image states one.
pub const CREDIBLE_DPI: std::ops::RangeInclusive<u32> = 70..=1200;

pub fn read(
    intake: &Intake,
    bytes: &[u8],
    format: Format,
    deadline: Deadline,
) -> Result<ImageRead, IntakeError> {
    let limits = &intake.config.limits;
    let default_dpi = intake.config.ocr.default_dpi;
    match format {
        Format::Png | Format::Jpeg => {
            let page = decode_single(bytes, format, limits, default_dpi)?;
            let slot = Mutex::new(Some(page));
            let results = intake.ocr.recognize_pages(1, deadline, |_| {
                slot.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .take()
                    .ok_or_else(|| OcrError::Image("the page image was already used".into()))
            });
            assemble(results, &[], Vec::new(), deadline)
        }
        Format::Tiff => {
            let scan = scan_tiff(bytes, limits, default_dpi)?;
            // The `tiff` crate does not read palettes: palette pages are relabelled as grey in a
            // copy of the bytes (see `relabel_palette_as_grey`), and that copy is decoded.
            let relabelled: Vec<u8>;
            let tiff = if scan.palette_ifds.is_empty() {
                Tiff { bytes, decoder: Mutex::new(scan.decoder), pages: scan.pages, warnings: scan.warnings }
            } else {
                let mut copy = bytes.to_vec();
                for ifd in &scan.palette_ifds {
                    relabel_palette_as_grey(&mut copy, *ifd)?;
                }
                relabelled = copy;
                let decoder = walk(&relabelled, limits, scan.directories)?;
                Tiff {
                    bytes: &relabelled,
                    decoder: Mutex::new(decoder),
                    pages: scan.pages,
                    warnings: scan.warnings,
                }
            };
            let errors: Vec<Mutex<Option<IntakeError>>> =
                (0..tiff.pages.len()).map(|_| Mutex::new(None)).collect();
            let results = intake.ocr.recognize_pages(tiff.pages.len(), deadline, |i| {
                tiff.load(i).map_err(|e| {
                    let message = e.to_string();
                    if let Some(slot) = errors.get(i) {
                        *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                    }
                    OcrError::Image(message)
                })
            });
            let errors: Vec<Option<IntakeError>> =
                errors.into_iter().map(|m| m.into_inner().unwrap_or_else(|p| p.into_inner())).collect();
            assemble(results, &errors, tiff.warnings, deadline)
        }
        other => Err(IntakeError::Internal(format!("{other:?} is not an image format"))),
    }
}

/// OCR results → pages and warnings. An engine failure fails the document (`Internal`: the file
/// may well be fine); so does a document of which no page could be read. Otherwise each page that
/// could not be read is an empty page with a warning.
fn assemble(
    results: Vec<Result<OcrPage, OcrError>>,
    decode_errors: &[Option<IntakeError>],
    mut warnings: Vec<Warning>,
    deadline: Deadline,
) -> Result<ImageRead, IntakeError> {
    let mut pages = Vec::with_capacity(results.len());
    let mut read = 0usize;
    let mut timed_out = 0usize;
    let mut first_error: Option<IntakeError> = None;
    for (i, result) in results.into_iter().enumerate() {
        let number = u32::try_from(i + 1).unwrap_or(u32::MAX);
        match result {
            Ok(p) => {
                read += 1;
                if p.rotation != 0 {
                    warnings.push(Warning::new(
                        "page_rotated",
                        Some(number),
                        format!("the page was read turned by {} degrees clockwise", p.rotation),
                    ));
                }
                let method = if p.text.is_empty() { PageMethod::None } else { PageMethod::Ocr };
                pages.push(Page {
                    number,
                    method,
                    text: p.text,
                    layout: None,
                    ocr: Some(p.info),
                    words: p.words,
                });
            }
            Err(OcrError::Engine(m)) => {
                return Err(IntakeError::Internal(format!("page {number}: OCR engine: {m}")));
            }
            Err(OcrError::TimedOut) => {
                timed_out += 1;
                warnings.push(Warning::new(
                    "page_timed_out",
                    Some(number),
                    format!("the page was not read: the {} s budget ran out", deadline.budget_secs()),
                ));
                pages.push(empty_page(number));
            }
            Err(OcrError::Image(m)) => {
                let error = decode_errors.get(i).cloned().flatten().unwrap_or(IntakeError::Corrupt(m));
                warnings.push(Warning::new("page_unreadable", Some(number), error.to_string()));
                first_error.get_or_insert(error);
                pages.push(empty_page(number));
            }
        }
    }
    if read == 0 {
        if timed_out > 0 {
            return Err(IntakeError::TimedOut {
                stage: "reading the page images",
                seconds: deadline.budget_secs(),
            });
        }
        if let Some(e) = first_error {
            return Err(e);
        }
    }
    Ok(ImageRead { pages, warnings })
}

fn empty_page(number: u32) -> Page {
    Page { number, method: PageMethod::None, text: String::new(), layout: None, ocr: None, words: Vec::new() }
}

fn credible(dpi: Option<u32>, default_dpi: u32) -> u32 {
    dpi.filter(|d| CREDIBLE_DPI.contains(d)).unwrap_or(default_dpi)
}

/// Width × height against the limits: the pixel budget and Tesseract's largest side.
fn check_size(width: u32, height: u32, limits: &Limits) -> Result<(), IntakeError> {
    let pixels = u64::from(width) * u64::from(height);
    if pixels > limits.max_image_pixels {
        return Err(IntakeError::TooLarge {
            what: "the image's pixel count",
            actual: pixels,
            limit: limits.max_image_pixels,
        });
    }
    let side = width.max(height);
    if side > MAX_SIDE {
        return Err(IntakeError::TooLarge {
            what: "the image's side",
            actual: side.into(),
            limit: MAX_SIDE.into(),
        });
    }
    if width == 0 || height == 0 {
        return Err(IntakeError::Corrupt(format!("the image is {width}×{height} pixels")));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// PNG and JPEG

fn decode_single(
    bytes: &[u8],
    format: Format,
    limits: &Limits,
    default_dpi: u32,
) -> Result<PageImage, IntakeError> {
    let (image_format, dpi) = match format {
        Format::Png => (image::ImageFormat::Png, png_dpi(bytes)),
        Format::Jpeg => (image::ImageFormat::Jpeg, jfif_dpi(bytes)),
        other => return Err(IntakeError::Internal(format!("{other:?} is not a single image"))),
    };
    let mut reader = image::ImageReader::with_format(Cursor::new(bytes), image_format);
    let mut image_limits = image::Limits::default();
    // Room for the largest allowed image at 16-bit RGBA, the widest form a decoder may produce.
    image_limits.max_alloc = Some(limits.max_image_pixels.saturating_mul(8));
    reader.limits(image_limits.clone());
    let mut decoder = reader.into_decoder().map_err(|e| image_error(e, &image_limits))?;
    let (width, height) = decoder.dimensions();
    check_size(width, height, limits)?;
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut decoded = DynamicImage::from_decoder(decoder).map_err(|e| image_error(e, &image_limits))?;
    decoded.apply_orientation(orientation);
    Ok(PageImage { image: to_grey(decoded), dpi: credible(dpi, default_dpi) })
}

fn image_error(e: image::ImageError, limits: &image::Limits) -> IntakeError {
    match e {
        image::ImageError::Limits(_) => IntakeError::TooLarge {
            what: "the memory to decode the image",
            actual: limits.max_alloc.unwrap_or(0).saturating_add(1),
            limit: limits.max_alloc.unwrap_or(0),
        },
        image::ImageError::Unsupported(u) => IntakeError::Unsupported(format!("image: {u}")),
        other => IntakeError::Corrupt(format!("the image cannot be decoded: {other}")),
    }
}

/// Grey, with transparent parts laid over white (a transparent background must not read as
/// black).
fn to_grey(image: DynamicImage) -> GrayImage {
    if !image.color().has_alpha() {
        return image.into_luma8();
    }
    let la = image.to_luma_alpha8();
    let (w, h) = la.dimensions();
    let mut out = GrayImage::new(w, h);
    for (o, p) in out.pixels_mut().zip(la.pixels()) {
        let [l, a] = p.0;
        let (l, a) = (u32::from(l), u32::from(a));
        o.0[0] = ((l * a + 255 * (255 - a) + 127) / 255) as u8;
    }
    out
}

/// Resolution from the PNG `pHYs` chunk (pixels per metre).
fn png_dpi(bytes: &[u8]) -> Option<u32> {
    let reader = png::Decoder::new(Cursor::new(bytes)).read_info().ok()?;
    let dims = reader.info().pixel_dims?;
    if dims.unit != png::Unit::Meter {
        return None;
    }
    Some((f64::from(dims.xppu) * 0.0254).round() as u32)
}

/// Resolution from the JPEG's JFIF `APP0` segment (units 1: per inch, 2: per cm).
fn jfif_dpi(bytes: &[u8]) -> Option<u32> {
    let mut pos = 2; // after SOI
    if bytes.get(..2)? != [0xFF, 0xD8] {
        return None;
    }
    // Segments up to the start of scan; JFIF APP0 comes first when there is one.
    for _ in 0..64 {
        if *bytes.get(pos)? != 0xFF {
            return None;
        }
        let marker = *bytes.get(pos + 1)?;
        if marker == 0xFF {
            pos += 1; // fill byte
            continue;
        }
        if marker == 0xDA || marker == 0xD9 {
            return None;
        }
        let len = usize::from(u16::from_be_bytes([*bytes.get(pos + 2)?, *bytes.get(pos + 3)?]));
        let body = bytes.get(pos + 4..pos + 2 + len)?;
        if marker == 0xE0 && body.len() >= 12 && body.starts_with(b"JFIF\0") {
            let units = body[7];
            let x = u32::from(u16::from_be_bytes([body[8], body[9]]));
            return match units {
                1 => Some(x),
                2 => Some((f64::from(x) * 2.54).round() as u32),
                _ => None,
            };
        }
        pos += 2 + len;
    }
    None
}

// ---------------------------------------------------------------------------------------------
// TIFF

/// A TIFF walked through: its decoder, which has seen every image directory, and what is known
/// of each page before decoding it.
struct Tiff<'a> {
    bytes: &'a [u8],
    decoder: Mutex<TiffDecoder<Cursor<&'a [u8]>>>,
    pages: Vec<TiffPage>,
    warnings: Vec<Warning>,
}

struct Scan<'a> {
    decoder: TiffDecoder<Cursor<&'a [u8]>>,
    pages: Vec<TiffPage>,
    warnings: Vec<Warning>,
    /// Offsets of the directories of palette pages.
    palette_ifds: Vec<u64>,
    /// Number of directories walked through.
    directories: usize,
}

struct TiffPage {
    /// Index of the image directory in the file's chain.
    ifd: usize,
    width: u32,
    height: u32,
    dpi: u32,
    /// Each decoded row is repeated this many times (fax "normal" resolution, 204×98 dpi).
    stretch: u32,
    /// EXIF-style orientation tag value (1 = as stored).
    orientation: u8,
    how: Decode,
}

enum Decode {
    /// By the `tiff` crate; palette pages through their grey lookup table.
    Crate { palette: Option<Vec<u8>> },
    /// CCITT Group 3 (1-D) or Group 4 strips, decoded here.
    Fax { group4: bool, reversed: bool, white_is_zero: bool, strips: Vec<(u64, u64)>, rows_per_strip: u32 },
    /// A page that cannot be read: the reason.
    Unreadable(IntakeError),
}

fn tiff_error(e: TiffError) -> IntakeError {
    match e {
        TiffError::UnsupportedError(u) => IntakeError::Unsupported(format!("TIFF: {u}")),
        other => IntakeError::Corrupt(format!("the TIFF cannot be decoded: {other}")),
    }
}

fn tiff_limits(limits: &Limits) -> tiff::decoder::Limits {
    let mut l = tiff::decoder::Limits::default();
    // A whole page at 16-bit RGBA, the widest form the decoder may produce.
    l.decoding_buffer_size = usize::try_from(limits.max_image_pixels.saturating_mul(8)).unwrap_or(usize::MAX);
    l
}

/// Walks through every image directory (headers only): the pages and what they need, checked
/// against the limits.
fn scan_tiff<'a>(bytes: &'a [u8], limits: &Limits, default_dpi: u32) -> Result<Scan<'a>, IntakeError> {
    let mut decoder =
        TiffDecoder::new(Cursor::new(bytes)).map_err(tiff_error)?.with_limits(tiff_limits(limits));
    let max_pages = usize::try_from(limits.max_pages).unwrap_or(usize::MAX);
    // Thumbnails do not count as pages, but the walk through directories is bounded too.
    let max_directories = max_pages.saturating_mul(4).saturating_add(16);
    let mut pages = Vec::new();
    let mut warnings = Vec::new();
    let mut palette_ifds = Vec::new();
    let mut index = 0usize;
    let mut current: Result<(), TiffError> = Ok(());
    loop {
        let page = match current {
            Ok(()) => inspect(&mut decoder, index, default_dpi, limits, &mut palette_ifds)?,
            Err(e) => Some(unreadable(index, tiff_error(e))),
        };
        if let Some(page) = page {
            pages.push(page);
        }
        if pages.len() > max_pages {
            return Err(IntakeError::TooLarge {
                what: "the TIFF's page count",
                actual: pages.len() as u64,
                limit: limits.max_pages.into(),
            });
        }
        if !decoder.more_images() {
            break;
        }
        if index + 1 >= max_directories {
            warnings.push(Warning::new(
                "tiff_directories_skipped",
                None,
                format!("only the first {max_directories} image directories were looked at"),
            ));
            break;
        }
        index += 1;
        current = decoder.next_image();
    }
    if pages.is_empty() {
        return Err(IntakeError::Empty("the TIFF has no page".into()));
    }
    Ok(Scan { decoder, pages, warnings, palette_ifds, directories: index + 1 })
}

/// A decoder over `bytes` that has walked through its first `directories` directories (so that
/// it can seek to any of them).
fn walk<'a>(
    bytes: &'a [u8],
    limits: &Limits,
    directories: usize,
) -> Result<TiffDecoder<Cursor<&'a [u8]>>, IntakeError> {
    let mut decoder =
        TiffDecoder::new(Cursor::new(bytes)).map_err(tiff_error)?.with_limits(tiff_limits(limits));
    for _ in 1..directories {
        if !decoder.more_images() {
            break;
        }
        // A directory that cannot be read was recorded as such by the first walk.
        let _ = decoder.next_image();
    }
    Ok(decoder)
}

impl Tiff<'_> {
    fn load(&self, i: usize) -> Result<PageImage, IntakeError> {
        let page = self.pages.get(i).ok_or_else(|| IntakeError::Internal(format!("no page {}", i + 1)))?;
        let grey = match &page.how {
            Decode::Unreadable(e) => return Err(e.clone()),
            Decode::Crate { palette } => {
                let (data, color) = {
                    let mut decoder = self.decoder.lock().unwrap_or_else(|p| p.into_inner());
                    decoder.seek_to_image(page.ifd).map_err(tiff_error)?;
                    let color = decoder.colortype().map_err(tiff_error)?;
                    (decoder.read_image().map_err(tiff_error)?, color)
                };
                decoded_to_grey(data, color, page.width, page.height, palette.as_deref())?
            }
            Decode::Fax { group4, reversed, white_is_zero, strips, rows_per_strip } => decode_fax(
                self.bytes,
                page.width,
                page.height,
                *group4,
                *reversed,
                *white_is_zero,
                strips,
                *rows_per_strip,
            )?,
        };
        let grey = stretch_rows(grey, page.stretch);
        let grey = orient(grey, page.orientation);
        Ok(PageImage { image: grey, dpi: page.dpi })
    }
}

fn unreadable(ifd: usize, e: IntakeError) -> TiffPage {
    TiffPage { ifd, width: 0, height: 0, dpi: 0, stretch: 1, orientation: 1, how: Decode::Unreadable(e) }
}

fn tag_u64(decoder: &mut TiffDecoder<Cursor<&[u8]>>, tag: Tag) -> Option<u64> {
    decoder.find_tag_unsigned::<u64>(tag).ok().flatten()
}

fn tag_ratio(decoder: &mut TiffDecoder<Cursor<&[u8]>>, tag: Tag) -> Option<f64> {
    use tiff::decoder::ifd::Value;
    match decoder.find_tag(tag).ok().flatten()? {
        Value::Rational(n, d) if d != 0 => Some(f64::from(n) / f64::from(d)),
        Value::RationalBig(n, d) if d != 0 => Some(n as f64 / d as f64),
        Value::Short(n) => Some(f64::from(n)),
        Value::Unsigned(n) => Some(f64::from(n)),
        Value::Float(f) => Some(f64::from(f)),
        Value::Double(f) => Some(f),
        _ => None,
    }
}

/// What is known of the decoder's current image, before decoding it. `None` for a
/// reduced-resolution copy (thumbnail). A page that cannot be decoded is kept, as unreadable, so
/// that page numbers stay those of the file; a page beyond the size limits fails the document.
fn inspect(
    decoder: &mut TiffDecoder<Cursor<&[u8]>>,
    ifd: usize,
    default_dpi: u32,
    limits: &Limits,
    palette_ifds: &mut Vec<u64>,
) -> Result<Option<TiffPage>, IntakeError> {
    if tag_u64(decoder, Tag::NewSubfileType).is_some_and(|v| v & 1 == 1)
        || tag_u64(decoder, Tag::SubfileType) == Some(2)
    {
        return Ok(None);
    }
    let (width, height) = decoder.dimensions().map_err(tiff_error)?;
    check_size(width, height, limits)?;
    let unit = tag_u64(decoder, Tag::ResolutionUnit).unwrap_or(2);
    let per_inch = |v: f64| match unit {
        2 => Some(v),
        3 => Some(v * 2.54),
        _ => None,
    };
    let xres = tag_ratio(decoder, Tag::XResolution).and_then(per_inch);
    let yres = tag_ratio(decoder, Tag::YResolution).and_then(per_inch).or(xres);
    let dpi = credible(xres.filter(|v| v.is_finite() && *v >= 1.0).map(|v| v.round() as u32), default_dpi);
    // Non-square pixels (fax normal mode: 204×98): repeat rows to square them.
    let stretch = match (xres, yres) {
        (Some(x), Some(y)) if y >= 1.0 && x / y >= 1.5 => ((x / y).round() as u32).clamp(1, 4),
        _ => 1,
    };
    if u64::from(width) * u64::from(height) * u64::from(stretch) > limits.max_image_pixels
        || height.saturating_mul(stretch) > MAX_SIDE
    {
        return Err(IntakeError::TooLarge {
            what: "the image's pixel count",
            actual: u64::from(width) * u64::from(height) * u64::from(stretch),
            limit: limits.max_image_pixels,
        });
    }
    let orientation = tag_u64(decoder, Tag::Orientation).and_then(|v| u8::try_from(v).ok()).unwrap_or(1);
    let mut page =
        TiffPage { ifd, width, height, dpi, stretch, orientation, how: Decode::Crate { palette: None } };
    let compression = tag_u64(decoder, Tag::Compression).unwrap_or(1);
    let photometric = tag_u64(decoder, Tag::PhotometricInterpretation);
    let fill_reversed = tag_u64(decoder, Tag::FillOrder) == Some(2);
    let how = if compression == 3 || (compression == 4 && fill_reversed) {
        fax_layout(decoder, compression, fill_reversed, photometric, height)
    } else if photometric == Some(3) {
        crate_compression(compression).and_then(|()| palette_lut(decoder)).and_then(|lut| {
            let ifd = decoder
                .ifd_pointer()
                .ok_or_else(|| IntakeError::Corrupt("a TIFF directory without offset".into()))?;
            palette_ifds.push(ifd.0);
            Ok(Decode::Crate { palette: Some(lut) })
        })
    } else {
        crate_compression(compression)
            .and_then(|()| crate_pixels(decoder))
            .map(|()| Decode::Crate { palette: None })
    };
    page.how = how.unwrap_or_else(Decode::Unreadable);
    Ok(Some(page))
}

fn crate_compression(compression: u64) -> Result<(), IntakeError> {
    match u16::try_from(compression).map(CompressionMethod::from_u16_exhaustive) {
        Ok(
            CompressionMethod::None
            | CompressionMethod::LZW
            | CompressionMethod::Deflate
            | CompressionMethod::OldDeflate
            | CompressionMethod::PackBits
            | CompressionMethod::ModernJPEG
            | CompressionMethod::Fax4,
        ) => Ok(()),
        _ => Err(IntakeError::Unsupported(format!("TIFF compression {}", compression_name(compression)))),
    }
}

fn crate_pixels(decoder: &mut TiffDecoder<Cursor<&[u8]>>) -> Result<(), IntakeError> {
    match decoder.colortype().map_err(tiff_error)? {
        ColorType::Gray(1 | 2 | 4 | 8 | 16)
        | ColorType::RGB(8 | 16)
        | ColorType::RGBA(8 | 16)
        | ColorType::CMYK(8)
        | ColorType::YCbCr(8)
        | ColorType::Multiband { bit_depth: 8 | 16, .. } => Ok(()),
        other => Err(IntakeError::Unsupported(format!("TIFF pixels of type {other:?}"))),
    }
}

fn compression_name(c: u64) -> String {
    match c {
        2 => "2 (CCITT modified Huffman RLE)".into(),
        3 => "3 (CCITT Group 3 fax)".into(),
        6 => "6 (old-style JPEG)".into(),
        32809 => "32809 (ThunderScan)".into(),
        34712 => "34712 (JPEG 2000)".into(),
        50000 => "50000 (Zstandard)".into(),
        other => other.to_string(),
    }
}

/// Grey level of each palette index (the colour map holds 16-bit reds, then greens, then
/// blues).
fn palette_lut(decoder: &mut TiffDecoder<Cursor<&[u8]>>) -> Result<Vec<u8>, IntakeError> {
    let bits = tag_u64(decoder, Tag::BitsPerSample).unwrap_or(1);
    let samples = tag_u64(decoder, Tag::SamplesPerPixel).unwrap_or(1);
    if !matches!(bits, 1 | 2 | 4 | 8) || samples != 1 {
        return Err(IntakeError::Unsupported(format!(
            "TIFF palette pages of {bits} bits × {samples} samples"
        )));
    }
    let n = 1usize << bits;
    let map = decoder
        .get_tag_u16_vec(Tag::ColorMap)
        .map_err(|e| IntakeError::Corrupt(format!("the TIFF palette cannot be read: {e}")))?;
    if map.len() < 3 * n {
        return Err(IntakeError::Corrupt(format!(
            "the TIFF palette has {} entries, {} expected",
            map.len(),
            3 * n
        )));
    }
    Ok((0..n)
        .map(|i| luma((map[i] >> 8) as u8, (map[n + i] >> 8) as u8, (map[2 * n + i] >> 8) as u8))
        .collect())
}

/// Makes a palette page readable by the `tiff` crate, which does not read palettes: its
/// `PhotometricInterpretation` entry is rewritten to BlackIsZero in the copy of the bytes, so the
/// crate hands the palette indices over as grey samples (they are then looked up in
/// [`palette_lut`]).
fn relabel_palette_as_grey(bytes: &mut [u8], ifd: u64) -> Result<(), IntakeError> {
    enum ByteOrder {
        LittleEndian,
        BigEndian,
    }
    let order = if bytes.starts_with(b"MM") { ByteOrder::BigEndian } else { ByteOrder::LittleEndian };
    let corrupt = || IntakeError::Corrupt("a TIFF image directory lies outside the file".into());
    let big = bytes.get(2..4) == Some(&[43, 0][..]) || bytes.get(2..4) == Some(&[0, 43][..]);
    let at = usize::try_from(ifd).map_err(|_| corrupt())?;
    let rd16 = |b: &[u8], o: usize| -> Option<u16> {
        let s: [u8; 2] = b.get(o..o + 2)?.try_into().ok()?;
        Some(match order {
            ByteOrder::LittleEndian => u16::from_le_bytes(s),
            ByteOrder::BigEndian => u16::from_be_bytes(s),
        })
    };
    let (count, first, size, value_at) = if big {
        let s: [u8; 8] = bytes.get(at..at + 8).ok_or_else(corrupt)?.try_into().map_err(|_| corrupt())?;
        let n = match order {
            ByteOrder::LittleEndian => u64::from_le_bytes(s),
            ByteOrder::BigEndian => u64::from_be_bytes(s),
        };
        (usize::try_from(n).map_err(|_| corrupt())?, at + 8, 20, 12)
    } else {
        (usize::from(rd16(bytes, at).ok_or_else(corrupt)?), at + 2, 12, 8)
    };
    for k in 0..count.min(4096) {
        let entry = first + k * size;
        if rd16(bytes, entry).ok_or_else(corrupt)? == 262 {
            let typ = rd16(bytes, entry + 2).ok_or_else(corrupt)?;
            if typ != 3 {
                return Err(IntakeError::Corrupt(
                    "the TIFF photometric interpretation is not a SHORT".into(),
                ));
            }
            let grey = match order {
                ByteOrder::LittleEndian => 1u16.to_le_bytes(),
                ByteOrder::BigEndian => 1u16.to_be_bytes(),
            };
            let slot = bytes.get_mut(entry + value_at..entry + value_at + 2).ok_or_else(corrupt)?;
            slot.copy_from_slice(&grey);
            return Ok(());
        }
    }
    Err(corrupt())
}

fn fax_layout(
    decoder: &mut TiffDecoder<Cursor<&[u8]>>,
    compression: u64,
    reversed: bool,
    photometric: Option<u64>,
    height: u32,
) -> Result<Decode, IntakeError> {
    let group4 = compression == 4;
    if !group4 {
        let options = tag_u64(decoder, Tag::Unknown(292)).unwrap_or(0);
        if options & 1 != 0 {
            return Err(IntakeError::Unsupported(
                "TIFF compression 3 (CCITT Group 3) with 2-D coding".into(),
            ));
        }
        if options & 2 != 0 {
            return Err(IntakeError::Unsupported(
                "TIFF compression 3 (CCITT Group 3) with uncompressed mode".into(),
            ));
        }
    }
    if decoder.find_tag(Tag::TileWidth).ok().flatten().is_some() {
        return Err(IntakeError::Unsupported("tiled CCITT fax TIFF pages".into()));
    }
    let offsets = decoder
        .get_tag_u64_vec(Tag::StripOffsets)
        .map_err(|e| IntakeError::Corrupt(format!("the TIFF strips cannot be found: {e}")))?;
    let counts = decoder
        .get_tag_u64_vec(Tag::StripByteCounts)
        .map_err(|e| IntakeError::Corrupt(format!("the TIFF strip sizes cannot be found: {e}")))?;
    if offsets.len() != counts.len() || offsets.is_empty() {
        return Err(IntakeError::Corrupt("the TIFF strip offsets and sizes do not match".into()));
    }
    let rows_per_strip = tag_u64(decoder, Tag::RowsPerStrip)
        .map(|r| u32::try_from(r).unwrap_or(u32::MAX).clamp(1, height.max(1)))
        .unwrap_or(height);
    Ok(Decode::Fax {
        group4,
        reversed,
        white_is_zero: photometric != Some(1),
        strips: offsets.into_iter().zip(counts).collect(),
        rows_per_strip,
    })
}

#[allow(clippy::too_many_arguments)]
fn decode_fax(
    bytes: &[u8],
    width: u32,
    height: u32,
    group4: bool,
    reversed: bool,
    white_is_zero: bool,
    strips: &[(u64, u64)],
    rows_per_strip: u32,
) -> Result<GrayImage, IntakeError> {
    let w16 = u16::try_from(width).map_err(|_| IntakeError::TooLarge {
        what: "a fax page's width",
        actual: width.into(),
        limit: 65_535,
    })?;
    // libtiff's convention: a white run is made of 0 bits, which WhiteIsZero shows as white.
    let (white, black) = if white_is_zero { (255u8, 0u8) } else { (0u8, 255u8) };
    let mut image = GrayImage::from_pixel(width, height, Luma([white]));
    let mut y: u32 = 0;
    let mut decoded_rows: u64 = 0;
    for &(offset, length) in strips {
        if y >= height {
            break;
        }
        let rows_here = rows_per_strip.min(height - y);
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        let end = start.saturating_add(usize::try_from(length).unwrap_or(usize::MAX));
        let Some(data) = bytes.get(start..end) else {
            return Err(IntakeError::Corrupt("a TIFF strip lies outside the file".into()));
        };
        let data: Cow<[u8]> = if reversed {
            Cow::Owned(data.iter().map(|b| b.reverse_bits()).collect())
        } else {
            Cow::Borrowed(data)
        };
        let mut row = 0u32;
        let mut paint = |transitions: &[u16]| {
            if row >= rows_here {
                return;
            }
            let yy = y + row;
            for (x, colour) in fax::decoder::pels(transitions, w16).enumerate() {
                if colour == fax::Color::Black {
                    image.put_pixel(x as u32, yy, Luma([black]));
                }
            }
            row += 1;
        };
        // A strip that stops early (truncated data, missing end marker) keeps the rows read;
        // the rest stays blank.
        if group4 {
            let _ =
                fax::decoder::decode_g4(data.iter().copied(), w16, u16::try_from(rows_here).ok(), &mut paint);
        } else {
            // The fax crate emits a row once it has seen the end-of-line code after it, and TIFF
            // strips do not end with one: an end-of-line (any zero bits, then a one) is added.
            let _ = fax::decoder::decode_g3(data.iter().copied().chain([0x00, 0x01]), &mut paint);
        }
        decoded_rows += u64::from(row);
        y += rows_here;
    }
    if decoded_rows == 0 {
        return Err(IntakeError::Corrupt("no row of the fax page could be decoded".into()));
    }
    Ok(image)
}

fn luma(r: u8, g: u8, b: u8) -> u8 {
    // Rec. 709 weights, as the `image` crate uses for PNG and JPEG.
    ((2126 * u32::from(r) + 7152 * u32::from(g) + 722 * u32::from(b) + 5000) / 10000) as u8
}

/// The `tiff` crate's output (WhiteIsZero already inverted to BlackIsZero) → 8-bit grey.
fn decoded_to_grey(
    data: DecodingResult,
    color: ColorType,
    width: u32,
    height: u32,
    palette: Option<&[u8]>,
) -> Result<GrayImage, IntakeError> {
    let (w, h) = (width as usize, height as usize);
    let pixels = w * h;
    let short = || IntakeError::Corrupt("the TIFF page holds fewer pixels than it says".into());
    let grey: Vec<u8> = match (data, color) {
        (DecodingResult::U8(v), ColorType::Gray(bits @ (1 | 2 | 4))) => {
            let bits = usize::from(bits);
            let stride = (w * bits).div_ceil(8);
            if v.len() < stride * h {
                return Err(short());
            }
            let max = (1u32 << bits) - 1;
            let mut out = Vec::with_capacity(pixels);
            for row in v.chunks_exact(stride).take(h) {
                for x in 0..w {
                    let bit = x * bits;
                    let byte = row[bit / 8];
                    let value = (byte >> (8 - bits - bit % 8)) & (max as u8);
                    out.push(match palette {
                        Some(lut) => lut.get(usize::from(value)).copied().unwrap_or(255),
                        None => (u32::from(value) * 255 / max) as u8,
                    });
                }
            }
            out
        }
        (DecodingResult::U8(mut v), color) => {
            let n = samples_in(v.len(), pixels).ok_or_else(short)?;
            match (color, palette) {
                (_, None) if n == 1 => {
                    v.truncate(pixels);
                    v
                }
                (ColorType::Gray(8), Some(lut)) => {
                    v.iter().take(pixels).map(|i| lut.get(usize::from(*i)).copied().unwrap_or(255)).collect()
                }
                _ => v.chunks_exact(n).take(pixels).map(|p| pixel_to_grey(p, color)).collect(),
            }
        }
        (DecodingResult::U16(v), color) => {
            let n = samples_in(v.len(), pixels).ok_or_else(short)?;
            v.chunks_exact(n)
                .take(pixels)
                .map(|p| {
                    let mut p8 = [0u8; 8];
                    for (d, s) in p8.iter_mut().zip(p) {
                        *d = (s >> 8) as u8;
                    }
                    pixel_to_grey(&p8[..n.min(8)], color)
                })
                .collect()
        }
        (_, color) => return Err(IntakeError::Unsupported(format!("TIFF pixels of type {color:?}"))),
    };
    GrayImage::from_raw(width, height, grey).ok_or_else(short)
}

/// Samples per pixel in a decoded buffer (a planar page gives only its first plane).
fn samples_in(len: usize, pixels: usize) -> Option<usize> {
    if pixels == 0 || len < pixels {
        return None;
    }
    Some((len / pixels).max(1))
}

fn pixel_to_grey(p: &[u8], color: ColorType) -> u8 {
    let s = |i: usize| p.get(i).copied().unwrap_or(255);
    match (color, p.len()) {
        (ColorType::RGB(_), 3..) => luma(s(0), s(1), s(2)),
        (ColorType::RGBA(_), 4..) => {
            let (l, a) = (u32::from(luma(s(0), s(1), s(2))), u32::from(s(3)));
            ((l * a + 255 * (255 - a) + 127) / 255) as u8
        }
        (ColorType::CMYK(_), 4..) => {
            let k = 255 - u32::from(s(3));
            let c = |v: u8| ((255 - u32::from(v)) * k / 255) as u8;
            luma(c(s(0)), c(s(1)), c(s(2)))
        }
        // YCbCr: Y is the grey level; a single plane, grey, or extra samples: the first one.
        _ => s(0),
    }
}

fn stretch_rows(image: GrayImage, factor: u32) -> GrayImage {
    if factor <= 1 {
        return image;
    }
    let (w, h) = image.dimensions();
    let mut out = Vec::with_capacity(image.as_raw().len() * factor as usize);
    for row in image.as_raw().chunks_exact(w as usize) {
        for _ in 0..factor {
            out.extend_from_slice(row);
        }
    }
    GrayImage::from_raw(w, h * factor, out).unwrap_or(image)
}

fn orient(image: GrayImage, orientation: u8) -> GrayImage {
    match image::metadata::Orientation::from_exif(orientation) {
        Some(o) if o != image::metadata::Orientation::NoTransforms => {
            let mut d = DynamicImage::ImageLuma8(image);
            d.apply_orientation(o);
            d.into_luma8()
        }
        _ => image,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jfif_density() {
        // SOI, APP0 JFIF 1.01, units 1 (dpi), 150×150.
        let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 16];
        jpeg.extend_from_slice(b"JFIF\0\x01\x01\x01\x00\x96\x00\x96\x00\x00");
        jpeg.extend_from_slice(&[0xFF, 0xDA]);
        assert_eq!(jfif_dpi(&jpeg), Some(150));
        jpeg[13] = 2; // dots per cm: 150 → 381 dpi
        assert_eq!(jfif_dpi(&jpeg), Some(381));
        assert_eq!(jfif_dpi(&jpeg[..9]), None);
        assert_eq!(jfif_dpi(b""), None);
    }

    #[test]
    fn credible_resolutions() {
        assert_eq!(credible(Some(150), 300), 150);
        assert_eq!(credible(Some(1), 300), 300);
        assert_eq!(credible(Some(5000), 300), 300);
        assert_eq!(credible(None, 200), 200);
    }

    #[test]
    fn transparency_over_white() {
        let mut rgba = image::RgbaImage::new(2, 1);
        rgba.put_pixel(0, 0, image::Rgba([0, 0, 0, 0]));
        rgba.put_pixel(1, 0, image::Rgba([0, 0, 0, 255]));
        let g = to_grey(DynamicImage::ImageRgba8(rgba));
        assert_eq!(g.as_raw(), &[255, 0]);
    }

    #[test]
    fn packed_grey_and_palette() {
        // 1-bit row "1010 0000" over 3 pixels: white, black, white.
        let g =
            decoded_to_grey(DecodingResult::U8(vec![0b1010_0000]), ColorType::Gray(1), 3, 1, None).unwrap();
        assert_eq!(g.as_raw(), &[255, 0, 255]);
        let lut = [10u8, 200];
        let g = decoded_to_grey(DecodingResult::U8(vec![0b0100_0000]), ColorType::Gray(2), 1, 1, Some(&lut))
            .unwrap();
        assert_eq!(g.as_raw(), &[200]);
        assert!(decoded_to_grey(DecodingResult::U8(vec![]), ColorType::Gray(8), 2, 2, None).is_err());
    }

    #[test]
    fn rows_are_stretched() {
        let g = GrayImage::from_raw(2, 2, vec![1, 2, 3, 4]).unwrap();
        assert_eq!(stretch_rows(g, 2).as_raw(), &[1, 2, 1, 2, 3, 4, 3, 4]);
    }
}
