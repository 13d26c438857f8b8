//! Kernel analysis: rank-1 splitting, symmetry, and the common factor.
//!
//! Pure functions of the kernel; the planner turns their findings into a [`crate::Plan`].
//!
//! **Separability tolerance.** Integer kernels are tested exactly (`k[i][j] * k[p][q] ==
//! k[i][q] * k[p][j]` in integers). Kernels built with [`Kernel::outer`] carry their
//! factors. Any other float kernel is rank 1 when the factors taken from its largest
//! element's row and column reproduce every coefficient to within
//! [`SEPARABLE_RELATIVE_TOLERANCE`] of that coefficient (zeros exactly), so the split
//! changes each product by at most a few `f64` ulps, far inside DESIGN.md's error bound.

use crate::kernel::Kernel;

/// Largest relative difference `|col[i] * row[j] - k[i][j]| / |k[i][j]|` accepted
/// for a float kernel to count as rank 1: 4 ulps of `f64`.
pub const SEPARABLE_RELATIVE_TOLERANCE: f64 = 4.0 * f64::EPSILON;

/// Coefficients written as `values[i] * scale`, where `values` are small integers
/// when the kernel has a common factor (then ±1 taps are add/sub) and the plain
/// coefficients with `scale == 1` otherwise.
#[derive(Debug, Clone, PartialEq)]
pub struct Scaled {
    /// The numerators (row-major for a 2D grid).
    pub values: Vec<f64>,
    /// The common factor, applied once.
    pub scale: f64,
}

impl Scaled {
    /// Finds a common factor of `coeffs`: exact when `exact` gives integer numerators,
    /// otherwise the smallest non-zero magnitude when every coefficient is an integer
    /// multiple of it (to 2 ulps), otherwise none (`scale == 1`).
    pub fn new(coeffs: &[f64], exact: Option<(&[i64], f64)>) -> Scaled {
        if let Some((nums, scale)) = exact {
            return Scaled {
                values: nums.iter().map(|&n| n as f64).collect(),
                scale,
            };
        }
        let unit = coeffs
            .iter()
            .map(|c| c.abs())
            .filter(|&c| c > 0.0)
            .fold(f64::INFINITY, f64::min);
        if unit.is_finite() && unit != 1.0 {
            let values: Vec<f64> = coeffs.iter().map(|&c| (c / unit).round()).collect();
            let fits = values.iter().zip(coeffs).all(|(&r, &c)| {
                r.abs() <= 4096.0 && (r * unit - c).abs() <= 2.0 * f64::EPSILON * c.abs()
            });
            if fits {
                return Scaled {
                    values,
                    scale: unit,
                };
            }
        }
        Scaled {
            values: coeffs.to_vec(),
            scale: 1.0,
        }
    }

    /// Number of non-zero values.
    pub fn nonzero(&self) -> usize {
        self.values.iter().filter(|v| **v != 0.0).count()
    }
}

/// Parity of a kernel along one axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parity {
    /// `k[i] == k[n-1-i]`
    Even,
    /// `k[i] == -k[n-1-i]`
    Odd,
    /// Neither.
    None,
}

/// Symmetry of a 2D kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Symmetry {
    /// Under flipping the rows (top-bottom).
    pub vertical: Parity,
    /// Under flipping the columns (left-right).
    pub horizontal: Parity,
}

/// A rank-1 split `k[i][j] = col[i] * row[j] * scale`.
#[derive(Debug, Clone, PartialEq)]
pub struct Rank1 {
    /// Vertical factor numerators (kernel height).
    pub col: Scaled,
    /// Horizontal factor numerators (kernel width).
    pub row: Scaled,
}

/// What analysis found out about a kernel.
#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    /// Kernel height.
    pub height: usize,
    /// Kernel width.
    pub width: usize,
    /// The 2D coefficients with their common factor.
    pub grid: Scaled,
    /// The rank-1 split, when the kernel has one.
    pub rank1: Option<Rank1>,
    /// Symmetry along each axis.
    pub symmetry: Symmetry,
}

impl Analysis {
    /// Taps that are exactly 0 (they vanish from generated code).
    pub fn zero_taps(&self) -> usize {
        self.grid.values.len() - self.grid.nonzero()
    }
    /// Taps whose numerator is ±1 (add/sub without a multiply).
    pub fn unit_taps(&self) -> usize {
        self.grid.values.iter().filter(|v| v.abs() == 1.0).count()
    }
}

/// Analyzes a 2D kernel (the one actually applied, i.e. already flipped for convolve).
///
/// ```
/// use convc_core::{analyze::{analyze, Parity}, named};
/// let a = analyze(&named::build("sobel_x", &[], None)?);
/// let r = a.rank1.as_ref().expect("sobel is separable");
/// assert_eq!(r.col.values, vec![1.0, 2.0, 1.0]);
/// assert_eq!(r.row.values, vec![-1.0, 0.0, 1.0]);
/// assert_eq!(a.symmetry.horizontal, Parity::Odd);
/// assert_eq!(a.zero_taps(), 3);
/// # Ok::<(), convc_core::ConvError>(())
/// ```
pub fn analyze(kernel: &Kernel) -> Analysis {
    let (h, w) = (kernel.height(), kernel.width());
    let exact = kernel
        .exact_form()
        .map(|e| (e.numerators.as_slice(), e.scale));
    let grid = Scaled::new(kernel.coeffs(), exact);
    let v = &grid.values;
    let symmetry = Symmetry {
        vertical: parity(h, |i| (0..w).map(move |j| v[i * w + j])),
        horizontal: parity(w, |j| (0..h).map(move |i| v[i * w + j])),
    };
    Analysis {
        height: h,
        width: w,
        rank1: rank1(kernel, &grid),
        symmetry,
        grid,
    }
}

fn parity<I: Iterator<Item = f64>>(n: usize, line: impl Fn(usize) -> I) -> Parity {
    let pairs = || {
        (0..n / 2).map(|i| {
            (
                line(i).collect::<Vec<_>>(),
                line(n - 1 - i).collect::<Vec<_>>(),
            )
        })
    };
    if pairs().all(|(a, b)| a == b) {
        Parity::Even
    } else if pairs().all(|(a, b)| a.iter().zip(&b).all(|(x, y)| *x == -*y))
        && (n.is_multiple_of(2) || line(n / 2).all(|v| v == 0.0))
    {
        Parity::Odd
    } else {
        Parity::None
    }
}

fn rank1(kernel: &Kernel, grid: &Scaled) -> Option<Rank1> {
    let (h, w) = (kernel.height(), kernel.width());
    if grid.nonzero() == 0 {
        return None;
    }
    // Integer numerators: exact test and integer factors.
    if grid
        .values
        .iter()
        .all(|v| v.fract() == 0.0 && v.abs() < 2f64.powi(31))
    {
        let k = |i: usize, j: usize| grid.values[i * w + j] as i128;
        let (p, q) = pivot(&grid.values, w);
        let rank1 = (0..h).all(|i| (0..w).all(|j| k(i, j) * k(p, q) == k(i, q) * k(p, j)));
        if !rank1 {
            return None;
        }
        let mut col: Vec<i128> = (0..h).map(|i| k(i, q)).collect();
        // The column has a non-zero entry (the pivot), so g >= 1.
        let g = col.iter().fold(0i128, |g, &v| gcd(g, v.abs()));
        let sign = if col.iter().find(|v| **v != 0).copied().unwrap_or(1) < 0 {
            -1
        } else {
            1
        };
        col.iter_mut().for_each(|v| *v /= g * sign);
        let row: Vec<f64> = (0..w).map(|j| (k(p, j) / col[p]) as f64).collect();
        return Some(Rank1 {
            col: Scaled {
                values: col.iter().map(|&v| v as f64).collect(),
                scale: 1.0,
            },
            row: Scaled {
                values: row,
                scale: grid.scale,
            },
        });
    }
    // Float kernels built as an outer product carry their factors.
    if let Some(f) = kernel.factors() {
        return Some(Rank1 {
            col: Scaled::new(&f.col, None),
            row: Scaled::new(&f.row, None),
        });
    }
    let c = kernel.coeffs();
    let (p, q) = pivot(c, w);
    let col: Vec<f64> = (0..h).map(|i| c[i * w + q]).collect();
    let row: Vec<f64> = (0..w).map(|j| c[p * w + j] / c[p * w + q]).collect();
    let close = (0..h).all(|i| {
        (0..w).all(|j| {
            let (want, got) = (c[i * w + j], col[i] * row[j]);
            (got - want).abs() <= SEPARABLE_RELATIVE_TOLERANCE * want.abs()
        })
    });
    close.then(|| Rank1 {
        col: Scaled::new(&col, None),
        row: Scaled::new(&row, None),
    })
}

/// Position of the largest magnitude (first one on ties).
fn pivot(values: &[f64], w: usize) -> (usize, usize) {
    let mut best = 0;
    for (i, v) in values.iter().enumerate() {
        if v.abs() > values[best].abs() {
            best = i;
        }
    }
    (best / w, best % w)
}

fn gcd(a: i128, b: i128) -> i128 {
    if b == 0 { a } else { gcd(b, a % b) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::named::build;

    fn lit(rows: &[&[f64]]) -> Kernel {
        Kernel::from_rows(rows).unwrap()
    }

    #[test]
    fn integer_rank1_is_exact() {
        let a = analyze(&lit(&[&[2.0, 4.0, 2.0], &[3.0, 6.0, 3.0]]));
        let r = a.rank1.unwrap();
        assert_eq!(r.col.values, vec![2.0, 3.0]);
        assert_eq!(r.row.values, vec![1.0, 2.0, 1.0]);
        assert!(analyze(&lit(&[&[1.0, 2.0], &[3.0, 4.0]])).rank1.is_none());
        // A zero first row must not stop the common factor from being found.
        let r = analyze(&lit(&[&[0.0, 0.0], &[1.0, 2.0]])).rank1.unwrap();
        assert_eq!(
            (r.col.values.clone(), r.row.values.clone()),
            (vec![0.0, 1.0], vec![1.0, 2.0])
        );
        let k = Kernel::outer_integers(&[0, 1, 2, 1, 0], &[1, 4, 6, 4, 1], 1.0).unwrap();
        let r = analyze(&k).rank1.unwrap();
        assert_eq!(r.col.values, vec![0.0, 1.0, 2.0, 1.0, 0.0]);
        assert_eq!(r.row.values, vec![1.0, 4.0, 6.0, 4.0, 1.0]);
        assert!(
            analyze(&build("laplacian", &[], None).unwrap())
                .rank1
                .is_none()
        );
    }

    #[test]
    fn common_factor_of_tables_and_literals() {
        let g = analyze(&build("gaussian", &[], Some((5, 5))).unwrap());
        let r = g.rank1.unwrap();
        assert_eq!(r.col.values, vec![1.0, 4.0, 6.0, 4.0, 1.0]);
        assert_eq!(r.row.values, vec![1.0, 4.0, 6.0, 4.0, 1.0]);
        assert_eq!(r.col.scale * r.row.scale, 1.0 / 256.0);
        // A float literal that is a multiple of 1/9 is found without an exact form.
        let b = analyze(&Kernel::new(3, 3, vec![1.0 / 9.0; 9]).unwrap());
        assert_eq!(b.grid.values, vec![1.0; 9]);
        assert_eq!(b.grid.scale, 1.0 / 9.0);
    }

    #[test]
    fn float_rank1_with_and_without_factors() {
        let g = build("gaussian", &[("sigma".into(), 1.3)], Some((7, 5))).unwrap();
        let r = analyze(&g).rank1.unwrap();
        assert_eq!(r.col.values.len(), 7);
        // Same coefficients without the remembered factors.
        let plain = Kernel::new(7, 5, g.coeffs().to_vec()).unwrap();
        let r2 = analyze(&plain).rank1.expect("rediscovered");
        for i in 0..7 {
            for j in 0..5 {
                let k = g.get(i, j);
                let got = r2.col.values[i] * r2.col.scale * r2.row.values[j] * r2.row.scale;
                assert!((got - k).abs() <= 1e-15 * k.abs(), "{got} vs {k}");
            }
        }
        let noisy = lit(&[&[1.0, 2.0], &[2.0, 4.0000001]]);
        assert!(analyze(&noisy).rank1.is_none());
    }

    #[test]
    fn symmetry() {
        let s = analyze(&build("sobel_y", &[], None).unwrap()).symmetry;
        assert_eq!(s.vertical, Parity::Odd);
        assert_eq!(s.horizontal, Parity::Even);
        let e = analyze(&build("emboss", &[], None).unwrap()).symmetry;
        assert_eq!(e.vertical, Parity::None);
    }
}
