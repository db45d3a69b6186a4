//! Page images for the desk: a PDF page rendered by `pdftoppm` (poppler-utils) as a bounded
//! subprocess (own process group, address-space and CPU limits, a wall-clock timeout, capped
//! output), or a scan's own image (PNG and JPEG as they are, TIFF's first page as PNG).

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Width of a rendered PDF page, in pixels.
pub const RENDER_WIDTH: u32 = 1100;
const TIMEOUT: Duration = Duration::from_secs(20);
const MAX_OUTPUT: usize = 16 * 1024 * 1024;
const MEMORY_LIMIT: u64 = 1024 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("no image for this page")]
    Unavailable,
    #[error("rendering failed: {0}")]
    Render(String),
    #[error("rendering timed out")]
    TimedOut,
}

/// An image of page `page` (1-based) of a document: (content type, bytes).
pub fn page_image(
    bytes: &[u8],
    media_type: Option<&str>,
    page: u32,
    max_pixels: u64,
) -> Result<(&'static str, Vec<u8>), ImageError> {
    let sniff = |p: &[u8]| bytes.starts_with(p);
    if media_type == Some("application/pdf") || sniff(b"%PDF-") {
        return render_pdf(bytes, page).map(|b| ("image/png", b));
    }
    if page != 1 {
        return Err(ImageError::Unavailable);
    }
    let format = image::guess_format(bytes).map_err(|_| ImageError::Unavailable)?;
    match format {
        image::ImageFormat::Png => Ok(("image/png", bytes.to_vec())),
        image::ImageFormat::Jpeg => Ok(("image/jpeg", bytes.to_vec())),
        image::ImageFormat::Tiff => {
            let mut reader = image::ImageReader::with_format(std::io::Cursor::new(bytes), format);
            let mut limits = image::Limits::default();
            limits.max_alloc = Some(max_pixels.saturating_mul(4));
            reader.limits(limits);
            let img = reader.decode().map_err(|e| ImageError::Render(e.to_string()))?;
            if u64::from(img.width()) * u64::from(img.height()) > max_pixels {
                return Err(ImageError::Unavailable);
            }
            let mut out = std::io::Cursor::new(Vec::new());
            img.write_to(&mut out, image::ImageFormat::Png).map_err(|e| ImageError::Render(e.to_string()))?;
            Ok(("image/png", out.into_inner()))
        }
        _ => Err(ImageError::Unavailable),
    }
}

/// One page of a PDF as PNG, `RENDER_WIDTH` pixels wide.
fn render_pdf(pdf: &[u8], page: u32) -> Result<Vec<u8>, ImageError> {
    use std::os::unix::process::CommandExt as _;
    use wait_timeout::ChildExt as _;
    let n = page.to_string();
    let width = RENDER_WIDTH.to_string();
    let mut cmd = Command::new("pdftoppm");
    cmd.args(["-png", "-f", &n, "-l", &n, "-singlefile", "-scale-to-x", &width, "-scale-to-y", "-1", "-"])
        .env_clear()
        .current_dir("/")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let cpu = TIMEOUT.as_secs() + 2;
    // SAFETY: runs in the forked child before exec; only async-signal-safe calls (setpgid,
    // setrlimit, prctl) on values computed before the fork.
    unsafe {
        cmd.pre_exec(move || {
            libc::setpgid(0, 0);
            let set = |r, v: u64| {
                let l = libc::rlimit { rlim_cur: v as libc::rlim_t, rlim_max: v as libc::rlim_t };
                libc::setrlimit(r, &l);
            };
            set(libc::RLIMIT_CORE, 0);
            set(libc::RLIMIT_AS, MEMORY_LIMIT);
            set(libc::RLIMIT_CPU, cpu);
            #[cfg(target_os = "linux")]
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let mut child = cmd.spawn().map_err(|e| ImageError::Render(format!("cannot start pdftoppm: {e}")))?;
    let pid = child.id() as libc::pid_t;
    let input = pdf.to_vec();
    let stdin = child.stdin.take();
    let _writer = std::thread::spawn(move || {
        if let Some(mut s) = stdin {
            let _ = s.write_all(&input);
        }
    });
    let (tx, rx) = std::sync::mpsc::channel();
    if let Some(out) = child.stdout.take() {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let r = out.take(MAX_OUTPUT as u64 + 1).read_to_end(&mut buf);
            let _ = tx.send(r.map(|_| buf));
        });
    }
    let kill = |child: &mut std::process::Child| {
        // SAFETY: kill(2) on the process group our child leads; it is not reaped yet.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
        let _ = child.kill();
        let _ = child.wait();
    };
    let status = match child.wait_timeout(TIMEOUT) {
        Ok(Some(s)) => s,
        Ok(None) => {
            kill(&mut child);
            return Err(ImageError::TimedOut);
        }
        Err(e) => {
            kill(&mut child);
            return Err(ImageError::Render(e.to_string()));
        }
    };
    if !status.success() {
        return Err(ImageError::Render(format!("pdftoppm exited with {status}")));
    }
    let out = rx
        .recv_timeout(Duration::from_secs(5))
        .map_err(|_| ImageError::Render("no output".into()))?
        .map_err(|e| ImageError::Render(e.to_string()))?;
    if out.len() > MAX_OUTPUT || !out.starts_with(b"\x89PNG") {
        return Err(ImageError::Render("unexpected output".into()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_a_pdf_page_and_refuses_what_is_not_an_image() {
        let pdf =
            std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/text/invoice_en.pdf")).unwrap();
        let (ct, png) = page_image(&pdf, Some("application/pdf"), 1, 1 << 26).unwrap();
        assert_eq!(ct, "image/png");
        let img = image::load_from_memory(&png).unwrap();
        assert_eq!(img.width(), RENDER_WIDTH);
        assert!(matches!(page_image(&pdf, Some("application/pdf"), 9, 1 << 26), Err(ImageError::Render(_))));
        assert!(matches!(page_image(b"%PDF-1.7 garbage", None, 1, 1 << 26), Err(ImageError::Render(_))));
        assert!(matches!(page_image(b"hello", Some("text/plain"), 1, 1 << 26), Err(ImageError::Unavailable)));
    }
}
