//! Every backend in `Backend::available()` (but the reference itself) against
//! `reference_f64`, within DESIGN.md's bound, on generated cases.
//!
//! The cases and the checks live in the `convc_tests` library (`cases`, `check`);
//! this file states the properties. 512 small cases and 32 large ones per run, with
//! a fixed seed (`PROPTEST_CASES` and `PROPTEST_RNG_SEED` explore further).

use convc::{Backend, Border, ConvError, ConvSpec, Convolver, Image, Kernel, Mode, Strategy};
use convc_tests::cases::{self, KernelFamily, MULTI_BAND_OUTPUT_PIXELS};
use convc_tests::check::{self, Outcome};
use convc_tests::proptest_config;
use proptest::prelude::*;

proptest! {
    #![proptest_config(proptest_config(512))]

    /// Small images, everything varied; thread counts 1 and 3 must agree bit for bit.
    /// Specs that are invalid for their image must be rejected with a ConvError.
    #[test]
    fn every_backend_agrees_with_the_reference(case in cases::case()) {
        if let Err(msg) = check::check_case(&case, &[1, 3]) {
            prop_assert!(false, "{}\n{:?}", msg, case);
        }
    }
}

proptest! {
    #![proptest_config(proptest_config(32))]

    /// Outputs large enough that the row driver splits them into bands: 1, 2 and 3
    /// threads and "all cores" must give bit-identical results.
    #[test]
    fn thread_count_never_changes_a_bit(case in cases::large_case()) {
        match check::check_case(&case, &[1, 3, 2]) {
            Ok(Outcome::Checked { output, .. }) => prop_assert!(
                output.pixels() >= MULTI_BAND_OUTPUT_PIXELS,
                "output {} is too small to split into bands\n{:?}", output, case
            ),
            Ok(Outcome::Rejected(e)) => prop_assert!(false, "large cases are valid, got {}\n{:?}", e, case),
            Err(msg) => prop_assert!(false, "{}\n{:?}", msg, case),
        }
    }
}

/// The generator is not vacuous: a sample of the strategy the property uses holds
/// every family, border, mode, op, type and strategy, mostly valid specs, invalid
/// ones too, and valid specs whose kernel is larger than the image.
#[test]
fn generated_cases_cover_the_space() {
    let c = cases::generator_coverage(cases::case(), 2000);
    let frac = |n: usize| n as f64 / c.total as f64;
    assert!(
        frac(c.valid) >= 0.7,
        "only {} of {} cases valid",
        c.valid,
        c.total
    );
    assert!(c.valid < c.total, "no invalid case in {}", c.total);
    assert!(
        frac(c.valid_kernel_larger_than_image) >= 0.1,
        "{} valid cases with a kernel larger than the image",
        c.valid_kernel_larger_than_image
    );
    for f in KernelFamily::ALL {
        assert!(c.families.contains(&f), "no {f:?} kernel");
    }
    for b in ["zero", "constant", "replicate", "reflect", "mirror", "wrap"] {
        assert!(c.borders.contains(b), "no {b} border: {:?}", c.borders);
    }
    for m in ["valid", "same", "full", "explicit"] {
        assert!(c.modes.contains(m), "no {m} mode: {:?}", c.modes);
    }
    for s in ["Auto", "Direct", "Separable"] {
        assert!(c.strategies.contains(s), "no {s} strategy");
    }
    assert_eq!(c.ops.len(), 2);
    assert_eq!(c.dtypes.len(), 2);
    for (what, n) in [
        ("pitched", c.pitched),
        ("fixed input shape", c.fixed),
        ("anchored", c.anchored),
        ("strided or dilated", c.stepped),
        ("exact", c.exact),
    ] {
        assert!(frac(n) >= 0.1, "only {n} {what} cases of {}", c.total);
    }
    assert_eq!(c.max_kernel_side, 9);
    assert_eq!((c.max_height, c.max_width), (67, 131));
}

/// The large-case generator really produces outputs the driver splits.
#[test]
fn large_cases_are_large() {
    let c = cases::generator_coverage(cases::large_case(), 200);
    assert_eq!(c.valid, c.total);
    assert_eq!(c.strategies.len(), 3);
}

fn kernel(rows: &[&[f64]]) -> Kernel {
    Kernel::from_rows(rows).unwrap()
}

/// Misuse is an error from every backend, never a panic.
#[test]
fn bad_calls_are_errors_on_every_backend() {
    let spec = ConvSpec::new(kernel(&[&[1.0, 2.0, 1.0], &[0.0, 1.0, 0.0]]));
    let src = Image::<f32>::from_fn(9, 7, |y, x| (y * 9 + x) as f32).unwrap();
    for backend in Backend::available() {
        let conv = Convolver::<f32>::new(&spec, backend).unwrap();
        // Wrong output shape.
        let mut small = Image::<f32>::zeros(8, 7).unwrap();
        assert!(
            matches!(
                conv.apply(&src.view(), &mut small.view_mut()),
                Err(ConvError::ShapeMismatch { .. })
            ),
            "{backend}: wrong output shape"
        );
        // Element type other than the spec's.
        assert!(
            matches!(
                Convolver::<f64>::new(&spec, backend),
                Err(ConvError::DTypeMismatch { .. })
            ),
            "{backend}: f64 convolver for an f32 spec"
        );
        // Fixed input shape, other image.
        let fixed = Convolver::<f32>::new(&spec.clone().input_shape(7, 8), backend).unwrap();
        let mut out = Image::<f32>::zeros(9, 7).unwrap();
        assert!(
            fixed.apply(&src.view(), &mut out.view_mut()).is_err(),
            "{backend}: fixed 7x8 input given 7x9"
        );
        // Separable strategy for a kernel that is not rank 1: refused when the
        // convolver is built or at the latest when it runs (the reference evaluates
        // the definition and has no strategy to refuse).
        let sep = spec.clone().strategy(Strategy::Separable);
        if backend != Backend::Reference {
            let mut out = Image::<f32>::zeros(9, 7).unwrap();
            let result = Convolver::<f32>::new(&sep, backend)
                .and_then(|c| c.apply(&src.view(), &mut out.view_mut()));
            assert!(
                matches!(result, Err(ConvError::InvalidOption(_))),
                "{backend}: separable strategy on a rank-2 kernel gave {result:?}"
            );
        }
        // Zero stride, zero dilation, anchor outside, non-finite constant.
        for bad in [
            spec.clone().stride(0),
            spec.clone().dilation_yx(1, 0),
            spec.clone().anchor(2, 0),
            spec.clone().border(Border::Constant(f64::INFINITY)),
            spec.clone().threads(0),
        ] {
            assert!(
                Convolver::<f32>::new(&bad, backend).is_err(),
                "{backend}: {bad:?} accepted"
            );
        }
        // Valid mode with a kernel taller than the image.
        let tall = ConvSpec::new(kernel(&[&[1.0], &[1.0], &[1.0]])).mode(Mode::Valid);
        let conv = Convolver::<f32>::new(&tall, backend).unwrap();
        let flat = Image::<f32>::zeros(5, 2).unwrap();
        let mut out = Image::<f32>::zeros(5, 1).unwrap();
        assert!(matches!(
            conv.apply(&flat.view(), &mut out.view_mut()),
            Err(ConvError::KernelLargerThanInput { axis: "rows", .. })
        ));
    }
}

/// Integer rank-1 kernels whose pivot column starts with a zero (a blur with a zero
/// frame, a kernel whose first row is zero) must split into the right factors.
/// Found by the property above: convc-core's `analyze::rank1` lost the column's
/// common factor when its first element is 0 (gcd(0, 0) taken as 1), and the
/// integer division that follows truncated the row factor.
#[test]
fn rank1_kernels_with_a_zero_first_row_split_correctly() {
    let outer = |col: &[i64], row: &[i64]| {
        let c: Vec<f64> = col
            .iter()
            .flat_map(|&a| row.iter().map(move |&b| (a * b) as f64))
            .collect();
        Kernel::new(col.len(), row.len(), c).unwrap()
    };
    let specs = [
        // Default everything: Auto splits this zero-framed binomial.
        ConvSpec::new(outer(&[0, 1, 4, 6, 4, 1, 0], &[1, 4, 6, 4, 1])),
        ConvSpec::new(outer(&[0, 1, 2, 1, 0], &[1, 4, 6, 4, 1])),
        ConvSpec::new(outer(&[0, 1], &[1, 2])).strategy(Strategy::Separable),
        ConvSpec::new(outer(&[1, 0], &[1, 2]))
            .op(convc::Op::Convolve)
            .strategy(Strategy::Separable),
    ];
    let src = Image::<f32>::from_fn(23, 17, |y, x| ((y * 31 + x * 7) % 13) as f32).unwrap();
    for spec in specs {
        let want = convc::exec::reference_f64(&spec, &src.view()).unwrap();
        for backend in check::backends_under_test() {
            let got = Convolver::<f32>::new(&spec, backend)
                .unwrap()
                .apply_new(&src.view())
                .unwrap();
            // Integer kernel on integer pixels: exact.
            let first_wrong = got
                .data()
                .iter()
                .zip(&want)
                .position(|(&g, &w)| g as f64 != w);
            if let Some(i) = first_wrong {
                panic!(
                    "{backend}: output ({}, {}) is {} but the reference is {}\nkernel {:?}\n{}",
                    i / got.width(),
                    i % got.width(),
                    got.data()[i],
                    want[i],
                    spec.kernel.coeffs(),
                    convc::Plan::new(&spec).unwrap()
                );
            }
        }
    }
}
