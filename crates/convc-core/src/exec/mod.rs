//! Executors, and the row driver every Plan-based backend shares.
//!
//! - [`reference()`]: the definition in `f64`, straight from DESIGN.md; the oracle.
//! - [`naive`]: the textbook four loops in the element type; the slowest honest baseline.
//! - [`Generic`]: the Plan, interpreted with the kernel in memory.
//!
//! The driver ([`execute`]) owns everything that is not the inner loop: checking
//! shapes, splitting output rows into bands for threads, choosing for each group of
//! output rows which input rows its taps read (border rows resolved here, so no
//! kernel ever tests a row index), the padded temporary row between separable
//! passes (or, horizontal pass first, the ring of filtered rows), and the thin
//! edges of border columns. A backend supplies only the row
//! loops ([`RowKernels`]), which never see a border.

mod edges;
mod generic;
mod horizontal_first;
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
use crate::plan::{Geometry, MAX_ROWS_PER_CALL, Method, Plan};
use crate::spec::Shape;
use edges::{Edge, Widened};
use generic::GenericKernels;
pub use horizontal_first::runs_horizontal_first;
use horizontal_first::{HorizontalFirst, Ring};

/// Bands smaller than this many output pixels are not worth a thread.
const MIN_BAND_PIXELS: usize = 1 << 16;

/// The row loops a backend provides; the driver calls them only where no tap
/// reads past an edge, so they never test a border.
///
/// Window convention (direct and vertical): `window[t]` is the input row under
/// padded row `y0 * stride.y + t`, where `y0` is the first output row of the call
/// (a row of the border constant where that padded row is constant), and output
/// row `j` of the call uses window rows `j * stride.y + m * dilation.y`. A call
/// covers `plan.rows_per_call` output rows (`out.len()`); rows past the image's
/// last are computed into scratch rows, never into the image.
///
/// Contract: each output element's value depends only on the input values it reads,
/// never on which call or which position in a call computed it (this is what makes
/// results identical for every thread count).
pub trait RowKernels<T: Element>: Sync {
    /// Direct plans, interior columns `cols` of each output row:
    /// `out[j][x] = sum of c * window[j*sy + m*dy][x*sx + n*dx - pads.left]`. Every
    /// column read lies inside the window rows (the input width).
    fn direct(&self, window: &[&[T]], out: &mut [&mut [T]], cols: Range<usize>);

    /// Separable plans, first pass, every input column `q` in `cols`:
    /// `tmp[j][q] = sum of v_m * window[j*sy + m*dy][q]`.
    fn vertical(&self, window: &[&[T]], tmp: &mut [&mut [T]], cols: Range<usize>);

    /// Separable plans, second pass, over a row padded by the border rule (`src[0]`
    /// is padded column 0): `out[x] = sum of h_n * src[x*sx + n*dx]` for `x` in
    /// `cols`, the stencil's scale applied.
    fn horizontal(&self, src: &[T], out: &mut [T], cols: Range<usize>);

    /// Whether the driver may compute the edge columns of direct plans with
    /// [`RowKernels::direct_edge`], and over how many output columns: the
    /// backend's direct loop runs over any columns of any rows (it is not code
    /// compiled for one input shape), and edges widened to that many columns
    /// (a vector) run its vector code. The driver then fills scratch rows with
    /// the padded values through the border rule and runs it over them;
    /// otherwise (`None`, the default) it runs its generic loops over those
    /// values.
    fn direct_edge_columns(&self) -> Option<usize> {
        None
    }

    /// [`RowKernels::direct`] over scratch window rows the driver filled, into
    /// scratch output rows it reads back at once: the same sums, stored plainly
    /// (a backend that streams its output stores overrides this). Called only
    /// when [`RowKernels::direct_edge_columns`] is some.
    fn direct_edge(&self, window: &[&[T]], out: &mut [&mut [T]], cols: Range<usize>) {
        self.direct(window, out, cols);
    }

    /// Separable plans run horizontal pass first ([`RowKernels::horizontal_first`]):
    /// how many output columns the driver widens each edge's horizontal pass
    /// to (towards the interior), so that the backend's vector code computes
    /// it rather than its loop for a few columns; the driver copies the edge's
    /// own columns out. `None` (the default): the edge's columns only.
    fn horizontal_edge_columns(&self) -> Option<usize> {
        None
    }

    /// Separable plans: output columns per strip, when the backend's passes are
    /// faster run strip by strip (the temporary columns a strip's vertical pass
    /// writes are still in L1 when its horizontal pass reads them) than over
    /// whole rows. `None` (the default): whole rows, one call of each pass per
    /// row of a call. The values are the same either way.
    fn separable_strip(&self) -> Option<usize> {
        None
    }

    /// Separable plans: whether the driver should run the horizontal pass first,
    /// over each padded input row into a ring of rows it lays out, and the
    /// vertical pass over the ring into the output rows (called with
    /// `window` = ring rows, `tmp` = output rows, `cols` = every output
    /// column), instead of the vertical pass first into temporary rows. A tall
    /// vertical pass then never reads image rows that share L1 sets (rows
    /// 16 KiB apart). The values differ in rounding only. `false` (the default):
    /// vertical first. The driver keeps the vertical pass first where
    /// [`runs_horizontal_first`] says no (a horizontal kernel spanning more
    /// than 256 padded columns).
    fn horizontal_first(&self) -> bool {
        false
    }

    /// Separable plans run horizontal pass first ([`RowKernels::horizontal_first`]):
    /// both passes of one call in one sweep over the interior output columns
    /// `cols`. For each vector of columns: the horizontal pass of input rows
    /// `sources[r]` (`sources[r][0]` is the first input column output column
    /// `cols.start` reads) into `new[r][x]` (`new[r]`: the ring rows of the
    /// call's new input rows, indexed by output column `x`), then the vertical
    /// pass over the window `old ++ new` (the call's ring rows, in window order)
    /// into `out[j][x]`: the same values as [`RowKernels::horizontal`] into `new`
    /// followed by [`RowKernels::vertical`] into `out`. Returns whether it ran;
    /// `false` (the default) leaves everything untouched, and the driver then
    /// runs the two passes one after the other.
    fn fused(
        &self,
        sources: &[&[T]],
        new: &mut [&mut [T]],
        old: &[&[T]],
        out: &mut [&mut [T]],
        cols: Range<usize>,
    ) -> bool {
        let _ = (sources, new, old, out, cols);
        false
    }

    /// Called by the thread that ran a band of output rows, after its last
    /// call for the band: a backend whose stores bypass the caches orders them
    /// here, before the band's results are handed over (`conv!`: `sfence`,
    /// once per band rather than after every call).
    fn band_done(&self) {}
}

/// Checks shapes and element type, then runs `plan` with `kernels` over `input`
/// into `output`, on `plan.threads` threads (all cores when `None`).
pub fn execute<T: Element, K: RowKernels<T> + ?Sized>(
    plan: &Plan,
    kernels: &K,
    input: &ImageView<'_, T>,
    output: &mut ImageViewMut<'_, T>,
) -> Result<()> {
    execute_with_threads(plan, kernels, input, output, plan.threads)
}

/// [`execute`] with the thread count given here instead of by the plan (`None`:
/// all cores). Results are identical for every count.
pub fn execute_with_threads<T: Element, K: RowKernels<T> + ?Sized>(
    plan: &Plan,
    kernels: &K,
    input: &ImageView<'_, T>,
    output: &mut ImageViewMut<'_, T>,
    threads: Option<usize>,
) -> Result<()> {
    if threads == Some(0) {
        return Err(ConvError::ZeroSize {
            what: "thread count",
        });
    }
    let geom = check(plan, input, output)?;
    let driver = Driver::new(
        plan,
        &geom,
        *input,
        kernels.direct_edge_columns(),
        kernels
            .horizontal_first()
            .then(|| kernels.horizontal_edge_columns()),
    );
    let mut rows = output.rows_mut();
    let r = plan.rows_per_call;
    let threads = threads.unwrap_or_else(rayon::current_num_threads).max(1);
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
    if !(1..=MAX_ROWS_PER_CALL).contains(&plan.rows_per_call) {
        return Err(ConvError::InvalidOption(format!(
            "a Plan computes 1 to {MAX_ROWS_PER_CALL} output rows per call, not {}",
            plan.rows_per_call
        )));
    }
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
    /// A row of the border constant, read where a whole padded row is constant.
    constant_row: Vec<T>,
    /// Direct plans: the edge columns and where their padded values come from.
    edges: Vec<Edge<T>>,
    /// Separable plans: padded columns the horizontal pass reads.
    padded_width: usize,
    /// Separable plans: the vertical pass over a column of the border constant.
    vertical_constant: T,
    /// Separable plans: the input columns the padded columns copy, as ranges.
    pad_sources: Vec<Range<usize>>,
    /// Separable plans run horizontal pass first: the layout of a row's pass.
    horizontal_first: Option<HorizontalFirst>,
}

impl<'a, T: Element> Driver<'a, T> {
    fn new(
        plan: &'a Plan,
        geom: &'a Geometry,
        input: ImageView<'a, T>,
        edge_columns: Option<usize>,
        // Where the backend asks for the horizontal pass first: the columns
        // its horizontal edges are widened to.
        horizontal_first: Option<Option<usize>>,
    ) -> Self {
        let constant = T::from_f64(plan.border.constant());
        let constant_row = vec![
            constant;
            if plan.border.is_constant() {
                geom.input.width
            } else {
                0
            }
        ];
        let generic = GenericKernels::new(plan);
        let (sx, dx, kw) = (plan.stride.x, plan.dilation.x, plan.kernel.width);
        let padded_width = (geom.output.width - 1) * sx + (kw - 1) * dx + 1;
        let vertical_constant = if plan.border.is_constant() {
            let window = vec![&constant_row[..1]; plan.window_rows()];
            let mut out = vec![vec![T::ZERO; 1]; plan.rows_per_call];
            let mut rows: Vec<&mut [T]> = out.iter_mut().map(Vec::as_mut_slice).collect();
            generic.vertical(&window, &mut rows, 0..1);
            out[0][0]
        } else {
            T::ZERO
        };
        let edges = match plan.method {
            Method::Direct(_) => Edge::for_plan(plan, geom, edge_columns),
            Method::Separable { .. } => Vec::new(),
        };
        let pad_sources = pad_sources(plan, geom.input.width, padded_width);
        let horizontal_first =
            horizontal_first.and_then(|columns| HorizontalFirst::new::<T>(plan, geom, columns));
        Driver {
            plan,
            geom,
            input,
            constant_row,
            edges,
            padded_width,
            vertical_constant,
            pad_sources,
            horizontal_first,
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
        let r = self.plan.rows_per_call;
        let span = self.plan.window_rows();
        let sy = self.plan.stride.y;
        let mut window: Vec<&[T]> = Vec::with_capacity(span);
        let mut scratch = Scratch::default();
        for g in (0..band.len()).step_by(r) {
            window.clear();
            let p0 = (y0 + g) * sy;
            if self.horizontal_first.is_none() {
                window.extend((p0..p0 + span).map(|p| self.source_row(p)));
            }
            let n = (band.len() - g).min(r);
            if n == r {
                self.group(kernels, p0, &window, &mut band[g..g + r], &mut scratch);
            } else {
                // The image's last group is short: the missing rows go to spare rows
                // so the kernels always see `r` rows.
                scratch
                    .spare
                    .resize_with(r - n, || vec![T::ZERO; self.geom.output.width]);
                let mut spare = std::mem::take(&mut scratch.spare);
                let mut out: Vec<&mut [T]> = band[g..]
                    .iter_mut()
                    .map(|row| &mut **row)
                    .chain(spare.iter_mut().map(Vec::as_mut_slice))
                    .collect();
                self.group(kernels, p0, &window, &mut out, &mut scratch);
                drop(out);
                scratch.spare = spare;
            }
        }
        kernels.band_done();
    }

    /// One call's worth of output rows; `p0` is the padded row under `window[0]`
    /// (`window` is empty where the horizontal pass runs first).
    fn group<K: RowKernels<T> + ?Sized>(
        &self,
        kernels: &K,
        p0: usize,
        window: &[&[T]],
        out: &mut [&mut [T]],
        scratch: &mut Scratch<T>,
    ) {
        match &self.plan.method {
            Method::Direct(_) => {
                let xs = self.geom.interior_x.clone();
                if !xs.is_empty() {
                    kernels.direct(window, out, xs);
                }
                for edge in &self.edges {
                    match &edge.widened {
                        Some(wide) => self.backend_edge(kernels, edge, wide, window, out, scratch),
                        None => self.direct_edge(edge, window, out, &mut scratch.edge),
                    }
                }
            }
            Method::Separable { .. } => match &self.horizontal_first {
                Some(hf) => self.horizontal_first(
                    kernels,
                    hf,
                    p0,
                    out,
                    &mut scratch.ring,
                    &mut scratch.padded,
                ),
                None => self.separable(kernels, window, out, &mut scratch.padded),
            },
        }
    }

    /// Fills the edge's padded values for every window row, then runs the generic
    /// loop over them.
    fn direct_edge(&self, edge: &Edge<T>, window: &[&[T]], out: &mut [&mut [T]], buf: &mut Vec<T>) {
        let len = edge.len();
        let constant = T::from_f64(self.plan.border.constant());
        buf.clear();
        for row in window {
            buf.extend(edge.sources.iter().map(|s| match *s {
                Source::Index(c) => row[c],
                Source::Constant => constant,
            }));
        }
        let buf = &buf[..];
        edge.kernels.direct_rows(
            |t| &buf[t * len..(t + 1) * len],
            edge.origin,
            out,
            edge.cols.clone(),
        );
    }

    /// Fills the widened edge's scratch rows, runs the backend's direct loop
    /// over them, and copies the edge's columns into the output rows.
    fn backend_edge<K: RowKernels<T> + ?Sized>(
        &self,
        kernels: &K,
        edge: &Edge<T>,
        wide: &Widened,
        window: &[&[T]],
        out: &mut [&mut [T]],
        scratch: &mut Scratch<T>,
    ) {
        let constant = T::from_f64(self.plan.border.constant());
        let (len, width) = (wide.len, wide.at + wide.count);
        scratch.edge.resize(len * window.len(), T::ZERO);
        for (row, dst) in window.iter().zip(scratch.edge.chunks_mut(len)) {
            wide.fill(row, constant, dst);
        }
        scratch.edge_out.resize(width * out.len(), T::ZERO);
        let rows = scratch.edge.chunks(len);
        let cols = wide.at..width;
        // Window and output rows on the stack where they fit: this runs twice
        // per call.
        let mut outs: [&mut [T]; MAX_ROWS_PER_CALL] = Default::default();
        for (slot, row) in outs.iter_mut().zip(scratch.edge_out.chunks_mut(width)) {
            *slot = row;
        }
        let outs = &mut outs[..out.len()];
        const STACK_WINDOW: usize = 32;
        if window.len() <= STACK_WINDOW {
            let mut win: [&[T]; STACK_WINDOW] = [&[]; STACK_WINDOW];
            for (slot, row) in win.iter_mut().zip(rows) {
                *slot = row;
            }
            kernels.direct_edge(&win[..window.len()], outs, cols);
        } else {
            kernels.direct_edge(&rows.collect::<Vec<_>>(), outs, cols);
        }
        let from = wide.at + edge.cols.start - wide.first;
        for (o, s) in out.iter_mut().zip(outs.iter()) {
            o[edge.cols.clone()].copy_from_slice(&s[from..from + edge.cols.len()]);
        }
    }

    /// Vertical pass into padded temporary rows, border columns filled from the
    /// row itself (or the constant), then the horizontal pass into each output
    /// row. With a strip width from the backend, both passes go strip by strip of
    /// output columns: first the columns the padding copies, then each strip's
    /// new columns and its outputs.
    fn separable<K: RowKernels<T> + ?Sized>(
        &self,
        kernels: &K,
        window: &[&[T]],
        out: &mut [&mut [T]],
        padded: &mut Vec<T>,
    ) {
        let (w, pl) = (self.geom.input.width, self.plan.pads.left);
        let stride = self.padded_width.max(pl + w);
        padded.resize(stride * out.len(), T::ZERO);
        let vertical = |padded: &mut Vec<T>, cols: Range<usize>| {
            // On the stack: with strips this runs once per strip, and a Vec per
            // call took 1.8% of gaussian 15x15 (`perf`).
            let mut tmp: [&mut [T]; MAX_ROWS_PER_CALL] = Default::default();
            let rows = padded.chunks_mut(stride).map(|row| &mut row[pl..pl + w]);
            let mut n = 0;
            for (slot, row) in tmp.iter_mut().zip(rows) {
                *slot = row;
                n += 1;
            }
            kernels.vertical(window, &mut tmp[..n], cols);
        };
        let ow = self.geom.output.width;
        let strip = kernels.separable_strip().filter(|&s| s > 0 && s < ow);
        if strip.is_some() {
            for cols in &self.pad_sources {
                vertical(padded, cols.clone());
            }
        } else {
            vertical(padded, 0..w);
        }
        for row in padded.chunks_mut(stride) {
            for p in (0..pl).chain(pl + w..self.padded_width) {
                row[p] = match self.plan.border.map(p as isize - pl as isize, w) {
                    Source::Index(c) => row[pl + c],
                    Source::Constant => self.vertical_constant,
                };
            }
        }
        let Some(strip) = strip else {
            for (row, o) in padded.chunks_mut(stride).zip(out.iter_mut()) {
                kernels.horizontal(&row[..self.padded_width], o, 0..ow);
            }
            return;
        };
        let (sx, dx, kw) = (
            self.plan.stride.x,
            self.plan.dilation.x,
            self.plan.kernel.width,
        );
        let mut done = 0;
        for x0 in (0..ow).step_by(strip) {
            let x1 = (x0 + strip).min(ow);
            // The input columns under the padded columns this strip reads.
            let need = ((x1 - 1) * sx + (kw - 1) * dx + 1)
                .saturating_sub(pl)
                .min(w);
            if need > done {
                vertical(padded, done..need);
                done = need;
            }
            for (row, o) in padded.chunks_mut(stride).zip(out.iter_mut()) {
                kernels.horizontal(&row[..self.padded_width], o, x0..x1);
            }
        }
    }
}

/// The input columns a separable plan's padded columns copy (border rule over
/// `width` input columns, `padded_width` padded ones), merged into ranges.
fn pad_sources(plan: &Plan, width: usize, padded_width: usize) -> Vec<Range<usize>> {
    if !matches!(plan.method, Method::Separable { .. }) {
        return Vec::new();
    }
    let pl = plan.pads.left;
    let mut sources: Vec<usize> = (0..pl)
        .chain(pl + width..padded_width)
        .filter_map(|p| match plan.border.map(p as isize - pl as isize, width) {
            Source::Index(c) => Some(c),
            Source::Constant => None,
        })
        .collect();
    sources.sort_unstable();
    sources.dedup();
    let mut ranges: Vec<Range<usize>> = Vec::new();
    for c in sources {
        match ranges.last_mut() {
            Some(r) if r.end == c => r.end += 1,
            _ => ranges.push(c..c + 1),
        }
    }
    ranges
}

/// Buffers a band reuses from call to call.
struct Scratch<T> {
    /// Output rows past the image's last (short final group).
    spare: Vec<Vec<T>>,
    /// Padded edge values of direct plans.
    edge: Vec<T>,
    /// Output rows of the edges the backend computes.
    edge_out: Vec<T>,
    /// Padded temporary rows of separable plans (horizontal pass first: an
    /// edge's padded columns).
    padded: Vec<T>,
    /// Horizontally filtered rows, where the horizontal pass runs first.
    ring: Ring<T>,
}

impl<T> Default for Scratch<T> {
    fn default() -> Self {
        Scratch {
            spare: Vec::new(),
            edge: Vec::new(),
            edge_out: Vec::new(),
            padded: Vec::new(),
            ring: Ring::default(),
        }
    }
}

#[cfg(test)]
mod tests;
