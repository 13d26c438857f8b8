//! The JIT agrees with the reference executor (DESIGN.md's error bound) on random
//! specs and images, and its results do not depend on the thread count.

mod common;

use common::{Case, Rng, case_strategy, check_case, pixels, plan_reproduces_kernel};
use convc_core::{Border, ConvSpec, DType, Image, ImageView, Mode, Strategy, named};
use convc_jit::{Jit, JitOptions, OptLevel};
use proptest::prelude::*;
use proptest::strategy::Strategy as PropStrategy;

fn check(jit: &Jit, case: &Case) -> Result<(), TestCaseError> {
    prop_assert!(
        plan_reproduces_kernel(&case.spec),
        "the Plan's taps do not multiply back to the kernel"
    );
    let compiled = match jit.compile(&case.spec) {
        Ok(c) => c,
        // A fixed input shape the kernel does not fit is rejected at compile time.
        Err(e) if case.spec.input.is_some() && case.spec.output_shape(case.shape).is_err() => {
            prop_assert!(
                matches!(e, convc_core::ConvError::KernelLargerThanInput { .. }),
                "{e}"
            );
            return Ok(());
        }
        Err(e) => return Err(TestCaseError::fail(format!("compile failed: {e}"))),
    };
    match case.spec.dtype {
        DType::F32 => check_case::<f32>(case, |i, o| compiled.apply(i, o)),
        DType::F64 => check_case::<f64>(case, |i, o| compiled.apply(i, o)),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, failure_persistence: None, ..ProptestConfig::default() })]

    /// Every kernel kind, shape, pitch, stride, dilation, mode, border, op,
    /// anchor, strategy, element type, fixed or free input shape.
    #[test]
    fn jit_agrees_with_the_reference(case in case_strategy()) {
        check(Jit::global(), &case)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 120, failure_persistence: None, ..ProptestConfig::default() })]

    /// Other code shapes: no FMA, other unroll factors, Cranelift's `speed` level.
    #[test]
    fn jit_options_agree_with_the_reference(case in case_strategy(), variant in 0usize..4) {
        let opts = match variant {
            0 => JitOptions::default().fma(false),
            1 => JitOptions::default().unroll(1),
            2 => JitOptions::default().unroll(3).fma(false),
            _ => JitOptions::default().opt_level(OptLevel::Speed).unroll(2),
        };
        check(&Jit::with_options(opts.cache_capacity(0)).unwrap(), &case)?;
    }
}

/// Heavy separable kernels (more than 25 taps in both passes together): the
/// horizontal pass runs first wherever the driver agrees
/// (`exec::runs_horizontal_first`: not where a vertical stride and dilation
/// leave rows of the window unread), over image rows in place and edges
/// through scratch rows, into the driver's ring of rows. Widths without an
/// interior, around the blocks, and with pitches that are multiples of 1 and
/// 4 KiB.
fn heavy_separable_case() -> impl PropStrategy<Value = Case> {
    (
        (10usize..=16, 0usize..=6, any::<bool>(), any::<bool>()),
        (1usize..=3, 1usize..=3, 1usize..=2, 1usize..=3),
        common::mode_strategy(),
        common::border_strategy(),
        (
            1usize..=30,
            prop_oneof![1usize..=40, Just(256), Just(1024), 1000usize..=1040],
            prop_oneof![Just(0usize), 0usize..5],
            any::<u64>(),
        ),
    )
        .prop_map(
            |((kh, extra, f64s, fixed), (sy, sx, dy, dx), mode, border, g)| {
                let (h, w, pad_in, seed) = g;
                let kw = (26 - kh + extra).min(16);
                let mut rng = Rng(seed);
                let col: Vec<f64> = (0..kh).map(|_| rng.unit()).collect();
                let row: Vec<f64> = (0..kw).map(|_| rng.unit()).collect();
                let mut spec = ConvSpec::new(convc_core::Kernel::outer(&col, &row).unwrap())
                    .stride_yx(sy, sx)
                    .dilation_yx(dy, dx)
                    .mode(mode)
                    .border(border)
                    .strategy(Strategy::Separable)
                    .dtype(if f64s { DType::F64 } else { DType::F32 });
                if fixed && seed % 4 == 0 {
                    // Code for one shape keeps the vertical pass first.
                    spec = spec.input_shape(h, w);
                }
                Case {
                    spec,
                    shape: convc_core::Shape::new(h, w),
                    pad_in,
                    pad_out: (seed % 3) as usize,
                    seed,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 80, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn heavy_separable_plans_agree_with_the_reference(case in heavy_separable_case()) {
        // (A fixed shape the kernel does not fit has no Plan: `check` expects
        // the error.)
        if let Ok(plan) = convc_core::Plan::new(&case.spec) {
            prop_assert!(plan.is_heavy(), "{plan}");
        }
        check(Jit::global(), &case)?;
    }
}

/// The eight rows per call the Plan gives a heavy separable plan's light vertical
/// pass would spill Cranelift's 16 vector registers: the JIT computes four.
#[test]
fn heavy_separable_plans_compute_four_rows_per_call() {
    let spec = ConvSpec::new(named::build("gaussian", &[], Some((15, 15))).unwrap());
    assert_eq!(convc_core::Plan::new(&spec).unwrap().rows_per_call, 8);
    let plan = Jit::global().compile(&spec).unwrap().plan().clone();
    assert_eq!(plan.rows_per_call, 4, "{plan}");
    let case = Case {
        spec: spec.border(Border::Reflect),
        shape: convc_core::Shape::new(21, 37),
        pad_in: 1,
        pad_out: 2,
        seed: 15,
    };
    check(Jit::global(), &case).unwrap();
}

/// Widths around the vector and block sizes, for every loop of the generated code
/// (wide, narrow, scalar), direct and separable, f32 and f64, strides 1..4.
#[test]
fn every_width_near_the_block_sizes() {
    let jit = Jit::global();
    for dtype in [DType::F32, DType::F64] {
        for name in ["sobel_x", "gaussian"] {
            for stride in 1..=4 {
                for w in (1..=40).chain([63, 64, 65, 95, 96, 97, 131]) {
                    let spec = ConvSpec::new(named::build(name, &[], Some((5, 5))).unwrap())
                        .border(Border::Replicate)
                        .stride_yx(1, stride)
                        .dtype(dtype);
                    for fixed in [false, true] {
                        let spec = if fixed {
                            spec.clone().input_shape(7, w)
                        } else {
                            spec.clone()
                        };
                        let case = Case {
                            spec,
                            shape: convc_core::Shape::new(7, w),
                            pad_in: w % 3,
                            pad_out: 1,
                            seed: w as u64,
                        };
                        check(jit, &case)
                            .unwrap_or_else(|e| panic!("{name} w={w} s={stride}: {e}"));
                    }
                }
            }
        }
    }
}

/// Light separable plans the driver runs vertical pass first (their windows
/// hold rows no output of the call reads: a dilation in y larger than the rows
/// per call leaves gaps, which a ring of filtered rows would filter for nothing) run
/// strip by strip of output columns over images wider than a strip: the
/// reference agrees, and the bits equal those of the same spec compiled for the
/// fixed input shape, which runs whole rows.
#[test]
fn light_separable_strips_give_the_bits_of_whole_rows() {
    let jit = Jit::global();
    for (name, size, border, (sy, sx), (dy, dx)) in [
        ("gaussian", (5, 5), Border::Mirror, (1, 1), (5, 1)),
        ("gaussian", (3, 3), Border::Zero, (2, 2), (7, 1)),
        ("binomial", (5, 5), Border::Wrap, (1, 1), (6, 2)),
        ("box", (3, 7), Border::Constant(0.5), (1, 3), (5, 1)),
    ] {
        for w in [255, 256, 257, 600, 1031] {
            let spec = ConvSpec::new(named::build(name, &[], Some(size)).unwrap())
                .border(border)
                .stride_yx(sy, sx)
                .dilation_yx(dy, dx);
            let plan = convc_core::Plan::new(&spec).unwrap();
            assert!(!plan.is_heavy(), "{plan}");
            assert!(!convc_core::exec::runs_horizontal_first(&plan), "{plan}");
            let h = 40;
            let case = Case {
                spec: spec.clone(),
                shape: convc_core::Shape::new(h, w),
                pad_in: 5,
                pad_out: 3,
                seed: w as u64,
            };
            check(jit, &case).unwrap_or_else(|e| panic!("{name} w={w}: {e}"));
            let src =
                Image::<f32>::from_fn(w, h, |y, x| ((x * 31 + y * 17) % 23) as f32 - 11.0).unwrap();
            let strips = jit.compile(&spec).unwrap().apply_new(&src.view()).unwrap();
            let rows = jit
                .compile(&spec.clone().input_shape(h, w))
                .unwrap()
                .apply_new(&src.view())
                .unwrap();
            let bits =
                |img: &Image<f32>| img.data().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&strips), bits(&rows), "{name} w={w}");
        }
    }
}

/// Named kernels at several sizes, both strategies, the default (Mirror) border.
#[test]
fn named_kernels_direct_and_separable() {
    let jit = Jit::global();
    for (name, size) in [
        ("gaussian", (5, 5)),
        ("gaussian", (15, 15)),
        ("box", (3, 9)),
        ("sobel_y", (7, 7)),
        ("binomial", (9, 1)),
        ("laplacian", (3, 3)),
    ] {
        for strategy in [Strategy::Auto, Strategy::Direct] {
            for mode in [Mode::Same, Mode::Valid, Mode::Full] {
                let case = Case {
                    spec: ConvSpec::new(named::build(name, &[], Some(size)).unwrap())
                        .strategy(strategy)
                        .mode(mode),
                    shape: convc_core::Shape::new(45, 70),
                    pad_in: 3,
                    pad_out: 0,
                    seed: 9,
                };
                check(jit, &case).unwrap_or_else(|e| panic!("{name} {size:?} {strategy:?}: {e}"));
            }
        }
    }
}

/// A kernel whose taps are all zero writes zeros (times nothing).
#[test]
fn all_zero_kernel_writes_zeros() {
    let k = convc_core::Kernel::new(3, 4, vec![0.0; 12]).unwrap();
    let c = Jit::global().compile(&ConvSpec::new(k)).unwrap();
    let src = Image::<f32>::from_fn(40, 9, |y, x| (x + y) as f32).unwrap();
    let dst = c.apply_new(&src.view()).unwrap();
    assert!(dst.data().iter().all(|&v| v == 0.0));
}

/// Results are bit-identical whatever the thread count (and equal to the
/// one-thread result of the same code through `with_threads`).
#[test]
fn thread_count_does_not_change_results() {
    let jit = Jit::global();
    let (w, h) = (1003, 711);
    let data32 = pixels::<f32>(h, w, w, 5);
    let data64 = pixels::<f64>(h, w, w, 6);
    let mut rng = Rng(17);
    let dense = convc_core::Kernel::new(7, 7, (0..49).map(|_| rng.unit()).collect()).unwrap();
    let kernels = [
        named::build("gaussian", &[], Some((9, 9))).unwrap(),
        // Heavy: horizontal pass first, each band with its own ring of rows.
        named::build("gaussian", &[], Some((15, 15))).unwrap(),
        named::build("sobel_x", &[], None).unwrap(),
        dense,
    ];
    for kernel in kernels {
        for border in [Border::Mirror, Border::Zero, Border::Wrap] {
            let base = ConvSpec::new(kernel.clone())
                .border(border)
                .stride_yx(1 + w % 2, 1);
            let run32 = |threads: usize| {
                let c = jit.compile(&base.clone().threads(threads)).unwrap();
                c.apply_new(&ImageView::new(&data32, w, h).unwrap())
                    .unwrap()
            };
            let one = run32(1);
            for t in [2, 3, 7] {
                assert!(
                    one == run32(t),
                    "{border:?}: {t} threads differ from 1 (f32)"
                );
            }
            let spec64 = base.clone().dtype(DType::F64);
            let c = jit.compile(&spec64.clone().threads(1)).unwrap();
            let src = ImageView::new(&data64, w, h).unwrap();
            let one = c.apply_new(&src).unwrap();
            for t in [2, 5] {
                assert!(
                    one == c.with_threads(Some(t)).apply_new(&src).unwrap(),
                    "{t} threads (f64)"
                );
            }
        }
    }
}

/// Regression: convc-core's integer rank-1 split once lost taps when the pivot
/// column had zeros (`gcd` of zeros was taken as 1 and the row factor then
/// integer-divided), planning `6*t[1] + 9*t[2]` with `t = x[5] - x[3]` here.
#[test]
fn core_splits_integer_kernels_exactly() {
    let k = convc_core::Kernel::outer(&[0.0, -2.0, -3.0], &[0.0, 0.0, 1.0, 3.0, 1.0, -3.0, 0.0])
        .unwrap();
    assert!(plan_reproduces_kernel(&ConvSpec::new(k)));
}

/// The driver calls the kernels with 1, 2 or 4 rows per call (the Plan's
/// choice; the JIT's direct passes take at most 2): every count, direct and separable (the vertical pass's window of
/// rows, the horizontal pass's padded row), strides and dilations in y, every
/// border, heights that leave a short last group (rows computed into spare
/// rows), widths around the block sizes, fixed and free shapes, f32 and f64.
#[test]
fn rows_per_call_one_two_four() {
    let jit = Jit::global();
    let dense = |h: usize, w: usize| {
        convc_core::Kernel::new(
            h,
            w,
            (0..h * w)
                .map(|i| ((i * 7 % 13) as f64 - 6.0) / 5.0)
                .collect(),
        )
        .unwrap()
    };
    let cases = [
        // (spec, rows per call)
        (
            ConvSpec::new(named::build("sobel_x", &[], None).unwrap()),
            2,
        ),
        (
            ConvSpec::new(named::build("gaussian", &[], Some((5, 5))).unwrap()),
            4,
        ),
        (
            ConvSpec::new(named::build("gaussian", &[], Some((5, 3))).unwrap())
                .stride_yx(2, 1)
                .dilation_yx(2, 1),
            4,
        ),
        (ConvSpec::new(dense(6, 5)), 2),
        (
            ConvSpec::new(dense(6, 5)).stride_yx(2, 3).dilation_yx(1, 2),
            2,
        ),
        (
            ConvSpec::new(named::build("sobel_x", &[], None).unwrap()).stride_yx(3, 1),
            1,
        ),
        (
            ConvSpec::new(named::build("gaussian", &[], Some((5, 5))).unwrap()).stride_yx(5, 2),
            1,
        ),
    ];
    let borders = [
        Border::Zero,
        Border::Constant(1.5),
        Border::Replicate,
        Border::Reflect,
        Border::Mirror,
        Border::Wrap,
    ];
    for (k, (spec, r)) in cases.iter().enumerate() {
        let plan = jit.compile(spec).unwrap().plan().clone();
        assert_eq!(plan.rows_per_call, *r, "{plan}");
        for h in (1..=9).chain([13]) {
            for w in [1, 3, 4, 5, 8, 13, 31, 33, 64, 67] {
                let border = borders[(h + w + k) % borders.len()];
                let dtype = if (h + w) % 3 == 0 {
                    DType::F64
                } else {
                    DType::F32
                };
                for fixed in [false, true] {
                    let mut s = spec.clone().border(border).dtype(dtype);
                    if fixed {
                        s = s.input_shape(h, w);
                    }
                    let case = Case {
                        spec: s,
                        shape: convc_core::Shape::new(h, w),
                        pad_in: w % 2,
                        pad_out: 1 + h % 2,
                        seed: (h * 100 + w) as u64,
                    };
                    check(jit, &case)
                        .unwrap_or_else(|e| panic!("case {k} ({r} rows) {h}x{w} {border:?}: {e}"));
                }
            }
        }
    }
}

/// Row passes of more than 100 taps compile one output row per call (smaller
/// code, faster compiles) and still agree with the reference.
#[test]
fn very_large_kernels_compute_one_row_per_call() {
    let jit = Jit::global();
    let kernel = convc_core::Kernel::new(
        11,
        10,
        (0..110)
            .map(|i| ((i * 7 % 13) as f64 - 6.0) / 5.0)
            .collect(),
    )
    .unwrap();
    let spec = ConvSpec::new(kernel);
    assert_eq!(convc_core::Plan::new(&spec).unwrap().rows_per_call, 4);
    let plan = jit.compile(&spec).unwrap().plan().clone();
    assert_eq!(plan.rows_per_call, 1, "{plan}");
    for (h, w) in [(13, 40), (30, 23), (12, 11)] {
        let case = Case {
            spec: spec.clone().border(Border::Reflect),
            shape: convc_core::Shape::new(h, w),
            pad_in: 1,
            pad_out: 2,
            seed: (h * 100 + w) as u64,
        };
        check(jit, &case).unwrap_or_else(|e| panic!("{h}x{w}: {e}"));
    }
}
