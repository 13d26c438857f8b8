//! The spec flags shared by `apply` and `emit`, and how they become a [`ConvSpec`].
//!
//! Defaults are DESIGN.md's: correlate, mode same, anchor k/2, border mirror,
//! stride 1, dilation 1.

use std::path::PathBuf;

use clap::{ArgGroup, Args, ValueEnum};
use convc::parse::{parse_kernel, parse_pair, parse_size};
use convc::{Border, ConvSpec, DType, Kernel, Mode, Op};

use crate::error::{Context, Result, bail};
use crate::io;

/// `--op`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OpArg {
    /// The kernel as written (OpenCV filter2D, scipy.ndimage.correlate).
    Correlate,
    /// The kernel flipped in both axes (scipy.signal.convolve2d, MATLAB conv2).
    Convolve,
}

/// `--mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModeArg {
    /// No padding: only windows entirely inside the input.
    Valid,
    /// Output = ceil(input / stride), the anchor on the output pixel.
    Same,
    /// Every window that overlaps the input.
    Full,
}

/// `--dtype` of `emit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DTypeArg {
    /// 32-bit float.
    F32,
    /// 64-bit float.
    F64,
}

impl From<DTypeArg> for DType {
    fn from(d: DTypeArg) -> DType {
        match d {
            DTypeArg::F32 => DType::F32,
            DTypeArg::F64 => DType::F64,
        }
    }
}

/// Every flag that defines the convolution.
#[derive(Debug, Clone, Args)]
#[command(group(
    ArgGroup::new("kernel_source")
        .required(true)
        .args(["kernel", "kernel_file"])
))]
pub struct SpecArgs {
    /// Kernel expression: a name (`sobel_x`, `gaussian(sigma=1.5)`, see `convc
    /// kernels`) or a literal (`[[1,2,1],[0,0,0],[-1,-2,-1]]`, `[1,2,1]/4`).
    #[arg(long, value_name = "EXPR")]
    pub kernel: Option<String>,
    /// Kernel from a 1D (one row) or 2D float32/float64 .npy file, C order.
    #[arg(long, value_name = "K.npy")]
    pub kernel_file: Option<PathBuf>,
    /// Size of a named kernel, `HxW` or `N` (a literal must match its own size).
    #[arg(long, value_name = "HxW", conflicts_with = "kernel_file")]
    pub size: Option<String>,
    /// Correlate (the kernel as written; default) or convolve (flipped).
    #[arg(long, value_enum, value_name = "OP")]
    pub op: Option<OpArg>,
    /// Step between output pixels: `S` for both axes or `SYxSX` (default 1).
    #[arg(long, value_name = "S|SYxSX")]
    pub stride: Option<String>,
    /// Step between kernel taps: `D` or `DYxDX` (default 1).
    #[arg(long, value_name = "D|DYxDX")]
    pub dilation: Option<String>,
    /// Padding mode (default same).
    #[arg(long, value_enum, value_name = "MODE", conflicts_with = "pad")]
    pub mode: Option<ModeArg>,
    /// Explicit padding in pixels: top,bottom,left,right (instead of --mode).
    #[arg(long, value_name = "T,B,L,R")]
    pub pad: Option<String>,
    /// Values read from the padding: zero, constant:C, replicate, reflect, mirror
    /// (default), wrap, or an alias (nearest, edge, symmetric, reflect_101, circular).
    #[arg(long, value_name = "BORDER")]
    pub border: Option<String>,
    /// Kernel element on the output pixel in same mode: row,column (default k/2).
    #[arg(long, value_name = "AY,AX")]
    pub anchor: Option<String>,
    /// Worker threads (default: all cores); results are identical for every count.
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
}

impl SpecArgs {
    /// The kernel from `--kernel` (with `--size`) or `--kernel-file`.
    pub fn kernel(&self) -> Result<Kernel> {
        match (&self.kernel, &self.kernel_file) {
            (Some(expr), None) => {
                let size = match &self.size {
                    Some(s) => Some(parse_size(s).context(|| "--size".into())?),
                    None => None,
                };
                parse_kernel(expr, size).context(|| "--kernel".into())
            }
            (None, Some(path)) => io::read_kernel(path),
            // clap's group rejects both and neither; keep a message in case.
            _ => bail!("give exactly one of --kernel EXPR and --kernel-file K.npy"),
        }
    }

    /// The validated spec, with element type `dtype`.
    pub fn to_spec(&self, dtype: DType) -> Result<ConvSpec> {
        let mut spec = ConvSpec::new(self.kernel()?).dtype(dtype);
        if let Some(op) = self.op {
            spec = spec.op(match op {
                OpArg::Correlate => Op::Correlate,
                OpArg::Convolve => Op::Convolve,
            });
        }
        if let Some(s) = &self.stride {
            let (y, x) = parse_pair(s, "a stride S or SYxSX such as 2 or 2x1")
                .context(|| "--stride".into())?;
            spec = spec.stride_yx(y, x);
        }
        if let Some(d) = &self.dilation {
            let (y, x) = parse_pair(d, "a dilation D or DYxDX such as 2 or 2x1")
                .context(|| "--dilation".into())?;
            spec = spec.dilation_yx(y, x);
        }
        spec = spec.mode(match (self.mode, &self.pad) {
            (Some(_), Some(_)) => {
                bail!("--pad sets the padding explicitly; do not combine it with --mode")
            }
            (_, Some(p)) => {
                let [top, bottom, left, right] = parse_list::<4>(p, "--pad", "T,B,L,R")?;
                Mode::Explicit {
                    top,
                    bottom,
                    left,
                    right,
                }
            }
            (Some(ModeArg::Valid), None) => Mode::Valid,
            (Some(ModeArg::Same), None) | (None, None) => Mode::Same,
            (Some(ModeArg::Full), None) => Mode::Full,
        });
        if let Some(b) = &self.border {
            spec = spec.border(parse_border(b)?);
        }
        if let Some(a) = &self.anchor {
            if spec.mode != Mode::Same {
                bail!(
                    "--anchor places the kernel in same mode only; the mode here is {}",
                    spec.mode
                );
            }
            let [ay, ax] = parse_list::<2>(a, "--anchor", "AY,AX")?;
            spec = spec.anchor(ay, ax);
        }
        if let Some(n) = self.threads {
            if n == 0 {
                bail!("--threads must be at least 1 (omit it to use every core)");
            }
            spec = spec.threads(n);
        }
        spec.validate()?;
        Ok(spec)
    }
}

/// Parses `--border`, with a message that lists the accepted names.
pub fn parse_border(text: &str) -> Result<Border> {
    if let Some(b) = Border::parse(text) {
        return Ok(b);
    }
    let t = text.trim().to_ascii_lowercase();
    if t.starts_with("constant") {
        bail!("--border: `{text}` needs a number: constant:C such as constant:128");
    }
    bail!(
        "--border: unknown border `{text}`; expected one of {} (aliases: zeros, nearest, edge, \
         symmetric, reflect_101, reflect101, circular, grid-wrap)",
        Border::NAMES.join(", ")
    )
}

/// Parses `N` comma-separated non-negative integers.
fn parse_list<const N: usize>(text: &str, flag: &str, form: &str) -> Result<[usize; N]> {
    let parts: Vec<&str> = text.split(',').map(str::trim).collect();
    if parts.len() != N {
        bail!(
            "{flag}: expected {form} ({N} comma-separated integers), got `{text}` ({} value{})",
            parts.len(),
            if parts.len() == 1 { "" } else { "s" }
        );
    }
    let mut out = [0usize; N];
    for (o, p) in out.iter_mut().zip(&parts) {
        *o = p.parse().map_err(|_| {
            crate::error::CliError::new(format!(
                "{flag}: expected {form} (non-negative integers), `{p}` is not one"
            ))
        })?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(kernel: &str) -> SpecArgs {
        SpecArgs {
            kernel: Some(kernel.into()),
            kernel_file: None,
            size: None,
            op: None,
            stride: None,
            dilation: None,
            mode: None,
            pad: None,
            border: None,
            anchor: None,
            threads: None,
        }
    }

    #[test]
    fn defaults_are_designs() {
        let s = args("sobel_x").to_spec(DType::F32).unwrap();
        assert_eq!(s.op, Op::Correlate);
        assert_eq!(s.mode, Mode::Same);
        assert_eq!(s.border, Border::Mirror);
        assert_eq!(s.stride, convc::Axes::splat(1));
        assert_eq!(s.dilation, convc::Axes::splat(1));
        assert_eq!(s.anchor, None);
        assert_eq!(s.threads, None);
    }

    #[test]
    fn flags_reach_the_spec() {
        let mut a = args("box");
        a.size = Some("3x5".into());
        a.op = Some(OpArg::Convolve);
        a.stride = Some("2x1".into());
        a.dilation = Some("3".into());
        a.border = Some("constant:7.5".into());
        a.anchor = Some("0, 4".into());
        a.threads = Some(2);
        let s = a.to_spec(DType::F64).unwrap();
        assert_eq!((s.kernel.height(), s.kernel.width()), (3, 5));
        assert_eq!(s.op, Op::Convolve);
        assert_eq!(s.stride, convc::Axes::new(2, 1));
        assert_eq!(s.dilation, convc::Axes::splat(3));
        assert_eq!(s.border, Border::Constant(7.5));
        assert_eq!(s.anchor, Some(convc::Axes::new(0, 4)));
        assert_eq!(s.threads, Some(2));
        assert_eq!(s.dtype, DType::F64);
        let mut p = args("box");
        p.pad = Some("1,2,3,4".into());
        assert_eq!(
            p.to_spec(DType::F32).unwrap().mode,
            Mode::Explicit {
                top: 1,
                bottom: 2,
                left: 3,
                right: 4
            }
        );
    }

    #[test]
    fn bad_flags_are_errors() {
        let bad = |f: &dyn Fn(&mut SpecArgs)| {
            let mut a = args("sobel_x");
            f(&mut a);
            a.to_spec(DType::F32).unwrap_err().to_string()
        };
        assert!(bad(&|a| a.stride = Some("0".into())).contains("--stride"));
        assert!(bad(&|a| a.dilation = Some("1x0".into())).contains("--dilation"));
        assert!(bad(&|a| a.threads = Some(0)).contains("--threads"));
        assert!(bad(&|a| a.pad = Some("1,2,3".into())).contains("T,B,L,R"));
        assert!(bad(&|a| a.pad = Some("1,2,3,-1".into())).contains("`-1`"));
        assert!(bad(&|a| a.border = Some("bogus".into())).contains("replicate"));
        assert!(bad(&|a| a.border = Some("constant:x".into())).contains("constant:C"));
        assert!(bad(&|a| a.anchor = Some("3,0".into())).contains("outside"));
        assert!(
            bad(&|a| {
                a.mode = Some(ModeArg::Valid);
                a.anchor = Some("0,0".into());
            })
            .contains("same mode")
        );
        assert!(bad(&|a| a.kernel = Some("nope".into())).contains("sobel_x"));
        assert!(bad(&|a| a.size = Some("2x".into())).contains("--size"));
    }
}
