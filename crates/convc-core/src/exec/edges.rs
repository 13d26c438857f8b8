//! The left and right edges of direct plans: output columns whose taps read past
//! the input row.
//!
//! For each edge the driver fills a small buffer per window row with the padded
//! values (through the border rule) and runs the generic row loop over it, so an
//! edge costs a copy of a few dozen elements plus ordinary vectorizable loops, not
//! a border test per tap.

use std::ops::Range;

use crate::border::Source;
use crate::plan::{Geometry, Plan};

/// One edge: output columns `cols`, reading padded columns `origin..origin + len`.
#[derive(Debug, Clone)]
pub(crate) struct Edge {
    /// Output columns.
    pub(crate) cols: Range<usize>,
    /// Padded column of buffer element 0.
    pub(crate) origin: usize,
    /// Where each buffer element comes from.
    pub(crate) sources: Vec<Source>,
}

impl Edge {
    /// The edges of a direct plan for one input shape: the columns left and right
    /// of the interior, or every column when there is no interior.
    pub(crate) fn for_plan(plan: &Plan, geom: &Geometry) -> Vec<Edge> {
        let ow = geom.output.width;
        let inner = geom.interior_x.clone();
        let spans = if inner.is_empty() {
            vec![0..ow]
        } else {
            vec![0..inner.start, inner.end..ow]
        };
        let (sx, dx, pl) = (plan.stride.x, plan.dilation.x, plan.pads.left as isize);
        let reach = (plan.kernel.width - 1) * dx;
        spans
            .into_iter()
            .filter(|c| !c.is_empty())
            .map(|cols| {
                let origin = cols.start * sx;
                let end = (cols.end - 1) * sx + reach + 1;
                let sources = (origin..end)
                    .map(|p| plan.border.map(p as isize - pl, geom.input.width))
                    .collect();
                Edge {
                    cols,
                    origin,
                    sources,
                }
            })
            .collect()
    }

    /// Buffer elements per window row.
    pub(crate) fn len(&self) -> usize {
        self.sources.len()
    }
}
