//! Strategies and helpers shared by the convc-jit test suites.
#![allow(dead_code)]

use convc_core::accuracy::check_against_reference;
use convc_core::{
    Border, ConvSpec, DType, Element, ImageView, ImageViewMut, Kernel, Mode, Op, Plan, Shape,
    Strategy as Split,
};
use proptest::prelude::*;

/// What kind of kernel a case draws.
#[derive(Debug, Clone)]
pub enum KernelKind {
    /// Small integers, about a third of them zero.
    Integer(Vec<i64>),
    /// Floats in [-1, 1], some exactly zero.
    Float(Vec<f64>),
    /// Outer product of two integer vectors.
    SeparableInt(Vec<i64>, Vec<i64>),
    /// Outer product of two float vectors.
    SeparableFloat(Vec<f64>, Vec<f64>),
    /// Mirror-symmetric in both axes (pairs share magnitudes).
    Symmetric(Vec<i64>),
}

pub fn kernel_strategy() -> impl Strategy<Value = Kernel> {
    (1usize..=11, 1usize..=11, 0u8..5, any::<u64>()).prop_map(|(h, w, kind, seed)| {
        let mut rng = Rng(seed);
        match kind {
            0 => Kernel::new(h, w, (0..h * w).map(|_| rng.int() as f64).collect()).unwrap(),
            1 => Kernel::new(
                h,
                w,
                (0..h * w)
                    .map(|_| if rng.below(5) == 0 { 0.0 } else { rng.unit() })
                    .collect(),
            )
            .unwrap(),
            2 => Kernel::outer(
                &(0..h).map(|_| rng.int() as f64).collect::<Vec<_>>(),
                &(0..w).map(|_| rng.int() as f64).collect::<Vec<_>>(),
            )
            .unwrap(),
            3 => Kernel::outer(
                &(0..h).map(|_| rng.unit()).collect::<Vec<_>>(),
                &(0..w).map(|_| rng.unit()).collect::<Vec<_>>(),
            )
            .unwrap(),
            _ => {
                let base: Vec<f64> = (0..h * w).map(|_| rng.int() as f64 / 4.0).collect();
                let sym = (0..h * w)
                    .map(|i| {
                        let (m, n) = (i / w, i % w);
                        let (m, n) = (m.min(h - 1 - m), n.min(w - 1 - n));
                        base[m * w + n]
                    })
                    .collect();
                Kernel::new(h, w, sym).unwrap()
            }
        }
    })
}

pub fn border_strategy() -> impl Strategy<Value = Border> {
    prop_oneof![
        Just(Border::Zero),
        (-3i32..=3).prop_map(|c| Border::Constant(c as f64 * 0.75)),
        Just(Border::Replicate),
        Just(Border::Reflect),
        Just(Border::Mirror),
        Just(Border::Wrap),
    ]
}

pub fn mode_strategy() -> impl Strategy<Value = Mode> {
    prop_oneof![
        Just(Mode::Valid),
        Just(Mode::Same),
        Just(Mode::Full),
        (0usize..7, 0usize..7, 0usize..7, 0usize..7).prop_map(|(top, bottom, left, right)| {
            Mode::Explicit {
                top,
                bottom,
                left,
                right,
            }
        }),
    ]
}

/// One random test case: a spec and an input geometry.
#[derive(Debug, Clone)]
pub struct Case {
    pub spec: ConvSpec,
    pub shape: Shape,
    /// Extra elements between rows (input and output).
    pub pad_in: usize,
    pub pad_out: usize,
    pub seed: u64,
}

pub fn case_strategy() -> impl Strategy<Value = Case> {
    (
        kernel_strategy(),
        (1usize..=3, 1usize..=3, 1usize..=3, 1usize..=3),
        mode_strategy(),
        border_strategy(),
        (any::<bool>(), 0u8..3, any::<bool>(), any::<bool>()),
        (prop_oneof![Just(None), (0usize..11, 0usize..11).prop_map(Some)]),
        (
            1usize..=67,
            1usize..=131,
            0usize..6,
            0usize..6,
            any::<u64>(),
        ),
    )
        .prop_map(
            |(
                kernel,
                (sy, sx, dy, dx),
                mode,
                border,
                (convolve, strategy, f64s, fixed),
                anchor,
                g,
            )| {
                let (h, w, pad_in, pad_out, seed) = g;
                let (kh, kw) = (kernel.height(), kernel.width());
                let mut spec = ConvSpec::new(kernel)
                    .op(if convolve {
                        Op::Convolve
                    } else {
                        Op::Correlate
                    })
                    .stride_yx(sy, sx)
                    .dilation_yx(dy, dx)
                    .mode(mode)
                    .border(border)
                    .dtype(if f64s { DType::F64 } else { DType::F32 });
                if let Some((ay, ax)) = anchor {
                    spec = spec.anchor(ay % kh, ax % kw);
                }
                spec = spec.strategy(match strategy {
                    0 => Split::Auto,
                    1 => Split::Direct,
                    _ => Split::Separable,
                });
                if Plan::new(&spec).is_err() {
                    // Separable asked of a kernel that is not rank 1.
                    spec = spec.strategy(Split::Auto);
                }
                if fixed {
                    spec = spec.input_shape(h, w);
                }
                Case {
                    spec,
                    shape: Shape::new(h, w),
                    pad_in,
                    pad_out,
                    seed,
                }
            },
        )
}

/// Whether the Plan core designed for `spec` multiplies out to the kernel it
/// applies (to 1e-12 relative). Guards the tests against known convc-core
/// analysis bugs (see `core_splits_integer_kernels_exactly`), which no backend can
/// fix: the Plan is the single source of truth.
pub fn plan_reproduces_kernel(spec: &ConvSpec) -> bool {
    use convc_core::plan::Method;
    let Ok(plan) = Plan::new(spec) else {
        return true; // an invalid spec: nothing was planned
    };
    let k = spec.applied_kernel();
    let (h, w) = (k.height(), k.width());
    let mut grid = vec![0.0f64; h * w];
    match &plan.method {
        Method::Direct(st) => {
            for (t, c) in st.flat_taps() {
                grid[t.row * w + t.col] += c;
            }
        }
        Method::Separable {
            horizontal,
            vertical,
        } => {
            for (v, cv) in vertical.flat_taps() {
                for (hz, ch) in horizontal.flat_taps() {
                    grid[v.row * w + hz.col] += cv * ch;
                }
            }
        }
    }
    grid.iter()
        .zip(k.coeffs())
        .all(|(g, c)| (g - c).abs() <= 1e-12 * c.abs().max(1e-300))
}

/// SplitMix64: reproducible pixels from a seed.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// Uniform in [-1, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    }
    /// -3..=3, zero a third of the time.
    pub fn int(&mut self) -> i64 {
        if self.below(3) == 0 {
            0
        } else {
            self.below(7) as i64 - 3
        }
    }
}

/// `h` rows of `w` pixels, `pitch` apart, filled from `seed` (gap elements NaN so
/// that reading them poisons the result).
pub fn pixels<T: Element>(h: usize, w: usize, pitch: usize, seed: u64) -> Vec<T> {
    let mut rng = Rng(seed);
    let mut v = vec![T::from_f64(f64::NAN); (h - 1) * pitch + w];
    for y in 0..h {
        for x in 0..w {
            v[y * pitch + x] = T::from_f64((rng.unit() * 8.0).round() / 4.0 + rng.unit() / 16.0);
        }
    }
    v
}

/// Runs `case` through `run` (which fills the output view) and checks the result
/// against the reference within DESIGN.md's bound, and that the gaps between
/// output rows were not written. An output-shape error must be an error of `run`
/// too.
pub fn check_case<T: Element>(
    case: &Case,
    run: impl Fn(&ImageView<'_, T>, &mut ImageViewMut<'_, T>) -> convc_core::Result<()>,
) -> Result<(), TestCaseError> {
    let Shape {
        height: h,
        width: w,
    } = case.shape;
    let pitch_in = w + case.pad_in;
    let data = pixels::<T>(h, w, pitch_in, case.seed);
    let input = ImageView::with_pitch(&data, w, h, pitch_in).unwrap();
    let out = match case.spec.output_shape(case.shape) {
        Ok(s) => s,
        Err(_) => {
            let mut dummy = vec![T::ZERO; 1];
            let mut o = ImageViewMut::new(&mut dummy, 1, 1).unwrap();
            prop_assert!(
                run(&input, &mut o).is_err(),
                "an empty output must be an error"
            );
            return Ok(());
        }
    };
    let pitch_out = out.width + case.pad_out;
    let sentinel = T::from_f64(-12345.0);
    let mut buf = vec![sentinel; (out.height - 1) * pitch_out + out.width];
    {
        let mut o = ImageViewMut::with_pitch(&mut buf, out.width, out.height, pitch_out).unwrap();
        run(&input, &mut o).map_err(|e| TestCaseError::fail(format!("apply failed: {e}")))?;
    }
    for y in 0..out.height.saturating_sub(1) {
        for x in out.width..pitch_out {
            prop_assert!(
                buf[y * pitch_out + x] == sentinel,
                "gap written at ({y}, {x})"
            );
        }
    }
    let got = ImageView::with_pitch(&buf, out.width, out.height, pitch_out).unwrap();
    match check_against_reference(&case.spec, &input, &got).unwrap() {
        Ok(_) => Ok(()),
        Err(m) => Err(TestCaseError::fail(format!(
            "{m}\n{}",
            Plan::new(&case.spec).unwrap()
        ))),
    }
}
