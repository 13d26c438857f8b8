//! `convc`: the command-line face of the convc convolution compiler.
//!
//! Subcommands: `apply` (filter an image or a `.npy` array), `kernels` (the named
//! kernel catalog), `emit` (what convc generates for a spec) and `demo` (every
//! backend on a built-in test pattern, checked against the reference and timed) and
//! `bench` (every backend's speed as a ratio to a copy floor).
//! docs/cli.md documents every flag.
//!
//! Exit codes: 0 on success, 1 for every error convc reports (`error: <message>` on
//! stderr), 2 for usage errors found by the argument parser.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod apply;
mod bench;
mod demo;
mod emit;
mod error;
mod io;
mod kernels;
mod spec_args;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::emit::Target;
use crate::spec_args::SpecArgs;

/// The `convc` command line.
#[derive(Debug, Parser)]
#[command(
    name = "convc",
    version,
    about = "convc: specialized 2D convolutions (correlate by default, border mirror)",
    long_about = None
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Filter an image (.png/.jpg, every channel separately) or a 2D .npy array.
    Apply(ApplyArgs),
    /// List every named kernel with its parameters, sizes and default matrix.
    Kernels,
    /// Print what convc generates for a spec: the Plan, Rust, CLIF or assembly.
    Emit(EmitArgs),
    /// Run Sobel, Gaussian, Laplacian, sharpen and a dense 7x7 kernel on a built-in
    /// test pattern through every backend: check, time, and write PNGs.
    Demo(DemoArgs),
    /// Time every backend on the speed workloads (sobel, gaussian 5x5 and 15x15,
    /// dense 7x7, stride 2, dilation 2) as ratios to a copy floor; JSON, SVG chart.
    Bench(bench::BenchArgs),
}

/// Arguments of `convc apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Kernel, op, stride, dilation, mode, border, anchor, threads.
    #[command(flatten)]
    pub spec: SpecArgs,
    /// Executor: auto (the fastest available), or one backend by name
    /// (reference, naive, generic, and any added later).
    #[arg(long, value_name = "BACKEND", default_value = "auto")]
    pub backend: String,
    /// Print one line about what was done to stderr.
    #[arg(short, long)]
    pub verbose: bool,
    /// Input file: .npy (2D float32/float64, C order) or .png/.jpg/.jpeg.
    #[arg(value_name = "INPUT")]
    pub input: PathBuf,
    /// Output file: .npy or .png/.jpg/.jpeg (the format follows the extension).
    #[arg(value_name = "OUTPUT")]
    pub output: PathBuf,
}

/// Arguments of `convc emit`.
#[derive(Debug, Args)]
pub struct EmitArgs {
    /// What to print: `plan` (the Plan every backend lowers), `rust` (what `conv!`
    /// expands to), `clif` (the JIT's Cranelift IR) or `asm` (the JIT's machine code).
    #[arg(long, value_enum, default_value = "plan")]
    pub target: Target,
    /// Kernel, op, stride, dilation, mode, border, anchor, threads.
    #[command(flatten)]
    pub spec: SpecArgs,
    /// Fix the input shape (every loop bound becomes a constant).
    #[arg(long, value_name = "HxW")]
    pub input: Option<String>,
    /// Element type of the generated code.
    #[arg(long, value_enum, default_value = "f32")]
    pub dtype: spec_args::DTypeArg,
}

/// Arguments of `convc demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Folder for the PNGs (created if missing).
    #[arg(long, value_name = "DIR", default_value = "convc-demo")]
    pub out: PathBuf,
    /// Side of the square test pattern; the dense 7x7 workload runs on twice this.
    #[arg(long, value_name = "N", default_value_t = 1024)]
    pub size: usize,
}

fn run(cli: Cli) -> error::Result<()> {
    match cli.command {
        Command::Apply(a) => apply::run(&a),
        Command::Kernels => {
            print!("{}", kernels::catalog()?);
            Ok(())
        }
        Command::Emit(e) => {
            let text = emit::run(&e)?;
            print!("{text}");
            if !text.ends_with('\n') {
                println!();
            }
            Ok(())
        }
        Command::Demo(d) => demo::run(&d),
        Command::Bench(b) => bench::run(&b),
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Usage errors (exit 2) and --help/--version (exit 0), as clap reports them.
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
