//! Plan -> row stencils: what each generated function computes, as plain data.
//!
//! The Plan decided everything (terms, scale, stride, dilation, padding, rows per
//! call, fixed input shape); this pass only re-expresses it in the terms the code
//! generator needs: for every tap, which row pointer it reads and at which column
//! offset. One [`RowStencil`] per interior loop of [`convc_core::exec::RowKernels`].

use std::fmt;
use std::ops::Range;

use convc_core::plan::{Method, Stencil};
use convc_core::{DType, Plan, Result};

/// Which [`convc_core::exec::RowKernels`] method a stencil implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PassKind {
    /// `direct`: `rows_per_call` output rows from a window of input rows.
    Direct,
    /// `vertical`: `rows_per_call` temporary rows from a window of input rows
    /// (separable plans, first pass).
    Vertical,
    /// `horizontal`: one padded temporary row into one output row (separable
    /// plans, second pass).
    Horizontal,
}

impl PassKind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            PassKind::Direct => "direct",
            PassKind::Horizontal => "horizontal",
            PassKind::Vertical => "vertical",
        }
    }
}

impl fmt::Display for PassKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One tap as the generated code sees it: input row pointer `row` (for output row
/// 0 of a call; output row `j` adds `j * row_step`) at column `x * sx + col - left`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LTap {
    pub row: usize,
    pub col: usize,
}

/// A Plan [`convc_core::plan::Term`]: `coeff * (sum plus - sum minus)`; `coeff` is
/// `None` for a unit term (add/sub, no multiply).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LTerm {
    pub coeff: Option<f64>,
    pub plus: Vec<LTap>,
    pub minus: Vec<LTap>,
}

/// Everything one generated row function computes:
/// `out[j][x] = scale * sum over terms` for `x` in the column range and `j` in
/// `0..out_rows`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RowStencil {
    pub kind: PassKind,
    pub dtype: DType,
    /// Output rows per call (`plan.rows_per_call` for direct and vertical passes,
    /// 1 for horizontal ones).
    pub out_rows: usize,
    /// Input rows between the windows of consecutive output rows (stride y).
    pub row_step: usize,
    /// Input row pointers the function is given (the window length).
    pub in_rows: usize,
    pub terms: Vec<LTerm>,
    /// Applied once to the sum; `None` when it is 1.
    pub scale: Option<f64>,
    /// Output column step in input columns (stride x; 1 for vertical passes).
    pub sx: usize,
    /// Subtracted from every column read (left padding for direct passes; 0 for
    /// the separable passes, whose rows start at column 0 of what they read).
    pub left: usize,
    /// The column range every call covers, when the input shape is fixed.
    pub cols: Option<Range<usize>>,
    /// The plan is bound by memory traffic, not by its multiply-adds
    /// ([`convc_core::Plan::is_heavy`] is false).
    pub light: bool,
    /// Separable plans the driver runs horizontal pass first
    /// ([`horizontal_first`]): the horizontal pass reads image rows and writes
    /// cache-resident rows, the vertical pass writes the output rows.
    pub horizontal_first: bool,
}

impl RowStencil {
    /// Every tap, with its sign.
    pub(crate) fn taps(&self) -> impl Iterator<Item = LTap> + '_ {
        self.terms
            .iter()
            .flat_map(|t| t.plus.iter().chain(&t.minus).copied())
    }

    /// Smallest and largest column offset of any tap (`(0, 0)` without taps).
    pub(crate) fn col_span(&self) -> (usize, usize) {
        let lo = self.taps().map(|t| t.col).min().unwrap_or(0);
        let hi = self.taps().map(|t| t.col).max().unwrap_or(0);
        (lo, hi)
    }

    /// Largest input row index any output row of a call reads, if any tap exists.
    pub(crate) fn max_row(&self) -> Option<usize> {
        let last = (self.out_rows - 1) * self.row_step;
        self.taps().map(|t| t.row + last).max()
    }

    /// What a call reads, computed once per compiled pass (the per-call bounds
    /// proof would otherwise walk every tap three times per row).
    pub(crate) fn reach(&self) -> Option<Reach> {
        let (lo, hi) = self.col_span();
        self.max_row().map(|max_row| Reach { max_row, lo, hi })
    }
}

/// The input a pass reads: rows `0..=max_row` of its window, columns
/// `x * sx + lo - left ..= x * sx + hi - left` for output column `x`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Reach {
    pub max_row: usize,
    pub lo: usize,
    pub hi: usize,
}

/// The generated functions a Plan needs.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Lowered {
    pub direct: Option<RowStencil>,
    pub vertical: Option<RowStencil>,
    pub horizontal: Option<RowStencil>,
}

impl Lowered {
    pub(crate) fn stencils(&self) -> impl Iterator<Item = &RowStencil> {
        [&self.direct, &self.vertical, &self.horizontal]
            .into_iter()
            .flatten()
    }
}

/// `row_mul`/`col_mul`: how far one kernel row/column moves in the source.
fn terms(st: &Stencil, row_mul: usize, col_mul: usize) -> Vec<LTerm> {
    let tap = |t: &convc_core::plan::Tap| LTap {
        row: t.row * row_mul,
        col: t.col * col_mul,
    };
    st.terms
        .iter()
        .map(|t| LTerm {
            coeff: (!t.is_unit()).then_some(t.coeff),
            plus: t.plus.iter().map(tap).collect(),
            minus: t.minus.iter().map(tap).collect(),
        })
        .collect()
}

fn scale(st: &Stencil) -> Option<f64> {
    (st.scale != 1.0).then_some(st.scale)
}

/// Whether the JIT asks the driver to run `plan` horizontal pass first
/// ([`convc_core::exec::RowKernels::horizontal_first`]): separable plans, whose
/// vertical windows of image rows 16 KiB apart at width 4096 otherwise thrash
/// the L1 sets. `convc bench` at 4096x4096: gaussian 15x15 20.6-20.8 -> 18.6-18.7
/// ms on an Intel Xeon; on an AMD EPYC (Zen 4, 8-way L1), where light plans gain
/// too, gaussian 5x5 14.0-15.4 -> 11.0-11.4 ms (13.0-13.1 -> 13.4-13.5 on the
/// Xeon, within its noise).
/// Not code compiled for one input shape: its horizontal pass covers every
/// output column at once, not an edge or the interior alone.
pub(crate) fn horizontal_first(plan: &Plan) -> bool {
    plan.input.is_none() && convc_core::exec::runs_horizontal_first(plan)
}

/// Lowers `plan` into the row functions to generate.
///
/// With a fixed input shape, the column ranges are constants and a pass whose
/// interior is empty (the driver never calls it) is left out.
pub(crate) fn lower(plan: &Plan) -> Result<Lowered> {
    let geom = match plan.input {
        Some(shape) => Some(plan.geometry(shape)?),
        None => None,
    };
    let interior = geom.as_ref().map(|g| g.interior_x.clone());
    let needed = |cols: &Option<Range<usize>>| cols.as_ref().is_none_or(|c| !c.is_empty());
    let (sx, left) = (plan.stride.x, plan.pads.left);
    let (dy, dx) = (plan.dilation.y, plan.dilation.x);
    let mut out = Lowered {
        direct: None,
        vertical: None,
        horizontal: None,
    };
    match &plan.method {
        Method::Direct(st) => {
            let s = RowStencil {
                kind: PassKind::Direct,
                dtype: plan.dtype,
                out_rows: plan.rows_per_call,
                row_step: plan.stride.y,
                in_rows: plan.window_rows(),
                terms: terms(st, dy, dx),
                scale: scale(st),
                sx,
                left,
                cols: interior.clone(),
                light: !plan.is_heavy(),
                horizontal_first: false,
            };
            out.direct = needed(&s.cols).then_some(s);
        }
        Method::Separable {
            vertical,
            horizontal,
        } => {
            // Vertical first: a window of input rows into `rows_per_call`
            // temporary rows, over every input column.
            out.vertical = Some(RowStencil {
                kind: PassKind::Vertical,
                dtype: plan.dtype,
                out_rows: plan.rows_per_call,
                row_step: plan.stride.y,
                in_rows: plan.window_rows(),
                terms: terms(vertical, dy, 0),
                scale: scale(vertical),
                sx: 1,
                left: 0,
                cols: geom.as_ref().map(|g| 0..g.input.width),
                light: !plan.is_heavy(),
                horizontal_first: horizontal_first(plan),
            });
            // Then each temporary row, padded by the border rule (element 0 is
            // padded column 0), into an output row.
            out.horizontal = Some(RowStencil {
                kind: PassKind::Horizontal,
                dtype: plan.dtype,
                out_rows: 1,
                row_step: 0,
                in_rows: 1,
                terms: terms(horizontal, 0, dx),
                scale: scale(horizontal),
                sx,
                left: 0,
                cols: geom.as_ref().map(|g| 0..g.output.width),
                light: !plan.is_heavy(),
                horizontal_first: horizontal_first(plan),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use convc_core::{Border, ConvSpec, Mode, named};

    fn plan(spec: &ConvSpec) -> Plan {
        Plan::new(spec).unwrap()
    }

    #[test]
    fn sobel_lowers_to_one_direct_pass_with_unit_and_scaled_terms() {
        let spec = ConvSpec::new(named::build("sobel_x", &[], None).unwrap()).dilation_yx(2, 3);
        let l = lower(&plan(&spec)).unwrap();
        assert!(l.horizontal.is_none() && l.vertical.is_none());
        let d = l.direct.unwrap();
        // Two output rows per call (six taps, light), each reaching 2 * 2 rows down.
        assert_eq!((d.out_rows, d.row_step), (2, 1));
        assert_eq!(d.in_rows, 1 + 5);
        assert_eq!(d.terms.len(), 2);
        assert_eq!(d.terms[0].coeff, None);
        assert_eq!(d.terms[1].coeff, Some(2.0));
        // x[1,2] - x[1,0] with dilation (2, 3): row 2, columns 6 and 0.
        assert_eq!(d.terms[1].plus, vec![LTap { row: 2, col: 6 }]);
        assert_eq!(d.terms[1].minus, vec![LTap { row: 2, col: 0 }]);
        assert_eq!(d.col_span(), (0, 6));
        assert_eq!(d.max_row(), Some(1 + 4));
        assert_eq!(d.left, 3);
        assert_eq!(d.cols, None);
    }

    #[test]
    fn gaussian_lowers_to_vertical_then_horizontal_with_one_scale() {
        let spec = ConvSpec::new(named::build("gaussian", &[], Some((5, 5))).unwrap())
            .input_shape(20, 30)
            .stride_yx(2, 3)
            .border(Border::Zero);
        let l = lower(&plan(&spec)).unwrap();
        let (v, h) = (l.vertical.unwrap(), l.horizontal.unwrap());
        // The vertical pass: rows_per_call rows from a window, every input column.
        assert_eq!(v.scale, None);
        assert_eq!((v.out_rows, v.row_step, v.in_rows), (4, 2, 3 * 2 + 5));
        assert_eq!(v.max_row(), Some(3 * 2 + 4));
        assert_eq!((v.sx, v.left), (1, 0));
        assert_eq!(v.cols, Some(0..30));
        assert!(v.taps().all(|t| t.col == 0));
        // The horizontal pass: one padded row (element 0 = padded column 0).
        assert_eq!(h.scale, Some(1.0 / 256.0));
        assert_eq!((h.out_rows, h.in_rows, h.sx, h.left), (1, 1, 3, 0));
        assert_eq!(h.cols, Some(0..10));
        assert!(h.taps().all(|t| t.row == 0));
        assert_eq!(h.col_span(), (0, 4));
    }

    #[test]
    fn fixed_shape_without_interior_drops_the_pass() {
        let spec = ConvSpec::new(named::build("box", &[], Some((5, 5))).unwrap())
            .strategy(convc_core::Strategy::Direct)
            .mode(Mode::Same)
            .input_shape(3, 3);
        let l = lower(&plan(&spec)).unwrap();
        assert!(l.direct.is_none());
        assert_eq!(l.stencils().count(), 0);
    }
}
