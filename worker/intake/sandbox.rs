//! The sandbox that contains pdf-extract: a child process with a time and memory budget.
//!
//! pdf-extract panics on some real PDFs and loops on others. Its text extraction therefore runs in
//! a child process, `liasse __sandbox`, which reads the PDF on stdin and writes the text of every
//! page on stdout as JSON. The parent gives it a wall-clock budget (the child is killed, with its
//! process group, when the budget runs out), an address-space limit and no core dumps. A page that
//! panics inside the child is recorded as failed without losing the other pages; a child that
//! crashes, is killed or runs out of time gives a [`SandboxError`], and the caller goes on without
//! a text layer.
//!
//! `Sandbox::in_process` runs the same extraction on a thread of the current process inside
//! `catch_unwind`, for the fuzz target where child processes are not wanted. It catches panics but
//! cannot stop a loop: a thread that runs out of time is abandoned.

use crate::config::SandboxConfig;
use crate::intake::Deadline;
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Most bytes read from the child's stdout (the page texts as JSON).
const MAX_STDOUT: usize = 256 * 1024 * 1024;
/// Most bytes kept from the child's stderr (the rest is read and dropped).
const MAX_STDERR: usize = 64 * 1024;
/// Stack of the thread that runs pdf-extract in-process: its parser and content interpreter
/// recurse on nested objects.
const EXTRACT_STACK: usize = 64 * 1024 * 1024;
/// Exit codes of the child.
const EXIT_OK: i32 = 0;
const EXIT_IO: i32 = 2;
const EXIT_UNREADABLE: i32 = 3;
const EXIT_PANIC: i32 = 4;
/// Argument of the child: also lay the text out from glyph positions (`SandboxConfig::text_layout`).
const LAYOUT_ARG: &str = "--layout";

/// The text of one page as pdf-extract gave it, keyed by the page's object id so that the parent
/// can pair it with its own page list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PageText {
    /// Object number and generation of the page dictionary.
    pub id: (u32, u16),
    /// The raw text (not normalised); `None` when extraction failed on this page.
    pub text: Option<String>,
    /// Why the page failed, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The same glyphs laid out in reading order (`pdf::layout`), raw; read in the same pass as
    /// `text` when the layout is asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layout: Option<String>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SandboxError {
    /// The budget ran out; the extraction was stopped.
    #[error("the text-layer extraction did not finish within {} s and was stopped", .0.as_secs_f64().ceil())]
    TimedOut(Duration),
    /// The extraction panicked, was killed by a signal, or broke its memory limit.
    #[error("the text-layer extraction crashed: {0}")]
    Crashed(String),
    /// pdf-extract could not open the file at all.
    #[error("the text-layer extraction could not open the file: {0}")]
    Unreadable(String),
    /// The extraction ended with another error (bad output…).
    #[error("the text-layer extraction failed: {0}")]
    Failed(String),
    /// The sandbox itself could not run (no helper executable…): a fault of the environment.
    #[error("the text-extraction sandbox is unavailable: {0}")]
    Unavailable(String),
}

enum Mode {
    /// A child process running this helper executable (or why none was found).
    Process(Result<PathBuf, String>),
    /// A thread of this process, inside `catch_unwind`.
    InProcess,
}

pub struct Sandbox {
    pub config: SandboxConfig,
    mode: Mode,
}

impl Sandbox {
    /// The child-process sandbox. The helper executable is located now: `config.helper`, else
    /// `LIASSE_SANDBOX_HELPER`, else the running program when it is `liasse`, else a `liasse`
    /// beside it or in its parent folder (test binaries live in `target/<profile>/deps/`).
    pub fn new(config: &SandboxConfig) -> Sandbox {
        Sandbox { config: config.clone(), mode: Mode::Process(locate_helper(config)) }
    }

    /// Extraction on a thread of this process, for fuzzing: panics are caught, but a loop cannot
    /// be stopped (the thread is abandoned when the budget runs out) and there is no memory limit.
    pub fn in_process(config: &SandboxConfig) -> Sandbox {
        Sandbox { config: config.clone(), mode: Mode::InProcess }
    }

    pub fn is_in_process(&self) -> bool {
        matches!(self.mode, Mode::InProcess)
    }

    /// The helper executable the child runs, when one was found.
    pub fn helper(&self) -> Option<&Path> {
        match &self.mode {
            Mode::Process(Ok(p)) => Some(p),
            _ => None,
        }
    }

    /// The time this extraction may take: the configured budget, cut to what is left of the
    /// document's.
    pub fn budget(&self, deadline: &Deadline) -> Duration {
        Duration::from_secs(self.config.text_timeout_secs).min(deadline.remaining())
    }

    /// The text of every page of `pdf`, within the budget.
    pub fn extract_text(&self, pdf: &[u8], deadline: &Deadline) -> Result<Vec<PageText>, SandboxError> {
        let budget = self.budget(deadline);
        if budget.is_zero() {
            return Err(SandboxError::TimedOut(budget));
        }
        match &self.mode {
            Mode::Process(Ok(helper)) => {
                run_child(helper, pdf, budget, self.config.memory_limit_mb, self.config.text_layout)
            }
            Mode::Process(Err(why)) => Err(SandboxError::Unavailable(why.clone())),
            Mode::InProcess => run_in_process(pdf, budget, self.config.text_layout),
        }
    }
}

fn locate_helper(config: &SandboxConfig) -> Result<PathBuf, String> {
    if let Some(p) = &config.helper {
        return Ok(p.clone());
    }
    if let Some(p) = std::env::var_os("LIASSE_SANDBOX_HELPER").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the running program: {e}"))?;
    if exe.file_stem().and_then(|s| s.to_str()) == Some("liasse") {
        return Ok(exe);
    }
    let name = format!("liasse{}", std::env::consts::EXE_SUFFIX);
    let dir = exe.parent();
    let candidates = [dir.and_then(Path::parent).map(|d| d.join(&name)), dir.map(|d| d.join(&name))];
    candidates.into_iter().flatten().find(|p| p.is_file()).ok_or_else(|| {
        format!(
            "no `liasse` executable beside {}; set sandbox.helper or LIASSE_SANDBOX_HELPER",
            exe.display()
        )
    })
}

/// Reads a pipe to its end, keeping at most `cap` bytes; says whether more came.
fn drain<R: Read>(mut r: R, cap: usize) -> (Vec<u8>, bool) {
    let mut kept = Vec::new();
    let mut buf = [0u8; 64 * 1024];
    let mut overflow = false;
    loop {
        match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                let room = cap.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
                overflow |= n > room;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    (kept, overflow)
}

fn run_child(
    helper: &Path,
    pdf: &[u8],
    budget: Duration,
    memory_limit_mb: u64,
    layout: bool,
) -> Result<Vec<PageText>, SandboxError> {
    use std::os::unix::process::{CommandExt, ExitStatusExt};
    use wait_timeout::ChildExt;

    let mut cmd = Command::new(helper);
    cmd.arg("__sandbox");
    if layout {
        cmd.arg(LAYOUT_ARG);
    }
    cmd.env_clear().current_dir("/").stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let memory = memory_limit_mb.saturating_mul(1024 * 1024);
    let cpu_secs = budget.as_secs().saturating_add(2);
    // SAFETY: the closure runs in the forked child before exec and only makes async-signal-safe
    // system calls (setpgid, getrlimit, setrlimit, prctl) on values computed before the fork.
    unsafe {
        cmd.pre_exec(move || {
            // Its own process group, so that a kill reaches anything it starts.
            libc::setpgid(0, 0);
            limit(libc::RLIMIT_CORE, 0);
            if memory > 0 {
                limit(libc::RLIMIT_AS, memory);
            }
            // A backstop should the parent die without killing it.
            limit(libc::RLIMIT_CPU, cpu_secs);
            #[cfg(target_os = "linux")]
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| SandboxError::Unavailable(format!("cannot start {}: {e}", helper.display())))?;
    let pid = child.id() as libc::pid_t;

    // Feed stdin from a thread: a child that does not read must not block us.
    let input = pdf.to_vec();
    let stdin = child.stdin.take();
    let writer = std::thread::Builder::new().name("sandbox-stdin".into()).spawn(move || {
        if let Some(mut s) = stdin {
            let _ = s.write_all(&input);
        }
    });
    let (tx_out, rx_out) = mpsc::channel();
    let (tx_err, rx_err) = mpsc::channel();
    if let Some(out) = child.stdout.take() {
        let _ = std::thread::Builder::new()
            .name("sandbox-stdout".into())
            .spawn(move || tx_out.send(drain(out, MAX_STDOUT)));
    }
    if let Some(err) = child.stderr.take() {
        let _ = std::thread::Builder::new()
            .name("sandbox-stderr".into())
            .spawn(move || tx_err.send(drain(err, MAX_STDERR)));
    }

    let status = match child.wait_timeout(budget) {
        Ok(Some(status)) => Some(status),
        Ok(None) => None,
        Err(e) => {
            kill_group(pid, &mut child);
            return Err(SandboxError::Unavailable(format!("cannot wait for the sandbox: {e}")));
        }
    };
    let Some(status) = status else {
        kill_group(pid, &mut child);
        return Err(SandboxError::TimedOut(budget));
    };
    // The stdin writer is not joined: it ends when the pipe closes, and must not hold us if
    // something the child started keeps the pipe open.
    drop(writer);
    let grace = Duration::from_secs(5);
    let (stdout, out_overflow) = rx_out.recv_timeout(grace).unwrap_or_default();
    let (stderr, _) = rx_err.recv_timeout(grace).unwrap_or_default();
    let message = last_line(&stderr);

    if let Some(sig) = status.signal() {
        let what = match sig {
            libc::SIGXCPU => "it used up its CPU-time limit".to_string(),
            libc::SIGKILL => "it was killed (SIGKILL)".to_string(),
            libc::SIGSEGV => "segmentation fault".to_string(),
            libc::SIGABRT => "aborted (out of memory or a failed check)".to_string(),
            s => format!("killed by signal {s}"),
        };
        return Err(SandboxError::Crashed(if message.is_empty() {
            what
        } else {
            format!("{what}: {message}")
        }));
    }
    match status.code() {
        Some(EXIT_OK) => {}
        Some(EXIT_PANIC) => return Err(SandboxError::Crashed(message)),
        Some(EXIT_UNREADABLE) => return Err(SandboxError::Unreadable(message)),
        Some(code) => {
            let m = if message.is_empty() { format!("exit status {code}") } else { message };
            return Err(SandboxError::Failed(m));
        }
        None => return Err(SandboxError::Crashed("no exit status".into())),
    }
    if out_overflow {
        return Err(SandboxError::Failed(format!("its output is larger than {MAX_STDOUT} bytes")));
    }
    serde_json::from_slice::<Vec<PageText>>(&stdout)
        .map_err(|e| SandboxError::Failed(format!("its output is not the expected JSON: {e}")))
}

fn kill_group(pid: libc::pid_t, child: &mut std::process::Child) {
    // SAFETY: kill(2) on the process group our child leads; the child is not reaped yet.
    unsafe {
        libc::kill(-pid, libc::SIGKILL);
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
type Resource = libc::__rlimit_resource_t;
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
type Resource = libc::c_int;

/// Lowers a resource limit of the calling process (never above its hard limit).
fn limit(resource: Resource, value: u64) {
    let mut current = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit with a valid pointer to a local rlimit.
    unsafe {
        if libc::getrlimit(resource, &mut current) != 0 {
            return;
        }
        let v = (value as libc::rlim_t).min(current.rlim_max);
        let new = libc::rlimit { rlim_cur: v, rlim_max: current.rlim_max };
        libc::setrlimit(resource, &new);
    }
}

fn last_line(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let line = text.lines().rev().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
    let mut line = line.to_string();
    if line.len() > 500 {
        let mut cut = 500;
        while !line.is_char_boundary(cut) {
            cut -= 1;
        }
        line.truncate(cut);
    }
    line
}

fn run_in_process(pdf: &[u8], budget: Duration, layout: bool) -> Result<Vec<PageText>, SandboxError> {
    let input = pdf.to_vec();
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("pdf-extract".into())
        .stack_size(EXTRACT_STACK)
        .spawn(move || {
            let r = std::panic::catch_unwind(|| extract_pages(&input, layout));
            let _ = tx.send(r);
        })
        .map_err(|e| SandboxError::Unavailable(format!("cannot start a thread: {e}")))?;
    match rx.recv_timeout(budget) {
        Ok(Ok(Ok(pages))) => Ok(pages),
        Ok(Ok(Err(e))) => Err(SandboxError::Unreadable(e)),
        Ok(Err(panic)) => Err(SandboxError::Crashed(format!("panic: {}", panic_message(&*panic)))),
        Err(mpsc::RecvTimeoutError::Timeout) => Err(SandboxError::TimedOut(budget)),
        Err(mpsc::RecvTimeoutError::Disconnected) => Err(SandboxError::Crashed("the thread ended".into())),
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    let msg = if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    };
    last_line(msg.as_bytes())
}

/// The text of every page, with pdf-extract. A page whose extraction fails or panics is kept
/// with `text: None`; an error means the file could not be opened at all. May panic (the caller
/// contains it). `text` is pdf-extract's `PlainTextOutput` (stream order); with `layout`, the same
/// pass also rebuilds the lines from the glyph positions in reading order (`pdf::layout`, a
/// [`Tee`](super::pdf::layout::Tee) of both outputs) into `layout`.
pub fn extract_pages(pdf: &[u8], layout: bool) -> Result<Vec<PageText>, String> {
    use super::pdf::layout::{LayoutOutput, Tee};
    use pdf_extract::{Document, PlainTextOutput, output_doc_page};
    let mut doc = Document::load_mem(pdf).map_err(|e| format!("pdf-extract cannot read the PDF: {e}"))?;
    if doc.is_encrypted() {
        doc.decrypt("").map_err(|e| format!("pdf-extract cannot decrypt the PDF: {e}"))?;
    }
    let pages = doc.get_pages();
    let mut out = Vec::with_capacity(pages.len());
    for (number, id) in pages {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut s = String::new();
            if layout {
                let mut tee = Tee::new(PlainTextOutput::new(&mut s), LayoutOutput::new());
                output_doc_page(&doc, &mut tee, number).map_err(|e| e.to_string())?;
                let laid = tee.second.take_text();
                drop(tee);
                return Ok::<(String, Option<String>), String>((s, Some(laid)));
            }
            {
                let mut output = PlainTextOutput::new(&mut s);
                output_doc_page(&doc, &mut output, number).map_err(|e| e.to_string())?;
            }
            Ok((s, None))
        }));
        let (text, layout, error) = match r {
            Ok(Ok((s, l))) => (Some(s), l, None),
            Ok(Err(e)) => (None, None, Some(e)),
            Err(p) => (None, None, Some(format!("panic: {}", panic_message(&*p)))),
        };
        out.push(PageText { id, text, error, layout });
    }
    Ok(out)
}

/// Entry point of the sandbox child (`liasse __sandbox`): reads a PDF on stdin, writes the
/// page texts on stdout. Returns the process exit code.
pub fn child_main() -> i32 {
    // One line per panic on stderr, no backtrace.
    std::panic::set_hook(Box::new(|info| {
        let payload = panic_message(info.payload());
        let at = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
        let _ = writeln!(std::io::stderr(), "panic: {payload}{at}");
    }));
    let mut input = Vec::new();
    if let Err(e) = std::io::stdin().lock().read_to_end(&mut input) {
        let _ = writeln!(std::io::stderr(), "cannot read the PDF from stdin: {e}");
        return EXIT_IO;
    }
    let layout = std::env::args().skip(2).any(|a| a == LAYOUT_ARG);
    let pages = match std::panic::catch_unwind(|| extract_pages(&input, layout)) {
        Ok(Ok(pages)) => pages,
        Ok(Err(e)) => {
            let _ = writeln!(std::io::stderr(), "{}", last_line(e.as_bytes()));
            return EXIT_UNREADABLE;
        }
        Err(p) => {
            let _ = writeln!(std::io::stderr(), "panic: {}", panic_message(&*p));
            return EXIT_PANIC;
        }
    };
    let stdout = std::io::stdout();
    let mut w = std::io::BufWriter::new(stdout.lock());
    if serde_json::to_writer(&mut w, &pages).is_err() || w.flush().is_err() {
        return EXIT_IO;
    }
    EXIT_OK
}
