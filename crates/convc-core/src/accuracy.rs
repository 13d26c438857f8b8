//! DESIGN.md's accuracy promise, as code the tests and the demo share.
//!
//! A backend agrees with the reference when, for every output element,
//! `|got - reference| <= (taps + 1) * eps(dtype) * sum|k| * max|in|`, where `taps` is
//! the number of kernel coefficients and `max|in|` the largest magnitude the
//! padded input holds (the border constant included).

use std::fmt;

use crate::element::Element;
use crate::error::Result;
use crate::exec::reference_f64;
use crate::image::ImageView;
use crate::spec::ConvSpec;

/// The per-element error bound for `spec` on an input whose largest magnitude is
/// `max_abs_input`.
pub fn error_bound(spec: &ConvSpec, max_abs_input: f64) -> f64 {
    let taps = spec.kernel.len() as f64;
    (taps + 1.0) * spec.dtype.epsilon() * spec.kernel.abs_sum() * max_abs_input
}

/// Largest magnitude the padded input holds: the pixels and the border constant.
pub fn max_abs_input<T: Element>(spec: &ConvSpec, input: &ImageView<'_, T>) -> f64 {
    let pixels = (0..input.height())
        .flat_map(|y| input.row(y).iter())
        .fold(0.0f64, |m, v| m.max(v.to_f64().abs()));
    pixels.max(spec.border.constant().abs())
}

/// The first output element that breaks the bound.
#[derive(Debug, Clone, PartialEq)]
pub struct Mismatch {
    /// Output row.
    pub y: usize,
    /// Output column.
    pub x: usize,
    /// What the backend produced.
    pub got: f64,
    /// The reference value.
    pub want: f64,
    /// The bound it broke.
    pub bound: f64,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "output ({}, {}) is {} but the reference is {} (|error| {:e} > bound {:e})",
            self.y,
            self.x,
            self.got,
            self.want,
            (self.got - self.want).abs(),
            self.bound
        )
    }
}

/// Compares `got` with the reference for `spec` on `input`: `Ok(Ok(max_error))`
/// when every element is within the bound, `Ok(Err(first mismatch))` otherwise.
pub fn check_against_reference<T: Element>(
    spec: &ConvSpec,
    input: &ImageView<'_, T>,
    got: &ImageView<'_, T>,
) -> Result<std::result::Result<f64, Mismatch>> {
    let want = reference_f64(spec, input)?;
    let out = spec.output_shape(input.shape())?;
    crate::exec::check_output(out, got.shape())?;
    let bound = error_bound(spec, max_abs_input(spec, input));
    let mut worst = 0.0f64;
    for y in 0..out.height {
        for (x, (&g, &w)) in got.row(y).iter().zip(&want[y * out.width..]).enumerate() {
            let g = g.to_f64();
            let err = (g - w).abs();
            // NaN never passes.
            if err.is_nan() || err > bound {
                return Ok(Err(Mismatch {
                    y,
                    x,
                    got: g,
                    want: w,
                    bound,
                }));
            }
            worst = worst.max(err);
        }
    }
    Ok(Ok(worst))
}
