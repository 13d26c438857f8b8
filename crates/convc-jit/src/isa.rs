//! The host target: detected once per process, built once per [`crate::Jit`].

use std::sync::OnceLock;

use convc_core::{ConvError, Result};
use cranelift_codegen::isa::{self, OwnedTargetIsa, TargetIsa};
use cranelift_codegen::settings::{self, Configurable};

use crate::OptLevel;

/// Why the host cannot be targeted, if it cannot (checked once per process).
fn host_problem() -> Option<&'static str> {
    static PROBLEM: OnceLock<Option<String>> = OnceLock::new();
    PROBLEM
        .get_or_init(|| {
            if !cfg!(any(target_arch = "x86_64", target_arch = "aarch64")) {
                return Some(format!(
                    "the JIT generates SIMD code for x86_64 and aarch64 only, not {}",
                    std::env::consts::ARCH
                ));
            }
            if let Err(e) = cranelift_native::builder() {
                return Some(e.to_string());
            }
            if !has_sse41() {
                return Some("the JIT needs SSE4.1 on x86_64".into());
            }
            None
        })
        .as_deref()
}

/// The host's ISA builder with every feature cranelift-native finds.
fn host_builder() -> Result<isa::Builder> {
    if let Some(problem) = host_problem() {
        return Err(ConvError::Unsupported(format!(
            "the JIT cannot target this host: {problem}"
        )));
    }
    cranelift_native::builder()
        .map_err(|e| ConvError::Unsupported(format!("the JIT cannot target this host: {e}")))
}

#[cfg(target_arch = "x86_64")]
fn has_sse41() -> bool {
    std::arch::is_x86_feature_detected!("sse4.1")
}

#[cfg(not(target_arch = "x86_64"))]
fn has_sse41() -> bool {
    true
}

/// Whether the JIT can generate code for this machine.
pub(crate) fn host_supported() -> bool {
    host_problem().is_none()
}

/// The host target with the shared Cranelift flags convc uses.
pub(crate) struct Target {
    pub isa: OwnedTargetIsa,
    /// The host has fused multiply-add (and the options allow it).
    pub fma: bool,
}

pub(crate) fn host_target(opt: OptLevel, verify: bool, allow_fma: bool) -> Result<Target> {
    let builder = host_builder()?;
    let mut flags = settings::builder();
    let codegen = |e: settings::SetError| ConvError::Codegen(format!("cranelift flags: {e}"));
    flags.set("opt_level", opt.name()).map_err(codegen)?;
    flags
        .set("enable_verifier", if verify { "true" } else { "false" })
        .map_err(codegen)?;
    // cranelift-jit needs absolute addressing and far libcalls.
    flags.set("is_pic", "false").map_err(codegen)?;
    flags
        .set("use_colocated_libcalls", "false")
        .map_err(codegen)?;
    let isa = builder
        .finish(settings::Flags::new(flags))
        .map_err(|e| ConvError::Codegen(format!("cranelift ISA: {e}")))?;
    let fma = allow_fma && has_fma(&*isa);
    Ok(Target { isa, fma })
}

/// aarch64 always has vector FMA; x86_64 when `has_fma` was detected.
fn has_fma(isa: &dyn TargetIsa) -> bool {
    if cfg!(target_arch = "aarch64") {
        return true;
    }
    isa.isa_flags()
        .iter()
        .any(|v| v.name == "has_fma" && v.as_bool() == Some(true))
}
