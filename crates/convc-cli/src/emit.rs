//! `convc emit`: what convc generates for a spec.
//!
//! Each target is one match arm calling a function that returns the text.

use clap::ValueEnum;
use convc::parse::parse_size;
use convc::{ConvSpec, Plan};

use crate::EmitArgs;
use crate::error::{Context, Result};

/// `--target`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Target {
    /// The Plan every backend lowers.
    Plan,
    /// Rust source as `conv!` expands it.
    Rust,
    /// Cranelift IR as the JIT builds it.
    Clif,
    /// Machine code as the JIT emits it.
    Asm,
}

/// Builds the spec from the flags and returns the text for the target.
pub fn run(args: &EmitArgs) -> Result<String> {
    let mut spec = args.spec.to_spec(args.dtype.into())?;
    if let Some(s) = &args.input {
        let (h, w) = parse_size(s).context(|| "--input".into())?;
        spec = spec.input_shape(h, w);
        spec.validate()?;
    }
    match args.target {
        Target::Plan => plan(&spec),
        Target::Rust => Ok(convc_rustgen::emit_rust(&spec)?),
        Target::Clif => Ok(convc::Jit::global().emit_clif(&spec)?),
        Target::Asm => Ok(convc::Jit::global().emit_asm(&spec)?),
    }
}

/// The Plan's `Display`.
fn plan(spec: &ConvSpec) -> Result<String> {
    Ok(Plan::new(spec)?.to_string())
}
