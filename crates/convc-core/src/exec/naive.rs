//! The naive executor: the textbook four loops in the element type.
//!
//! Every tap maps its row and column through the border rule and reads the kernel
//! from memory. It is the slowest honest baseline the benches compare with.

use crate::border::Source;
use crate::element::Element;
use crate::error::{ConvError, Result};
use crate::image::{ImageView, ImageViewMut};
use crate::spec::ConvSpec;

/// Runs `spec` with four nested loops.
///
/// ```
/// use convc_core::{exec::naive, ConvSpec, Image, Kernel};
/// let src = Image::<f32>::from_fn(4, 4, |y, x| (y * 4 + x) as f32)?;
/// let mut dst = Image::<f32>::zeros(4, 4)?;
/// naive(&ConvSpec::new(Kernel::from_rows(&[[0.0, 1.0, 0.0]])?), &src.view(), &mut dst.view_mut())?;
/// assert_eq!(dst, src); // the identity kernel
/// # Ok::<(), convc_core::ConvError>(())
/// ```
pub fn naive<T: Element>(
    spec: &ConvSpec,
    input: &ImageView<'_, T>,
    output: &mut ImageViewMut<'_, T>,
) -> Result<()> {
    if T::DTYPE != spec.dtype {
        return Err(ConvError::DTypeMismatch {
            expected: spec.dtype,
            got: T::DTYPE,
        });
    }
    let plan_shape = crate::Plan::new(spec)?.geometry(input.shape())?.output;
    crate::exec::check_output(plan_shape, output.shape())?;
    let k = spec.applied_kernel();
    let (kh, kw) = (k.height(), k.width());
    let coeffs: Vec<T> = k.coeffs().iter().map(|&c| T::from_f64(c)).collect();
    let pads = spec.pads()?;
    let (s, d) = (spec.stride, spec.dilation);
    let (h, w) = (input.height(), input.width());
    let c = T::from_f64(spec.border.constant());
    for y in 0..output.height() {
        let row = output.row_mut(y);
        for (x, o) in row.iter_mut().enumerate() {
            let mut acc = T::ZERO;
            for m in 0..kh {
                for n in 0..kw {
                    let p = (y * s.y + m * d.y) as isize - pads.top as isize;
                    let q = (x * s.x + n * d.x) as isize - pads.left as isize;
                    let v = match (spec.border.map(p, h), spec.border.map(q, w)) {
                        (Source::Index(r), Source::Index(col)) => input.get(r, col),
                        _ => c,
                    };
                    acc = acc + coeffs[m * kw + n] * v;
                }
            }
            *o = acc;
        }
    }
    Ok(())
}
