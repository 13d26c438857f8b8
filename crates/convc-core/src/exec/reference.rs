//! The reference executor: DESIGN.md's definition, evaluated in `f64`.
//!
//! `out[y][x] = sum over (m, n) of k'[m][n] * P[y*sy + m*dy][x*sx + n*dx]`, where P is
//! the input padded by the mode's padding with the border rule and k' the kernel
//! (correlate) or the kernel flipped in every axis (convolve). No Plan, no analysis:
//! this is the oracle every other executor is tested against.

use crate::border::Source;
use crate::element::Element;
use crate::error::Result;
use crate::image::{ImageView, ImageViewMut};
use crate::spec::ConvSpec;

/// The exact-as-possible output in `f64`, row-major, tightly packed. Accepts any
/// element type regardless of `spec.dtype` (it is the oracle for both).
///
/// ```
/// use convc_core::{exec::reference_f64, Border, ConvSpec, ImageView, Kernel, Mode};
/// let img = [1.0f32, 2.0, 3.0];
/// let spec = ConvSpec::new(Kernel::from_rows(&[[1.0, 10.0, 100.0]])?).border(Border::Zero);
/// let out = reference_f64(&spec, &ImageView::new(&img, 3, 1)?)?;
/// assert_eq!(out, vec![210.0, 321.0, 32.0]);
/// # Ok::<(), convc_core::ConvError>(())
/// ```
pub fn reference_f64<T: Element>(spec: &ConvSpec, input: &ImageView<'_, T>) -> Result<Vec<f64>> {
    spec.validate()?;
    let out = spec.output_shape(input.shape())?;
    spec.check_input(input.shape())?;
    let k = spec.applied_kernel();
    let pads = spec.pads()?;
    let (s, d) = (spec.stride, spec.dilation);
    let (h, w) = (input.height(), input.width());
    let c = spec.border.constant();
    let mut result = Vec::with_capacity(out.pixels());
    for y in 0..out.height {
        for x in 0..out.width {
            let mut acc = 0.0f64;
            for m in 0..k.height() {
                let p = (y * s.y + m * d.y) as isize - pads.top as isize;
                let row = spec.border.map(p, h);
                for n in 0..k.width() {
                    let q = (x * s.x + n * d.x) as isize - pads.left as isize;
                    let v = match (row, spec.border.map(q, w)) {
                        (Source::Index(r), Source::Index(col)) => input.get(r, col).to_f64(),
                        _ => c,
                    };
                    acc += k.get(m, n) * v;
                }
            }
            result.push(acc);
        }
    }
    Ok(result)
}

/// The reference result rounded into `output` (whose shape must be the output shape).
pub fn reference<T: Element>(
    spec: &ConvSpec,
    input: &ImageView<'_, T>,
    output: &mut ImageViewMut<'_, T>,
) -> Result<()> {
    let exact = reference_f64(spec, input)?;
    crate::exec::check_output(spec.output_shape(input.shape())?, output.shape())?;
    let w = output.width();
    for (y, row) in output.rows_mut().into_iter().enumerate() {
        for (o, &v) in row.iter_mut().zip(&exact[y * w..(y + 1) * w]) {
            *o = T::from_f64(v);
        }
    }
    Ok(())
}
