//! Proptest strategies: kernels, specs and whole convolution problems ([`Case`]).
//!
//! Coverage is the point: kernels 1x1..9x9 (integer, float, integers over a common
//! divisor, separable with and without remembered factors, symmetric/antisymmetric,
//! with zero taps), images 1x1..67x131 including kernels larger than the image,
//! row pitches larger than the width, strides and dilations 1..3 per axis, every
//! mode (explicit pads 0..6), every border, both ops, anchors, every
//! [`convc::Strategy`] (separable only where the kernel is rank 1 by
//! construction), f32 and f64, and fixed input shapes. `tests/tests/backends_vs_reference.rs`
//! checks with [`generator_coverage`] that a sample really contains all of that.

use std::fmt;

use convc::{Border, ConvSpec, DType, Kernel, Mode, Op, Shape};
use proptest::collection::vec;
use proptest::prelude::*;

use crate::Rng;

/// How a kernel was built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KernelFamily {
    /// Integers in -4..=4 ([`Kernel::new`]: exact form, scale 1).
    Integer,
    /// Floats in (-1, 1).
    Float,
    /// Integers over a common divisor ([`Kernel::from_integers`]).
    ScaledInteger,
    /// Outer product of integer vectors with remembered factors ([`Kernel::outer_integers`]).
    SeparableInteger,
    /// The same products given as plain coefficients (analysis must find the split).
    SeparableIntegerPlain,
    /// Outer product of float vectors with remembered factors ([`Kernel::outer`]).
    SeparableFloat,
    /// The same products given as plain coefficients.
    SeparableFloatPlain,
    /// Even or odd under flipping rows and under flipping columns.
    Symmetric,
}

impl KernelFamily {
    /// Every family, for coverage checks.
    pub const ALL: [KernelFamily; 8] = [
        KernelFamily::Integer,
        KernelFamily::Float,
        KernelFamily::ScaledInteger,
        KernelFamily::SeparableInteger,
        KernelFamily::SeparableIntegerPlain,
        KernelFamily::SeparableFloat,
        KernelFamily::SeparableFloatPlain,
        KernelFamily::Symmetric,
    ];
}

/// A generated kernel and what is known about it by construction.
#[derive(Debug, Clone)]
pub struct KernelCase {
    /// How it was built.
    pub family: KernelFamily,
    /// The kernel.
    pub kernel: Kernel,
    /// True when [`convc::Strategy::Separable`] must be accepted: the kernel is
    /// rank 1 by construction (an outer product with a non-zero factor pair that
    /// analysis can split exactly, or a single non-zero row or column).
    pub splittable: bool,
}

/// Kernel height and width, 1..=9 each.
pub fn kernel_dims() -> impl Strategy<Value = (usize, usize)> {
    (1usize..=9, 1usize..=9)
}

/// An integer tap in -4..=4, zero more often than the others.
pub fn int_tap() -> impl Strategy<Value = i64> {
    prop_oneof![4 => -4i64..=4, 1 => Just(0i64)]
}

/// A float tap in (-1, 1), exactly zero one time in five.
pub fn float_tap() -> impl Strategy<Value = f64> {
    prop_oneof![4 => -1.0f64..1.0, 1 => Just(0.0f64)]
}

fn nonzero_i64(mut v: Vec<i64>) -> Vec<i64> {
    if v.iter().all(|&x| x == 0) {
        v[0] = 1;
    }
    v
}

fn nonzero_f64(mut v: Vec<f64>) -> Vec<f64> {
    if v.iter().all(|&x| x == 0.0) {
        v[0] = 0.5;
    }
    v
}

/// A single row or column with a non-zero tap is rank 1 for any analysis.
fn line_splittable(k: &Kernel) -> bool {
    (k.height() == 1 || k.width() == 1) && k.coeffs().iter().any(|&c| c != 0.0)
}

fn case_of(family: KernelFamily, kernel: Kernel, rank1: bool) -> KernelCase {
    let splittable = rank1 || line_splittable(&kernel);
    KernelCase {
        family,
        kernel,
        splittable,
    }
}

/// Integer kernels.
pub fn integer_kernel() -> impl Strategy<Value = KernelCase> {
    kernel_dims().prop_flat_map(|(h, w)| {
        vec(int_tap(), h * w).prop_map(move |v| {
            let k = Kernel::new(h, w, v.iter().map(|&x| x as f64).collect()).unwrap();
            case_of(KernelFamily::Integer, k, false)
        })
    })
}

/// Float kernels.
pub fn float_kernel() -> impl Strategy<Value = KernelCase> {
    kernel_dims().prop_flat_map(|(h, w)| {
        vec(float_tap(), h * w)
            .prop_map(move |v| case_of(KernelFamily::Float, Kernel::new(h, w, v).unwrap(), false))
    })
}

/// Integers over a common divisor, like `[[1, 2, 1], [2, 4, 2], [1, 2, 1]] / 16`.
pub fn scaled_integer_kernel() -> impl Strategy<Value = KernelCase> {
    let divisor = prop::sample::select(vec![2.0, 3.0, 7.0, 9.0, 16.0, 256.0]);
    (kernel_dims(), divisor).prop_flat_map(|((h, w), d)| {
        vec(int_tap(), h * w).prop_map(move |v| {
            let k = Kernel::from_integers(h, w, v, d).unwrap();
            case_of(KernelFamily::ScaledInteger, k, false)
        })
    })
}

/// Outer products of integer vectors (both non-zero), with and without factors.
pub fn separable_integer_kernel() -> impl Strategy<Value = KernelCase> {
    kernel_dims().prop_flat_map(|(h, w)| {
        (vec(int_tap(), h), vec(int_tap(), w), any::<bool>()).prop_map(|(col, row, factors)| {
            let (col, row) = (nonzero_i64(col), nonzero_i64(row));
            if factors {
                let k = Kernel::outer_integers(&col, &row, 1.0).unwrap();
                case_of(KernelFamily::SeparableInteger, k, true)
            } else {
                let coeffs = col
                    .iter()
                    .flat_map(|&a| row.iter().map(move |&b| (a * b) as f64))
                    .collect();
                let k = Kernel::new(col.len(), row.len(), coeffs).unwrap();
                // Integer rank-1 analysis is exact, so the split is always found.
                case_of(KernelFamily::SeparableIntegerPlain, k, true)
            }
        })
    })
}

/// Outer products of float vectors (both non-zero), with and without factors.
pub fn separable_float_kernel() -> impl Strategy<Value = KernelCase> {
    kernel_dims().prop_flat_map(|(h, w)| {
        (vec(float_tap(), h), vec(float_tap(), w), any::<bool>()).prop_map(|(col, row, factors)| {
            let (col, row) = (nonzero_f64(col), nonzero_f64(row));
            if factors {
                let k = Kernel::outer(&col, &row).unwrap();
                case_of(KernelFamily::SeparableFloat, k, true)
            } else {
                let coeffs = col
                    .iter()
                    .flat_map(|&a| row.iter().map(move |&b| a * b))
                    .collect();
                let k = Kernel::new(col.len(), row.len(), coeffs).unwrap();
                // Rediscovering float factors is up to analysis' tolerance: only
                // Auto and Direct are asked for.
                case_of(KernelFamily::SeparableFloatPlain, k, false)
            }
        })
    })
}

/// Parity of a generated symmetric kernel along one axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parity {
    /// `k[i] == k[n-1-i]`.
    Even,
    /// `k[i] == -k[n-1-i]` (middle line zero).
    Odd,
    /// No constraint.
    Free,
}

fn parity() -> impl Strategy<Value = Parity> {
    prop_oneof![Just(Parity::Even), Just(Parity::Odd), Just(Parity::Free)]
}

/// Imposes `vertical` parity on rows and `horizontal` parity on columns of a grid.
pub fn symmetrize(grid: &mut [f64], h: usize, w: usize, vertical: Parity, horizontal: Parity) {
    let sign = |p: Parity| if p == Parity::Odd { -1.0 } else { 1.0 };
    if vertical != Parity::Free {
        for i in 0..h / 2 {
            for j in 0..w {
                grid[(h - 1 - i) * w + j] = sign(vertical) * grid[i * w + j];
            }
        }
        if vertical == Parity::Odd && h % 2 == 1 {
            grid[(h / 2) * w..(h / 2 + 1) * w].fill(0.0);
        }
    }
    if horizontal != Parity::Free {
        for row in grid.chunks_mut(w) {
            for j in 0..w / 2 {
                row[w - 1 - j] = sign(horizontal) * row[j];
            }
            if horizontal == Parity::Odd && w % 2 == 1 {
                row[w / 2] = 0.0;
            }
        }
    }
}

/// Kernels even or odd along each axis (Sobel-, Laplacian-, box-like), integer or float.
pub fn symmetric_kernel() -> impl Strategy<Value = KernelCase> {
    (kernel_dims(), parity(), parity(), any::<bool>()).prop_flat_map(|((h, w), pv, ph, int)| {
        let taps = if int {
            vec(int_tap().prop_map(|v| v as f64).boxed(), h * w)
        } else {
            vec(float_tap().boxed(), h * w)
        };
        taps.prop_map(move |mut g| {
            symmetrize(&mut g, h, w, pv, ph);
            // -0.0 from odd parity would make an "integer" kernel lose nothing, but
            // normalise anyway so the kernel reads naturally in failure output.
            g.iter_mut().filter(|v| **v == 0.0).for_each(|v| *v = 0.0);
            case_of(
                KernelFamily::Symmetric,
                Kernel::new(h, w, g).unwrap(),
                false,
            )
        })
    })
}

/// Any kernel, from every family.
pub fn any_kernel() -> impl Strategy<Value = KernelCase> {
    prop_oneof![
        integer_kernel(),
        float_kernel(),
        scaled_integer_kernel(),
        separable_integer_kernel(),
        separable_float_kernel(),
        symmetric_kernel(),
    ]
}

/// Every border; constants are integers (so integer cases stay exact) or floats.
pub fn border() -> impl Strategy<Value = Border> {
    prop_oneof![
        Just(Border::Zero),
        prop_oneof![(-3i64..=3).prop_map(|c| c as f64), -5.0f64..5.0].prop_map(Border::Constant),
        Just(Border::Replicate),
        Just(Border::Reflect),
        Just(Border::Mirror),
        Just(Border::Wrap),
    ]
}

/// Every mode; explicit pads 0..=6 per side.
pub fn mode() -> impl Strategy<Value = Mode> {
    prop_oneof![
        Just(Mode::Valid),
        Just(Mode::Same),
        Just(Mode::Full),
        (0usize..=6, 0usize..=6, 0usize..=6, 0usize..=6).prop_map(|(top, bottom, left, right)| {
            Mode::Explicit {
                top,
                bottom,
                left,
                right,
            }
        }),
    ]
}

/// Both ops.
pub fn op() -> impl Strategy<Value = Op> {
    prop_oneof![Just(Op::Correlate), Just(Op::Convolve)]
}

/// Both element types.
pub fn dtype() -> impl Strategy<Value = DType> {
    prop_oneof![Just(DType::F32), Just(DType::F64)]
}

/// Planner strategies valid for `kc`: Separable only when the kernel is rank 1 by
/// construction.
pub fn plan_strategy(kc: &KernelCase) -> BoxedStrategy<convc::Strategy> {
    if kc.splittable {
        prop_oneof![
            Just(convc::Strategy::Auto),
            Just(convc::Strategy::Direct),
            Just(convc::Strategy::Separable),
        ]
        .boxed()
    } else {
        prop_oneof![Just(convc::Strategy::Auto), Just(convc::Strategy::Direct)].boxed()
    }
}

/// A stride or dilation in 1..=`max`, 1 half of the time (so that a fifth of the
/// cases have no step above 1 at all).
pub fn step(max: usize) -> impl Strategy<Value = usize> {
    prop_oneof![Just(1usize), 1..=max]
}

/// A spec around `kc`, with everything but the thread count drawn: op, mode,
/// border, stride and dilation 1..=`max_step` per axis, anchor (default or any
/// kernel element), planner strategy, element type.
pub fn spec_for(kc: KernelCase, max_step: usize) -> impl Strategy<Value = (KernelCase, ConvSpec)> {
    let (kh, kw) = (kc.kernel.height(), kc.kernel.width());
    let anchor = prop::option::weighted(0.4, (0..kh, 0..kw));
    (
        op(),
        mode(),
        border(),
        (step(max_step), step(max_step)),
        (step(max_step), step(max_step)),
        anchor,
        plan_strategy(&kc),
        dtype(),
    )
        .prop_map(
            move |(op, mode, border, stride, dilation, anchor, strategy, dtype)| {
                let mut spec = ConvSpec::new(kc.kernel.clone())
                    .op(op)
                    .mode(mode)
                    .border(border)
                    .stride_yx(stride.0, stride.1)
                    .dilation_yx(dilation.0, dilation.1)
                    .strategy(strategy)
                    .dtype(dtype);
                if let Some((ay, ax)) = anchor {
                    spec = spec.anchor(ay, ax);
                }
                (kc.clone(), spec)
            },
        )
}

/// What the pixels of a case look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pixels {
    /// Uniform in (-10, 10).
    Float,
    /// Integers in -8..=8 (with an integer kernel and border, results are exact).
    Integer,
}

/// One convolution problem: a spec (no thread count), an input shape, row pitches
/// and pixel values (drawn from `seed`).
#[derive(Clone)]
pub struct Case {
    /// How the kernel was built.
    pub family: KernelFamily,
    /// The spec, `threads` unset (the checks choose it).
    pub spec: ConvSpec,
    /// Input height and width.
    pub shape: Shape,
    /// Elements between input rows beyond the width (0: tightly packed).
    pub input_gap: usize,
    /// Elements between output rows beyond the width.
    pub output_gap: usize,
    /// Kind of pixel values.
    pub pixels: Pixels,
    /// Seed of the pixel values.
    pub seed: u64,
}

impl Case {
    /// The input pixels, row-major and tightly packed, as `f64` (already rounded to
    /// the spec's element type, so converting back is exact).
    pub fn pixels(&self) -> Vec<f64> {
        let mut rng = Rng::new(self.seed);
        let n = self.shape.pixels();
        let round = |v: f64| match self.spec.dtype {
            DType::F32 => v as f32 as f64,
            DType::F64 => v,
        };
        (0..n)
            .map(|_| match self.pixels {
                Pixels::Float => round(rng.unit() * 10.0),
                Pixels::Integer => rng.int(-8, 8) as f64,
            })
            .collect()
    }

    /// True when DESIGN.md promises an exact result: an integer kernel, integer
    /// pixels and (for constant borders) an integer constant.
    pub fn exact(&self) -> bool {
        self.spec.kernel.is_integral()
            && self.pixels == Pixels::Integer
            && self.spec.border.constant().fract() == 0.0
    }

    /// The output shape, or the error that makes this case invalid by construction.
    pub fn output_shape(&self) -> convc::Result<Shape> {
        self.spec.output_shape(self.shape)
    }

    /// True when the kernel's extent is larger than the image along some axis.
    pub fn kernel_larger_than_image(&self) -> bool {
        let s = &self.spec;
        let ey = (s.kernel.height() - 1) * s.dilation.y + 1;
        let ex = (s.kernel.width() - 1) * s.dilation.x + 1;
        ey > self.shape.height || ex > self.shape.width
    }
}

impl fmt::Debug for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.spec;
        let rows: Vec<String> = s
            .kernel
            .coeffs()
            .chunks(s.kernel.width())
            .map(|r| format!("{r:?}"))
            .collect();
        writeln!(
            f,
            "Case {{ {:?} kernel {}x{}: [{}]",
            self.family,
            s.kernel.height(),
            s.kernel.width(),
            rows.join(", ")
        )?;
        writeln!(
            f,
            "  {} {} border {} stride {}x{} dilation {}x{} anchor {:?} strategy {:?} {} fixed input {:?}",
            s.op,
            s.mode,
            s.border,
            s.stride.y,
            s.stride.x,
            s.dilation.y,
            s.dilation.x,
            s.anchor.map(|a| (a.y, a.x)),
            s.strategy,
            s.dtype,
            s.input
        )?;
        write!(
            f,
            "  image {} (row gap in {} out {}), {:?} pixels, seed {:#x} }}",
            self.shape, self.input_gap, self.output_gap, self.pixels, self.seed
        )
    }
}

fn row_gap() -> impl Strategy<Value = usize> {
    prop_oneof![2 => Just(0usize), 1 => 1usize..=5]
}

fn pixels() -> impl Strategy<Value = Pixels> {
    prop_oneof![Just(Pixels::Float), Just(Pixels::Integer)]
}

/// Cases over small images: 1x1 up to 67x131 (a third of the time at most 8x8, so
/// kernels larger than the image are frequent), everything of [`spec_for`] with
/// steps 1..=3, one case in five with the input shape fixed in the spec.
pub fn case() -> impl Strategy<Value = Case> {
    let height = prop_oneof![1 => 1usize..=8, 2 => 1usize..=67];
    let width = prop_oneof![1 => 1usize..=8, 2 => 1usize..=131];
    (
        any_kernel().prop_flat_map(|kc| spec_for(kc, 3)),
        height,
        width,
        row_gap(),
        row_gap(),
        pixels(),
        any::<u64>(),
        prop::bool::weighted(0.2),
    )
        .prop_map(
            |((kc, spec), h, w, input_gap, output_gap, pixels, seed, fixed)| {
                let spec = if fixed { spec.input_shape(h, w) } else { spec };
                Case {
                    family: kc.family,
                    spec,
                    shape: Shape::new(h, w),
                    input_gap,
                    output_gap,
                    pixels,
                    seed,
                }
            },
        )
}

/// Output pixels above which the row driver splits work into several bands: two
/// of its bands' minimum (`MIN_BAND_PIXELS` = 65536 in convc-core's exec driver).
pub const MULTI_BAND_OUTPUT_PIXELS: usize = 2 * 65536;

/// Cases whose output is large enough that 3 threads really split it into bands
/// (at least [`MULTI_BAND_OUTPUT_PIXELS`] output pixels): kernels up to 7x7, steps
/// 1..=2, inputs of about 400..480 output rows and columns times the stride.
pub fn large_case() -> impl Strategy<Value = Case> {
    let kernel = prop_oneof![
        integer_kernel(),
        float_kernel(),
        scaled_integer_kernel(),
        separable_integer_kernel(),
        separable_float_kernel(),
        symmetric_kernel(),
    ]
    .prop_filter("kernels up to 7x7", |kc| {
        kc.kernel.height() <= 7 && kc.kernel.width() <= 7
    });
    (
        kernel.prop_flat_map(|kc| spec_for(kc, 2)),
        400usize..=480,
        400usize..=480,
        row_gap(),
        row_gap(),
        pixels(),
        any::<u64>(),
    )
        .prop_map(
            |((kc, spec), oh, ow, input_gap, output_gap, pixels, seed)| {
                let shape = Shape::new(oh * spec.stride.y, ow * spec.stride.x);
                Case {
                    family: kc.family,
                    spec,
                    shape,
                    input_gap,
                    output_gap,
                    pixels,
                    seed,
                }
            },
        )
}

/// What a sample of cases covers; see [`generator_coverage`].
#[derive(Debug, Default)]
pub struct Coverage {
    /// Cases drawn.
    pub total: usize,
    /// Cases with a valid spec (non-empty output).
    pub valid: usize,
    /// Valid cases whose kernel extent exceeds the image along some axis.
    pub valid_kernel_larger_than_image: usize,
    /// Kernel families seen.
    pub families: std::collections::HashSet<KernelFamily>,
    /// Borders seen (by name: `constant` for every constant).
    pub borders: std::collections::HashSet<String>,
    /// Modes seen (`valid`, `same`, `full`, `explicit`).
    pub modes: std::collections::HashSet<String>,
    /// Planner strategies seen.
    pub strategies: std::collections::HashSet<String>,
    /// Ops seen.
    pub ops: std::collections::HashSet<Op>,
    /// Element types seen.
    pub dtypes: std::collections::HashSet<DType>,
    /// Cases with a row gap on input or output.
    pub pitched: usize,
    /// Cases with a fixed input shape.
    pub fixed: usize,
    /// Cases with an explicit anchor.
    pub anchored: usize,
    /// Cases with a stride or dilation above 1.
    pub stepped: usize,
    /// Exact (integer) cases.
    pub exact: usize,
    /// Largest kernel side and image height and width seen.
    pub max_kernel_side: usize,
    /// Largest image height.
    pub max_height: usize,
    /// Largest image width.
    pub max_width: usize,
}

/// Draws `n` cases from `strategy` with a deterministic runner and tallies what
/// they cover, so a test can prove the properties are not vacuous.
pub fn generator_coverage(strategy: impl Strategy<Value = Case>, n: usize) -> Coverage {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, TestRunner};
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        proptest::test_runner::TestRng::deterministic_rng(
            proptest::test_runner::RngAlgorithm::ChaCha,
        ),
    );
    let mut c = Coverage::default();
    for _ in 0..n {
        let case = strategy.new_tree(&mut runner).unwrap().current();
        let s = &case.spec;
        c.total += 1;
        if case.output_shape().is_ok() {
            c.valid += 1;
            if case.kernel_larger_than_image() {
                c.valid_kernel_larger_than_image += 1;
            }
        }
        c.families.insert(case.family);
        c.borders.insert(
            s.border
                .to_string()
                .split(':')
                .next()
                .unwrap_or_default()
                .to_string(),
        );
        c.modes.insert(match s.mode {
            Mode::Explicit { .. } => "explicit".to_string(),
            m => m.to_string(),
        });
        c.strategies.insert(format!("{:?}", s.strategy));
        c.ops.insert(s.op);
        c.dtypes.insert(s.dtype);
        c.pitched += usize::from(case.input_gap > 0 || case.output_gap > 0);
        c.fixed += usize::from(s.input.is_some());
        c.anchored += usize::from(s.anchor.is_some());
        c.stepped +=
            usize::from(s.stride.y > 1 || s.stride.x > 1 || s.dilation.y > 1 || s.dilation.x > 1);
        c.exact += usize::from(case.exact());
        c.max_kernel_side = c
            .max_kernel_side
            .max(s.kernel.height())
            .max(s.kernel.width());
        c.max_height = c.max_height.max(case.shape.height);
        c.max_width = c.max_width.max(case.shape.width);
    }
    c
}
