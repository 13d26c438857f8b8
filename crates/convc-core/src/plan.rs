//! The Plan: what every backend lowers.
//!
//! A [`Plan`] is plain data decided once from a [`ConvSpec`]: the taps of each pass
//! (zero taps gone, ±1 taps marked by a unit coefficient, equal magnitudes grouped
//! so that symmetric pairs share one multiply, the common factor pulled out), the
//! padding, stride, dilation and border, and the schedule (rows per call). Backends
//! never re-decide any of it.
//!
//! Evaluation order every backend starts from (they may reassociate within DESIGN.md's
//! error bound): `out = scale * sum over terms of coeff * (sum plus taps - sum minus taps)`.

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;

use crate::analyze::{Analysis, Scaled, analyze};
use crate::border::Border;
use crate::element::DType;
use crate::error::{ConvError, Result};
use crate::spec::{Axes, ConvSpec, Op, Pads, Shape, Strategy};

/// One kernel tap: kernel row `row` and column `col` of the applied (already
/// flipped for convolve) kernel. It reads padded input position
/// `(y * stride.y + row * dilation.y, x * stride.x + col * dilation.x)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tap {
    /// Kernel row.
    pub row: usize,
    /// Kernel column.
    pub col: usize,
}

/// Taps sharing one coefficient magnitude: `coeff * (sum plus - sum minus)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Term {
    /// The shared magnitude (> 0); 1.0 means no multiply at all.
    pub coeff: f64,
    /// Taps added.
    pub plus: Vec<Tap>,
    /// Taps subtracted.
    pub minus: Vec<Tap>,
}

impl Term {
    /// True when the term needs no multiply.
    pub fn is_unit(&self) -> bool {
        self.coeff == 1.0
    }
    /// Every tap with its signed coefficient.
    pub fn signed_taps(&self) -> impl Iterator<Item = (Tap, f64)> + '_ {
        let c = self.coeff;
        self.plus
            .iter()
            .map(move |&t| (t, c))
            .chain(self.minus.iter().map(move |&t| (t, -c)))
    }
}

/// The taps of one pass and the factor applied once to their sum.
#[derive(Debug, Clone, PartialEq)]
pub struct Stencil {
    /// Kernel rows this pass spans (1 for a horizontal pass).
    pub rows: usize,
    /// Kernel columns this pass spans (1 for a vertical pass).
    pub cols: usize,
    /// Terms in a fixed order (first tap in row-major order).
    pub terms: Vec<Term>,
    /// Applied to the sum; 1.0 means no multiply.
    pub scale: f64,
}

impl Stencil {
    /// Groups the non-zero numerators of a `rows` x `cols` grid into terms.
    pub fn from_grid(rows: usize, cols: usize, grid: &Scaled) -> Stencil {
        let mut terms: Vec<Term> = Vec::new();
        // Term of each magnitude (bits of a finite non-zero value: equal bits,
        // equal values), so that a dense kernel of distinct values groups in
        // linear time: a linear search per tap took 44 s for a 1023 x 1023 LoG.
        let mut index: HashMap<u64, usize> = HashMap::new();
        for (i, &v) in grid.values.iter().enumerate() {
            if v == 0.0 {
                continue;
            }
            let tap = Tap {
                row: i / cols,
                col: i % cols,
            };
            let k = *index.entry(v.abs().to_bits()).or_insert_with(|| {
                terms.push(Term {
                    coeff: v.abs(),
                    plus: vec![],
                    minus: vec![],
                });
                terms.len() - 1
            });
            let term = &mut terms[k];
            if v > 0.0 {
                term.plus.push(tap);
            } else {
                term.minus.push(tap);
            }
        }
        Stencil {
            rows,
            cols,
            terms,
            scale: grid.scale,
        }
    }

    /// Number of taps (non-zero coefficients).
    pub fn taps(&self) -> usize {
        self.terms
            .iter()
            .map(|t| t.plus.len() + t.minus.len())
            .sum()
    }

    /// Multiplies the pass needs: one per non-unit term plus the scale.
    pub fn multiplies(&self) -> usize {
        self.terms.iter().filter(|t| !t.is_unit()).count() + usize::from(self.scale != 1.0)
    }

    /// Every tap with its full coefficient (`coeff * sign * scale`), in term order.
    pub fn flat_taps(&self) -> Vec<(Tap, f64)> {
        self.terms
            .iter()
            .flat_map(|t| t.signed_taps())
            .map(|(tap, c)| (tap, c * self.scale))
            .collect()
    }
}

/// How the output is computed.
#[derive(Debug, Clone, PartialEq)]
pub enum Method {
    /// One 2D pass over `rows_per_call` output rows at a time.
    Direct(Stencil),
    /// Two 1D passes: a vertical pass over a window of input rows (`rows_per_call`
    /// rows at a time, sharing the input rows they overlap on) into a temporary row,
    /// then a horizontal pass over that row, padded by the border rule, into the
    /// output row. The temporary rows stay in cache; no full-size temporary exists.
    Separable {
        /// Column pass over input rows (taps have `col == 0`).
        vertical: Stencil,
        /// Row pass over the padded temporary row (taps have `row == 0`); it applies
        /// the kernel's whole common factor.
        horizontal: Stencil,
    },
}

/// Where the fast paths apply for one input shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Geometry {
    /// Input shape.
    pub input: Shape,
    /// Output shape.
    pub output: Shape,
    /// Output columns whose every tap reads inside the input row: no border test.
    /// Empty when the kernel is wider than the input.
    pub interior_x: Range<usize>,
    /// Output rows whose every tap reads inside the input.
    pub interior_y: Range<usize>,
}

/// Everything a backend needs, decided once.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Element type.
    pub dtype: DType,
    /// The op the kernel was given with (taps are already flipped for convolve).
    pub op: Op,
    /// Kernel height and width.
    pub kernel: Shape,
    /// Output step in input pixels.
    pub stride: Axes<usize>,
    /// Tap step in input pixels.
    pub dilation: Axes<usize>,
    /// Padding around the input.
    pub pads: Pads,
    /// Values read from the padding.
    pub border: Border,
    /// Fixed input shape, if any.
    pub input: Option<Shape>,
    /// The passes.
    pub method: Method,
    /// Output rows each call of a direct pass computes (their windows overlap, so
    /// input rows loaded once serve several outputs).
    pub rows_per_call: usize,
    /// Worker threads (None: all cores).
    pub threads: Option<usize>,
    /// Kernel name for display.
    pub name: Option<String>,
    /// What analysis found (kept for `Display` and backends' diagnostics).
    pub analysis: Analysis,
}

impl Plan {
    /// Validates `spec`, analyzes its kernel and designs the passes.
    ///
    /// ```
    /// use convc_core::{ConvSpec, Plan, named, plan::Method};
    /// let plan = Plan::new(&ConvSpec::new(named::build("gaussian", &[], Some((5, 5)))?))?;
    /// assert!(matches!(plan.method, Method::Separable { .. }));
    /// # Ok::<(), convc_core::ConvError>(())
    /// ```
    pub fn new(spec: &ConvSpec) -> Result<Plan> {
        spec.validate()?;
        let applied = spec.applied_kernel();
        let analysis = analyze(&applied);
        let (kh, kw) = (applied.height(), applied.width());
        let direct = || Method::Direct(Stencil::from_grid(kh, kw, &analysis.grid));
        let separable = |r: &crate::analyze::Rank1| {
            let mut vertical = Stencil::from_grid(kh, 1, &r.col);
            let mut horizontal = Stencil::from_grid(1, kw, &r.row);
            // One multiply by the combined factor, in the last pass.
            horizontal.scale *= vertical.scale;
            vertical.scale = 1.0;
            Method::Separable {
                vertical,
                horizontal,
            }
        };
        let method = match (spec.strategy, &analysis.rank1) {
            (Strategy::Direct, _) | (Strategy::Auto, None) => direct(),
            (Strategy::Separable, None) => {
                return Err(ConvError::InvalidOption(format!(
                    "strategy `separable` needs a rank-1 kernel; this {kh}x{kw} kernel is not"
                )));
            }
            (Strategy::Separable, Some(r)) => separable(r),
            (Strategy::Auto, Some(r)) => {
                // A split costs a second pass over a row buffer; it pays once the 2D
                // pass has clearly more taps than the two 1D passes together.
                let split_cost = r.col.nonzero() + r.row.nonzero() + 3;
                if kh > 1 && kw > 1 && split_cost < analysis.grid.nonzero() {
                    separable(r)
                } else {
                    direct()
                }
            }
        };
        Ok(Plan {
            dtype: spec.dtype,
            op: spec.op,
            kernel: Shape::new(kh, kw),
            stride: spec.stride,
            dilation: spec.dilation,
            pads: spec.pads()?,
            border: spec.border,
            input: spec.input,
            rows_per_call: rows_per_call(&method, kh, spec.dilation.y, spec.stride.y),
            method,
            threads: spec.threads,
            name: spec.kernel.name().map(str::to_string),
            analysis,
        })
    }

    /// Taps one output pixel costs: the direct pass's, or both separable passes'.
    pub fn taps_per_output(&self) -> usize {
        match &self.method {
            Method::Direct(st) => st.taps(),
            Method::Separable {
                vertical,
                horizontal,
            } => vertical.taps() + horizontal.taps(),
        }
    }

    /// Taps of the plan's largest pass: what a backend that unrolls every tap
    /// (`conv!`, the JIT) writes out per output vector, and what its code size
    /// and compile time grow with.
    ///
    /// ```
    /// use convc_core::{ConvSpec, Plan, named};
    /// let blur = Plan::new(&ConvSpec::new(named::build("gaussian", &[], Some((15, 15)))?))?;
    /// assert_eq!(blur.widest_pass_taps(), 15); // two passes of 15 taps
    /// let log = Plan::new(&ConvSpec::new(named::build("log", &[], Some((7, 7)))?))?;
    /// assert_eq!(log.widest_pass_taps(), 49);
    /// # Ok::<(), convc_core::ConvError>(())
    /// ```
    pub fn widest_pass_taps(&self) -> usize {
        match &self.method {
            Method::Direct(st) => st.taps(),
            Method::Separable {
                vertical,
                horizontal,
            } => vertical.taps().max(horizontal.taps()),
        }
    }

    /// Taps per output pixel of the pass that computes [`Plan::rows_per_call`]
    /// rows per call: the direct pass, or the separable vertical pass.
    pub fn row_pass_taps(&self) -> usize {
        match &self.method {
            Method::Direct(st) => st.taps(),
            Method::Separable { vertical, .. } => vertical.taps(),
        }
    }

    /// The same plan computing at most `rows` output rows per call (at least
    /// one): for a backend whose registers hold fewer rows of partial sums.
    ///
    /// ```
    /// use convc_core::{ConvSpec, Plan, named};
    /// let plan = Plan::new(&ConvSpec::new(named::build("box", &[], Some((7, 7)))?))?;
    /// assert_eq!(plan.rows_per_call, 4);
    /// assert_eq!(plan.with_rows_per_call_at_most(2).rows_per_call, 2);
    /// # Ok::<(), convc_core::ConvError>(())
    /// ```
    #[must_use]
    pub fn with_rows_per_call_at_most(mut self, rows: usize) -> Plan {
        self.rows_per_call = self.rows_per_call.min(rows).max(1);
        self
    }

    /// Whether the plan is bound by its multiply-adds rather than by memory
    /// traffic: more than [`HEAVY_TAPS`] taps per output pixel. Backends use
    /// wider vectors for heavy plans and prefetch harder for light ones.
    pub fn is_heavy(&self) -> bool {
        self.taps_per_output() > HEAVY_TAPS
    }

    /// Rows of padded input one direct call reads: (R - 1) * sy + (kh - 1) * dy + 1.
    pub fn window_rows(&self) -> usize {
        (self.rows_per_call - 1) * self.stride.y + (self.kernel.height - 1) * self.dilation.y + 1
    }

    /// Output shape and fast-path regions for an input shape. With a fixed input
    /// shape, any other shape is an error.
    pub fn geometry(&self, input: Shape) -> Result<Geometry> {
        crate::spec::check_fixed_input(self.input, input)?;
        let output =
            crate::spec::output_shape(input, self.kernel, self.pads, self.dilation, self.stride)?;
        let interior = |n_in: usize, n_out: usize, before: usize, k: usize, d: usize, s: usize| {
            // Output o is interior when o*s >= before and o*s - before + (k-1)*d < n_in.
            let lo = before.div_ceil(s);
            let span = (k - 1) * d;
            let hi = if n_in + before > span {
                ((n_in - 1 + before - span) / s + 1).min(n_out)
            } else {
                0
            };
            if lo < hi { lo..hi } else { 0..0 }
        };
        let p = self.pads;
        Ok(Geometry {
            input,
            output,
            interior_x: interior(
                input.width,
                output.width,
                p.left,
                self.kernel.width,
                self.dilation.x,
                self.stride.x,
            ),
            interior_y: interior(
                input.height,
                output.height,
                p.top,
                self.kernel.height,
                self.dilation.y,
                self.stride.y,
            ),
        })
    }
}

/// Taps per output pixel (of a pass, or of a plan: [`Plan::is_heavy`]) above which
/// the multiply-adds, not the memory traffic, bound the speed.
pub const HEAVY_TAPS: usize = 25;

/// Output rows one call computes. Consecutive output rows read overlapping input
/// rows (unless the stride skips past the kernel), so computing several per call
/// loads each shared input vector once for all of them. Four suit a register file
/// of 32 vectors (AVX-512, `conv!`'s code for heavy plans): each input vector a
/// dense 7x7 loads feeds up to 28 multiply-adds (on a Xeon: 21.0 ms with two rows,
/// 17.4 with four, 18.3 with eight). Backends with fewer registers ask for fewer
/// ([`Plan::with_rows_per_call_at_most`]).
///
/// Light direct passes ([`HEAVY_TAPS`] taps or fewer) compute two: they are bound
/// by memory, and four rows per call keep ten rows streaming at once (six read,
/// four written), more than an AMD Zen 4 core's prefetchers follow. There, at
/// 4096 x 4096, two rows took sobel from 8.5-9.1 to 7.3-7.5 ms in `conv!` (7.7-7.8
/// in the JIT from 8.9-9.3) and the JIT's dilated 3x3 from 17.1 to 10.5-10.7 ms.
/// The vertical passes of light separable plans keep four: they read rows the
/// horizontal pass left in cache, and two rows ran their gaussians 5-15% slower,
/// eight `conv!`'s gaussian 5x5 sweep 15-20% slower (Zen 4, 4096 x 4096, eight
/// alternating runs: 6.0-7.3 ms with four, 7.5-9.1 with eight).
///
/// Heavy separable plans whose vertical pass is light (one vector per step in
/// `conv!`) compute eight: their vertical pass reads a window of ring rows
/// that do not fit L1 (18 rows of 16 KiB for a 4096-wide gaussian 15x15 with
/// four rows per call), and eight rows per call load 22 of them for 8 output
/// rows where four loaded 18 for 4. On the Zen 4 host at 4096 x 4096, `conv!`'s gaussian 15x15, eight
/// alternating runs: 11.5-14.0 ms (median 13.3) with four, 10.2-16.1 (12.5)
/// with eight, 10.4-17.3 (12.7) with six, in another set 10.8-14.3 (11.4)
/// with four, 10.5-11.4 (10.7) with eight and 10.6-12.1 (11.2) with twelve;
/// at 4099 and 1024 level.
fn rows_per_call(method: &Method, kh: usize, dy: usize, sy: usize) -> usize {
    let extent = (kh - 1) * dy + 1;
    match method {
        _ if sy >= extent => 1,
        Method::Direct(st) if st.taps() <= HEAVY_TAPS => LIGHT_DIRECT_ROWS_PER_CALL,
        Method::Separable {
            vertical,
            horizontal,
        } if vertical.taps() + horizontal.taps() > HEAVY_TAPS && vertical.taps() <= HEAVY_TAPS => {
            HEAVY_SEPARABLE_ROWS_PER_CALL
        }
        _ => DEFAULT_ROWS_PER_CALL,
    }
}

/// Output rows per call of a light direct pass ([`rows_per_call`]).
const LIGHT_DIRECT_ROWS_PER_CALL: usize = 2;

/// Output rows per call of a heavy separable plan's light vertical pass
/// ([`rows_per_call`]).
const HEAVY_SEPARABLE_ROWS_PER_CALL: usize = 8;

/// Output rows per call of heavy direct passes, light separable plans and
/// heavy vertical passes ([`rows_per_call`]).
const DEFAULT_ROWS_PER_CALL: usize = 4;

/// The most output rows a Plan computes per call ([`Plan::rows_per_call`]).
pub const MAX_ROWS_PER_CALL: usize = HEAVY_SEPARABLE_ROWS_PER_CALL;

fn write_scale(f: &mut fmt::Formatter<'_>, scale: f64) -> fmt::Result {
    let inv = 1.0 / scale;
    if scale == 1.0 {
        Ok(())
    } else if inv.fract() == 0.0 && inv.abs() < 1e9 && 1.0 / inv == scale {
        write!(f, " / {inv}")
    } else {
        write!(f, " * {scale}")
    }
}

impl fmt::Display for Stencil {
    /// `x[0,2] - x[0,0] + 2*(x[1,2] - x[1,0])` style, with the scale last.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tap = |t: &Tap| match (self.rows, self.cols) {
            (1, _) => format!("x[{}]", t.col),
            (_, 1) => format!("x[{}]", t.row),
            _ => format!("x[{},{}]", t.row, t.col),
        };
        let bracket = self.scale != 1.0 && self.terms.len() > 1;
        if bracket {
            f.write_str("(")?;
        }
        if self.terms.is_empty() {
            f.write_str("0")?;
        }
        for (i, term) in self.terms.iter().enumerate() {
            let mut s = String::new();
            for (j, t) in term.plus.iter().enumerate() {
                if j > 0 {
                    s.push_str(" + ");
                }
                s.push_str(&tap(t));
            }
            for (j, t) in term.minus.iter().enumerate() {
                s.push_str(if j == 0 && term.plus.is_empty() {
                    "-"
                } else {
                    " - "
                });
                s.push_str(&tap(t));
            }
            if i > 0 {
                f.write_str(" + ")?;
            }
            let taps = term.plus.len() + term.minus.len();
            if term.is_unit() {
                f.write_str(&s)?;
            } else if taps == 1 {
                write!(f, "{}*{}", term.coeff, s)?;
            } else {
                write!(f, "{}*({})", term.coeff, s)?;
            }
        }
        if bracket {
            f.write_str(")")?;
        }
        write_scale(f, self.scale)
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match &self.name {
            Some(n) => n.clone(),
            None => format!("{}x{} kernel", self.kernel.height, self.kernel.width),
        };
        writeln!(f, "plan: {} {name}, {}", self.op, self.dtype)?;
        let p = self.pads;
        writeln!(
            f,
            "  stride {}x{}, dilation {}x{}, pads top {} bottom {} left {} right {}, border {}",
            self.stride.y,
            self.stride.x,
            self.dilation.y,
            self.dilation.x,
            p.top,
            p.bottom,
            p.left,
            p.right,
            self.border
        )?;
        match self.input {
            Some(s) => writeln!(f, "  input fixed at {s}")?,
            None => writeln!(f, "  input any size")?,
        }
        let a = &self.analysis;
        let sym = |p: crate::analyze::Parity| format!("{p:?}").to_lowercase();
        writeln!(
            f,
            "  analysis: {} taps, {} zero, {} unit; {}; symmetry vertical {}, horizontal {}",
            a.grid.values.len(),
            a.zero_taps(),
            a.unit_taps(),
            if a.rank1.is_some() {
                "rank 1"
            } else {
                "not separable"
            },
            sym(a.symmetry.vertical),
            sym(a.symmetry.horizontal),
        )?;
        match &self.method {
            Method::Direct(s) => {
                writeln!(
                    f,
                    "  method: direct, {} row(s) per call, {} taps, {} multiplies",
                    self.rows_per_call,
                    s.taps(),
                    s.multiplies()
                )?;
                write!(f, "    out = {s}")
            }
            Method::Separable {
                vertical,
                horizontal,
            } => {
                writeln!(
                    f,
                    "  method: separable, {} row(s) per call, {} + {} taps, {} + {} multiplies",
                    self.rows_per_call,
                    vertical.taps(),
                    horizontal.taps(),
                    vertical.multiplies(),
                    horizontal.multiplies()
                )?;
                writeln!(f, "    vertical:   t = {vertical}")?;
                write!(
                    f,
                    "    horizontal: out = {}",
                    horizontal.to_string().replace('x', "t")
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::named::build;
    use crate::spec::Mode;

    fn plan(name: &str, size: (usize, usize)) -> Plan {
        Plan::new(&ConvSpec::new(build(name, &[], Some(size)).unwrap())).unwrap()
    }

    #[test]
    fn grids_group_into_terms_by_magnitude_in_first_appearance_order() {
        let grid = Scaled {
            values: vec![3.0, -1.0, 2.0, 1.0, -3.0, 0.0, 2.0, 0.5],
            scale: 0.25,
        };
        let st = Stencil::from_grid(2, 4, &grid);
        let tap = |row, col| Tap { row, col };
        let got: Vec<(f64, Vec<Tap>, Vec<Tap>)> = st
            .terms
            .iter()
            .map(|t| (t.coeff, t.plus.clone(), t.minus.clone()))
            .collect();
        assert_eq!(
            got,
            vec![
                (3.0, vec![tap(0, 0)], vec![tap(1, 0)]),
                (1.0, vec![tap(0, 3)], vec![tap(0, 1)]),
                (2.0, vec![tap(0, 2), tap(1, 2)], vec![]),
                (0.5, vec![tap(1, 3)], vec![]),
            ]
        );
        assert_eq!((st.taps(), st.scale), (7, 0.25));
    }

    #[test]
    fn heavy_plans_cost_more_than_25_taps_per_output() {
        // sobel: 6 taps; gaussian 5x5: 5 + 5; 13x13 box: 13 + 13; 7x7 LoG: 2D.
        let taps = |name, size| {
            let p = plan(name, size);
            (p.taps_per_output(), p.is_heavy())
        };
        assert_eq!(taps("sobel_x", (3, 3)), (6, false));
        assert_eq!(taps("gaussian", (5, 5)), (10, false));
        assert_eq!(taps("box", (12, 13)), (25, false));
        assert_eq!(taps("box", (13, 13)), (26, true));
        let log = plan("log", (7, 7));
        assert!(matches!(log.method, Method::Direct(_)), "{log}");
        assert!(log.is_heavy() && log.rows_per_call == 4, "{log}");
        assert_eq!(log.row_pass_taps(), log.taps_per_output());
        let g = plan("gaussian", (15, 15));
        assert_eq!((g.row_pass_taps(), g.taps_per_output()), (15, 30));
    }

    #[test]
    fn rows_per_call_two_light_direct_eight_heavy_separable_four_the_others() {
        let rows = |name, size| plan(name, size).rows_per_call;
        // Light direct: memory-bound, two rows.
        assert_eq!(rows("sobel_x", (3, 3)), 2);
        let log5 = plan("log", (5, 5));
        assert!(matches!(log5.method, Method::Direct(_)) && !log5.is_heavy());
        assert_eq!(log5.rows_per_call, 2);
        // Heavy direct, light separable: four.
        assert_eq!(rows("log", (7, 7)), 4);
        assert_eq!(rows("gaussian", (5, 5)), 4);
        assert_eq!(rows("box", (12, 13)), 4);
        // Heavy separable with a light vertical pass: eight, however short it is.
        assert_eq!(rows("gaussian", (15, 15)), 8);
        assert_eq!(rows("box", (13, 13)), 8);
        assert_eq!(rows("box", (3, 25)), 8);
        assert_eq!(rows("box", (25, 3)), 8);
        // A heavy vertical pass (26 taps) keeps four.
        let tall = plan("box", (26, 3));
        assert!(matches!(tall.method, Method::Separable { .. }), "{tall}");
        assert_eq!((tall.row_pass_taps(), tall.rows_per_call), (26, 4));
        // No more than a stride lets overlap: one row when it skips the kernel.
        let mut spec = ConvSpec::new(build("gaussian", &[], Some((15, 15))).unwrap());
        spec.stride = crate::spec::Axes::new(15, 1);
        assert_eq!(Plan::new(&spec).unwrap().rows_per_call, 1);
    }

    #[test]
    fn backends_can_ask_for_fewer_rows_per_call_never_more() {
        let log = plan("log", (7, 7));
        assert_eq!(log.clone().with_rows_per_call_at_most(2).rows_per_call, 2);
        assert_eq!(log.clone().with_rows_per_call_at_most(0).rows_per_call, 1);
        assert_eq!(log.with_rows_per_call_at_most(9).rows_per_call, 4);
        // A stride that skips past the kernel: one row per call whatever is asked.
        let mut spec = ConvSpec::new(build("sobel_x", &[], None).unwrap());
        spec.stride = crate::spec::Axes::new(3, 1);
        let skip = Plan::new(&spec).unwrap();
        assert_eq!(skip.rows_per_call, 1);
        assert_eq!(skip.with_rows_per_call_at_most(4).rows_per_call, 1);
    }

    #[test]
    fn sobel_is_direct_without_zero_or_unit_multiplies() {
        let p = plan("sobel_x", (3, 3));
        let Method::Direct(s) = &p.method else {
            panic!("{p}")
        };
        assert_eq!(s.taps(), 6);
        assert_eq!(s.multiplies(), 1);
        assert_eq!(
            s.to_string(),
            "x[0,2] + x[2,2] - x[0,0] - x[2,0] + 2*(x[1,2] - x[1,0])"
        );
    }

    #[test]
    fn gaussian_5x5_splits_with_one_scale() {
        let p = plan("gaussian", (5, 5));
        let text = p.to_string();
        assert!(
            text.contains("vertical:   t = x[0] + x[4] + 4*(x[1] + x[3]) + 6*x[2]"),
            "{text}"
        );
        assert!(
            text.contains("horizontal: out = (t[0] + t[4] + 4*(t[1] + t[3]) + 6*t[2]) / 256"),
            "{text}"
        );
    }

    #[test]
    fn convolve_flips_the_taps() {
        let k = crate::Kernel::from_rows(&[[1.0, 2.0, 3.0]]).unwrap();
        let p = Plan::new(&ConvSpec::new(k).op(Op::Convolve)).unwrap();
        let Method::Direct(s) = &p.method else {
            panic!()
        };
        assert_eq!(s.to_string(), "3*x[0] + 2*x[1] + x[2]");
    }

    #[test]
    fn forced_strategies() {
        let s = ConvSpec::new(build("sobel_x", &[], None).unwrap()).strategy(Strategy::Separable);
        assert!(matches!(
            Plan::new(&s).unwrap().method,
            Method::Separable { .. }
        ));
        let s = ConvSpec::new(build("laplacian", &[], None).unwrap()).strategy(Strategy::Separable);
        assert!(matches!(Plan::new(&s), Err(ConvError::InvalidOption(_))));
    }

    #[test]
    fn geometry_regions() {
        let p = plan("box", (3, 5));
        let g = p.geometry(Shape::new(10, 20)).unwrap();
        assert_eq!(g.output, Shape::new(10, 20));
        assert_eq!(g.interior_y, 1..9);
        assert_eq!(g.interior_x, 2..18);
        let wide = p.geometry(Shape::new(2, 3)).unwrap();
        assert_eq!(wide.interior_x, 0..0);
        assert_eq!(wide.interior_y, 0..0);
        let s = ConvSpec::new(build("box", &[], Some((3, 3))).unwrap())
            .stride(3)
            .mode(Mode::Full);
        let g = Plan::new(&s).unwrap().geometry(Shape::new(9, 9)).unwrap();
        assert_eq!(g.output, Shape::new(4, 4));
        assert_eq!(g.interior_x, 1..3);
    }

    #[test]
    fn fixed_input_shape_is_enforced() {
        let s = ConvSpec::new(build("box", &[], None).unwrap()).input_shape(8, 8);
        let p = Plan::new(&s).unwrap();
        assert!(p.geometry(Shape::new(8, 8)).is_ok());
        assert!(matches!(
            p.geometry(Shape::new(8, 9)),
            Err(ConvError::ShapeMismatch { .. })
        ));
    }
}
