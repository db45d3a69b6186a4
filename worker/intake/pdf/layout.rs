//! Page text of the PDF text layer rebuilt from glyph positions, in reading order.
//!
//! pdf-extract's `PlainTextOutput` writes the glyphs in content-stream order and starts a new
//! line or inserts a space by comparing each glyph with the one drawn just before it. Where a
//! generator draws a page column by column, or draws a label and its value in separate runs, the
//! text interleaves the columns and splits the label from its value; kerning and per-glyph
//! positioning give spaces inside words ("Br uttosumme").
//!
//! [`LayoutOutput`] is an `OutputDev` that only collects the glyphs with their positions (device
//! space, origin top-left, from the text rendering matrix), their advance and their font size.
//! At the end of the page the text is rebuilt the way `pdftotext -layout` does in spirit:
//! glyphs are clustered into lines by baseline (tolerance relative to the font size), each line is
//! sorted left to right, a space is inserted only where the gap between two glyphs exceeds a
//! fraction of the font size (or where the PDF drew a space there), a wider gap between columns
//! becomes [`COLUMN_GAP`] spaces, and lines go top to bottom. Glyphs drawn in another direction
//! (rotated text) are laid out in their own frame, after the page's main direction.

use pdf_extract::{MediaBox, OutputDev, OutputError, Transform};

/// What separates two columns on a line: a gap wider than [`WIDE_GAP`] font sizes.
pub const COLUMN_GAP: &str = "   ";
/// A gap wider than this many font sizes is a word break.
const WORD_GAP: f64 = 0.15;
/// A gap wider than this many font sizes separates columns.
const WIDE_GAP: f64 = 1.5;
/// Two baselines closer than this many font sizes are one line.
const LINE_TOLERANCE: f64 = 0.35;
/// Baselines further apart than this many font sizes are separated by a blank line.
const PARAGRAPH_GAP: f64 = 1.5;
/// Most glyphs kept per page (a page drawing more is cut; the budget of the sandbox bounds time).
const MAX_GLYPHS: usize = 2_000_000;

/// An `OutputDev` that forwards every call to two others, so that one pass of pdf-extract over a
/// page gives both its stream-order text (`PlainTextOutput`) and the reading-order text
/// ([`LayoutOutput`]). A call fails when either output fails (the first error is returned, after
/// both were called).
pub struct Tee<A: OutputDev, B: OutputDev> {
    pub first: A,
    pub second: B,
}

impl<A: OutputDev, B: OutputDev> Tee<A, B> {
    pub fn new(first: A, second: B) -> Self {
        Tee { first, second }
    }
}

fn both(a: Result<(), OutputError>, b: Result<(), OutputError>) -> Result<(), OutputError> {
    a.and(b)
}

impl<A: OutputDev, B: OutputDev> OutputDev for Tee<A, B> {
    fn begin_page(
        &mut self,
        page_num: u32,
        media_box: &MediaBox,
        art_box: Option<(f64, f64, f64, f64)>,
    ) -> Result<(), OutputError> {
        both(
            self.first.begin_page(page_num, media_box, art_box),
            self.second.begin_page(page_num, media_box, art_box),
        )
    }

    fn end_page(&mut self) -> Result<(), OutputError> {
        both(self.first.end_page(), self.second.end_page())
    }

    fn output_character(
        &mut self,
        trm: &Transform,
        width: f64,
        spacing: f64,
        font_size: f64,
        text: &str,
    ) -> Result<(), OutputError> {
        both(
            self.first.output_character(trm, width, spacing, font_size, text),
            self.second.output_character(trm, width, spacing, font_size, text),
        )
    }

    fn begin_word(&mut self) -> Result<(), OutputError> {
        both(self.first.begin_word(), self.second.begin_word())
    }

    fn end_word(&mut self) -> Result<(), OutputError> {
        both(self.first.end_word(), self.second.end_word())
    }

    fn end_line(&mut self) -> Result<(), OutputError> {
        both(self.first.end_line(), self.second.end_line())
    }

    fn stroke(
        &mut self,
        ctm: &Transform,
        colorspace: &pdf_extract::ColorSpace,
        color: &[f64],
        path: &pdf_extract::Path,
    ) -> Result<(), OutputError> {
        both(
            self.first.stroke(ctm, colorspace, color, path),
            self.second.stroke(ctm, colorspace, color, path),
        )
    }

    fn fill(
        &mut self,
        ctm: &Transform,
        colorspace: &pdf_extract::ColorSpace,
        color: &[f64],
        path: &pdf_extract::Path,
    ) -> Result<(), OutputError> {
        both(self.first.fill(ctm, colorspace, color, path), self.second.fill(ctm, colorspace, color, path))
    }
}

#[derive(Debug, Clone)]
struct Glyph {
    /// Direction of the baseline: 0 left to right, 1 top to bottom, 2 right to left, 3 bottom
    /// to top (device space, y down).
    dir: u8,
    /// Origin and end of the advance, and the font size, in device units (points, y down).
    x0: f64,
    y0: f64,
    x1: f64,
    y1: f64,
    size: f64,
    text: String,
    /// The glyph is white space (a space character drawn by the PDF).
    space: bool,
}

/// Collects the glyphs of one page at a time; [`LayoutOutput::take_text`] gives the page text.
#[derive(Default)]
pub struct LayoutOutput {
    /// Page height, to flip PDF space (y up) into device space (y down).
    height: f64,
    origin: (f64, f64),
    glyphs: Vec<Glyph>,
    text: String,
}

impl LayoutOutput {
    pub fn new() -> Self {
        LayoutOutput::default()
    }

    /// The text of the page(s) output since the last call.
    pub fn take_text(&mut self) -> String {
        std::mem::take(&mut self.text)
    }
}

impl OutputDev for LayoutOutput {
    fn begin_page(
        &mut self,
        _page_num: u32,
        media_box: &MediaBox,
        _art_box: Option<(f64, f64, f64, f64)>,
    ) -> Result<(), OutputError> {
        self.height = media_box.ury - media_box.lly;
        self.origin = (media_box.llx, media_box.lly);
        self.glyphs.clear();
        Ok(())
    }

    fn end_page(&mut self) -> Result<(), OutputError> {
        let glyphs = std::mem::take(&mut self.glyphs);
        if !self.text.is_empty() {
            self.text.push('\n');
        }
        self.text.push_str(&layout(glyphs));
        Ok(())
    }

    fn output_character(
        &mut self,
        trm: &Transform,
        width: f64,
        _spacing: f64,
        font_size: f64,
        text: &str,
    ) -> Result<(), OutputError> {
        if self.glyphs.len() >= MAX_GLYPHS || text.is_empty() {
            return Ok(());
        }
        // Text space → device space (PDF user space with y flipped, origin at the top left).
        let flip = |x: f64, y: f64| (x - self.origin.0, self.height - (y - self.origin.1));
        let (ox, oy) = flip(trm.m31, trm.m32);
        let advance = width * font_size;
        let (ex, ey) =
            flip(trm.m11 * advance + trm.m21 * 0.0 + trm.m31, trm.m12 * advance + trm.m22 * 0.0 + trm.m32);
        // The font size as drawn: text space is scaled by the matrix (area-preserving measure).
        let scale = (trm.m11 * trm.m22 - trm.m12 * trm.m21).abs().sqrt();
        let size = font_size.abs() * scale;
        if ![ox, oy, ex, ey, size].iter().all(|v| v.is_finite()) {
            return Ok(());
        }
        // Direction of the baseline from the matrix's x axis (y flipped).
        let (dx, dy) = (trm.m11, -trm.m12);
        let dir = if dx.abs() >= dy.abs() {
            if dx >= 0.0 { 0 } else { 2 }
        } else if dy >= 0.0 {
            1
        } else {
            3
        };
        let space = text.chars().all(char::is_whitespace);
        self.glyphs.push(Glyph { dir, x0: ox, y0: oy, x1: ex, y1: ey, size, text: text.to_string(), space });
        Ok(())
    }

    fn begin_word(&mut self) -> Result<(), OutputError> {
        Ok(())
    }

    fn end_word(&mut self) -> Result<(), OutputError> {
        Ok(())
    }

    fn end_line(&mut self) -> Result<(), OutputError> {
        Ok(())
    }
}

/// A glyph in the frame of its direction: `x` along the baseline, `y` across it (down).
#[derive(Debug, Clone)]
struct Placed {
    x0: f64,
    x1: f64,
    y: f64,
    size: f64,
    order: usize,
    space: bool,
}

/// Rotates a device point into the frame where direction `dir` runs left to right.
fn to_frame(dir: u8, x: f64, y: f64) -> (f64, f64) {
    match dir {
        0 => (x, y),
        1 => (y, -x),
        2 => (-x, -y),
        _ => (-y, x),
    }
}

/// The page text of a page's glyphs (in drawing order).
fn layout(glyphs: Vec<Glyph>) -> String {
    // The page's main direction first, the others after it, each in its own frame.
    let mut counts = [0usize; 4];
    for g in &glyphs {
        counts[g.dir as usize] += 1;
    }
    let mut dirs: Vec<u8> = (0..4u8).filter(|d| counts[*d as usize] > 0).collect();
    dirs.sort_by_key(|d| (std::cmp::Reverse(counts[*d as usize]), *d));
    let mut out = String::new();
    for dir in dirs {
        let placed: Vec<Placed> = glyphs
            .iter()
            .enumerate()
            .filter(|(_, g)| g.dir == dir)
            .map(|(order, g)| {
                let (x0, y) = to_frame(dir, g.x0, g.y0);
                let (x1, _) = to_frame(dir, g.x1, g.y1);
                Placed { x0, x1: x1.max(x0), y, size: g.size, order, space: g.space }
            })
            .collect();
        let text = layout_frame(placed, &glyphs);
        if text.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&text);
    }
    out
}

/// Lines of glyphs that run left to right, top to bottom.
fn layout_frame(mut placed: Vec<Placed>, glyphs: &[Glyph]) -> String {
    // Cluster into lines by baseline: sorted top to bottom, a glyph joins the current line when
    // its baseline is within the tolerance of the line's (running mean) baseline.
    placed.sort_by(|a, b| a.y.total_cmp(&b.y).then(a.order.cmp(&b.order)));
    let mut lines: Vec<(f64, f64, Vec<Placed>)> = Vec::new(); // (baseline, size, glyphs)
    for p in placed {
        if let Some((base, size, line)) = lines.last_mut() {
            let tol = LINE_TOLERANCE * size.max(p.size).max(1e-6);
            if (p.y - *base).abs() <= tol {
                let n = line.len() as f64;
                *base = (*base * n + p.y) / (n + 1.0);
                if !p.space {
                    *size = size.max(p.size);
                }
                line.push(p);
                continue;
            }
        }
        let size = if p.space { 0.0 } else { p.size };
        lines.push((p.y, size, vec![p]));
    }
    let mut out = String::new();
    let mut first = true;
    // Baseline and size of the last line written: a wide vertical gap leaves a blank line.
    let mut last: Option<(f64, f64)> = None;
    for (base, size, mut line) in lines {
        line.sort_by(|a, b| a.x0.total_cmp(&b.x0).then(a.order.cmp(&b.order)));
        let mut text = String::new();
        // End of the previous visible glyph, its size, and whether a drawn space came since.
        let mut prev: Option<(f64, f64)> = None;
        let mut spaced = false;
        for p in &line {
            if p.space {
                // A drawn space separates words only where it lies after the previous glyph; a
                // space drawn over visible glyphs (a blank run overprinting a label) is no break.
                if let Some((end, size)) = prev
                    && p.x0 >= end - WORD_GAP * size.max(p.size)
                {
                    spaced = true;
                }
                continue;
            }
            if let Some((end, size)) = prev {
                let size = size.max(p.size).max(1e-6);
                let gap = p.x0 - end;
                if gap > WIDE_GAP * size {
                    text.push_str(COLUMN_GAP);
                } else if gap > WORD_GAP * size || (spaced && gap > -WORD_GAP * size) {
                    text.push(' ');
                }
            }
            text.push_str(&glyphs[p.order].text);
            prev = Some(match prev {
                // Overlapping glyphs (bold drawn twice, accents): keep the furthest end.
                Some((end, _)) if end > p.x1 => (end, p.size),
                _ => (p.x1, p.size),
            });
            spaced = false;
        }
        if text.is_empty() {
            continue;
        }
        if !first {
            out.push('\n');
            if let Some((last_base, last_size)) = last
                && base - last_base > PARAGRAPH_GAP * last_size.max(size)
            {
                out.push('\n');
            }
        }
        first = false;
        last = Some((base, size));
        out.push_str(&text);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use pdf_extract::Transform;

    fn page(glyphs: &[(f64, f64, &str)]) -> String {
        // (x, y in PDF space, text): 10-point glyphs 0.5 em wide, on a 200 × 300 page.
        let mut out = LayoutOutput::new();
        let mb = MediaBox { llx: 0.0, lly: 0.0, urx: 200.0, ury: 300.0 };
        out.begin_page(1, &mb, None).unwrap();
        for (x, y, s) in glyphs {
            let mut x = *x;
            for c in s.chars() {
                let trm = Transform::row_major(1.0, 0.0, 0.0, 1.0, x, *y);
                out.output_character(&trm, 0.5, 0.0, 10.0, &c.to_string()).unwrap();
                x += 5.0;
            }
        }
        out.end_page().unwrap();
        out.take_text()
    }

    #[test]
    fn lines_are_ordered_top_to_bottom_and_left_to_right() {
        // Drawn value first, then the label, then a line above: reading order is restored.
        let text = page(&[(60.0, 250.0, "42,00"), (10.0, 250.0, "Total:"), (10.0, 270.0, "Facture")]);
        assert_eq!(text, "Facture\n\nTotal:   42,00");
    }

    #[test]
    fn small_gaps_join_and_word_gaps_split() {
        // "Br" then "uttosumme" 0.5 pt further (kerning): one word; a 3-pt gap is a space.
        let text = page(&[(10.0, 100.0, "Br"), (20.5, 100.0, "uttosumme"), (68.0, 100.0, "12")]);
        assert_eq!(text, "Bruttosumme 12");
    }

    #[test]
    fn drawn_spaces_are_kept_and_baselines_within_tolerance_join() {
        let text = page(&[(10.0, 100.0, "Nr 7"), (40.0, 101.0, "x")]);
        assert_eq!(text, "Nr 7 x");
    }

    #[test]
    fn spaces_drawn_over_a_word_do_not_split_it() {
        // "Factuurdatum:" then, later in the stream, two blanks drawn over its first letters
        // (the "F actuurdatum" a generator's overprinted blank field gave).
        let text = page(&[(10.0, 100.0, "Factuurdatum:"), (10.0, 100.0, "  "), (80.0, 100.0, "29")]);
        assert_eq!(text, "Factuurdatum: 29");
    }

    #[test]
    fn rotated_text_follows_the_main_direction() {
        let mut out = LayoutOutput::new();
        let mb = MediaBox { llx: 0.0, lly: 0.0, urx: 200.0, ury: 300.0 };
        out.begin_page(1, &mb, None).unwrap();
        for (i, c) in "Hello".chars().enumerate() {
            let trm = Transform::row_major(1.0, 0.0, 0.0, 1.0, 10.0 + 5.0 * i as f64, 200.0);
            out.output_character(&trm, 0.5, 0.0, 10.0, &c.to_string()).unwrap();
        }
        // Text rotated 90° (bottom to top) in the margin.
        for (i, c) in "Up".chars().enumerate() {
            let trm = Transform::row_major(0.0, 1.0, -1.0, 0.0, 190.0, 50.0 + 5.0 * i as f64);
            out.output_character(&trm, 0.5, 0.0, 10.0, &c.to_string()).unwrap();
        }
        out.output_character(&Transform::row_major(f64::NAN, 0.0, 0.0, 1.0, 0.0, 0.0), 0.5, 0.0, 10.0, "z")
            .unwrap();
        out.end_page().unwrap();
        assert_eq!(out.take_text(), "Hello\nUp");
    }
}
