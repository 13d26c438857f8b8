//! Golden fixtures: outputs computed by scipy.ndimage, scipy.signal and a plain numpy
//! implementation (`tests/fixtures/golden/make_golden.py`), reproduced by
//! `reference_f64` and by every backend in `Backend::available()`.
//!
//! Each case is checked within DESIGN.md's bound for its spec and input
//! (`convc::accuracy::error_bound`), and exactly where DESIGN.md promises exact
//! results (integer kernel, integer pixels, integer border constant). Every failure
//! is collected and reported with the case, the backend, the pixel and both values.

use convc::accuracy::{error_bound, max_abs_input};
use convc::exec::reference_f64;
use convc::{Backend, ConvSpec, DType, Element, Image, Shape};
use convc_tests::check::{OUTPUT_SENTINEL, Pitched, compare};
use convc_tests::golden::{GoldenCase, load_manifest};
use convc_tests::npy;

/// Thread counts every backend runs with; results must not depend on them.
const THREADS: [usize; 2] = [1, 3];

#[test]
fn every_backend_reproduces_numpy_and_scipy() {
    let manifest = load_manifest().unwrap();
    let mut failures = Vec::new();
    let mut checked = 0;
    for case in &manifest.cases {
        let result = match case.dtype {
            DType::F32 => check_case::<f32>(case),
            DType::F64 => check_case::<f64>(case),
        };
        match result {
            Ok(n) => checked += n,
            Err(mut errs) => failures.append(&mut errs),
        }
    }
    assert!(
        failures.is_empty(),
        "{} golden check(s) failed (fixtures from numpy {} / scipy {}):\n{}",
        failures.len(),
        manifest.numpy,
        manifest.scipy,
        failures.join("\n")
    );
    // Reference plus every backend at every thread count, for every case.
    let per_case = 1 + (Backend::available().len()) * THREADS.len();
    assert_eq!(checked, manifest.cases.len() * per_case);
}

/// Checks one case; `Ok(number of outputs checked)` or every failure.
fn check_case<T: Element>(case: &GoldenCase) -> Result<usize, Vec<String>> {
    let fail = |what: String| vec![format!("{} ({}): {what}", case.name, case.call)];
    let input = npy::read(&case.input)
        .map_err(|e| fail(e.to_string()))?
        .image::<T>()
        .map_err(|e| fail(format!("input: {e}")))?;
    let expected = npy::read(&case.expected).map_err(|e| fail(e.to_string()))?;
    let (eh, ew) = expected
        .shape_2d()
        .ok_or_else(|| fail("expected output is not 2D".into()))?;
    if (eh, ew) != case.expected_shape {
        return Err(fail(format!(
            "expected file is {eh}x{ew}, manifest says {:?}",
            case.expected_shape
        )));
    }
    let want = expected.to_f64();
    let spec = case.spec().map_err(|e| fail(format!("spec: {e}")))?;
    let out = spec
        .output_shape(input.shape())
        .map_err(|e| fail(format!("output shape: {e}")))?;
    if out != Shape::new(eh, ew) {
        return Err(fail(format!(
            "convc's output is {out}, scipy/numpy's is {eh}x{ew}"
        )));
    }
    let view = input.view();
    let bound = error_bound(&spec, max_abs_input(&spec, &view));
    let exact = spec.kernel.is_integral()
        && spec.border.constant().fract() == 0.0
        && input.data().iter().all(|v| v.to_f64().fract() == 0.0);
    let judge = |who: &str, got: &[f64]| -> Option<String> {
        if let Err(m) = compare(got, &want, out, bound) {
            Some(format!(
                "{} ({}): {who}: output ({}, {}) is {} but {} gives {} (|error| {:e} > bound {:e})",
                case.name,
                case.call,
                m.y,
                m.x,
                m.got,
                case.source,
                m.want,
                (m.got - m.want).abs(),
                m.bound
            ))
        } else if exact && let Some(i) = (0..want.len()).find(|&i| got[i] != want[i]) {
            Some(format!(
                "{} ({}): {who}: integer case must be exact, but output ({}, {}) is {} and {} gives {}",
                case.name,
                case.call,
                i / out.width,
                i % out.width,
                got[i],
                case.source,
                want[i]
            ))
        } else {
            None
        }
    };
    let mut failures = Vec::new();
    let mut checked = 0;
    match reference_f64(&spec, &view) {
        Ok(r) => failures.extend(judge("reference_f64", &r)),
        Err(e) => failures.push(format!("{} ({}): reference_f64: {e}", case.name, case.call)),
    }
    checked += 1;
    for backend in Backend::available() {
        for t in THREADS {
            let who = format!("{backend} ({t} thread(s))");
            match run::<T>(&spec.clone().threads(t), backend, &input, out) {
                Ok(got) => failures.extend(judge(&who, &got)),
                Err(e) => failures.push(format!("{} ({}): {who}: {e}", case.name, case.call)),
            }
            checked += 1;
        }
    }
    if failures.is_empty() {
        Ok(checked)
    } else {
        Err(failures)
    }
}

/// Runs a backend into an output whose rows have a gap (which must stay untouched).
fn run<T: Element>(
    spec: &ConvSpec,
    backend: Backend,
    input: &Image<T>,
    out: Shape,
) -> Result<Vec<f64>, String> {
    let conv = convc::Convolver::<T>::new(spec, backend).map_err(|e| e.to_string())?;
    let sentinel = T::from_f64(OUTPUT_SENTINEL);
    let mut got = Pitched::filled(out.width, out.height, out.width + 2, sentinel);
    let mut view = got.view_mut().map_err(|e| e.to_string())?;
    conv.apply(&input.view(), &mut view)
        .map_err(|e| e.to_string())?;
    if let Some((y, x)) = got.touched_gap(sentinel) {
        return Err(format!("wrote into the output's row gap at ({y}, {x})"));
    }
    Ok(got.packed().iter().map(|v| v.to_f64()).collect())
}

type Predicate<'a> = dyn Fn(&GoldenCase) -> bool + 'a;

/// The manifest covers what it claims: every source function, every border, every
/// mode, both ops and types, strides, dilations, anchors, kernels larger than the
/// image, even sizes, 1xN and Nx1 kernels, integer and float kernels.
#[test]
fn manifest_covers_the_promised_cases() {
    let manifest = load_manifest().unwrap();
    let cases = &manifest.cases;
    let count = |f: &Predicate<'_>| cases.iter().filter(|c| f(c)).count();
    for source in [
        "scipy.ndimage.correlate",
        "scipy.ndimage.convolve",
        "scipy.signal.correlate2d",
        "scipy.signal.convolve2d",
        "numpy.pad + sliding window",
    ] {
        assert!(
            count(&|c| c.source == source) >= 10,
            "fewer than 10 cases from {source}"
        );
    }
    for border in ["zero", "constant", "replicate", "reflect", "mirror", "wrap"] {
        assert!(
            count(&|c| c.border.to_string().starts_with(border)) > 0,
            "no {border} case"
        );
    }
    for mode in ["valid", "same", "full", "pad("] {
        assert!(
            count(&|c| c.mode.to_string().starts_with(mode)) > 0,
            "no {mode} case"
        );
    }
    let kernel = |c: &GoldenCase| (c.kernel.len(), c.kernel[0].len());
    let checks: [(&str, &Predicate<'_>); 12] = [
        ("convolve", &|c| c.op == convc::Op::Convolve),
        ("f64", &|c| c.dtype == DType::F64),
        ("f32", &|c| c.dtype == DType::F32),
        ("stride", &|c| c.stride != (1, 1)),
        ("dilation", &|c| c.dilation != (1, 1)),
        ("anchor", &|c| c.anchor.is_some()),
        ("even kernel", &|c| {
            kernel(c).0 % 2 == 0 || kernel(c).1 % 2 == 0
        }),
        ("1xN kernel", &|c| kernel(c).0 == 1 && kernel(c).1 > 1),
        ("Nx1 kernel", &|c| kernel(c).1 == 1 && kernel(c).0 > 1),
        ("integer kernel", &|c| {
            c.kernel.iter().flatten().all(|v| v.fract() == 0.0)
        }),
        ("float kernel", &|c| {
            c.kernel.iter().flatten().any(|v| v.fract() != 0.0)
        }),
        ("kernel larger than the image", &|c| {
            c.note.as_deref() == Some("kernel larger than the image")
        }),
    ];
    for (what, f) in checks {
        assert!(count(f) > 0, "no {what} case");
    }
    // The generator's measurements that docs/borders.md relies on.
    let obs = |key: &str| {
        manifest
            .observations
            .iter()
            .find(|(k, _)| k == key)
            .map(|&(_, v)| v)
            .unwrap_or_else(|| panic!("observation `{key}` missing"))
    };
    for f in ["correlate2d", "convolve2d"] {
        assert!(!obs(&format!(
            "scipy.signal.{f} same, even 4x4 kernel, equals convc default anchor k//2"
        )));
        assert!(obs(&format!(
            "scipy.signal.{f} same, even 4x4 kernel, equals convc anchor (k-1)//2"
        )));
    }
}
