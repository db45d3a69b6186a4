//! A page's image for OCR: its image XObjects, placed where the content stream draws them, on one
//! canvas at the resolution of the largest, turned by the page's `/Rotate`.

use super::decode::{self, ImageError, unsupported_codec};
use super::structure::{ImageRef, PagePlan, Placement, Rect};
use crate::document::Warning;
use crate::ocr::PageImage;
use image::GrayImage;
use lopdf::{Document, Object};

/// Resolutions below this are not believed (an image stretched over the page): the page is
/// drawn at this resolution.
pub const MIN_DPI: f64 = 70.0;
/// The highest resolution a page image is made at. OCR gains nothing above it and pays for every
/// pixel (in time and memory); finer scans are scaled down to it.
pub const MAX_DPI: f64 = 400.0;
/// Images with fewer pixels are decoration (bullets, rules, dots).
const MIN_IMAGE_PIXELS: u64 = 256;
/// Images covering less of the page than this (logos, signatures) do not make it worth OCR.
const MIN_COVERAGE: f64 = 0.02;

/// The images of a page that OCR should read, and the region of the page they cover.
pub struct Selection<'a> {
    pub placements: Vec<&'a Placement>,
    pub region: Rect,
}

fn intersect(a: &Rect, b: &Rect) -> Option<Rect> {
    let r = [a[0].max(b[0]), a[1].max(b[1]), a[2].min(b[2]), a[3].min(b[3])];
    (r[2] > r[0] && r[3] > r[1] && r.iter().all(|v| v.is_finite())).then_some(r)
}

fn area(r: &Rect) -> f64 {
    (r[2] - r[0]) * (r[3] - r[1])
}

/// The page's images worth reading: decodable, not decoration, on the page, and together
/// covering a fair part of it. An image that cannot be decoded (JBIG2, JPEG 2000) gives a
/// warning.
pub fn select<'a>(plan: &'a PagePlan, warnings: &mut Vec<Warning>) -> Option<Selection<'a>> {
    let mut chosen = Vec::new();
    let mut region: Option<Rect> = None;
    let mut reported: Vec<&str> = Vec::new();
    for p in &plan.placements {
        if u64::from(p.width) * u64::from(p.height) < MIN_IMAGE_PIXELS {
            continue;
        }
        let Some(clip) = intersect(&p.bbox(), &plan.bbox) else { continue };
        if let Some(why) = p.codec.as_deref().and_then(unsupported_codec) {
            if !reported.contains(&why) {
                reported.push(why);
                warnings.push(Warning::new(
                    "image_unsupported",
                    Some(plan.number),
                    format!("the page has a {why} image, which Liasse cannot decode; it was not read by OCR"),
                ));
            }
            continue;
        }
        region = Some(match region {
            None => clip,
            Some(r) => [r[0].min(clip[0]), r[1].min(clip[1]), r[2].max(clip[2]), r[3].max(clip[3])],
        });
        chosen.push(p);
    }
    if plan.skipped_inline > 0 {
        warnings.push(Warning::new(
            "image_unsupported",
            Some(plan.number),
            format!(
                "the page has {} inline image(s) with filters or named colour spaces, which Liasse cannot read; they were not read by OCR",
                plan.skipped_inline
            ),
        ));
    }
    let region = region?;
    if area(&region) < MIN_COVERAGE * area(&plan.bbox) {
        return None;
    }
    Some(Selection { placements: chosen, region })
}

/// Images on a page that has a text layer cover at least this part of it to be read by OCR: a
/// printed line of a letterhead or footer, not an icon.
const TEXT_PAGE_MIN_COVERAGE: f64 = 0.005;
/// …and at most this part: larger, the image is the page itself (a scan under its own text
/// layer), whose text the layer already holds.
const TEXT_PAGE_MAX_COVERAGE: f64 = 0.5;
/// Most images of one text page read by OCR (the largest first), to bound the work per page.
const TEXT_PAGE_MAX_IMAGES: usize = 6;

/// The images of a page with a usable text layer that may hold text of their own (a letterhead or
/// a footer of company details pasted as a picture), each to be read by OCR alone. Only upright
/// pages: the words' boxes are then simple offsets of the page's.
pub fn select_on_text_page(plan: &PagePlan) -> Vec<Selection<'_>> {
    if plan.rotate != 0 {
        return Vec::new();
    }
    let page = area(&plan.bbox);
    let mut chosen: Vec<(f64, Selection)> = plan
        .placements
        .iter()
        .filter(|p| u64::from(p.width) * u64::from(p.height) >= MIN_IMAGE_PIXELS && p.height >= 16)
        .filter(|p| p.codec.as_deref().and_then(unsupported_codec).is_none())
        .filter_map(|p| {
            let clip = intersect(&p.bbox(), &plan.bbox)?;
            let share = area(&clip) / page;
            (TEXT_PAGE_MIN_COVERAGE..=TEXT_PAGE_MAX_COVERAGE)
                .contains(&share)
                .then(|| (share, Selection { placements: vec![p], region: clip }))
        })
        .collect();
    chosen.sort_by(|a, b| b.0.total_cmp(&a.0));
    chosen.truncate(TEXT_PAGE_MAX_IMAGES);
    // In reading order: top to bottom, then left to right.
    chosen.sort_by(|a, b| {
        b.1.region[3].total_cmp(&a.1.region[3]).then(a.1.region[0].total_cmp(&b.1.region[0]))
    });
    chosen.into_iter().map(|(_, s)| s).collect()
}

/// Pixels per point of an image as placed: its pixel count over its placed area.
fn density(p: &Placement) -> Option<f64> {
    let m = &p.ctm;
    let det = (m[0] * m[3] - m[1] * m[2]).abs();
    let s = (f64::from(p.width) * f64::from(p.height) / det).sqrt();
    (s.is_finite() && s > 0.0).then_some(s)
}

/// Draw the selected images on one canvas and turn it upright.
pub fn render(
    doc: &Document,
    plan: &PagePlan,
    sel: &Selection,
    max_pixels: u64,
    default_dpi: u32,
    warnings: &mut Vec<String>,
) -> Result<PageImage, ImageError> {
    let region = sel.region;
    // The largest image on the page sets the resolution.
    let dominant = sel
        .placements
        .iter()
        .max_by(|a, b| {
            let area = |p: &Placement| (p.ctm[0] * p.ctm[3] - p.ctm[1] * p.ctm[2]).abs();
            area(a).total_cmp(&area(b))
        })
        .ok_or_else(|| ImageError::Invalid("the page has no image".into()))?;
    let mut scale = density(dominant)
        .map(|s| s.clamp(MIN_DPI / 72.0, MAX_DPI / 72.0))
        .unwrap_or(f64::from(default_dpi.max(1)) / 72.0);
    let size = |scale: f64| {
        let w = ((region[2] - region[0]) * scale - 1e-6).ceil().max(1.0);
        let h = ((region[3] - region[1]) * scale - 1e-6).ceil().max(1.0);
        (w, h)
    };
    let (mut w, mut h) = size(scale);
    if w * h > max_pixels as f64 {
        scale *= (max_pixels as f64 / (w * h)).sqrt() * 0.999;
        (w, h) = size(scale);
        warnings
            .push(format!("the page image was scaled down to {w}×{h} pixels to stay within the pixel limit"));
    }
    if !(w.is_finite() && h.is_finite())
        || w * h > max_pixels as f64
        || w > f64::from(u32::MAX)
        || h > f64::from(u32::MAX)
    {
        return Err(ImageError::TooLarge { width: w as u64, height: h as u64, limit: max_pixels });
    }
    let mut canvas = GrayImage::from_pixel(w as u32, h as u32, image::Luma([255]));
    let mut drawn = 0usize;
    let mut first_error = None;
    for p in &sel.placements {
        let stream = match &p.image {
            ImageRef::XObject(id) => match doc.get_object(*id) {
                Ok(Object::Stream(s)) => s,
                _ => {
                    first_error.get_or_insert(ImageError::Invalid("the image object is missing".into()));
                    continue;
                }
            },
            ImageRef::Inline(s) => s.as_ref(),
        };
        match decode::decode(doc, stream, max_pixels, warnings) {
            Ok(d) => {
                let image = fit(d.image, d.stencil, p, scale);
                draw(&mut canvas, &image, d.stencil, p, &region, scale);
                drawn += 1;
            }
            Err(e) => {
                if sel.placements.len() > 1 {
                    warnings.push(format!("one of the page's images could not be decoded: {e}"));
                }
                first_error.get_or_insert(e);
            }
        }
    }
    if drawn == 0 {
        return Err(first_error.unwrap_or_else(|| ImageError::Invalid("no image could be drawn".into())));
    }
    let image = match plan.rotate {
        90 => image::imageops::rotate90(&canvas),
        180 => image::imageops::rotate180(&canvas),
        270 => image::imageops::rotate270(&canvas),
        _ => canvas,
    };
    Ok(PageImage { image, dpi: (scale * 72.0).round() as u32 })
}

/// An image finer than the canvas, scaled down to the canvas's resolution with a filter that
/// averages (drawing takes the nearest pixel, which would drop thin strokes).
fn fit(image: GrayImage, stencil: bool, p: &Placement, scale: f64) -> GrayImage {
    let Some(d) = density(p) else { return image };
    if d <= scale * 1.1 {
        return image;
    }
    let f = scale / d;
    let w = ((f64::from(image.width()) * f).round() as u32).max(1);
    let h = ((f64::from(image.height()) * f).round() as u32).max(1);
    if w >= image.width() || h >= image.height() {
        return image;
    }
    let mut small = shrink(&image, w, h);
    if stencil {
        small.pixels_mut().for_each(|px| px.0[0] = if px.0[0] < 128 { 0 } else { 255 });
    }
    small
}

/// Scale down by averaging: each output pixel is the mean of the source pixels its box covers.
/// (`w` and `h` are smaller than the source's.)
fn shrink(src: &GrayImage, w: u32, h: u32) -> GrayImage {
    let (sw, sh) = (src.width() as usize, src.height() as usize);
    let (w, h) = (w as usize, h as usize);
    let bounds = |i: usize, n: usize, total: usize| {
        let a = i * total / n;
        (a, ((i + 1) * total / n).max(a + 1).min(total))
    };
    let columns: Vec<(usize, usize)> = (0..w).map(|x| bounds(x, w, sw)).collect();
    let raw = src.as_raw();
    let mut out = vec![0u8; w * h];
    let mut sums = vec![0u32; w];
    for (oy, dst) in out.chunks_exact_mut(w).enumerate() {
        let (y0, y1) = bounds(oy, h, sh);
        sums.fill(0);
        for row in raw[y0 * sw..y1 * sw].chunks_exact(sw) {
            for (sum, (a, b)) in sums.iter_mut().zip(&columns) {
                *sum += row[*a..*b].iter().map(|v| u32::from(*v)).sum::<u32>();
            }
        }
        for ((px, sum), (a, b)) in dst.iter_mut().zip(&sums).zip(&columns) {
            let count = ((y1 - y0) * (b - a)) as u32;
            *px = ((sum + count / 2) / count) as u8;
        }
    }
    GrayImage::from_raw(w as u32, h as u32, out).unwrap_or_else(|| GrayImage::new(w as u32, h as u32))
}

/// Draw `image` where `p` places it, on a canvas covering `region` at `scale` pixels per point
/// (nearest neighbour, any affine placement). A stencil paints its black pixels with the fill
/// colour and leaves the rest.
fn draw(canvas: &mut GrayImage, image: &GrayImage, stencil: bool, p: &Placement, region: &Rect, scale: f64) {
    let [a, b, c, d, e, f] = p.ctm;
    let det = a * d - b * c;
    if !det.is_finite() || det.abs() < 1e-12 {
        return;
    }
    let Some(bb) = intersect(&p.bbox(), region) else { return };
    let (cw, ch) = canvas.dimensions();
    let (iw, ih) = image.dimensions();
    let clamp = |v: f64, max: u32| v.clamp(0.0, f64::from(max)) as u32;
    let x0 = clamp(((bb[0] - region[0]) * scale).floor(), cw);
    let x1 = clamp(((bb[2] - region[0]) * scale).ceil(), cw);
    let y0 = clamp(((region[3] - bb[3]) * scale).floor(), ch);
    let y1 = clamp(((region[3] - bb[1]) * scale).ceil(), ch);
    let src: &[u8] = image.as_raw();
    let width = cw as usize;
    let dst: &mut [u8] = canvas;
    for py in y0..y1 {
        let y = region[3] - (f64::from(py) + 0.5) / scale;
        let dy = y - f;
        for px in x0..x1 {
            let x = region[0] + (f64::from(px) + 0.5) / scale;
            let dx = x - e;
            // Unit-square coordinates: (x, y) = (u·a + v·c + e, u·b + v·d + f).
            let u = (dx * d - dy * c) / det;
            let v = (dy * a - dx * b) / det;
            if !(0.0..1.0).contains(&u) || !(0.0..1.0).contains(&v) {
                continue;
            }
            // The image's first row is at the top of the unit square.
            let ix = ((u * f64::from(iw)) as u32).min(iw - 1);
            let iy = (((1.0 - v) * f64::from(ih)) as u32).min(ih - 1);
            let s = src[iy as usize * iw as usize + ix as usize];
            let out = &mut dst[py as usize * width + px as usize];
            if stencil {
                if s < 128 {
                    *out = p.fill_gray;
                }
            } else {
                *out = s;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intake::pdf::structure::{IDENTITY, PagePlan};

    fn plan(placements: Vec<Placement>, rotate: u32) -> PagePlan {
        PagePlan {
            number: 1,
            id: (1, 0),
            rotate,
            bbox: [0.0, 0.0, 100.0, 100.0],
            has_text: false,
            placements,
            skipped_inline: 0,
        }
    }

    fn placement(ctm: [f64; 6], w: u32, h: u32) -> Placement {
        Placement { image: ImageRef::XObject((99, 0)), ctm, fill_gray: 0, width: w, height: h, codec: None }
    }

    #[test]
    fn drawing_is_exact_at_native_scale_and_honours_flips() {
        // A 4×2 image with distinct pixels, placed on 40×20 points at 0.1 px/pt.
        let img = GrayImage::from_raw(4, 2, vec![0, 10, 20, 30, 40, 50, 60, 70]).unwrap();
        let p = placement([40.0, 0.0, 0.0, 20.0, 0.0, 0.0], 4, 2);
        let mut canvas = GrayImage::from_pixel(4, 2, image::Luma([255]));
        draw(&mut canvas, &img, false, &p, &[0.0, 0.0, 40.0, 20.0], 0.1);
        assert_eq!(canvas.as_raw(), img.as_raw());
        // Flipped vertically (the way some producers draw: [w 0 0 -h 0 h]).
        let p = placement([40.0, 0.0, 0.0, -20.0, 0.0, 20.0], 4, 2);
        let mut canvas = GrayImage::from_pixel(4, 2, image::Luma([255]));
        draw(&mut canvas, &img, false, &p, &[0.0, 0.0, 40.0, 20.0], 0.1);
        assert_eq!(canvas.as_raw(), &[40, 50, 60, 70, 0, 10, 20, 30]);
        // Turned a quarter counter-clockwise: [0 h -w 0 w 0] maps the image's top row to the left.
        let p = placement([0.0, 40.0, -20.0, 0.0, 20.0, 0.0], 4, 2);
        let mut canvas = GrayImage::from_pixel(2, 4, image::Luma([255]));
        draw(&mut canvas, &img, false, &p, &[0.0, 0.0, 20.0, 40.0], 0.1);
        // Canvas rows top to bottom: the image's last column first.
        assert_eq!(canvas.as_raw(), &[30, 70, 20, 60, 10, 50, 0, 40]);
    }

    #[test]
    fn stencils_paint_only_their_black_pixels() {
        let mask = GrayImage::from_raw(2, 1, vec![0, 255]).unwrap();
        let mut p = placement([20.0, 0.0, 0.0, 10.0, 0.0, 0.0], 2, 1);
        p.fill_gray = 100;
        let mut canvas = GrayImage::from_pixel(2, 1, image::Luma([200]));
        draw(&mut canvas, &mask, true, &p, &[0.0, 0.0, 20.0, 10.0], 0.1);
        assert_eq!(canvas.as_raw(), &[100, 200]);
    }

    #[test]
    fn images_on_a_text_page_are_read_one_by_one_from_the_top() {
        // On a 100×100 page: a footer band, a letterhead, an icon, a scan under the text layer,
        // a JBIG2 image and an image off the page.
        let footer = placement([80.0, 0.0, 0.0, 10.0, 10.0, 5.0], 800, 100);
        let letterhead = placement([60.0, 0.0, 0.0, 10.0, 20.0, 85.0], 600, 100);
        let icon = placement([2.0, 0.0, 0.0, 2.0, 90.0, 90.0], 40, 40);
        let scan = placement([100.0, 0.0, 0.0, 100.0, 0.0, 0.0], 1000, 1000);
        let mut jbig2 = placement([50.0, 0.0, 0.0, 10.0, 0.0, 50.0], 500, 100);
        jbig2.codec = Some("JBIG2Decode".into());
        let off = placement([50.0, 0.0, 0.0, 10.0, 200.0, 200.0], 500, 100);
        let p = plan(vec![footer, letterhead, icon, scan, jbig2, off], 0);
        let chosen = select_on_text_page(&p);
        let regions: Vec<Rect> = chosen.iter().map(|s| s.region).collect();
        assert_eq!(regions, [[20.0, 85.0, 80.0, 95.0], [10.0, 5.0, 90.0, 15.0]]);
        assert!(chosen.iter().all(|s| s.placements.len() == 1));
        // A turned page is left alone (the words' boxes would not be offsets of the page's).
        let p = plan(vec![placement([80.0, 0.0, 0.0, 10.0, 10.0, 5.0], 800, 100)], 90);
        assert!(select_on_text_page(&p).is_empty());
        // At most TEXT_PAGE_MAX_IMAGES, the largest.
        let many: Vec<Placement> = (0..10)
            .map(|i| placement([20.0 + f64::from(i), 0.0, 0.0, 5.0, 0.0, f64::from(i) * 9.0], 400, 100))
            .collect();
        let p = plan(many, 0);
        let chosen = select_on_text_page(&p);
        assert_eq!(chosen.len(), TEXT_PAGE_MAX_IMAGES);
        assert!(chosen.iter().all(|s| s.region[2] >= 24.0));
    }

    #[test]
    fn selection_skips_decoration_off_page_and_unsupported_images() {
        let mut jbig2 = placement([100.0, 0.0, 0.0, 100.0, 0.0, 0.0], 1000, 1000);
        jbig2.codec = Some("JBIG2Decode".into());
        let icon = placement([100.0, 0.0, 0.0, 100.0, 0.0, 0.0], 10, 10);
        let off = placement([50.0, 0.0, 0.0, 50.0, 200.0, 200.0], 500, 500);
        let logo = placement([10.0, 0.0, 0.0, 5.0, 0.0, 90.0], 200, 100);
        let mut warnings = Vec::new();
        let p = plan(vec![jbig2, icon, off, logo], 0);
        assert!(select(&p, &mut warnings).is_none());
        assert_eq!(warnings.len(), 1);
        assert_eq!(warnings[0].code, "image_unsupported");
        let strips = vec![
            placement([100.0, 0.0, 0.0, 50.0, 0.0, 50.0], 1000, 500),
            placement([100.0, 0.0, 0.0, 50.0, 0.0, 0.0], 1000, 500),
        ];
        let p = plan(strips, 0);
        let sel = select(&p, &mut warnings).unwrap();
        assert_eq!(sel.placements.len(), 2);
        assert_eq!(sel.region, [0.0, 0.0, 100.0, 100.0]);
    }

    #[test]
    fn shrinking_averages_boxes() {
        let src = GrayImage::from_raw(4, 2, vec![0, 255, 10, 20, 255, 0, 30, 40]).unwrap();
        let small = shrink(&src, 2, 1);
        assert_eq!(small.as_raw(), &[128, 25]);
        // Uneven ratios cover every source pixel once.
        let src = GrayImage::from_pixel(7, 5, image::Luma([90]));
        assert!(shrink(&src, 3, 2).pixels().all(|p| p.0[0] == 90));
    }

    #[test]
    fn density_is_pixels_per_point() {
        let p = placement([612.0, 0.0, 0.0, 792.0, 0.0, 0.0], 2550, 3300);
        let dpi = density(&p).unwrap() * 72.0;
        assert!((dpi - 300.0).abs() < 0.01);
        assert!(density(&placement([0.0; 6], 10, 10)).is_none());
        assert!(density(&placement(IDENTITY, 72, 72)).is_some_and(|s| (s - 72.0).abs() < 1e-9));
    }
}
