//! The left and right edges of direct plans: output columns whose taps read past
//! the input row.
//!
//! For each edge the driver fills a small buffer per window row with the padded
//! values (through the border rule) and runs the generic row loop over it, so an
//! edge costs a copy of a few dozen elements plus ordinary vectorizable loops, not
//! a border test per tap.

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
}

impl<T: Element> Edge<T> {
    /// The edges of a direct plan for one input shape: the columns left and right
    /// of the interior, or every column when there is no interior.
    ///
    /// The buffer holds the padded columns from the first tap to the last, or,
    /// when the dilation leaves gaps wider than what the taps read, one segment
    /// per kernel column: the loops then step by a segment instead of by the
    /// dilation, so a dilation in the millions costs no more than the taps read.
    pub(crate) fn for_plan(plan: &Plan, geom: &Geometry) -> Vec<Edge<T>> {
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
