//! Named kernels, defined as OpenCV and the textbooks define them.
//!
//! Every kernel here is built with the constructor that keeps its exact description
//! (integer numerators, 1D factors), so analysis finds separability and common
//! factors without tolerance games.

use crate::error::{ConvError, Result};
use crate::kernel::Kernel;

/// One entry of the catalog printed by `convc kernels`.
#[derive(Debug, Clone, Copy)]
pub struct NamedKernel {
    /// The name used in kernel expressions.
    pub name: &'static str,
    /// Parameters it accepts, as `name=value` (all optional).
    pub params: &'static [&'static str],
    /// Which sizes it comes in.
    pub sizes: &'static str,
    /// Size used when none is given (height, width).
    pub default_size: (usize, usize),
    /// One line saying what it is and how it is defined.
    pub summary: &'static str,
}

/// Every named kernel, in the order `convc kernels` lists them.
pub const NAMED_KERNELS: &[NamedKernel] = &[
    NamedKernel {
        name: "identity",
        params: &[],
        sizes: "any HxW",
        default_size: (3, 3),
        summary: "1 at the anchor (row H/2, column W/2), 0 elsewhere",
    },
    NamedKernel {
        name: "box",
        params: &[],
        sizes: "any HxW",
        default_size: (3, 3),
        summary: "mean filter: every tap 1/(H*W) (OpenCV blur / boxFilter, normalized)",
    },
    NamedKernel {
        name: "binomial",
        params: &[],
        sizes: "any HxW",
        default_size: (3, 3),
        summary: "outer product of Pascal rows, normalized: 3x3 = [1 2 1]^T[1 2 1]/16",
    },
    NamedKernel {
        name: "gaussian",
        params: &["sigma", "sigma_x", "sigma_y"],
        sizes: "odd HxW",
        default_size: (3, 3),
        summary: "separable Gaussian sampled as OpenCV getGaussianKernel: exp(-x^2/(2 sigma^2)) \
                  normalized to sum 1; without sigma, OpenCV's default \
                  0.3*((k-1)*0.5-1)+0.8 (and its fixed tables for k = 1, 3, 5, 7)",
    },
    NamedKernel {
        name: "sobel_x",
        params: &[],
        sizes: "3x3, 5x5, 7x7",
        default_size: (3, 3),
        summary: "d/dx as OpenCV getDerivKernels(1, 0, k): smoothing column x derivative row; \
                  3x3 = [1 2 1]^T[-1 0 1]",
    },
    NamedKernel {
        name: "sobel_y",
        params: &[],
        sizes: "3x3, 5x5, 7x7",
        default_size: (3, 3),
        summary: "d/dy as OpenCV getDerivKernels(0, 1, k); the transpose of sobel_x",
    },
    NamedKernel {
        name: "scharr_x",
        params: &[],
        sizes: "3x3",
        default_size: (3, 3),
        summary: "Scharr d/dx: [3 10 3]^T[-1 0 1]",
    },
    NamedKernel {
        name: "scharr_y",
        params: &[],
        sizes: "3x3",
        default_size: (3, 3),
        summary: "Scharr d/dy: [-1 0 1]^T[3 10 3]",
    },
    NamedKernel {
        name: "prewitt_x",
        params: &[],
        sizes: "3x3",
        default_size: (3, 3),
        summary: "Prewitt d/dx: [1 1 1]^T[-1 0 1]",
    },
    NamedKernel {
        name: "prewitt_y",
        params: &[],
        sizes: "3x3",
        default_size: (3, 3),
        summary: "Prewitt d/dy: [-1 0 1]^T[1 1 1]",
    },
    NamedKernel {
        name: "laplacian",
        params: &[],
        sizes: "3x3",
        default_size: (3, 3),
        summary: "4-neighbour Laplacian [[0 1 0] [1 -4 1] [0 1 0]] (OpenCV Laplacian, ksize=1)",
    },
    NamedKernel {
        name: "laplacian8",
        params: &[],
        sizes: "3x3",
        default_size: (3, 3),
        summary: "8-neighbour Laplacian [[1 1 1] [1 -8 1] [1 1 1]]",
    },
    NamedKernel {
        name: "sharpen",
        params: &[],
        sizes: "3x3",
        default_size: (3, 3),
        summary: "identity plus 4-neighbour high-pass: [[0 -1 0] [-1 5 -1] [0 -1 0]]",
    },
    NamedKernel {
        name: "emboss",
        params: &[],
        sizes: "3x3",
        default_size: (3, 3),
        summary: "[[-2 -1 0] [-1 1 1] [0 1 2]]",
    },
    NamedKernel {
        name: "log",
        params: &["sigma"],
        sizes: "odd HxW",
        default_size: (5, 5),
        summary: "Laplacian of Gaussian as MATLAB fspecial('log'): normalized Gaussian g, \
                  g*(x^2+y^2-2 sigma^2)/sigma^4, shifted to sum 0; default sigma \
                  0.3*((max(H,W)-1)*0.5-1)+0.8",
    },
];

/// Every known kernel name.
pub fn known_names() -> Vec<&'static str> {
    NAMED_KERNELS.iter().map(|k| k.name).collect()
}

/// Looks a name up in [`NAMED_KERNELS`].
pub fn lookup(name: &str) -> Option<&'static NamedKernel> {
    NAMED_KERNELS.iter().find(|k| k.name == name)
}

/// Builds a named kernel.
///
/// `params` are `(name, value)` pairs; `size` is (height, width), or the kernel's
/// default size when `None`.
///
/// ```
/// use convc_core::named::build;
/// let g = build("gaussian", &[("sigma".into(), 1.5)], Some((7, 7)))?;
/// assert!((g.coeffs().iter().sum::<f64>() - 1.0).abs() < 1e-12);
/// let s = build("sobel_x", &[], None)?;
/// assert_eq!(s.get(1, 0), -2.0);
/// # Ok::<(), convc_core::ConvError>(())
/// ```
pub fn build(name: &str, params: &[(String, f64)], size: Option<(usize, usize)>) -> Result<Kernel> {
    let info = lookup(name).ok_or_else(|| ConvError::UnknownKernel {
        name: name.to_string(),
        known: known_names(),
    })?;
    let params = Params::check(info, params)?;
    let (h, w) = size.unwrap_or(info.default_size);
    if h == 0 || w == 0 {
        return Err(size_error(info, h, w));
    }
    crate::kernel::check_taps(1, h, w)?;
    let fixed_3x3 = |rows: [[i64; 3]; 3]| -> Result<Kernel> {
        if (h, w) != (3, 3) {
            return Err(size_error(info, h, w));
        }
        Kernel::from_integers(3, 3, rows.concat(), 1.0)
    };
    let kernel = match info.name {
        "identity" => {
            let mut nums = vec![0i64; h * w];
            nums[(h / 2) * w + w / 2] = 1;
            Kernel::from_integers(h, w, nums, 1.0)?
        }
        "box" => Kernel::outer_integers(&vec![1; h], &vec![1; w], 1.0 / (h * w) as f64)?,
        "binomial" => {
            let (col, row) = (pascal(h)?, pascal(w)?);
            let total = (1u64 << (h - 1)) as f64 * (1u64 << (w - 1)) as f64;
            Kernel::outer_integers(&col, &row, 1.0 / total)?
        }
        "gaussian" => gaussian(info, h, w, &params)?,
        "sobel_x" | "sobel_y" => {
            if h != w || !matches!(h, 3 | 5 | 7) {
                return Err(size_error(info, h, w));
            }
            let smooth = pascal(h)?;
            let deriv = derivative(h)?;
            if info.name == "sobel_x" {
                Kernel::outer_integers(&smooth, &deriv, 1.0)?
            } else {
                Kernel::outer_integers(&deriv, &smooth, 1.0)?
            }
        }
        "scharr_x" | "scharr_y" | "prewitt_x" | "prewitt_y" => {
            if (h, w) != (3, 3) {
                return Err(size_error(info, h, w));
            }
            let smooth: &[i64] = if info.name.starts_with("scharr") {
                &[3, 10, 3]
            } else {
                &[1, 1, 1]
            };
            let deriv = [-1, 0, 1];
            if info.name.ends_with("_x") {
                Kernel::outer_integers(smooth, &deriv, 1.0)?
            } else {
                Kernel::outer_integers(&deriv, smooth, 1.0)?
            }
        }
        "laplacian" => fixed_3x3([[0, 1, 0], [1, -4, 1], [0, 1, 0]])?,
        "laplacian8" => fixed_3x3([[1, 1, 1], [1, -8, 1], [1, 1, 1]])?,
        "sharpen" => fixed_3x3([[0, -1, 0], [-1, 5, -1], [0, -1, 0]])?,
        "emboss" => fixed_3x3([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]])?,
        "log" => laplacian_of_gaussian(info, h, w, &params)?,
        other => unreachable!("catalog entry {other} has no definition"),
    };
    Ok(kernel.named(display_name(info, &params, h, w)))
}

fn display_name(info: &NamedKernel, params: &Params, h: usize, w: usize) -> String {
    if params.0.is_empty() {
        format!("{} {h}x{w}", info.name)
    } else {
        let p: Vec<String> = params.0.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!("{}({}) {h}x{w}", info.name, p.join(", "))
    }
}

fn size_error(info: &'static NamedKernel, h: usize, w: usize) -> ConvError {
    ConvError::InvalidKernelSize {
        kernel: info.name,
        height: h,
        width: w,
        reason: format!("it comes in {}", info.sizes),
    }
}

struct Params(Vec<(&'static str, f64)>);

impl Params {
    fn check(info: &'static NamedKernel, given: &[(String, f64)]) -> Result<Params> {
        let mut out: Vec<(&'static str, f64)> = Vec::new();
        for (name, value) in given {
            let Some(&known) = info.params.iter().find(|p| **p == name.as_str()) else {
                let expected = if info.params.is_empty() {
                    "it takes no parameters".to_string()
                } else {
                    format!("it takes {}", info.params.join(", "))
                };
                return Err(ConvError::InvalidParameter {
                    kernel: info.name,
                    message: format!("unknown parameter `{name}`: {expected}"),
                });
            };
            if out.iter().any(|(n, _)| *n == known) {
                return Err(ConvError::InvalidParameter {
                    kernel: info.name,
                    message: format!("parameter `{name}` is given twice"),
                });
            }
            if !value.is_finite() || *value <= 0.0 {
                return Err(ConvError::InvalidParameter {
                    kernel: info.name,
                    message: format!(
                        "`{name}` must be a finite number > 0, got {value} (omit it for the default)"
                    ),
                });
            }
            out.push((known, *value));
        }
        Ok(Params(out))
    }

    fn get(&self, name: &str) -> Option<f64> {
        self.0.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }
}

/// Row `n - 1` of Pascal's triangle: the binomial smoothing kernel of length `n`.
fn pascal(n: usize) -> Result<Vec<i64>> {
    if n > 60 {
        return Err(crate::error::overflow(
            "binomial coefficients beyond length 60",
        ));
    }
    let mut row = vec![1i64];
    for _ in 1..n {
        let mut next = vec![1i64; row.len() + 1];
        for i in 1..row.len() {
            next[i] = row[i - 1] + row[i];
        }
        row = next;
    }
    Ok(row)
}

/// First-derivative kernel of length `n` as OpenCV getSobelKernels: Pascal row of
/// length n - 1 convolved with [-1, 1].
fn derivative(n: usize) -> Result<Vec<i64>> {
    let smooth = pascal(n - 1)?;
    let mut d = vec![0i64; n];
    for (i, &s) in smooth.iter().enumerate() {
        d[i] -= s;
        d[i + 1] += s;
    }
    Ok(d)
}

/// OpenCV's default sigma for a kernel of length `n`.
pub fn default_sigma(n: usize) -> f64 {
    0.3 * ((n as f64 - 1.0) * 0.5 - 1.0) + 0.8
}

/// One axis of OpenCV getGaussianKernel.
enum Gaussian1d {
    /// One of OpenCV's fixed tables (used when no sigma is given): numerators, divisor.
    Table(&'static [i64], f64),
    /// Sampled and normalized.
    Sampled(Vec<f64>),
}

impl Gaussian1d {
    fn new(n: usize, sigma: Option<f64>) -> Gaussian1d {
        match (n, sigma) {
            (1, None) => return Gaussian1d::Table(&[1], 1.0),
            (3, None) => return Gaussian1d::Table(&[1, 2, 1], 4.0),
            (5, None) => return Gaussian1d::Table(&[1, 4, 6, 4, 1], 16.0),
            (7, None) => return Gaussian1d::Table(&[2, 7, 14, 18, 14, 7, 2], 64.0),
            _ => {}
        }
        let sigma = sigma.unwrap_or_else(|| default_sigma(n));
        let scale2x = -0.5 / (sigma * sigma);
        let mut g: Vec<f64> = (0..n)
            .map(|i| {
                let x = i as f64 - (n as f64 - 1.0) * 0.5;
                if scale2x.is_finite() {
                    (scale2x * x * x).exp()
                } else {
                    // sigma^2 underflows (sigma below about 1e-154): the
                    // limit, 1 at the centre, instead of 0 * inf = NaN there.
                    f64::from(x == 0.0)
                }
            })
            .collect();
        let inv = 1.0 / g.iter().sum::<f64>();
        g.iter_mut().for_each(|v| *v *= inv);
        Gaussian1d::Sampled(g)
    }

    fn values(&self) -> Vec<f64> {
        match self {
            Gaussian1d::Table(t, d) => t.iter().map(|&x| x as f64 / d).collect(),
            Gaussian1d::Sampled(g) => g.clone(),
        }
    }
}

fn gaussian(info: &'static NamedKernel, h: usize, w: usize, params: &Params) -> Result<Kernel> {
    if h.is_multiple_of(2) || w.is_multiple_of(2) {
        return Err(size_error(info, h, w));
    }
    let sigma = params.get("sigma");
    let sx = params.get("sigma_x").or(sigma);
    // OpenCV GaussianBlur: sigmaY defaults to sigmaX.
    let sy = params.get("sigma_y").or(sx);
    match (Gaussian1d::new(h, sy), Gaussian1d::new(w, sx)) {
        (Gaussian1d::Table(col, dc), Gaussian1d::Table(row, dr)) => {
            Kernel::outer_integers(col, row, 1.0 / (dc * dr))
        }
        (col, row) => Kernel::outer(&col.values(), &row.values()),
    }
}

fn laplacian_of_gaussian(
    info: &'static NamedKernel,
    h: usize,
    w: usize,
    params: &Params,
) -> Result<Kernel> {
    if h.is_multiple_of(2) || w.is_multiple_of(2) {
        return Err(size_error(info, h, w));
    }
    let sigma = params
        .get("sigma")
        .unwrap_or_else(|| default_sigma(h.max(w)));
    let s2 = sigma * sigma;
    let (cy, cx) = ((h / 2) as f64, (w / 2) as f64);
    let r2 = |i: usize| {
        let (y, x) = ((i / w) as f64 - cy, (i % w) as f64 - cx);
        x * x + y * y
    };
    let mut g: Vec<f64> = (0..h * w).map(|i| (-r2(i) / (2.0 * s2)).exp()).collect();
    let max = g.iter().cloned().fold(0.0, f64::max);
    g.iter_mut()
        .filter(|v| **v < f64::EPSILON * max)
        .for_each(|v| *v = 0.0);
    let sum: f64 = g.iter().sum();
    let mut k: Vec<f64> = g
        .iter()
        .enumerate()
        .map(|(i, v)| v / sum * (r2(i) - 2.0 * s2) / (s2 * s2))
        .collect();
    let mean = k.iter().sum::<f64>() / (h * w) as f64;
    k.iter_mut().for_each(|v| *v -= mean);
    Kernel::new(h, w, k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sobel_matches_opencv_get_deriv_kernels() {
        assert_eq!(derivative(3).unwrap(), vec![-1, 0, 1]);
        assert_eq!(derivative(5).unwrap(), vec![-1, -2, 0, 2, 1]);
        assert_eq!(derivative(7).unwrap(), vec![-1, -4, -5, 0, 5, 4, 1]);
        let s = build("sobel_x", &[], Some((5, 5))).unwrap();
        assert_eq!(s.get(2, 0), -6.0);
        assert_eq!(s.get(2, 4), 6.0);
        let t = build("sobel_y", &[], Some((5, 5))).unwrap();
        assert_eq!(t.get(0, 2), -6.0);
    }

    #[test]
    fn gaussian_uses_opencv_tables_and_sampling() {
        let g = build("gaussian", &[], Some((5, 5))).unwrap();
        assert_eq!(g.get(2, 2), 36.0 / 256.0);
        let g = build("gaussian", &[], Some((3, 3))).unwrap();
        assert_eq!(g.get(0, 0), 1.0 / 16.0);
        // sigma = 1 on 5 taps: OpenCV getGaussianKernel(5, 1.0).
        let g = build("gaussian", &[("sigma".into(), 1.0)], Some((1, 5))).unwrap();
        let expected = [0.05448868, 0.24420134, 0.40261995, 0.24420134, 0.05448868];
        for (a, b) in g.coeffs().iter().zip(expected) {
            assert!((a - b).abs() < 1e-8, "{a} vs {b}");
        }
        // 9 taps without sigma: default sigma 1.7.
        let g = build("gaussian", &[], Some((9, 1))).unwrap();
        assert!((g.coeffs().iter().sum::<f64>() - 1.0).abs() < 1e-15);
        assert!(build("gaussian", &[], Some((4, 4))).is_err());
        // A sigma whose square underflows: the limit, 1 at the centre (it
        // used to be 0 * inf = NaN there, refused as "not finite").
        for sigma in [1e-100, 1e-160, 1e-300, f64::MIN_POSITIVE] {
            let g = build("gaussian", &[("sigma".into(), sigma)], Some((3, 5))).unwrap();
            let centre = |i: usize| i == 7;
            for (i, &c) in g.coeffs().iter().enumerate() {
                assert_eq!(c, f64::from(centre(i)), "sigma {sigma}, tap {i}");
            }
        }
    }

    #[test]
    fn kernels_of_more_than_max_kernel_taps_are_refused_unallocated() {
        // Ten billion coefficients would take 80 GB: refused up front.
        let e = build("box", &[], Some((100_000, 100_000))).unwrap_err();
        assert!(
            e.to_string()
                .contains("100000x100000 kernel has 10000000000 coefficients"),
            "{e}"
        );
        let e = build("identity", &[], Some((usize::MAX, 3))).unwrap_err();
        assert!(e.to_string().contains("more than 2^64"), "{e}");
        // At the limit: accepted (4096 x 4096; a 1-row box to keep the test light).
        assert!(build("box", &[], Some((1, crate::kernel::MAX_KERNEL_TAPS))).is_ok());
        assert!(build("box", &[], Some((1, crate::kernel::MAX_KERNEL_TAPS + 1))).is_err());
    }

    #[test]
    fn log_sums_to_zero_and_is_negative_at_the_centre() {
        let k = build("log", &[("sigma".into(), 1.0)], Some((5, 5))).unwrap();
        assert!(k.coeffs().iter().sum::<f64>().abs() < 1e-12);
        assert!(k.get(2, 2) < 0.0);
    }

    #[test]
    fn errors_name_the_problem() {
        let e = build("sobel_z", &[], None).unwrap_err();
        assert!(e.to_string().contains("sobel_x"), "{e}");
        let e = build("scharr_x", &[], Some((5, 5))).unwrap_err();
        assert!(e.to_string().contains("3x3"), "{e}");
        let e = build("box", &[("sigma".into(), 1.0)], None).unwrap_err();
        assert!(e.to_string().contains("no parameters"), "{e}");
        let p = [("sigma".to_string(), 1.0), ("sigma".to_string(), 2.0)];
        assert!(build("gaussian", &p, None).is_err());
        assert!(build("gaussian", &[("sigma".into(), f64::NAN)], None).is_err());
    }

    #[test]
    fn box_binomial_identity() {
        let b = build("box", &[], Some((3, 5))).unwrap();
        assert!(b.coeffs().iter().all(|&c| c == 1.0 / 15.0));
        let b = build("binomial", &[], Some((3, 3))).unwrap();
        assert_eq!(b.get(1, 1), 4.0 / 16.0);
        let i = build("identity", &[], Some((4, 4))).unwrap();
        assert_eq!(i.get(2, 2), 1.0);
        assert_eq!(i.coeffs().iter().sum::<f64>(), 1.0);
    }
}
