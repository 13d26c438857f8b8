//! The left and right edges of direct plans: output columns whose taps read past
//! the input row.
//!
//! For each edge the driver fills a small buffer per window row with the padded
//! values (through the border rule) and runs a row loop over it, so an edge costs
//! a copy of a few dozen elements plus the loops, not a border test per tap. The
//! loop is the backend's own direct one where the backend offers it
//! ([`RowKernels::direct_edge_columns`](super::RowKernels::direct_edge_columns)):
//! the edge is then widened to the columns the backend asks for (a vector), so
//! that its vector code runs, into scratch rows from which the driver copies the
//! edge's columns (`conv!`'s dense 7x7 spent 5-7% of its time at 4096x4096, and
//! at 512x512 more than a quarter, in the generic loops of its six edge
//! columns). Elsewhere it is the generic loop.

use std::ops::Range;

use crate::border::Source;
use crate::element::Element;
use crate::exec::generic::GenericKernels;
use crate::plan::{Geometry, Plan};

/// One edge: output columns `cols`, reading a buffer of padded columns per
/// window row.
#[derive(Debug, Clone)]
pub(crate) struct Edge<T> {
    /// Output columns.
    pub(crate) cols: Range<usize>,
    /// Padded column that output `cols.start` reads first (its tap column 0).
    pub(crate) origin: usize,
    /// Where each buffer element comes from.
    pub(crate) sources: Vec<Source>,
    /// The generic loops, with the column step the buffer's layout needs.
    pub(crate) kernels: GenericKernels<T>,
    /// The layout for the backend's direct loop (`None` where the backend has
    /// none, or where its buffer would grow with a large dilation: the generic
    /// loops' segments do better).
    pub(crate) widened: Option<Widened>,
}

/// Largest span of a kernel row's taps, in columns, for which an edge goes
/// through the backend (its scratch rows hold that many columns more than its
/// outputs read).
const MAX_WIDENED_SPAN: usize = 256;

/// An edge widened to `count` output columns from `first` (containing the edge's
/// own), computed by the backend's direct loop over one scratch row per window
/// row into scratch output rows.
///
/// The backend computes scratch output columns `at..at + count`, `at` the first
/// whose taps read no scratch column below 0 (`at * sx >= pads.left`), and reads
/// scratch column `x' * sx + m * dx - pads.left` for output `x' - at + first`:
/// scratch column `q` holds input column `q + (first - at) * sx` through the
/// border rule.
#[derive(Debug, Clone)]
pub(crate) struct Widened {
    /// First output column computed.
    pub(crate) first: usize,
    /// Output columns computed.
    pub(crate) count: usize,
    /// Scratch output column of output column `first`.
    pub(crate) at: usize,
    /// Elements per scratch window row.
    pub(crate) len: usize,
    /// How a scratch window row is filled from its input row.
    fill: ScratchRow,
}

/// How a scratch row of padded values is filled from an input row: runs of
/// copied elements and of the border constant, worked out once per input shape
/// so that filling costs copies, not a border rule per element.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ScratchRow {
    runs: Vec<Run>,
}

/// Part of a scratch row: `len` elements from `to` on.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Run {
    /// Input elements `from..from + len`.
    Copy { to: usize, from: usize, len: usize },
    /// The border constant (or columns no tap reads).
    Constant { to: usize, len: usize },
}

impl ScratchRow {
    /// The row whose element `q` comes from `sources[q]`.
    pub(crate) fn new(sources: impl IntoIterator<Item = Source>) -> ScratchRow {
        let mut runs: Vec<Run> = Vec::new();
        for (q, source) in sources.into_iter().enumerate() {
            match (runs.last_mut(), source) {
                (Some(Run::Copy { from, len, .. }), Source::Index(i)) if *from + *len == i => {
                    *len += 1
                }
                (Some(Run::Constant { len, .. }), Source::Constant) => *len += 1,
                (_, Source::Index(from)) => runs.push(Run::Copy {
                    to: q,
                    from,
                    len: 1,
                }),
                (_, Source::Constant) => runs.push(Run::Constant { to: q, len: 1 }),
            }
        }
        ScratchRow { runs }
    }

    /// Fills `dst` (as many elements as the sources) from input row `row`.
    pub(crate) fn fill<T: Copy>(&self, row: &[T], constant: T, dst: &mut [T]) {
        for run in &self.runs {
            match *run {
                Run::Copy { to, from, len } => {
                    dst[to..to + len].copy_from_slice(&row[from..from + len]);
                }
                Run::Constant { to, len } => dst[to..to + len].fill(constant),
            }
        }
    }
}

impl Widened {
    /// The layout of edge `cols` widened to `columns` outputs (fewer where the
    /// output is narrower).
    fn new(plan: &Plan, geom: &Geometry, cols: &Range<usize>, columns: usize) -> Option<Widened> {
        let (sx, dx, kw) = (plan.stride.x, plan.dilation.x, plan.kernel.width);
        if (kw - 1).checked_mul(dx)? > MAX_WIDENED_SPAN {
            return None;
        }
        let (ow, width, left) = (geom.output.width, geom.input.width, plan.pads.left);
        let count = cols.len().max(columns).min(ow);
        // Widened towards the interior: the left edge to the right, the right
        // edge to the left.
        let first = if cols.start == 0 { 0 } else { cols.end - count };
        let at = left.div_ceil(sx);
        let len = (at + count - 1) * sx + (kw - 1) * dx + 1 - left;
        // Scratch column q holds input column q + shift; the columns below
        // `unread` lie left of every tap.
        let shift = (first * sx) as isize - (at * sx) as isize;
        let unread = at * sx - left;
        let fill = ScratchRow::new((0..len).map(|q| {
            if q < unread {
                Source::Constant
            } else {
                plan.border.map(q as isize + shift, width)
            }
        }));
        Some(Widened {
            first,
            count,
            at,
            len,
            fill,
        })
    }

    /// Fills `dst` (`len` elements) as the scratch row of input row `row`.
    pub(crate) fn fill<T: Copy>(&self, row: &[T], constant: T, dst: &mut [T]) {
        self.fill.fill(row, constant, dst);
    }
}

impl<T: Element> Edge<T> {
    /// The edges of a direct plan for one input shape: the columns left and right
    /// of the interior, or every column when there is no interior; each widened
    /// to `widen` output columns for the backend's loop, when it has one.
    ///
    /// The buffer holds the padded columns from the first tap to the last, or,
    /// when the dilation leaves gaps wider than what the taps read, one segment
    /// per kernel column: the loops then step by a segment instead of by the
    /// dilation, so a dilation in the millions costs no more than the taps read.
    pub(crate) fn for_plan(plan: &Plan, geom: &Geometry, widen: Option<usize>) -> Vec<Edge<T>> {
        let ow = geom.output.width;
        let inner = geom.interior_x.clone();
        let spans: [Range<usize>; 2] = if inner.is_empty() {
            [0..ow, ow..ow]
        } else {
            [0..inner.start, inner.end..ow]
        };
        let (sx, dx, kw) = (plan.stride.x, plan.dilation.x, plan.kernel.width);
        let pl = plan.pads.left as isize;
        let map = |p: usize| plan.border.map(p as isize - pl, geom.input.width);
        spans
            .into_iter()
            .filter(|c| !c.is_empty())
            .map(|cols| {
                let origin = cols.start * sx;
                // Padded columns one kernel column's taps read for these outputs.
                let segment = (cols.end - 1 - cols.start) * sx + 1;
                let contiguous = segment + (kw - 1) * dx;
                let (sources, step) = if contiguous <= kw * segment {
                    ((origin..origin + contiguous).map(map).collect(), dx)
                } else {
                    let columns = (0..kw).flat_map(|j| {
                        let first = origin + j * dx;
                        first..first + segment
                    });
                    (columns.map(map).collect(), segment)
                };
                Edge {
                    widened: widen.and_then(|n| Widened::new(plan, geom, &cols, n)),
                    cols,
                    origin,
                    sources,
                    kernels: GenericKernels::with_col_step(plan, step),
                }
            })
            .collect()
    }

    /// Buffer elements per window row.
    pub(crate) fn len(&self) -> usize {
        self.sources.len()
    }
}
