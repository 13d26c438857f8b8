//! Separable plans, horizontal pass first (for backends that ask for it:
//! [`RowKernels::horizontal_first`](super::RowKernels::horizontal_first)).
//!
//! The horizontal pass runs once over every padded input row a band needs, into
//! a ring of rows; the vertical pass of each call then reads its window from the
//! ring and writes the output rows. Against the vertical pass first, the tall
//! window is read from rows the driver lays out, never from the image: image
//! rows whose pitch is a multiple of 4 KiB (a 1024- or 4096-wide `f32` image)
//! all fall in the same L1 sets, and the 18 rows a 15-tap vertical pass of four
//! output rows reads then evict each other on every vector (the JIT's gaussian
//! 15x15 at 4096x4096: 20.6-21.1 ms reading the image, 18.9-19.7 with a pitch of
//! 4100). The horizontal pass reads the image row in place over its interior
//! and through a short padded scratch row over each edge.
//!
//! The ring's rows are laid out a few cache lines off a multiple of 4 KiB, so
//! that a window of them spreads over the sets. Row `p` of padded input lives in
//! slot `p % slots`, with as many slots as a call's window has rows: a window's
//! rows never share a slot, and rows it shares with the previous call's window
//! are reused.
//!
//! Every slot starts at the first output row's offset within a cache line, so
//! that where a backend's output vectors are aligned (streaming stores need
//! it), its ring vectors are too. On an AMD Zen 4, which splits a 512-bit access
//! into two 256-bit halves, a ring 16 or 48 bytes off that offset puts one half
//! of every ring access across two cache lines: conv!'s gaussian 5x5 sweep at
//! 4096 x 4096 ran 8.1-10.5 ms with its ring there and 6.0-7.5 ms (one run in
//! 32 8.7) with it 0 or 32 bytes off, over 112 ring offsets modulo 4 KiB. The
//! ring used to fall where `Vec`'s allocator put it (16 bytes aligned): 5.7-6.1
//! ms or 8.2-8.7 by the process's history, the "two states" of the sixth
//! session.
//!
//! A backend may sweep both passes of a call at once
//! ([`RowKernels::fused`](super::RowKernels::fused)):
//! once the ring holds every row of a call's window but the new ones, the
//! driver hands it the new image rows, their ring rows, the old ring rows and
//! the output rows for the interior columns, and runs the two passes over the
//! edge columns itself. Reads of the image and writes of the output then
//! overlap instead of taking turns (conv!'s gaussian 5x5 at 4096 x 4096 on an
//! AMD Zen 4: 8.6 -> 5.9 ms).
//!
//! The values differ from those of the vertical pass first in rounding only
//! (both sum the same products, within DESIGN.md's bound); they are the same for
//! every thread count, since every ring row is computed the same way in every
//! band.

use std::ops::Range;

use crate::border::Source;
use crate::element::Element;
use crate::exec::edges::ScratchRow;
use crate::exec::{Driver, RowKernels};
use crate::plan::{Geometry, MAX_ROWS_PER_CALL, Method, Plan};

/// Widest horizontal kernel span, in padded columns, the driver runs
/// horizontal-first: each edge's scratch row holds about that many columns.
const MAX_EDGE_SPAN: usize = 256;

/// Most rows in a call's window (and in the ring) for the horizontal pass first.
const MAX_RING_ROWS: usize = 64;

/// Most bytes of ring a band may allocate: a wider image keeps the vertical
/// pass first, whose temporary rows are only a call's output rows.
const MAX_RING_BYTES: usize = 256 << 20;

/// Whether the driver runs `plan` horizontal pass first when its backend asks
/// ([`RowKernels::horizontal_first`]): a separable plan whose horizontal kernel
/// spans at most 256 padded columns (a larger dilation keeps the vertical pass
/// first, whose padded rows cost nothing extra at the edges), whose call
/// window spans at most 64 rows and reads every one of them (the horizontal
/// pass runs over every row of the window: a vertical dilation that skips
/// rows would filter rows nothing reads). The driver also keeps the vertical
/// pass first for images so wide that the ring would pass 256 MiB.
///
/// ```
/// use convc_core::{ConvSpec, Plan, exec, named};
///
/// let blur = ConvSpec::new(named::build("gaussian", &[], Some((15, 15)))?);
/// assert!(exec::runs_horizontal_first(&Plan::new(&blur)?));
/// let dense = ConvSpec::new(named::build("laplacian", &[], None)?);
/// assert!(!exec::runs_horizontal_first(&Plan::new(&dense)?));
/// # Ok::<(), convc_core::ConvError>(())
/// ```
pub fn runs_horizontal_first(plan: &Plan) -> bool {
    let (dx, kw) = (plan.dilation.x, plan.kernel.width);
    let (sy, dy, kh) = (plan.stride.y, plan.dilation.y, plan.kernel.height);
    let span = plan.window_rows();
    let every_row_read = || {
        let mut read = [false; MAX_RING_ROWS];
        for j in 0..plan.rows_per_call {
            for m in 0..kh {
                read[j * sy + m * dy] = true;
            }
        }
        read[..span].iter().all(|&r| r)
    };
    matches!(plan.method, Method::Separable { .. })
        && (kw - 1)
            .checked_mul(dx)
            .is_some_and(|reach| reach <= MAX_EDGE_SPAN)
        && span <= MAX_RING_ROWS
        && every_row_read()
}

/// Most window rows the driver passes to the kernels from a stack array.
const STACK_WINDOW: usize = 64;

/// Bytes a ring row is laid out past a multiple of 4 KiB: three cache lines, so
/// that 21 consecutive rows fall in 63 different L1 sets.
const RING_OFFSET_BYTES: usize = 192;

/// The parts of the horizontal pass over one input row, fixed for an input shape.
#[derive(Debug, Clone)]
pub(crate) struct HorizontalFirst {
    /// Output columns whose taps all read inside the input row.
    interior: Range<usize>,
    /// The left and right edges (outputs `0..interior.start` and
    /// `interior.end..output width`); the left one has every output when there
    /// is no interior.
    edges: [HorizontalEdge; 2],
    /// Elements between two ring rows.
    pitch: usize,
    /// Padded columns the output columns read.
    padded_width: usize,
}

/// One edge of the horizontal pass: output columns `outputs`, computed by the
/// backend's horizontal pass as `count` columns from `first` (containing
/// `outputs`: an edge narrower than the backend's vector is widened towards the
/// interior, so that its vector code runs) over a scratch row of the padded
/// columns they read. The horizontal pass of gaussian 15x15 went through a
/// scalar loop and the border rule per element for its 7 edge columns: 15% of
/// `conv!`'s time at 1024 x 1024.
#[derive(Debug, Clone)]
struct HorizontalEdge {
    outputs: Range<usize>,
    first: usize,
    count: usize,
    /// Elements of the scratch row.
    len: usize,
    fill: ScratchRow,
}

impl HorizontalEdge {
    fn new(plan: &Plan, geom: &Geometry, outputs: Range<usize>, columns: usize) -> HorizontalEdge {
        let (sx, dx, kw) = (plan.stride.x, plan.dilation.x, plan.kernel.width);
        let ow = geom.output.width;
        let count = if outputs.is_empty() {
            0
        } else {
            outputs.len().max(columns).min(ow)
        };
        let first = if outputs.start == 0 {
            0
        } else {
            outputs.end - count
        };
        let len = if count == 0 {
            0
        } else {
            (count - 1) * sx + (kw - 1) * dx + 1
        };
        let (pl, w) = (plan.pads.left as isize, geom.input.width);
        let origin = (first * sx) as isize - pl;
        let fill = ScratchRow::new((0..len).map(|q| plan.border.map(origin + q as isize, w)));
        HorizontalEdge {
            outputs,
            first,
            count,
            len,
            fill,
        }
    }
}

impl HorizontalFirst {
    /// The layout for `plan` over `geom`, `None` where the plan does not run
    /// horizontal pass first ([`runs_horizontal_first`]); edges widened to
    /// `edge_columns` outputs ([`RowKernels::horizontal_edge_columns`]).
    pub(crate) fn new<T: Element>(
        plan: &Plan,
        geom: &Geometry,
        edge_columns: Option<usize>,
    ) -> Option<HorizontalFirst> {
        if !runs_horizontal_first(plan) {
            return None;
        }
        let (sx, dx, kw) = (plan.stride.x, plan.dilation.x, plan.kernel.width);
        let reach = (kw - 1) * dx;
        let (ow, w, pl) = (geom.output.width, geom.input.width, plan.pads.left);
        // Output x reads input columns x * sx - pl ..= x * sx + reach - pl.
        let start = pl.div_ceil(sx).min(ow);
        let end = (w + pl)
            .checked_sub(reach + 1)
            .map_or(0, |last| last / sx + 1)
            .min(ow);
        let padded_end = (ow - 1) * sx + reach + 1;
        let (interior, outputs) = if start < end {
            (start..end, [0..start, end..ow])
        } else {
            (0..0, [0..ow, ow..ow])
        };
        let edges = outputs.map(|o| HorizontalEdge::new(plan, geom, o, edge_columns.unwrap_or(0)));
        let size = std::mem::size_of::<T>();
        let pitch_bytes = (ow.checked_mul(size)?.checked_next_multiple_of(4096)?)
            .checked_add(RING_OFFSET_BYTES)?;
        if pitch_bytes.checked_mul(plan.window_rows())? > MAX_RING_BYTES {
            return None;
        }
        let pitch = pitch_bytes.div_ceil(size);
        Some(HorizontalFirst {
            interior,
            edges,
            pitch,
            padded_width: padded_end,
        })
    }

    /// How many edges are widened past their own columns.
    #[cfg(test)]
    pub(crate) fn widened_edges(&self) -> usize {
        self.edges
            .iter()
            .filter(|e| e.count > e.outputs.len())
            .count()
    }
}

/// The ring of horizontally filtered rows of one band.
pub(crate) struct Ring<T> {
    /// The slots, `span * pitch` elements from `data[start..]`.
    data: Vec<T>,
    /// Puts the slots at the first output row's offset within a cache line
    /// (see the module's docs).
    start: usize,
    /// Whether the kernels declined a sweep ([`RowKernels::fused`]): the
    /// driver then stops building its arguments.
    declines_sweeps: bool,
    /// The padded input row each slot holds.
    holds: Vec<Option<usize>>,
}

impl<T> Ring<T> {
    /// The first `len` elements of slot `s`.
    fn slot(&self, s: usize, pitch: usize, len: usize) -> &[T] {
        &self.data[self.start + s * pitch..][..len]
    }

    fn slot_mut(&mut self, s: usize, pitch: usize, len: usize) -> &mut [T] {
        &mut self.data[self.start + s * pitch..][..len]
    }
}

impl<T> Default for Ring<T> {
    fn default() -> Self {
        Ring {
            data: Vec::new(),
            start: 0,
            declines_sweeps: false,
            holds: Vec::new(),
        }
    }
}

impl<T: Element> Driver<'_, T> {
    /// One call's output rows, horizontal pass first: the window's rows not yet
    /// in the ring through the horizontal pass, then the vertical pass over the
    /// ring's rows into `out`.
    pub(crate) fn horizontal_first<K: RowKernels<T> + ?Sized>(
        &self,
        kernels: &K,
        hf: &HorizontalFirst,
        p0: usize,
        out: &mut [&mut [T]],
        ring: &mut Ring<T>,
        pad: &mut Vec<T>,
    ) {
        let span = self.plan.window_rows();
        let ow = self.geom.output.width;
        if ring.holds.len() != span {
            ring.holds = vec![None; span];
            let size = std::mem::size_of::<T>();
            ring.data = vec![T::ZERO; span * hf.pitch + 64 / size];
            // The pitch is a whole number of lines: every slot then sits
            // where the first one does.
            let want = out.first().map_or(0, |o| o.as_ptr() as usize % 64);
            let have = ring.data.as_ptr() as usize % 64;
            ring.start = (want + 64 - have) % 64 / size;
        }
        if self.fused_call(kernels, hf, p0, out, ring, pad) {
            return;
        }
        for p in p0..p0 + span {
            let slot = p % span;
            if ring.holds[slot] != Some(p) {
                let row = ring.slot_mut(slot, hf.pitch, ow);
                self.horizontal_row(kernels, hf, p, row, pad);
                ring.holds[slot] = Some(p);
            }
        }
        let row = |p: usize| ring.slot(p % span, hf.pitch, ow);
        if span <= STACK_WINDOW {
            let mut window: [&[T]; STACK_WINDOW] = [&[]; STACK_WINDOW];
            for (slot, p) in window.iter_mut().zip(p0..p0 + span) {
                *slot = row(p);
            }
            kernels.vertical(&window[..span], out, 0..ow);
        } else {
            let window: Vec<&[T]> = (p0..p0 + span).map(row).collect();
            kernels.vertical(&window, out, 0..ow);
        }
    }

    /// One call in one sweep ([`RowKernels::fused`]) where the backend has it
    /// and the call is in its steady state: the window's rows but the last
    /// `out.len()` already in the ring, those last ones image rows (not rows of
    /// the border constant), and interior columns to sweep. The new rows' edge
    /// columns then go through the horizontal pass, and the output's edge
    /// columns through the vertical pass. Returns whether it ran.
    fn fused_call<K: RowKernels<T> + ?Sized>(
        &self,
        kernels: &K,
        hf: &HorizontalFirst,
        p0: usize,
        out: &mut [&mut [T]],
        ring: &mut Ring<T>,
        pad: &mut Vec<T>,
    ) -> bool {
        let span = self.plan.window_rows();
        let (rows, ow) = (out.len(), self.geom.output.width);
        if ring.declines_sweeps
            || self.plan.stride.y != 1
            || rows >= span
            || rows > MAX_ROWS_PER_CALL
            || span > STACK_WINDOW
            || hf.interior.is_empty()
        {
            return false;
        }
        let first_new = p0 + span - rows;
        if (p0..first_new).any(|p| ring.holds[p % span] != Some(p)) {
            return false;
        }
        // Stack arrays: this runs once per call.
        let from = hf.interior.start * self.plan.stride.x - self.plan.pads.left;
        let mut images: [&[T]; MAX_ROWS_PER_CALL] = [&[]; MAX_ROWS_PER_CALL];
        let mut sources: [&[T]; MAX_ROWS_PER_CALL] = [&[]; MAX_ROWS_PER_CALL];
        for (j, p) in (first_new..p0 + span).enumerate() {
            let r = p as isize - self.plan.pads.top as isize;
            match self.plan.border.map(r, self.geom.input.height) {
                Source::Index(i) => {
                    images[j] = self.input.row(i);
                    sources[j] = &images[j][from..];
                }
                Source::Constant => return false,
            }
        }
        // Ring slot `s` holds window row `t`, padded row `p0 + t` (`p % span == s`).
        let old_rows = span - rows;
        let mut old: [&[T]; STACK_WINDOW] = [&[]; STACK_WINDOW];
        let mut new: [&mut [T]; MAX_ROWS_PER_CALL] = Default::default();
        for (slot, chunk) in ring.data[ring.start..][..span * hf.pitch]
            .chunks_mut(hf.pitch)
            .enumerate()
        {
            let t = (slot + span - p0 % span) % span;
            let row = &mut chunk[..ow];
            match t.checked_sub(old_rows) {
                None => old[t] = row,
                Some(j) => new[j] = row,
            }
        }
        let (old, new) = (&old[..old_rows], &mut new[..rows]);
        if !kernels.fused(&sources[..rows], new, old, out, hf.interior.clone()) {
            // The same kernels over the same columns decline every call.
            ring.declines_sweeps = true;
            return false;
        }
        for (p, image) in (first_new..p0 + span).zip(images) {
            let slot = p % span;
            let row = ring.slot_mut(slot, hf.pitch, ow);
            self.horizontal_edges(kernels, hf, image, row, pad);
            ring.holds[slot] = Some(p);
        }
        let mut window: [&[T]; STACK_WINDOW] = [&[]; STACK_WINDOW];
        for (slot, p) in window.iter_mut().zip(p0..p0 + span) {
            *slot = ring.slot(p % span, hf.pitch, ow);
        }
        for edge in &hf.edges {
            if !edge.outputs.is_empty() {
                kernels.vertical(&window[..span], out, edge.outputs.clone());
            }
        }
        true
    }

    /// The horizontal pass over padded input row `p` into `dst` (output
    /// columns): the interior straight from the input row, each edge from a
    /// scratch row of its padded columns.
    fn horizontal_row<K: RowKernels<T> + ?Sized>(
        &self,
        kernels: &K,
        hf: &HorizontalFirst,
        p: usize,
        dst: &mut [T],
        pad: &mut Vec<T>,
    ) {
        let r = p as isize - self.plan.pads.top as isize;
        let (pl, sx) = (self.plan.pads.left, self.plan.stride.x);
        let row = match self.plan.border.map(r, self.geom.input.height) {
            Source::Index(i) => self.input.row(i),
            Source::Constant => {
                // A row of the border constant: every output from a constant row.
                pad.clear();
                pad.resize(hf.padded_width, T::from_f64(self.plan.border.constant()));
                let ow = dst.len();
                kernels.horizontal(pad, dst, 0..ow);
                return;
            }
        };
        let xs = hf.interior.clone();
        if !xs.is_empty() {
            let from = xs.start * sx - pl;
            kernels.horizontal(&row[from..], &mut dst[xs.clone()], 0..xs.len());
        }
        self.horizontal_edges(kernels, hf, row, dst, pad);
    }

    /// The edge columns of [`Driver::horizontal_row`] from image row `row`:
    /// each edge from a scratch row of its padded columns, into `dst` or, where
    /// it is widened, into scratch outputs it is copied from.
    fn horizontal_edges<K: RowKernels<T> + ?Sized>(
        &self,
        kernels: &K,
        hf: &HorizontalFirst,
        row: &[T],
        dst: &mut [T],
        pad: &mut Vec<T>,
    ) {
        let constant = T::from_f64(self.plan.border.constant());
        for edge in &hf.edges {
            if edge.outputs.is_empty() {
                continue;
            }
            let (len, count) = (edge.len, edge.count);
            pad.resize(len + count, T::ZERO);
            let (scratch, outs) = pad.split_at_mut(len);
            edge.fill.fill(row, constant, scratch);
            if count == edge.outputs.len() {
                kernels.horizontal(scratch, &mut dst[edge.outputs.clone()], 0..count);
            } else {
                kernels.horizontal(scratch, outs, 0..count);
                let from = edge.outputs.start - edge.first;
                dst[edge.outputs.clone()].copy_from_slice(&outs[from..][..edge.outputs.len()]);
            }
        }
    }
}
