//! `convc apply` on .npy arrays, compared with the f64 reference within DESIGN.md's bound.

mod common;

use common::*;
use convc::parse::parse_kernel;
use convc::{Backend, Border, ConvSpec, DType, Image, Kernel, Mode, Op};

/// The input every case filters: 23 x 31, values in [-50, 200).
fn input_f32() -> Image<f32> {
    let v = values(23 * 31, 1, -50.0, 200.0);
    Image::from_vec(v.iter().map(|&x| x as f32).collect(), 31, 23).unwrap()
}

fn input_f64() -> Image<f64> {
    Image::from_vec(values(23 * 31, 2, -50.0, 200.0), 31, 23).unwrap()
}

fn k(expr: &str, size: Option<(usize, usize)>) -> ConvSpec {
    ConvSpec::new(parse_kernel(expr, size).unwrap())
}

/// (flags, the spec they must mean).
fn cases() -> Vec<(Vec<&'static str>, ConvSpec)> {
    vec![
        (vec!["--kernel", "sobel_x"], k("sobel_x", None)),
        (
            vec![
                "--kernel",
                "gaussian(sigma=1.5)",
                "--size",
                "5x7",
                "--border",
                "reflect",
            ],
            k("gaussian(sigma=1.5)", Some((5, 7))).border(Border::Reflect),
        ),
        (
            vec![
                "--kernel",
                "[[1,2,1],[0,0,0],[-1,-2,-1]]",
                "--mode",
                "valid",
            ],
            k("[[1,2,1],[0,0,0],[-1,-2,-1]]", None).mode(Mode::Valid),
        ),
        (
            vec![
                "--kernel",
                "[1,2,1]/4",
                "--mode",
                "full",
                "--border",
                "constant:7.5",
            ],
            k("[1,2,1]/4", None)
                .mode(Mode::Full)
                .border(Border::Constant(7.5)),
        ),
        (
            vec![
                "--kernel",
                "box",
                "--size",
                "3x4",
                "--stride",
                "2",
                "--border",
                "replicate",
            ],
            k("box", Some((3, 4))).stride(2).border(Border::Replicate),
        ),
        (
            vec![
                "--kernel",
                "laplacian",
                "--dilation",
                "2x3",
                "--border",
                "wrap",
            ],
            k("laplacian", None).dilation_yx(2, 3).border(Border::Wrap),
        ),
        (
            vec!["--kernel", "emboss", "--op", "convolve", "--border", "zero"],
            k("emboss", None).op(Op::Convolve).border(Border::Zero),
        ),
        (
            // An even kernel: same-mode padding flips with the op.
            vec!["--kernel", "[[1,2],[3,5]]", "--op", "convolve"],
            k("[[1,2],[3,5]]", None).op(Op::Convolve),
        ),
        (
            vec![
                "--kernel", "emboss", "--pad", "0,2,3,1", "--stride", "1x2", "--border", "mirror",
            ],
            k("emboss", None)
                .mode(Mode::Explicit {
                    top: 0,
                    bottom: 2,
                    left: 3,
                    right: 1,
                })
                .stride_yx(1, 2),
        ),
        (
            vec![
                "--kernel",
                "box",
                "--size",
                "3x5",
                "--anchor",
                "0,4",
                "--border",
                "constant:-3",
            ],
            k("box", Some((3, 5)))
                .anchor(0, 4)
                .border(Border::Constant(-3.0)),
        ),
        (
            vec![
                "--kernel",
                "sharpen",
                "--border",
                "nearest",
                "--threads",
                "2",
            ],
            k("sharpen", None).border(Border::Replicate).threads(2),
        ),
        (
            vec!["--kernel", "log(sigma=1)", "--size", "7", "--stride", "3x2"],
            k("log(sigma=1)", Some((7, 7))).stride_yx(3, 2),
        ),
    ]
}

fn run_case<T: convc::Element + npyz::AutoSerialize + npyz::Deserialize>(
    dir: &std::path::Path,
    i: usize,
    flags: &[&str],
    spec: &ConvSpec,
    input: &Image<T>,
    extra: &[&str],
) {
    let dtype = T::DTYPE;
    let inp = dir.join(format!("in{i}.npy"));
    let out = dir.join(format!("out{i}.npy"));
    write_npy(
        &inp,
        &[input.height() as u64, input.width() as u64],
        input.data(),
    );
    let mut args: Vec<String> = vec!["apply".into()];
    args.extend(flags.iter().map(|s| s.to_string()));
    args.extend(extra.iter().map(|s| s.to_string()));
    args.push(inp.display().to_string());
    args.push(out.display().to_string());
    let o = convc(&args);
    assert_ok(&o, &format!("{args:?}"));
    assert!(
        stdout(&o).is_empty() && stderr(&o).is_empty(),
        "apply prints nothing without -v"
    );
    let spec = spec.clone().dtype(dtype);
    let (shape, want, bound) = oracle(&spec, input);
    let (descr, got_shape, got) = read_npy::<T>(&out);
    assert_eq!(
        descr,
        if dtype == DType::F32 { "<f4" } else { "<f8" },
        "{args:?}"
    );
    assert_eq!(
        got_shape,
        vec![shape.height as u64, shape.width as u64],
        "{args:?}"
    );
    let got: Vec<f64> = got.iter().map(|v| v.to_f64()).collect();
    assert_close(&got, &want, bound, &format!("{args:?}"));
}

#[test]
fn f32_arrays_match_the_reference_for_every_spec() {
    let dir = tempfile::tempdir().unwrap();
    let input = input_f32();
    for (i, (flags, spec)) in cases().iter().enumerate() {
        run_case(dir.path(), i, flags, spec, &input, &[]);
    }
}

#[test]
fn f64_arrays_stay_f64_and_match_the_reference() {
    let dir = tempfile::tempdir().unwrap();
    let input = input_f64();
    for (i, (flags, spec)) in cases().iter().enumerate() {
        run_case(dir.path(), i, flags, spec, &input, &[]);
    }
}

#[test]
fn every_backend_matches_the_reference() {
    let dir = tempfile::tempdir().unwrap();
    let input = input_f32();
    let input64 = input_f64();
    let mut names: Vec<&str> = Backend::available().iter().map(|b| b.name()).collect();
    names.push("auto");
    let (flags, spec) = &cases()[1];
    for (i, name) in names.iter().enumerate() {
        run_case(dir.path(), i, flags, spec, &input, &["--backend", name]);
        run_case(
            dir.path(),
            100 + i,
            flags,
            spec,
            &input64,
            &["--backend", name],
        );
    }
}

#[test]
fn kernel_files_1d_and_2d_f32_and_f64() {
    let dir = tempfile::tempdir().unwrap();
    let input = input_f32();
    // 2D float64 kernel, 3 x 2.
    let k2 = [0.5f64, -1.25, 2.0, 0.0, 3.0, -0.75];
    let p2 = dir.path().join("k2.npy");
    write_npy(&p2, &[3, 2], &k2);
    // 1D float32 kernel: one row.
    let k1 = [1.0f32, -2.0, 0.25, 4.0];
    let p1 = dir.path().join("k1.npy");
    write_npy(&p1, &[4], &k1);
    let cases = [
        (
            p2.display().to_string(),
            ConvSpec::new(Kernel::new(3, 2, k2.to_vec()).unwrap()).border(Border::Wrap),
            vec!["--border", "wrap"],
        ),
        (
            p1.display().to_string(),
            ConvSpec::new(Kernel::new(1, 4, k1.iter().map(|&v| v as f64).collect()).unwrap())
                .op(Op::Convolve)
                .mode(Mode::Valid),
            vec!["--op", "convolve", "--mode", "valid"],
        ),
    ];
    for (i, (path, spec, extra)) in cases.iter().enumerate() {
        run_case(
            dir.path(),
            i,
            &["--kernel-file", path.as_str()],
            spec,
            &input,
            extra,
        );
    }
}

#[test]
fn verbose_prints_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let input = input_f32();
    let inp = dir.path().join("in.npy");
    let out = dir.path().join("out.npy");
    write_npy(&inp, &[23, 31], input.data());
    let o = convc([
        "apply",
        "-v",
        "--kernel",
        "sobel_x",
        "--backend",
        "naive",
        inp.to_str().unwrap(),
        out.to_str().unwrap(),
    ]);
    assert_ok(&o, "apply -v");
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("sobel_x") && err.contains("naive"), "{err}");
    assert!(stdout(&o).is_empty());
}

#[test]
fn kernels_too_long_for_the_jit_run_on_the_generic_executor() {
    // 129 x 129 = 16641 taps in one direct pass, over the JIT's 16384.
    let dir = tempfile::tempdir().unwrap();
    let n = 129;
    let coeffs: Vec<f32> = values(n * n, 3, 0.5, 1.5)
        .iter()
        .map(|&v| v as f32)
        .collect();
    let kp = dir.path().join("k129.npy");
    write_npy(&kp, &[n as u64, n as u64], &coeffs);
    let kernel = Kernel::new(n, n, coeffs.iter().map(|&v| f64::from(v)).collect()).unwrap();
    let spec = ConvSpec::new(kernel).border(Border::Zero);
    let kf = kp.display().to_string();
    // The default backend (auto) runs it, correctly.
    let flags = ["--kernel-file", kf.as_str()];
    run_case(
        dir.path(),
        0,
        &flags,
        &spec,
        &input_f32(),
        &["--border", "zero"],
    );
    let inp = dir.path().join("in0.npy").display().to_string();
    let out = dir.path().join("out.npy").display().to_string();
    let o = convc([
        "apply",
        "-v",
        "--kernel-file",
        &kf,
        "--border",
        "zero",
        &inp,
        &out,
    ]);
    assert_ok(&o, "apply -v");
    assert!(stderr(&o).contains("generic"), "{}", stderr(&o));
    // Asked for by name, the JIT says why it will not.
    let o = convc([
        "apply",
        "--backend",
        "jit",
        "--kernel-file",
        &kf,
        &inp,
        &out,
    ]);
    if Backend::available().contains(&Backend::Jit) {
        assert_eq!(o.status.code(), Some(1));
        let err = stderr(&o);
        assert!(
            err.contains("16641 taps") && err.contains("generic backend"),
            "{err}"
        );
    }
}
