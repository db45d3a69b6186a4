//! The sandbox that contains pdf-extract: a child process with a time and memory budget.
//! STUB — to be written.

use crate::config::SandboxConfig;

pub struct Sandbox {
    pub config: SandboxConfig,
}

impl Sandbox {
    pub fn new(config: &SandboxConfig) -> Sandbox {
        Sandbox { config: config.clone() }
    }
}

/// Entry point of the sandbox child (`liasse __sandbox`): reads a PDF on stdin, writes the
/// page texts on stdout. Returns the process exit code.
pub fn child_main() -> i32 {
    2
}
