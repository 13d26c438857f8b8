//! Executors, and the row driver every Plan-based backend shares.
//!
//! - [`reference`]: the definition in `f64`, straight from DESIGN.md; the oracle.
//! - [`naive`]: the textbook four loops in the element type; the slowest honest baseline.
//! - [`Generic`]: the Plan, interpreted with the kernel in memory.
//!
//! The driver ([`execute`]) owns everything that is not the inner loop: checking
//! shapes, splitting output rows into bands for threads, choosing for each output
//! row which input rows its taps read (border rows resolved here, so no kernel ever
//! tests a row index), the ring of rows between separable passes, and the thin frame
//! of border columns. A backend supplies only the interior row loops ([`RowKernels`]),
//! which never see a border.

mod frame;
mod generic;
mod naive;
mod reference;

pub use generic::Generic;
pub use naive::naive;
pub use reference::{reference, reference_f64};

use std::ops::Range;

use rayon::prelude::*;

use crate::border::Source;
use crate::element::Element;
use crate::error::{ConvError, Result};
use crate::image::{ImageView, ImageViewMut};
use crate::plan::{Geometry, Method, Plan, Stencil};
use crate::spec::Shape;
use frame::ColumnMap;

/// Bands smaller than this many output pixels are not worth a thread.
const MIN_BAND_PIXELS: usize = 1 << 16;

/// The inner loops a backend provides; the driver calls them only on interior
/// columns, so they never test a border.
///
/// Contract: each output element's value depends only on the input values it reads,
/// never on which call or which position in a call computed it (this is what makes
/// results identical for every thread count).
pub trait RowKernels<T: Element>: Sync {
    /// Direct plans: output columns `cols` of `out.len()` (= `plan.rows_per_call`)
    /// consecutive output rows. `window[t]` is the input row under padded row
    /// `y0 * stride.y + t` (a row of the border constant where that row is
    /// constant); output row `j` uses window rows `j * stride.y + m * dilation.y`.
    /// Every column read, `x * stride.x + n * dilation.x - pads.left`, lies inside
    /// the row.
    fn direct(&self, window: &[&[T]], out: &mut [&mut [T]], cols: Range<usize>);

    /// Separable plans, first pass: `dst[x]` for `x` in `cols`, reading `src` (an
    /// input row) at `x * stride.x + n * dilation.x - pads.left`.
    fn horizontal(&self, src: &[T], dst: &mut [T], cols: Range<usize>);

    /// Separable plans, second pass: every `dst[x]` from `rows[m][x]`, where `rows[m]`
    /// is the horizontal result for kernel row `m` (dilation already applied).
    fn vertical(&self, rows: &[&[T]], dst: &mut [T]);
}

/// Checks shapes and element type, then runs `plan` with `kernels` over `input`
/// into `output`, on `plan.threads` threads (all cores when `None`).
pub fn execute<T: Element, K: RowKernels<T> + ?Sized>(
    plan: &Plan,
    kernels: &K,
    input: &ImageView<'_, T>,
    output: &mut ImageViewMut<'_, T>,
) -> Result<()> {
    let geom = check(plan, input, output)?;
    let driver = Driver::new(plan, &geom, *input);
    let mut rows = output.rows_mut();
    let r = plan.rows_per_call;
    let threads = plan
        .threads
        .unwrap_or_else(rayon::current_num_threads)
        .max(1);
    let min_rows = MIN_BAND_PIXELS.div_ceil(geom.output.width);
    // Bands hold whole groups of `r` rows, so grouping (and every value) is the
    // same for every thread count.
    let band = geom
        .output
        .height
        .div_ceil(threads)
        .max(min_rows)
        .next_multiple_of(r);
    if threads == 1 || band >= geom.output.height {
        driver.run_band(kernels, 0, &mut rows);
    } else {
        rows.par_chunks_mut(band)
            .enumerate()
            .for_each(|(i, b)| driver.run_band(kernels, i * band, b));
    }
    Ok(())
}

/// Validates element type and shapes for `plan`; returns the geometry.
pub fn check<T: Element>(
    plan: &Plan,
    input: &ImageView<'_, T>,
    output: &ImageViewMut<'_, T>,
) -> Result<Geometry> {
    if T::DTYPE != plan.dtype {
        return Err(ConvError::DTypeMismatch {
            expected: plan.dtype,
            got: T::DTYPE,
        });
    }
    let geom = plan.geometry(input.shape())?;
    check_output(geom.output, output.shape())?;
    Ok(geom)
}

pub(crate) fn check_output(expected: Shape, got: Shape) -> Result<()> {
    if expected != got {
        return Err(ConvError::ShapeMismatch {
            what: "output",
            expected_h: expected.height,
            expected_w: expected.width,
            got_h: got.height,
            got_w: got.width,
        });
    }
    Ok(())
}

/// Per-call state shared by all bands.
struct Driver<'a, T> {
    plan: &'a Plan,
    geom: &'a Geometry,
    input: ImageView<'a, T>,
    constant: T,
    /// A row of the border constant, read where a whole padded row is constant.
    constant_row: Vec<T>,
    frame: ColumnMap,
}

impl<'a, T: Element> Driver<'a, T> {
    fn new(plan: &'a Plan, geom: &'a Geometry, input: ImageView<'a, T>) -> Self {
        let constant = T::from_f64(plan.border.constant());
        let constant_row = if plan.border.is_constant() {
            vec![constant; geom.input.width]
        } else {
            Vec::new()
        };
        Driver {
            plan,
            geom,
            input,
            constant,
            constant_row,
            frame: ColumnMap::new(plan, geom),
        }
    }

    /// The input row (or constant row) under padded row `p`.
    #[inline]
    fn source_row(&self, p: usize) -> &[T] {
        let r = p as isize - self.plan.pads.top as isize;
        match self.plan.border.map(r, self.geom.input.height) {
            Source::Index(i) => self.input.row(i),
            Source::Constant => &self.constant_row,
        }
    }

    fn run_band<K: RowKernels<T> + ?Sized>(&self, kernels: &K, y0: usize, band: &mut [&mut [T]]) {
        match &self.plan.method {
            Method::Direct(st) => self.direct_band(st, kernels, y0, band),
            Method::Separable {
                horizontal,
                vertical,
            } => self.separable_band(horizontal, vertical, kernels, y0, band),
        }
    }

    fn direct_band<K: RowKernels<T> + ?Sized>(
        &self,
        st: &Stencil,
        kernels: &K,
        y0: usize,
        band: &mut [&mut [T]],
    ) {
        let r = self.plan.rows_per_call;
        let span = self.plan.window_rows();
        let sy = self.plan.stride.y;
        let mut window: Vec<&[T]> = Vec::with_capacity(span);
        let mut spare: Vec<Vec<T>> = Vec::new();
        for g in (0..band.len()).step_by(r) {
            window.clear();
            let p0 = (y0 + g) * sy;
            window.extend((p0..p0 + span).map(|p| self.source_row(p)));
            let n = (band.len() - g).min(r);
            if n == r {
                self.direct_rows(st, kernels, &window, &mut band[g..g + r]);
            } else {
                // The last group of the image is short: compute the missing rows into
                // spare rows so the kernel always sees `r` rows.
                spare.resize_with(r - n, || vec![T::ZERO; self.geom.output.width]);
                let mut out: Vec<&mut [T]> = band[g..]
                    .iter_mut()
                    .map(|row| &mut **row)
                    .chain(spare.iter_mut().map(Vec::as_mut_slice))
                    .collect();
                self.direct_rows(st, kernels, &window, &mut out);
            }
        }
    }

    fn direct_rows<K: RowKernels<T> + ?Sized>(
        &self,
        st: &Stencil,
        kernels: &K,
        window: &[&[T]],
        out: &mut [&mut [T]],
    ) {
        let xs = self.geom.interior_x.clone();
        if !xs.is_empty() {
            kernels.direct(window, out, xs);
        }
        frame::direct(st, self.plan, &self.frame, window, out, self.constant);
    }

    fn separable_band<K: RowKernels<T> + ?Sized>(
        &self,
        horizontal: &Stencil,
        vertical: &Stencil,
        kernels: &K,
        y0: usize,
        band: &mut [&mut [T]],
    ) {
        let ow = self.geom.output.width;
        let (kv, dy, sy) = (vertical.rows, self.plan.dilation.y, self.plan.stride.y);
        // Horizontal results of the rows the current output row needs, keyed by
        // padded row: each needed input row is filtered once per band.
        let ring_len = (kv - 1) * dy + 1;
        let mut ring = vec![T::ZERO; ring_len * ow];
        let mut tags = vec![usize::MAX; ring_len];
        let xs = self.geom.interior_x.clone();
        for (i, out) in band.iter_mut().enumerate() {
            let p0 = (y0 + i) * sy;
            for m in 0..kv {
                let p = p0 + m * dy;
                let slot = p % ring_len;
                if tags[slot] != p {
                    let src = self.source_row(p);
                    let dst = &mut ring[slot * ow..(slot + 1) * ow];
                    if !xs.is_empty() {
                        kernels.horizontal(src, dst, xs.clone());
                    }
                    frame::horizontal(horizontal, &self.frame, src, dst, self.constant);
                    tags[slot] = p;
                }
            }
            let rows: Vec<&[T]> = (0..kv)
                .map(|m| {
                    let slot = (p0 + m * dy) % ring_len;
                    &ring[slot * ow..(slot + 1) * ow]
                })
                .collect();
            kernels.vertical(&rows, out);
        }
    }
}

#[cfg(test)]
mod tests;
