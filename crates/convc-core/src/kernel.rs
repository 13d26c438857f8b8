//! [`Kernel`]: the coefficients of a filter, as written.

use std::fmt;
use std::hash::{Hash, Hasher};

use crate::error::{ConvError, Result};

/// The most coefficients a kernel may have (16,777,216: 4096 x 4096, 128 MiB of
/// `f64`). Larger ones are refused before their coefficients are allocated, so a
/// slip like `box 100000x100000` is an error rather than an exhausted machine.
pub const MAX_KERNEL_TAPS: usize = 1 << 24;

/// Refuses a `depth x height x width` kernel over [`MAX_KERNEL_TAPS`].
pub(crate) fn check_taps(depth: usize, height: usize, width: usize) -> Result<()> {
    let taps = depth.checked_mul(height).and_then(|n| n.checked_mul(width));
    match taps {
        Some(n) if n <= MAX_KERNEL_TAPS => Ok(()),
        _ => {
            let planes = if depth == 1 {
                String::new()
            } else {
                format!("{depth}x")
            };
            let count = taps.map_or_else(|| "more than 2^64".to_string(), |n| n.to_string());
            Err(ConvError::Unsupported(format!(
                "a {planes}{height}x{width} kernel has {count} coefficients; \
                 convc supports at most {MAX_KERNEL_TAPS} (4096x4096)"
            )))
        }
    }
}

/// Largest magnitude an integer coefficient may have to count as exact (2^53).
const MAX_EXACT_INT: f64 = 9_007_199_254_740_992.0;

/// Shape of a kernel: (depth, height, width). 2D kernels have depth 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KernelShape {
    /// Number of planes (1 for 2D kernels).
    pub depth: usize,
    /// Number of rows.
    pub height: usize,
    /// Number of columns.
    pub width: usize,
}

impl KernelShape {
    /// A 2D shape (depth 1).
    pub fn new_2d(height: usize, width: usize) -> Self {
        KernelShape {
            depth: 1,
            height,
            width,
        }
    }

    /// Number of coefficients.
    pub fn len(&self) -> usize {
        self.depth * self.height * self.width
    }

    /// True when some axis is 0 (never true for a constructed [`Kernel`]).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Display for KernelShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.depth == 1 {
            write!(f, "{}x{}", self.height, self.width)
        } else {
            write!(f, "{}x{}x{}", self.depth, self.height, self.width)
        }
    }
}

/// Integer numerators times one common scale: `coeff[i] == numerators[i] as f64 * scale`
/// up to one rounding of the product. Known for integer kernels (scale 1), literals
/// with a divisor (`[[1,2,1],[2,4,2],[1,2,1]] / 16`) and the named kernels built from
/// integer tables (binomial, box, the small OpenCV Gaussians, Sobel, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct ExactForm {
    /// The integer numerators, row-major like the coefficients.
    pub numerators: Vec<i64>,
    /// The common factor applied once after the integer taps.
    pub scale: f64,
}

/// The two 1D factors of a kernel built as an outer product `col * row^T`.
#[derive(Debug, Clone, PartialEq)]
pub struct Factors {
    /// Vertical factor (length = kernel height).
    pub col: Vec<f64>,
    /// Horizontal factor (length = kernel width).
    pub row: Vec<f64>,
}

/// A convolution kernel: its shape and its coefficients as `f64`, row-major.
///
/// The coefficients are the definition; [`Kernel::exact_form`] and
/// [`Kernel::factors`] are exact descriptions kept by the constructors that know
/// them, so that analysis does not have to rediscover them from rounded values.
///
/// ```
/// use convc_core::Kernel;
/// let k = Kernel::from_rows(&[[1.0, 2.0, 1.0], [0.0, 0.0, 0.0], [-1.0, -2.0, -1.0]])?;
/// assert_eq!((k.height(), k.width()), (3, 3));
/// assert!(k.is_integral());
/// assert_eq!(k.get(2, 1), -2.0);
/// # Ok::<(), convc_core::ConvError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Kernel {
    shape: KernelShape,
    coeffs: Vec<f64>,
    exact: Option<ExactForm>,
    factors: Option<Factors>,
    name: Option<String>,
}

impl Kernel {
    /// A `height` x `width` kernel from row-major coefficients.
    ///
    /// Errors: a zero size, more than [`MAX_KERNEL_TAPS`] coefficients, a length
    /// that is not `height * width`, a non-finite value.
    pub fn new(height: usize, width: usize, coeffs: Vec<f64>) -> Result<Kernel> {
        Self::with_shape(KernelShape::new_2d(height, width), coeffs)
    }

    /// A kernel of any shape (depth > 1 is accepted here; 2D convolutions reject it
    /// in [`crate::ConvSpec::validate`]).
    pub fn with_shape(shape: KernelShape, coeffs: Vec<f64>) -> Result<Kernel> {
        if shape.depth == 0 {
            return Err(ConvError::ZeroSize {
                what: "kernel depth",
            });
        }
        if shape.height == 0 {
            return Err(ConvError::ZeroSize {
                what: "kernel height",
            });
        }
        if shape.width == 0 {
            return Err(ConvError::ZeroSize {
                what: "kernel width",
            });
        }
        check_taps(shape.depth, shape.height, shape.width)?;
        let len = shape.depth * shape.height * shape.width;
        if coeffs.len() != len {
            return Err(ConvError::MalformedKernel(format!(
                "a {shape} kernel needs {len} coefficients, got {}",
                coeffs.len()
            )));
        }
        for (i, &c) in coeffs.iter().enumerate() {
            if !c.is_finite() {
                let (m, n) = (i / shape.width % shape.height, i % shape.width);
                return Err(ConvError::NotFinite {
                    what: format!("kernel coefficient [{m}, {n}]"),
                    value: c,
                });
            }
        }
        let exact = if coeffs
            .iter()
            .all(|c| c.fract() == 0.0 && c.abs() <= MAX_EXACT_INT)
        {
            Some(ExactForm {
                numerators: coeffs.iter().map(|&c| c as i64).collect(),
                scale: 1.0,
            })
        } else {
            None
        };
        Ok(Kernel {
            shape,
            coeffs,
            exact,
            factors: None,
            name: None,
        })
    }

    /// A kernel from rows of equal length.
    ///
    /// ```
    /// let k = convc_core::Kernel::from_rows(&[vec![1.0, 2.0], vec![3.0, 4.0]])?;
    /// assert_eq!(k.coeffs(), &[1.0, 2.0, 3.0, 4.0]);
    /// # Ok::<(), convc_core::ConvError>(())
    /// ```
    pub fn from_rows<R: AsRef<[f64]>>(rows: &[R]) -> Result<Kernel> {
        let height = rows.len();
        if height == 0 {
            return Err(ConvError::MalformedKernel(
                "a kernel needs at least one row".into(),
            ));
        }
        let width = rows[0].as_ref().len();
        let mut coeffs = Vec::with_capacity(height * width);
        for (i, r) in rows.iter().enumerate() {
            let r = r.as_ref();
            if r.len() != width {
                return Err(ConvError::MalformedKernel(format!(
                    "row {i} has {} values but row 0 has {width} (rows must have equal length)",
                    r.len()
                )));
            }
            coeffs.extend_from_slice(r);
        }
        if width == 0 {
            return Err(ConvError::MalformedKernel(
                "a kernel row needs at least one value".into(),
            ));
        }
        Kernel::new(height, width, coeffs)
    }

    /// Integer numerators over a common divisor: `coeff = numerator / divisor`,
    /// the form of `[[1, 2, 1], [2, 4, 2], [1, 2, 1]] / 16`.
    pub fn from_integers(
        height: usize,
        width: usize,
        numerators: Vec<i64>,
        divisor: f64,
    ) -> Result<Kernel> {
        if !divisor.is_finite() || divisor == 0.0 {
            return Err(ConvError::NotFinite {
                what: "kernel divisor".into(),
                value: if divisor == 0.0 {
                    f64::INFINITY
                } else {
                    divisor
                },
            });
        }
        Self::from_numerators(
            height,
            width,
            numerators,
            |n| n as f64 / divisor,
            1.0 / divisor,
        )
    }

    /// Integer numerators times a common factor: `coeff = numerator * factor`,
    /// the form of `[[1, 2, 1]] * 0.25`.
    pub fn from_integers_times(
        height: usize,
        width: usize,
        numerators: Vec<i64>,
        factor: f64,
    ) -> Result<Kernel> {
        Self::from_numerators(height, width, numerators, |n| n as f64 * factor, factor)
    }

    fn from_numerators(
        height: usize,
        width: usize,
        numerators: Vec<i64>,
        coeff: impl Fn(i64) -> f64,
        scale: f64,
    ) -> Result<Kernel> {
        if let Some(&n) = numerators
            .iter()
            .find(|n| n.unsigned_abs() as f64 > MAX_EXACT_INT)
        {
            return Err(ConvError::MalformedKernel(format!(
                "integer coefficient {n} is too large to be exact (limit 2^53)"
            )));
        }
        let coeffs = numerators.iter().map(|&n| coeff(n)).collect();
        let mut k = Kernel::new(height, width, coeffs)?;
        if scale != 0.0 {
            k.exact = Some(ExactForm { numerators, scale });
        }
        Ok(k)
    }

    /// The outer product `col * row^T` (a separable kernel), remembering its factors.
    ///
    /// ```
    /// let k = convc_core::Kernel::outer(&[1.0, 2.0, 1.0], &[-1.0, 0.0, 1.0])?;
    /// assert_eq!(k.get(1, 0), -2.0);
    /// assert!(k.factors().is_some());
    /// # Ok::<(), convc_core::ConvError>(())
    /// ```
    pub fn outer(col: &[f64], row: &[f64]) -> Result<Kernel> {
        check_taps(1, col.len(), row.len())?;
        let coeffs = col
            .iter()
            .flat_map(|&a| row.iter().map(move |&b| a * b))
            .collect();
        let mut k = Kernel::new(col.len(), row.len(), coeffs)?;
        k.factors = Some(Factors {
            col: col.to_vec(),
            row: row.to_vec(),
        });
        Ok(k)
    }

    /// Outer product of two integer vectors with one common scale, e.g. the 5x5
    /// binomial `[1,4,6,4,1]^T [1,4,6,4,1] / 256`.
    pub fn outer_integers(col: &[i64], row: &[i64], scale: f64) -> Result<Kernel> {
        let colf: Vec<f64> = col.iter().map(|&v| v as f64).collect();
        let rowf: Vec<f64> = row.iter().map(|&v| v as f64 * scale).collect();
        let mut k = Kernel::outer(&colf, &rowf)?;
        let numerators = col
            .iter()
            .flat_map(|&a| row.iter().map(move |&b| a.checked_mul(b)))
            .collect::<Option<Vec<i64>>>()
            .ok_or_else(|| crate::error::overflow("integer kernel coefficients"))?;
        k.exact = Some(ExactForm { numerators, scale });
        Ok(k)
    }

    /// Attaches a display name (used by `Display` of plans and by the CLI).
    #[must_use]
    pub fn named(mut self, name: impl Into<String>) -> Kernel {
        self.name = Some(name.into());
        self
    }

    /// The kernel flipped in every axis (what `Op::Convolve` applies).
    #[must_use]
    pub fn flipped(&self) -> Kernel {
        let mut coeffs = self.coeffs.clone();
        coeffs.reverse();
        let exact = self.exact.as_ref().map(|e| {
            let mut numerators = e.numerators.clone();
            numerators.reverse();
            ExactForm {
                numerators,
                scale: e.scale,
            }
        });
        let factors = self.factors.as_ref().map(|f| Factors {
            col: f.col.iter().rev().copied().collect(),
            row: f.row.iter().rev().copied().collect(),
        });
        Kernel {
            shape: self.shape,
            coeffs,
            exact,
            factors,
            name: self.name.clone(),
        }
    }

    /// Shape (depth, height, width).
    pub fn shape(&self) -> KernelShape {
        self.shape
    }
    /// Number of rows.
    pub fn height(&self) -> usize {
        self.shape.height
    }
    /// Number of columns.
    pub fn width(&self) -> usize {
        self.shape.width
    }
    /// Number of planes (1 for 2D kernels).
    pub fn depth(&self) -> usize {
        self.shape.depth
    }
    /// Coefficients, row-major.
    pub fn coeffs(&self) -> &[f64] {
        &self.coeffs
    }
    /// Coefficient at row `m`, column `n` of plane 0.
    ///
    /// # Panics
    /// If `m` or `n` is out of range.
    pub fn get(&self, m: usize, n: usize) -> f64 {
        assert!(
            m < self.shape.height && n < self.shape.width,
            "kernel index out of range"
        );
        self.coeffs[m * self.shape.width + n]
    }
    /// True when every coefficient is an integer (exact in `f64`).
    pub fn is_integral(&self) -> bool {
        self.exact.as_ref().is_some_and(|e| e.scale == 1.0)
    }
    /// Integer numerators and common scale, when known.
    pub fn exact_form(&self) -> Option<&ExactForm> {
        self.exact.as_ref()
    }
    /// 1D factors, when the kernel was built as an outer product.
    pub fn factors(&self) -> Option<&Factors> {
        self.factors.as_ref()
    }
    /// Display name, when the kernel came from a name or was given one.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
    /// Sum of absolute values of the coefficients (used by the error bound).
    pub fn abs_sum(&self) -> f64 {
        self.coeffs.iter().map(|c| c.abs()).sum()
    }
    /// Number of coefficients.
    pub fn len(&self) -> usize {
        self.coeffs.len()
    }
    /// Always false: a kernel has at least one coefficient.
    pub fn is_empty(&self) -> bool {
        self.coeffs.is_empty()
    }
}

fn f64_bits(v: &[f64]) -> impl Iterator<Item = u64> + '_ {
    // +0.0 and -0.0 are the same tap; normalise so that equal kernels hash equally.
    v.iter().map(|&c| if c == 0.0 { 0 } else { c.to_bits() })
}

impl PartialEq for Kernel {
    fn eq(&self, other: &Self) -> bool {
        self.shape == other.shape
            && f64_bits(&self.coeffs).eq(f64_bits(&other.coeffs))
            && self.exact == other.exact
            && self.factors == other.factors
    }
}

impl Eq for Kernel {}

impl Hash for Kernel {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.shape.hash(state);
        for b in f64_bits(&self.coeffs) {
            b.hash(state);
        }
        if let Some(e) = &self.exact {
            e.numerators.hash(state);
            e.scale.to_bits().hash(state);
        }
        if let Some(f) = &self.factors {
            f64_bits(&f.col).for_each(|b| b.hash(state));
            f64_bits(&f.row).for_each(|b| b.hash(state));
        }
    }
}

impl fmt::Display for Kernel {
    /// The matrix, one row per line, as `convc kernels` prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cells: Vec<String> = match &self.exact {
            Some(e) if e.scale == 1.0 => e.numerators.iter().map(|n| n.to_string()).collect(),
            _ => self.coeffs.iter().map(|c| format!("{c:.6}")).collect(),
        };
        let width = cells.iter().map(|c| c.len()).max().unwrap_or(1);
        for (i, row) in cells.chunks(self.shape.width).enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            let line: Vec<String> = row.iter().map(|c| format!("{c:>width$}")).collect();
            write!(f, "[{}]", line.join(" "))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_shapes_and_values() {
        assert!(matches!(
            Kernel::new(0, 3, vec![]),
            Err(ConvError::ZeroSize { .. })
        ));
        assert!(matches!(
            Kernel::new(2, 2, vec![1.0; 3]),
            Err(ConvError::MalformedKernel(_))
        ));
        let e = Kernel::new(1, 2, vec![1.0, f64::NAN]).unwrap_err();
        assert!(matches!(e, ConvError::NotFinite { .. }), "{e}");
        assert!(e.to_string().contains("[0, 1]"));
        let ragged: Vec<Vec<f64>> = vec![vec![1.0, 2.0], vec![3.0]];
        assert!(matches!(
            Kernel::from_rows(&ragged),
            Err(ConvError::MalformedKernel(_))
        ));
    }

    #[test]
    fn integral_and_exact_forms() {
        let k = Kernel::from_rows(&[[1.0, -2.0]]).unwrap();
        assert!(k.is_integral());
        let k = Kernel::from_integers(1, 3, vec![1, 2, 1], 4.0).unwrap();
        assert!(!k.is_integral());
        assert_eq!(k.coeffs(), &[0.25, 0.5, 0.25]);
        assert_eq!(k.exact_form().unwrap().scale, 0.25);
        let k = Kernel::from_rows(&[[0.5, 1.0]]).unwrap();
        assert!(k.exact_form().is_none());
    }

    #[test]
    fn flip_reverses_every_axis() {
        let k = Kernel::outer(&[1.0, 2.0], &[3.0, 5.0, 7.0]).unwrap();
        let f = k.flipped();
        assert_eq!(f.get(0, 0), k.get(1, 2));
        assert_eq!(f.get(1, 2), k.get(0, 0));
        assert_eq!(f.factors().unwrap().row, vec![7.0, 5.0, 3.0]);
    }

    #[test]
    fn equal_kernels_are_equal_whatever_the_sign_of_zero() {
        let a = Kernel::from_rows(&[[0.0, 1.0]]).unwrap();
        let b = Kernel::from_rows(&[[-0.0, 1.0]]).unwrap();
        assert_eq!(a, b);
    }
}
