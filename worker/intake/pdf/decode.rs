//! Image XObjects (and inline images) to 8-bit grey, for OCR.
//!
//! The generic filters (Flate and LZW with their PNG/TIFF predictors, RunLength, ASCIIHex,
//! ASCII85, and chains of them) are lopdf's. The image codecs are: DCTDecode with zune-jpeg
//! (grey, YCbCr, RGB, CMYK and YCCK, Adobe-inverted CMYK), CCITTFaxDecode with hayro-ccitt
//! (Group 4, Group 3 1-D and 2-D, with the PDF parameters). JBIG2Decode and JPXDecode are not
//! decoded: they give [`ImageError::Unsupported`].
//!
//! Samples of 1, 2, 4, 8 or 16 bits per component in DeviceGray, DeviceRGB, DeviceCMYK, CalGray,
//! CalRGB, Lab, ICCBased (by its component count), Indexed (through its palette), Separation and
//! DeviceN (as ink coverage) are converted to grey, after the `/Decode` array. Image masks
//! (stencils) come out as black-on-white with [`Decoded::stencil`] set.

use super::structure::{deref, filters, get, get_bool, get_int, num};
use image::GrayImage;
use lopdf::{Dictionary, Document, Object, Stream};
use std::borrow::Cow;

/// A decoded image, one grey byte per pixel, rows top to bottom.
pub struct Decoded {
    pub image: GrayImage,
    /// A stencil mask: its black (0) pixels are painted with the fill colour, the others are
    /// transparent.
    pub stencil: bool,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ImageError {
    /// A codec or colour space Liasse does not decode (JBIG2, JPEG 2000…).
    #[error("{0}")]
    Unsupported(String),
    /// Larger than `limits.max_image_pixels`.
    #[error("the image is {width}×{height} pixels, more than the limit of {limit}")]
    TooLarge { width: u64, height: u64, limit: u64 },
    /// Damaged or inconsistent data.
    #[error("{0}")]
    Invalid(String),
}

/// The codec, when an image's last filter is one: it takes the whole (pre-decoded) data.
pub fn is_codec(filter: &str) -> bool {
    matches!(filter, "DCTDecode" | "CCITTFaxDecode" | "JBIG2Decode" | "JPXDecode")
}

/// Why an image with this last filter cannot be decoded, if it cannot.
pub fn unsupported_codec(filter: &str) -> Option<&'static str> {
    match filter {
        "JBIG2Decode" => Some("JBIG2 (JBIG2Decode)"),
        "JPXDecode" => Some("JPEG 2000 (JPXDecode)"),
        _ => None,
    }
}

fn check_pixels(width: u64, height: u64, limit: u64) -> Result<(), ImageError> {
    if width == 0 || height == 0 {
        return Err(ImageError::Invalid("the image has no pixels".into()));
    }
    if width.saturating_mul(height) > limit {
        return Err(ImageError::TooLarge { width, height, limit });
    }
    Ok(())
}

/// The decode parameters of each filter of a stream (`/DecodeParms`, a dictionary for a single
/// filter or an array with one entry per filter).
fn decode_parms<'a>(doc: &'a Document, dict: &'a Dictionary, count: usize) -> Vec<Option<&'a Dictionary>> {
    match get(doc, dict, b"DecodeParms").or_else(|| get(doc, dict, b"DP")) {
        Some(Object::Dictionary(d)) => {
            let mut v = vec![None; count];
            if let Some(last) = v.last_mut() {
                *last = Some(d);
            }
            if count > 1 {
                // One dictionary for a chain: PDF readers apply it to every filter.
                v.iter_mut().for_each(|p| *p = Some(d));
            }
            v
        }
        Some(Object::Array(a)) => {
            (0..count).map(|i| a.get(i).and_then(|o| deref(doc, o)).and_then(|o| o.as_dict().ok())).collect()
        }
        _ => vec![None; count],
    }
}

/// Decode an image stream to grey. `warnings` gets what was wrong but could be got round
/// (truncated data…).
pub fn decode(
    doc: &Document,
    stream: &Stream,
    max_pixels: u64,
    warnings: &mut Vec<String>,
) -> Result<Decoded, ImageError> {
    let dict = &stream.dict;
    let width = get_int(doc, dict, b"Width").filter(|w| *w > 0 && *w <= i64::from(u32::MAX));
    let height = get_int(doc, dict, b"Height").filter(|h| *h > 0 && *h <= i64::from(u32::MAX));
    let (Some(width), Some(height)) = (width, height) else {
        return Err(ImageError::Invalid("the image has no valid /Width and /Height".into()));
    };
    let (width, height) = (width as u32, height as u32);
    check_pixels(u64::from(width), u64::from(height), max_pixels)?;
    let stencil = get_bool(doc, dict, b"ImageMask").unwrap_or(false);

    let names = filters(doc, dict);
    let parms = decode_parms(doc, dict, names.len());
    let codec = names.last().filter(|f| is_codec(f)).cloned();
    if let Some(why) = codec.as_deref().and_then(unsupported_codec) {
        return Err(ImageError::Unsupported(format!("{why} images cannot be decoded")));
    }
    let generic = names.len() - usize::from(codec.is_some());

    // Sample layout, for the images the codecs do not lay out themselves.
    let cs = if stencil {
        None
    } else {
        match get(doc, dict, b"ColorSpace") {
            Some(o) => Some(ColorSpace::resolve(doc, o, 0)?),
            None => None,
        }
    };
    let bpc = if stencil { 1 } else { get_int(doc, dict, b"BitsPerComponent").unwrap_or(8) };
    let decode_array: Option<Vec<f64>> = match get(doc, dict, b"Decode") {
        Some(Object::Array(a)) => Some(a.iter().filter_map(|o| deref(doc, o).and_then(num)).collect()),
        _ => None,
    };

    // A Flate-only image is decompressed a row at a time.
    if !stencil
        && codec.is_none()
        && names.len() == 1
        && names[0] == "FlateDecode"
        && matches!(bpc, 1 | 2 | 4 | 8 | 16)
    {
        let cs = cs.clone().unwrap_or(ColorSpace::Gray);
        let conv = RowConverter::new(&cs, bpc as u32, decode_array.as_deref())?;
        let image = flate_gray(doc, &stream.content, parms[0], width, height, &conv, warnings)?;
        return Ok(Decoded { image, stencil });
    }

    // Undo the generic filters.
    let data: Cow<[u8]> = if generic == 0 {
        Cow::Borrowed(&stream.content)
    } else {
        let limit = match codec {
            // The codec's input: at most what the whole image could be uncompressed, with room.
            Some(_) => (u64::from(width) * u64::from(height) * 4 * 2 + 65536) as usize,
            None => {
                let n = cs.as_ref().map_or(1, ColorSpace::components) as u64;
                let bits = if matches!(bpc, 1 | 2 | 4 | 8 | 16) { bpc as u64 } else { 8 };
                let row = (u64::from(width) * n * bits).div_ceil(8);
                (row * u64::from(height) + 65536) as usize
            }
        };
        let decoded = if codec.is_none() {
            stream.decompressed_content_with_limit(limit)
        } else {
            let mut d = Dictionary::new();
            d.set(
                "Filter",
                Object::Array(names[..generic].iter().map(|n| Object::Name(n.as_bytes().to_vec())).collect()),
            );
            d.set(
                "DecodeParms",
                Object::Array(
                    parms[..generic]
                        .iter()
                        .map(|p| p.map_or(Object::Null, |d| Object::Dictionary(d.clone())))
                        .collect(),
                ),
            );
            Stream::new(d, stream.content.clone()).decompressed_content_with_limit(limit)
        };
        Cow::Owned(decoded.map_err(|e| match e {
            lopdf::Error::Unimplemented(_) => {
                ImageError::Unsupported(format!("the image's filters {} cannot be decoded", names.join(", ")))
            }
            e => ImageError::Invalid(format!("the image's data could not be decompressed: {e}")),
        })?)
    };

    match codec.as_deref() {
        Some("DCTDecode") => {
            let invert = decode_array.as_ref().is_some_and(|d| d.len() >= 2 && d[0] > d[1]);
            let image = jpeg(&data, invert, max_pixels)?;
            if stencil {
                // A JPEG stencil makes little sense; keep its dark pixels.
                let image = GrayImage::from_fn(image.width(), image.height(), |x, y| {
                    image::Luma([if image.get_pixel(x, y).0[0] < 128 { 0 } else { 255 }])
                });
                return Ok(Decoded { image, stencil });
            }
            Ok(Decoded { image, stencil })
        }
        Some("CCITTFaxDecode") => {
            let p = parms.last().copied().flatten();
            let packed = ccitt(doc, &data, p, width, height, warnings)?;
            let layout = Layout { width, height, bpc: 1 };
            if stencil {
                Ok(Decoded {
                    image: stencil_gray(&packed, layout, decode_array.as_deref(), warnings),
                    stencil,
                })
            } else {
                let cs = cs.unwrap_or(ColorSpace::Gray);
                Ok(Decoded {
                    image: samples_gray(&packed, layout, &cs, decode_array.as_deref(), warnings)?,
                    stencil,
                })
            }
        }
        _ => {
            if !matches!(bpc, 1 | 2 | 4 | 8 | 16) {
                return Err(ImageError::Invalid(format!("{bpc} bits per component is not a valid depth")));
            }
            let layout = Layout { width, height, bpc: bpc as u32 };
            if stencil {
                return Ok(Decoded {
                    image: stencil_gray(&data, layout, decode_array.as_deref(), warnings),
                    stencil,
                });
            }
            let cs = match cs {
                Some(cs) => cs,
                // No colour space (only JPX may omit it): guess from the data's size.
                None => {
                    let per_row =
                        |n: u64| (u64::from(width) * n * bpc as u64).div_ceil(8) * u64::from(height);
                    let len = data.len() as u64;
                    if len >= per_row(4) {
                        ColorSpace::Cmyk
                    } else if len >= per_row(3) {
                        ColorSpace::Rgb
                    } else {
                        ColorSpace::Gray
                    }
                }
            };
            Ok(Decoded {
                image: samples_gray(&data, layout, &cs, decode_array.as_deref(), warnings)?,
                stencil,
            })
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Colour spaces

#[derive(Debug, Clone, PartialEq)]
pub enum ColorSpace {
    Gray,
    Rgb,
    Cmyk,
    /// CIE L*a*b*: the lightness is kept.
    Lab,
    /// A palette of `hival + 1` colours in `base`, as grey.
    Indexed {
        hival: u32,
        palette: Vec<u8>,
    },
    /// Separation or DeviceN with this many colorants: tints (1 = full ink) become ink coverage.
    Tint(usize),
}

impl ColorSpace {
    pub fn components(&self) -> usize {
        match self {
            ColorSpace::Gray | ColorSpace::Indexed { .. } => 1,
            ColorSpace::Rgb | ColorSpace::Lab => 3,
            ColorSpace::Cmyk => 4,
            ColorSpace::Tint(n) => *n,
        }
    }

    fn resolve(doc: &Document, o: &Object, depth: usize) -> Result<ColorSpace, ImageError> {
        if depth > 4 {
            return Err(ImageError::Invalid("the colour space nests too deeply".into()));
        }
        let o = deref(doc, o).ok_or_else(|| ImageError::Invalid("the colour space is missing".into()))?;
        let unsupported =
            |n: &[u8]| ImageError::Unsupported(format!("the {} colour space", String::from_utf8_lossy(n)));
        match o {
            Object::Name(n) => match n.as_slice() {
                b"DeviceGray" | b"G" | b"CalGray" => Ok(ColorSpace::Gray),
                b"DeviceRGB" | b"RGB" | b"CalRGB" => Ok(ColorSpace::Rgb),
                b"DeviceCMYK" | b"CMYK" => Ok(ColorSpace::Cmyk),
                other => Err(unsupported(other)),
            },
            Object::Array(a) => {
                let Some(Object::Name(family)) = a.first().and_then(|f| deref(doc, f)) else {
                    return Err(ImageError::Invalid("the colour space array has no family name".into()));
                };
                match family.as_slice() {
                    b"CalGray" | b"DeviceGray" | b"G" => Ok(ColorSpace::Gray),
                    b"CalRGB" | b"DeviceRGB" | b"RGB" => Ok(ColorSpace::Rgb),
                    b"DeviceCMYK" | b"CMYK" => Ok(ColorSpace::Cmyk),
                    b"Lab" => Ok(ColorSpace::Lab),
                    b"ICCBased" => {
                        let stream = a.get(1).and_then(|s| deref(doc, s)).and_then(|s| s.as_stream().ok());
                        let Some(stream) = stream else {
                            return Err(ImageError::Invalid(
                                "an ICCBased colour space without its profile".into(),
                            ));
                        };
                        match get_int(doc, &stream.dict, b"N") {
                            Some(1) => Ok(ColorSpace::Gray),
                            Some(3) => Ok(ColorSpace::Rgb),
                            Some(4) => Ok(ColorSpace::Cmyk),
                            _ => match stream.dict.get(b"Alternate") {
                                Ok(alt) => ColorSpace::resolve(doc, alt, depth + 1),
                                Err(_) => {
                                    Err(ImageError::Invalid("an ICCBased colour space without /N".into()))
                                }
                            },
                        }
                    }
                    b"Indexed" | b"I" => {
                        let base = a.get(1).ok_or_else(|| {
                            ImageError::Invalid("an Indexed colour space without base".into())
                        })?;
                        let base = ColorSpace::resolve(doc, base, depth + 1)?;
                        if matches!(base, ColorSpace::Indexed { .. }) {
                            return Err(ImageError::Invalid(
                                "an Indexed colour space on an Indexed one".into(),
                            ));
                        }
                        let hival = a.get(2).and_then(|h| deref(doc, h)).and_then(num).unwrap_or(255.0);
                        let hival = hival.clamp(0.0, 255.0) as u32;
                        let n = base.components();
                        let want = (hival as usize + 1) * n;
                        let table: Vec<u8> = match a.get(3).and_then(|t| deref(doc, t)) {
                            Some(Object::String(s, _)) => s.clone(),
                            Some(Object::Stream(s)) => {
                                s.decompressed_content_with_limit(want + 4096).unwrap_or_default()
                            }
                            _ => Vec::new(),
                        };
                        let palette = (0..=hival as usize)
                            .map(|i| {
                                let entry: Vec<f64> = (0..n)
                                    .map(|c| f64::from(table.get(i * n + c).copied().unwrap_or(0)) / 255.0)
                                    .collect();
                                base.gray(&entry)
                            })
                            .collect();
                        Ok(ColorSpace::Indexed { hival, palette })
                    }
                    b"Separation" => Ok(ColorSpace::Tint(1)),
                    b"DeviceN" => match a.get(1).and_then(|n| deref(doc, n)) {
                        Some(Object::Array(names)) if !names.is_empty() && names.len() <= 32 => {
                            Ok(ColorSpace::Tint(names.len()))
                        }
                        _ => Err(ImageError::Invalid("a DeviceN colour space without colorants".into())),
                    },
                    other => Err(unsupported(other)),
                }
            }
            _ => Err(ImageError::Invalid("the colour space is neither a name nor an array".into())),
        }
    }

    /// Grey (0 black … 255 white) of a colour whose components are already decoded to their
    /// nominal ranges (0..1, or 0..100 and −128..127 for Lab).
    fn gray(&self, c: &[f64]) -> u8 {
        let v = match self {
            ColorSpace::Gray => c[0],
            ColorSpace::Rgb => 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2],
            ColorSpace::Cmyk => 1.0 - (0.3 * c[0] + 0.59 * c[1] + 0.11 * c[2] + c[3]).min(1.0),
            ColorSpace::Lab => c[0] / 100.0,
            ColorSpace::Indexed { hival, palette } => {
                let i = (c[0].round().max(0.0) as u32).min(*hival) as usize;
                return palette.get(i).copied().unwrap_or(255);
            }
            ColorSpace::Tint(_) => 1.0 - c.iter().copied().fold(0.0, f64::max).min(1.0),
        };
        (v.clamp(0.0, 1.0) * 255.0).round() as u8
    }

    /// The default `/Decode` range of component `i` for samples of `bpc` bits.
    fn default_decode(&self, i: usize, bpc: u32) -> (f64, f64) {
        match self {
            ColorSpace::Indexed { .. } => (0.0, f64::from((1u32 << bpc.min(16)) - 1)),
            ColorSpace::Lab if i == 0 => (0.0, 100.0),
            ColorSpace::Lab => (-128.0, 127.0),
            _ => (0.0, 1.0),
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Layout {
    pub width: u32,
    pub height: u32,
    pub bpc: u32,
}

/// Sample `index` (0-based, along the row) of `bits` bits from a packed row, MSB first.
#[inline]
fn sample(row: &[u8], index: usize, bits: u32) -> u32 {
    match bits {
        8 => u32::from(row[index]),
        16 => u32::from(row[index * 2]) << 8 | u32::from(row[index * 2 + 1]),
        _ => {
            let bit = index * bits as usize;
            let byte = row[bit / 8];
            let shift = 8 - bits as usize - (bit % 8);
            (u32::from(byte) >> shift) & ((1 << bits) - 1)
        }
    }
}

/// Turns packed rows of samples in a colour space into grey rows, after the `/Decode` array.
pub struct RowConverter {
    cs: ColorSpace,
    n: usize,
    bpc: u32,
    /// Per component, the decoded value of every sample value (16-bit samples by their high byte).
    luts: Vec<Vec<f64>>,
    /// For one-component spaces, the grey of every sample value.
    table: Option<Vec<u8>>,
}

impl RowConverter {
    pub fn new(cs: &ColorSpace, bpc: u32, decode: Option<&[f64]>) -> Result<RowConverter, ImageError> {
        let n = cs.components();
        if n == 0 {
            return Err(ImageError::Invalid("a colour space without components".into()));
        }
        if !matches!(bpc, 1 | 2 | 4 | 8 | 16) {
            return Err(ImageError::Invalid(format!("{bpc} bits per component is not a valid depth")));
        }
        if matches!(cs, ColorSpace::Indexed { .. }) && bpc > 8 {
            return Err(ImageError::Invalid("an Indexed image with more than 8 bits per sample".into()));
        }
        let max = ((1u64 << bpc) - 1) as f64;
        let lut_max = (1u32 << bpc.min(8)) - 1;
        let luts: Vec<Vec<f64>> = (0..n)
            .map(|i| {
                let (lo, hi) = match decode {
                    Some(d) if d.len() >= 2 * n => (d[2 * i], d[2 * i + 1]),
                    _ => cs.default_decode(i, bpc),
                };
                (0..=lut_max)
                    .map(|s| {
                        let s = if bpc == 16 { f64::from(s) * 257.0 } else { f64::from(s) };
                        lo + s * (hi - lo) / max
                    })
                    .collect()
            })
            .collect();
        let table = (n == 1).then(|| luts[0].iter().map(|v| cs.gray(&[*v])).collect());
        Ok(RowConverter { cs: cs.clone(), n, bpc, luts, table })
    }

    /// Bytes of one packed row of `width` pixels.
    pub fn row_bytes(&self, width: u32) -> usize {
        (width as usize * self.n * self.bpc as usize).div_ceil(8)
    }

    #[inline]
    fn index(&self, row: &[u8], i: usize) -> usize {
        let s = sample(row, i, self.bpc);
        if self.bpc == 16 { (s >> 8) as usize } else { s as usize }
    }

    /// Convert one packed row into `out` (one byte per pixel).
    pub fn convert(&self, row: &[u8], out: &mut [u8]) {
        if let Some(table) = &self.table {
            for (x, px) in out.iter_mut().enumerate() {
                *px = table[self.index(row, x)];
            }
            return;
        }
        let mut comps = [0.0f64; 32];
        let comps = &mut comps[..self.n.min(32)];
        for (x, px) in out.iter_mut().enumerate() {
            for (c, v) in comps.iter_mut().enumerate() {
                *v = self.luts[c][self.index(row, x * self.n + c)];
            }
            *px = self.cs.gray(comps);
        }
    }
}

/// Packed samples in a colour space → grey, after the `/Decode` array.
pub fn samples_gray(
    data: &[u8],
    layout: Layout,
    cs: &ColorSpace,
    decode: Option<&[f64]>,
    warnings: &mut Vec<String>,
) -> Result<GrayImage, ImageError> {
    let Layout { width, height, bpc } = layout;
    let conv = RowConverter::new(cs, bpc, decode)?;
    let stride = conv.row_bytes(width);
    let rows_present = (data.len() / stride.max(1)).min(height as usize);
    if rows_present < height as usize {
        warnings.push(format!(
            "the image data ends after {rows_present} of {height} rows; the rest is left blank"
        ));
    }
    let mut out = GrayImage::from_pixel(width, height, image::Luma([255]));
    let buf: &mut [u8] = &mut out;
    for (y, dst) in buf.chunks_exact_mut(width as usize).take(rows_present).enumerate() {
        conv.convert(&data[y * stride..(y + 1) * stride], dst);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Flate, a row at a time

/// A Flate-compressed image (with its PNG or TIFF predictor) → grey, decompressing and converting
/// one row at a time, so that a large colour scan never exists uncompressed in memory.
pub fn flate_gray(
    doc: &Document,
    data: &[u8],
    parms: Option<&Dictionary>,
    width: u32,
    height: u32,
    conv: &RowConverter,
    warnings: &mut Vec<String>,
) -> Result<GrayImage, ImageError> {
    use std::io::Read;
    let int = |key: &[u8], default: i64| parms.and_then(|p| get_int(doc, p, key)).unwrap_or(default);
    let predictor = int(b"Predictor", 1);
    let row_bytes = conv.row_bytes(width);
    // The predictor works on its own idea of a row; for an image it is the image's row.
    let colors = int(b"Colors", 1).clamp(1, 32) as usize;
    let bits = int(b"BitsPerComponent", 8).clamp(1, 16) as usize;
    let bpp = (colors * bits).div_ceil(8).max(1);
    let png = (10..=15).contains(&predictor);
    let tiff = predictor == 2;
    if tiff && bits != 8 {
        return Err(ImageError::Unsupported(format!("TIFF predictor with {bits}-bit samples")));
    }
    let mut reader: Box<dyn Read> =
        if data.len() >= 2 && (u16::from(data[0]) << 8 | u16::from(data[1])) % 31 == 0 {
            Box::new(flate2::read::ZlibDecoder::new(data))
        } else {
            Box::new(flate2::read::DeflateDecoder::new(data))
        };
    let mut out = GrayImage::from_pixel(width, height, image::Luma([255]));
    let buf: &mut [u8] = &mut out;
    let mut prev = vec![0u8; row_bytes];
    let mut cur = vec![0u8; row_bytes + usize::from(png)];
    let mut rows = 0usize;
    let mut error = None;
    for dst in buf.chunks_exact_mut(width as usize) {
        if let Err(e) = reader.read_exact(&mut cur) {
            if e.kind() != std::io::ErrorKind::UnexpectedEof {
                error = Some(e);
            }
            break;
        }
        let row: &mut [u8] = if png {
            let Some((kind, row)) = cur.split_first_mut() else { break };
            unpredict_png(*kind, row, &prev, bpp);
            row
        } else {
            if tiff {
                for i in colors..cur.len() {
                    cur[i] = cur[i].wrapping_add(cur[i - colors]);
                }
            }
            &mut cur
        };
        conv.convert(row, dst);
        prev.copy_from_slice(row);
        rows += 1;
    }
    if rows == 0 {
        let why = error.map_or_else(|| "no data".to_string(), |e| e.to_string());
        return Err(ImageError::Invalid(format!("the image's Flate data could not be decompressed: {why}")));
    }
    if rows < height as usize {
        warnings.push(format!("the image data ends after {rows} of {height} rows; the rest is left blank"));
    }
    Ok(out)
}

/// Undo a PNG row filter in place (`prev` is the previous row, unfiltered).
fn unpredict_png(kind: u8, row: &mut [u8], prev: &[u8], bpp: usize) {
    match kind {
        1 => {
            for i in bpp..row.len() {
                row[i] = row[i].wrapping_add(row[i - bpp]);
            }
        }
        2 => {
            for (b, p) in row.iter_mut().zip(prev) {
                *b = b.wrapping_add(*p);
            }
        }
        3 => {
            for i in 0..row.len() {
                let left = if i >= bpp { u16::from(row[i - bpp]) } else { 0 };
                row[i] = row[i].wrapping_add(((left + u16::from(prev[i])) / 2) as u8);
            }
        }
        4 => {
            for i in 0..row.len() {
                let a = if i >= bpp { i16::from(row[i - bpp]) } else { 0 };
                let b = i16::from(prev[i]);
                let c = if i >= bpp { i16::from(prev[i - bpp]) } else { 0 };
                let p = a + b - c;
                let (pa, pb, pc) = ((p - a).abs(), (p - b).abs(), (p - c).abs());
                let pred = if pa <= pb && pa <= pc {
                    a
                } else if pb <= pc {
                    b
                } else {
                    c
                };
                row[i] = row[i].wrapping_add(pred as u8);
            }
        }
        _ => {}
    }
}

/// A 1-bit stencil mask → black (painted) on white (transparent). With the default `/Decode`
/// `[0 1]` a 0 sample paints; `[1 0]` makes a 1 sample paint.
pub fn stencil_gray(
    data: &[u8],
    layout: Layout,
    decode: Option<&[f64]>,
    warnings: &mut Vec<String>,
) -> GrayImage {
    let Layout { width, height, .. } = layout;
    let paint_bit = u32::from(decode.is_some_and(|d| d.len() >= 2 && d[0] > d[1]));
    let stride = (width as usize).div_ceil(8);
    let rows_present = (data.len() / stride.max(1)).min(height as usize);
    if rows_present < height as usize {
        warnings.push(format!("the mask data ends after {rows_present} of {height} rows"));
    }
    let mut out = GrayImage::from_pixel(width, height, image::Luma([255]));
    let buf: &mut [u8] = &mut out;
    for y in 0..rows_present {
        let row = &data[y * stride..(y + 1) * stride];
        for x in 0..width as usize {
            if sample(row, x, 1) == paint_bit {
                buf[y * width as usize + x] = 0;
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// CCITT fax

/// CCITT-encoded data → packed 1-bit samples (rows padded to bytes), with the PDF meaning of the
/// bits: unless `/BlackIs1`, a black pixel is a 0 sample.
pub fn ccitt(
    doc: &Document,
    data: &[u8],
    parms: Option<&Dictionary>,
    width: u32,
    height: u32,
    warnings: &mut Vec<String>,
) -> Result<Vec<u8>, ImageError> {
    use hayro_ccitt::{DecodeSettings, DecoderContext, EncodingMode};
    let int = |key: &[u8], default: i64| parms.and_then(|p| get_int(doc, p, key)).unwrap_or(default);
    let flag = |key: &[u8], default: bool| parms.and_then(|p| get_bool(doc, p, key)).unwrap_or(default);
    let k = int(b"K", 0);
    let columns = int(b"Columns", i64::from(width));
    if columns <= 0 || columns > i64::from(u16::MAX) * 4 {
        return Err(ImageError::Invalid(format!("CCITT /Columns {columns} is not a valid width")));
    }
    let columns = columns as u32;
    let rows = int(b"Rows", i64::from(height)).clamp(0, i64::from(height)) as u32;
    let black_is_1 = flag(b"BlackIs1", false);
    let settings = DecodeSettings {
        columns,
        rows: if rows == 0 { height } else { rows },
        end_of_block: flag(b"EndOfBlock", true),
        end_of_line: flag(b"EndOfLine", false),
        rows_are_byte_aligned: flag(b"EncodedByteAlign", false),
        encoding: match k {
            k if k < 0 => EncodingMode::Group4,
            0 => EncodingMode::Group3_1D,
            _ => EncodingMode::Group3_2D,
        },
        strict: false,
    };
    let stride = (width as usize).div_ceil(8);
    // Start all white: 1 bits unless /BlackIs1.
    let white = if black_is_1 { 0x00 } else { 0xFF };
    let mut sink =
        CcittSink { out: vec![white; stride * height as usize], stride, width, height, row: 0, black_is_1 };
    let mut ctx = DecoderContext::new(settings);
    let result = hayro_ccitt::decode(data, &mut sink, &mut ctx);
    match result {
        Ok(_) if sink.row >= height => {}
        Ok(_) => {
            warnings.push(format!("the CCITT data has {} of {height} rows; the rest is left blank", sink.row))
        }
        Err(e) if sink.row > 0 => {
            warnings.push(format!("the CCITT data is damaged after row {} of {height} ({e})", sink.row))
        }
        Err(e) => return Err(ImageError::Invalid(format!("the CCITT data could not be decoded: {e}"))),
    }
    Ok(sink.out)
}

struct CcittSink {
    out: Vec<u8>,
    stride: usize,
    width: u32,
    height: u32,
    row: u32,
    black_is_1: bool,
}

impl hayro_ccitt::Decoder for CcittSink {
    fn push_row(&mut self, changes: &[u32]) {
        if self.row >= self.height {
            return;
        }
        let row = &mut self.out[self.row as usize * self.stride..(self.row as usize + 1) * self.stride];
        // Runs from changes[0] to changes[1], changes[2] to changes[3]… are black.
        for pair in changes.chunks(2) {
            let start = pair[0].min(self.width);
            let end = pair.get(1).copied().unwrap_or(self.width).min(self.width);
            for x in start..end {
                let (byte, bit) = (x as usize / 8, 7 - (x % 8));
                if self.black_is_1 {
                    row[byte] |= 1 << bit;
                } else {
                    row[byte] &= !(1 << bit);
                }
            }
        }
        self.row += 1;
    }
}

// ---------------------------------------------------------------------------------------------
// JPEG

/// Whether a JPEG carries Adobe's APP14 marker, whose CMYK data is stored inverted.
fn has_adobe_marker(data: &[u8]) -> bool {
    let mut i = 2;
    while i + 4 <= data.len() {
        if data[i] != 0xFF {
            return false;
        }
        let marker = data[i + 1];
        if marker == 0xFF {
            i += 1;
            continue;
        }
        // Start of scan or image data: no more headers.
        if marker == 0xDA || marker == 0xD9 {
            return false;
        }
        let len = usize::from(u16::from_be_bytes([data[i + 2], data[i + 3]]));
        if marker == 0xEE && data.get(i + 4..i + 9) == Some(b"Adobe") {
            return true;
        }
        i += 2 + len;
    }
    false
}

/// A JPEG (DCTDecode) → grey. `invert` is a `/Decode` array that inverts the components.
pub fn jpeg(data: &[u8], invert: bool, max_pixels: u64) -> Result<GrayImage, ImageError> {
    use zune_core::bytestream::ZCursor;
    use zune_core::colorspace::ColorSpace as Zcs;
    use zune_core::options::DecoderOptions;
    use zune_jpeg::JpegDecoder;
    let options =
        DecoderOptions::default().set_strict_mode(false).set_max_width(usize::MAX).set_max_height(usize::MAX);
    let bad = |e: zune_jpeg::errors::DecodeErrors| {
        ImageError::Invalid(format!("the JPEG data could not be decoded: {e}"))
    };
    let mut headers = JpegDecoder::new_with_options(ZCursor::new(data), options);
    headers.decode_headers().map_err(bad)?;
    let (Some((w, h)), Some(input)) = (headers.dimensions(), headers.input_colorspace()) else {
        return Err(ImageError::Invalid("the JPEG has no frame header".into()));
    };
    check_pixels(w as u64, h as u64, max_pixels)?;
    let out_cs = match input {
        Zcs::Luma | Zcs::YCbCr => Zcs::Luma,
        Zcs::CMYK => Zcs::CMYK,
        _ => Zcs::RGB,
    };
    let mut decoder =
        JpegDecoder::new_with_options(ZCursor::new(data), options.jpeg_set_out_colorspace(out_cs));
    let pixels = decoder.decode().map_err(bad)?;
    let (w32, h32) = (w as u32, h as u32);
    let n = out_cs.num_components();
    if pixels.len() < w * h * n {
        return Err(ImageError::Invalid("the JPEG decoder gave fewer pixels than announced".into()));
    }
    let gray: Vec<u8> = match out_cs {
        Zcs::Luma => pixels[..w * h].to_vec(),
        Zcs::CMYK => {
            // Stored inverted when the Adobe marker is there (0 = full ink); an inverting /Decode
            // flips that again.
            let inverted = has_adobe_marker(data) != invert;
            pixels
                .chunks_exact(4)
                .take(w * h)
                .map(|p| {
                    let ink = |v: u8| f64::from(if inverted { 255 - v } else { v });
                    let k = 0.3 * ink(p[0]) + 0.59 * ink(p[1]) + 0.11 * ink(p[2]) + ink(p[3]);
                    (255.0 - k.min(255.0)).round() as u8
                })
                .collect()
        }
        _ => pixels
            .chunks_exact(3)
            .take(w * h)
            .map(|p| {
                (0.299 * f64::from(p[0]) + 0.587 * f64::from(p[1]) + 0.114 * f64::from(p[2])).round() as u8
            })
            .collect(),
    };
    let mut image = GrayImage::from_raw(w32, h32, gray)
        .ok_or_else(|| ImageError::Invalid("the JPEG's size does not match its pixels".into()))?;
    if invert && out_cs != Zcs::CMYK {
        image::imageops::invert(&mut image);
    }
    Ok(image)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(width: u32, height: u32, bpc: u32) -> Layout {
        Layout { width, height, bpc }
    }

    #[test]
    fn one_bit_rows_are_padded_to_bytes() {
        // 10 pixels wide: two bytes per row, the last 6 bits padding.
        let data = [0b1010_1010, 0b1100_0000, 0b0000_0000, 0b0100_0000];
        let mut w = Vec::new();
        let img = samples_gray(&data, layout(10, 2, 1), &ColorSpace::Gray, None, &mut w).unwrap();
        let row0: Vec<u8> = (0..10).map(|x| img.get_pixel(x, 0).0[0]).collect();
        assert_eq!(row0, [255, 0, 255, 0, 255, 0, 255, 0, 255, 255]);
        let row1: Vec<u8> = (0..10).map(|x| img.get_pixel(x, 1).0[0]).collect();
        assert_eq!(row1, [0, 0, 0, 0, 0, 0, 0, 0, 0, 255]);
        assert!(w.is_empty());
    }

    #[test]
    fn decode_array_inverts() {
        let data = [0b1000_0000];
        let mut w = Vec::new();
        let plain = samples_gray(&data, layout(2, 1, 1), &ColorSpace::Gray, None, &mut w).unwrap();
        let inverted =
            samples_gray(&data, layout(2, 1, 1), &ColorSpace::Gray, Some(&[1.0, 0.0]), &mut w).unwrap();
        assert_eq!(plain.as_raw(), &[255, 0]);
        assert_eq!(inverted.as_raw(), &[0, 255]);
        // 8-bit with a partial range.
        let img =
            samples_gray(&[0, 255], layout(2, 1, 8), &ColorSpace::Gray, Some(&[1.0, 0.5]), &mut w).unwrap();
        assert_eq!(img.as_raw(), &[255, 128]);
    }

    #[test]
    fn two_four_and_sixteen_bit_samples() {
        let mut w = Vec::new();
        // 2-bit: 0, 1, 2, 3 → 0, 85, 170, 255.
        let img = samples_gray(&[0b0001_1011], layout(4, 1, 2), &ColorSpace::Gray, None, &mut w).unwrap();
        assert_eq!(img.as_raw(), &[0, 85, 170, 255]);
        // 4-bit: 0x0, 0xF, 0x8 (third sample in the next byte's high nibble).
        let img = samples_gray(&[0x0F, 0x80], layout(3, 1, 4), &ColorSpace::Gray, None, &mut w).unwrap();
        assert_eq!(img.as_raw(), &[0, 255, 136]);
        // 16-bit big-endian.
        let img = samples_gray(
            &[0xFF, 0xFF, 0x80, 0x00, 0x00, 0x10],
            layout(3, 1, 16),
            &ColorSpace::Gray,
            None,
            &mut w,
        )
        .unwrap();
        assert_eq!(img.as_raw(), &[255, 128, 0]);
    }

    #[test]
    fn rgb_cmyk_lab_and_tints() {
        let mut w = Vec::new();
        let img = samples_gray(&[255, 0, 0, 255, 255, 255], layout(2, 1, 8), &ColorSpace::Rgb, None, &mut w)
            .unwrap();
        assert_eq!(img.as_raw(), &[76, 255]);
        let img = samples_gray(&[0, 0, 0, 255, 0, 0, 0, 0], layout(2, 1, 8), &ColorSpace::Cmyk, None, &mut w)
            .unwrap();
        assert_eq!(img.as_raw(), &[0, 255]);
        let img =
            samples_gray(&[255, 128, 128, 0, 128, 128], layout(2, 1, 8), &ColorSpace::Lab, None, &mut w)
                .unwrap();
        assert_eq!(img.as_raw(), &[255, 0]);
        let img = samples_gray(&[255, 0], layout(2, 1, 8), &ColorSpace::Tint(1), None, &mut w).unwrap();
        assert_eq!(img.as_raw(), &[0, 255]);
    }

    #[test]
    fn indexed_looks_up_the_palette() {
        let mut w = Vec::new();
        // Palette: 0 = white, 1 = black, 2 = pure red.
        let cs = ColorSpace::Indexed { hival: 2, palette: vec![255, 0, 76] };
        let img = samples_gray(&[0b0001_1011], layout(4, 1, 2), &cs, None, &mut w).unwrap();
        // Index 3 is beyond hival: clamped to the last entry.
        assert_eq!(img.as_raw(), &[255, 0, 76, 76]);
        // An inverting Decode for an Indexed image maps 0 → hival.
        let img = samples_gray(&[0x00, 0x01], layout(2, 1, 8), &cs, Some(&[255.0, 0.0]), &mut w).unwrap();
        assert_eq!(img.as_raw(), &[76, 76]);
    }

    #[test]
    fn indexed_palette_from_a_pdf_colour_space() {
        let doc = Document::with_version("1.5");
        let cs = Object::Array(vec![
            Object::Name(b"Indexed".to_vec()),
            Object::Name(b"DeviceRGB".to_vec()),
            Object::Integer(1),
            Object::string_literal(vec![255u8, 255, 255, 0, 0, 255]),
        ]);
        let resolved = ColorSpace::resolve(&doc, &cs, 0).unwrap();
        assert_eq!(resolved, ColorSpace::Indexed { hival: 1, palette: vec![255, 29] });
        let icc = ColorSpace::resolve(&doc, &Object::Name(b"Pattern".to_vec()), 0);
        assert!(matches!(icc, Err(ImageError::Unsupported(_))));
    }

    #[test]
    fn short_data_leaves_rows_blank_and_says_so() {
        let mut w = Vec::new();
        let img = samples_gray(&[0, 0], layout(2, 3, 8), &ColorSpace::Gray, None, &mut w).unwrap();
        assert_eq!(img.as_raw(), &[0, 0, 255, 255, 255, 255]);
        assert_eq!(w.len(), 1);
    }

    #[test]
    fn stencil_paints_zero_bits_unless_decode_inverts() {
        let mut w = Vec::new();
        let img = stencil_gray(&[0b0100_0000], layout(3, 1, 1), None, &mut w);
        assert_eq!(img.as_raw(), &[0, 255, 0]);
        let img = stencil_gray(&[0b0100_0000], layout(3, 1, 1), Some(&[1.0, 0.0]), &mut w);
        assert_eq!(img.as_raw(), &[255, 0, 255]);
    }

    /// A pseudo-random bitmap with runs, as a scanner's text would give.
    fn bitmap(width: u32, height: u32) -> Vec<Vec<bool>> {
        let mut seed = 0x2545_f491_u32;
        (0..height)
            .map(|_| {
                let mut row = Vec::with_capacity(width as usize);
                let mut black = false;
                while row.len() < width as usize {
                    seed ^= seed << 13;
                    seed ^= seed >> 17;
                    seed ^= seed << 5;
                    let run = 1 + (seed % 40) as usize;
                    row.extend(std::iter::repeat_n(black, run.min(width as usize - row.len())));
                    black = !black;
                }
                row
            })
            .collect()
    }

    fn g4_encode(rows: &[Vec<bool>], width: u16) -> Vec<u8> {
        use fax::{Color, VecWriter, encoder::Encoder};
        let mut enc = Encoder::new(VecWriter::new());
        for r in rows {
            enc.encode_line(r.iter().map(|b| if *b { Color::Black } else { Color::White }), width).unwrap();
        }
        enc.finish().unwrap().finish()
    }

    fn ccitt_parms(k: i64, columns: i64, rows: i64, black_is_1: bool) -> Dictionary {
        let mut d = Dictionary::new();
        d.set("K", k);
        d.set("Columns", columns);
        d.set("Rows", rows);
        d.set("BlackIs1", black_is_1);
        d
    }

    #[test]
    fn ccitt_group4_round_trip() {
        let doc = Document::with_version("1.5");
        let (w, h) = (203u32, 57u32);
        let rows = bitmap(w, h);
        let data = g4_encode(&rows, w as u16);
        let mut warnings = Vec::new();
        for black_is_1 in [false, true] {
            let parms = ccitt_parms(-1, w as i64, h as i64, black_is_1);
            let packed = ccitt(&doc, &data, Some(&parms), w, h, &mut warnings).unwrap();
            let decode: Option<&[f64]> = if black_is_1 { Some(&[1.0, 0.0]) } else { None };
            let img =
                samples_gray(&packed, layout(w, h, 1), &ColorSpace::Gray, decode, &mut warnings).unwrap();
            for (y, row) in rows.iter().enumerate() {
                for (x, black) in row.iter().enumerate() {
                    assert_eq!(
                        img.get_pixel(x as u32, y as u32).0[0],
                        if *black { 0 } else { 255 },
                        "({x},{y})"
                    );
                }
            }
        }
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    /// The T.4 code of a run (the `fax` crate's tables).
    fn run_code(black: bool, n: u16) -> String {
        let bits = if black { fax::maps::black::encode(n) } else { fax::maps::white::encode(n) };
        bits.expect("a run length with a code").to_string()
    }

    /// Group 3 one-dimensional (Modified Huffman) coding of a row.
    fn mh_row(row: &[bool], bits: &mut String) {
        let mut color = false;
        let mut i = 0;
        loop {
            let run = row[i..].iter().take_while(|b| **b == color).count();
            let mut left = run as u16;
            if left >= 64 {
                let makeup = left / 64 * 64;
                bits.push_str(&run_code(color, makeup));
                left -= makeup;
            }
            bits.push_str(&run_code(color, left));
            i += run;
            if i >= row.len() {
                break;
            }
            color = !color;
        }
    }

    fn pack_bits(bits: &str) -> Vec<u8> {
        bits.as_bytes()
            .chunks(8)
            .map(|c| c.iter().enumerate().fold(0u8, |b, (i, v)| b | ((v - b'0') << (7 - i))))
            .collect()
    }

    #[test]
    fn ccitt_group3_one_dimensional() {
        let doc = Document::with_version("1.5");
        let (w, h) = (150u32, 9u32);
        let rows = bitmap(w, h);
        let mut bits = String::new();
        for r in &rows {
            mh_row(r, &mut bits);
        }
        let data = pack_bits(&bits);
        let mut warnings = Vec::new();
        let parms = ccitt_parms(0, w as i64, h as i64, false);
        let packed = ccitt(&doc, &data, Some(&parms), w, h, &mut warnings).unwrap();
        let img = samples_gray(&packed, layout(w, h, 1), &ColorSpace::Gray, None, &mut warnings).unwrap();
        for (y, row) in rows.iter().enumerate() {
            for (x, black) in row.iter().enumerate() {
                assert_eq!(img.get_pixel(x as u32, y as u32).0[0], if *black { 0 } else { 255 }, "({x},{y})");
            }
        }
        // The same rows with an EOL before each, byte-aligned (EncodedByteAlign, EndOfLine).
        let mut bits = String::new();
        for r in &rows {
            // Fill so that the EOL ends on a byte boundary.
            while !(bits.len() + 12).is_multiple_of(8) {
                bits.push('0');
            }
            bits.push_str("000000000001");
            mh_row(r, &mut bits);
        }
        let data = pack_bits(&bits);
        let mut parms = ccitt_parms(0, w as i64, h as i64, false);
        parms.set("EndOfLine", true);
        parms.set("EncodedByteAlign", true);
        let packed2 = ccitt(&doc, &data, Some(&parms), w, h, &mut warnings).unwrap();
        assert_eq!(packed, packed2);
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    /// Collects the bits the `fax` encoder writes, as '0'/'1' characters, in a buffer the test
    /// can read while the encoder holds the writer.
    struct BitString(std::rc::Rc<std::cell::RefCell<String>>);

    impl fax::BitWriter for BitString {
        type Error = std::convert::Infallible;
        fn write(&mut self, bits: fax::Bits) -> Result<(), Self::Error> {
            self.0.borrow_mut().push_str(&bits.to_string());
            Ok(())
        }
    }

    #[test]
    fn ccitt_group3_two_dimensional() {
        // K > 0 (T.4 two-dimensional): each row starts with an EOL and a tag bit, 1 for a row
        // coded 1-D, 0 for a row coded 2-D against the row above. The first row is 1-D (MH), the
        // others take the 2-D codes the `fax` encoder writes for them (its reference is the row
        // above, as in T.4).
        let doc = Document::with_version("1.5");
        let (w, h) = (131u32, 8u32);
        let rows = bitmap(w, h);
        let buffer = std::rc::Rc::new(std::cell::RefCell::new(String::new()));
        let mut enc = fax::encoder::Encoder::new(BitString(buffer.clone()));
        let mut two_d = Vec::new();
        for r in &rows {
            let before = buffer.borrow().len();
            enc.encode_line(
                r.iter().map(|b| if *b { fax::Color::Black } else { fax::Color::White }),
                w as u16,
            )
            .unwrap();
            two_d.push(buffer.borrow()[before..].to_string());
        }
        let mut bits = String::new();
        for (y, r) in rows.iter().enumerate() {
            if y == 0 {
                bits.push_str("0000000000011");
                mh_row(r, &mut bits);
            } else {
                bits.push_str("0000000000010");
                bits.push_str(&two_d[y]);
            }
        }
        let data = pack_bits(&bits);
        let mut warnings = Vec::new();
        let mut parms = ccitt_parms(4, w as i64, h as i64, false);
        parms.set("EndOfLine", true);
        let packed = ccitt(&doc, &data, Some(&parms), w, h, &mut warnings).unwrap();
        let img = samples_gray(&packed, layout(w, h, 1), &ColorSpace::Gray, None, &mut warnings).unwrap();
        for (y, row) in rows.iter().enumerate() {
            for (x, black) in row.iter().enumerate() {
                assert_eq!(img.get_pixel(x as u32, y as u32).0[0], if *black { 0 } else { 255 }, "({x},{y})");
            }
        }
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn ccitt_garbage_is_an_error_or_a_partial_image_never_a_panic() {
        let doc = Document::with_version("1.5");
        let mut warnings = Vec::new();
        for k in [-1, 0, 1] {
            let parms = ccitt_parms(k, 64, 64, false);
            let junk: Vec<u8> = (0..200u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
            let _ = ccitt(&doc, &junk, Some(&parms), 64, 64, &mut warnings);
            let _ = ccitt(&doc, &[], Some(&parms), 64, 64, &mut warnings);
        }
    }

    #[test]
    fn jpeg_grey_rgb_and_inversion() {
        use image::codecs::jpeg::JpegEncoder;
        let src = GrayImage::from_fn(64, 32, |x, _| image::Luma([if x < 32 { 20 } else { 235 }]));
        let mut buf = Vec::new();
        JpegEncoder::new_with_quality(&mut buf, 95).encode_image(&src).unwrap();
        let img = jpeg(&buf, false, 1 << 20).unwrap();
        assert_eq!(img.dimensions(), (64, 32));
        assert!(img.get_pixel(5, 5).0[0] < 40 && img.get_pixel(60, 5).0[0] > 215);
        let inv = jpeg(&buf, true, 1 << 20).unwrap();
        assert!(inv.get_pixel(5, 5).0[0] > 215);

        let rgb = image::RgbImage::from_fn(16, 16, |_, _| image::Rgb([255, 0, 0]));
        let mut buf = Vec::new();
        JpegEncoder::new_with_quality(&mut buf, 95).encode_image(&rgb).unwrap();
        let img = jpeg(&buf, false, 1 << 20).unwrap();
        // Luma of pure red is about 76.
        assert!((66..=86).contains(&img.get_pixel(8, 8).0[0]), "{}", img.get_pixel(8, 8).0[0]);

        assert!(matches!(jpeg(&buf, false, 100), Err(ImageError::TooLarge { .. })));
        assert!(matches!(jpeg(&buf[..40], false, 1 << 20), Err(ImageError::Invalid(_))));
        assert!(jpeg(b"not a jpeg", false, 1 << 20).is_err());
    }

    #[test]
    fn adobe_marker_is_found_in_headers_only() {
        let mut with = vec![0xFF, 0xD8, 0xFF, 0xEE, 0x00, 0x0E];
        with.extend_from_slice(b"Adobe\x00\x64\x00\x00\x00\x00\x00");
        with.extend_from_slice(&[0xFF, 0xDA, 0x00, 0x02]);
        assert!(has_adobe_marker(&with));
        let without = [0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0x00, 0x00, 0xFF, 0xDA, 0x00, 0x02];
        assert!(!has_adobe_marker(&without));
        assert!(!has_adobe_marker(&[0xFF, 0xD8, 0xFF]));
    }
}
