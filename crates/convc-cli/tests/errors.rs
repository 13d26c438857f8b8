//! Bad input: a non-zero exit, a useful message on stderr, never a panic, and no
//! output file.

mod common;

use std::path::{Path, PathBuf};

use common::*;

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let f = Fixture {
            dir: tempfile::tempdir().unwrap(),
        };
        write_npy(&f.path("img.npy"), &[8, 9], &values(72, 1, 0.0, 1.0));
        let rgb = vec![7u8; 5 * 4 * 3];
        image::save_buffer(
            f.path("rgb.png"),
            &rgb,
            5,
            4,
            image::ExtendedColorType::Rgb8,
        )
        .unwrap();
        let rgba = vec![7u8; 5 * 4 * 4];
        image::save_buffer(
            f.path("rgba.png"),
            &rgba,
            5,
            4,
            image::ExtendedColorType::Rgba8,
        )
        .unwrap();
        f
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn s(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }
}

/// Runs `args`; asserts the exit `code`, that stderr contains every `needles`, that
/// nothing panicked, and that `out` (if any) was not written.
fn fails(args: &[String], code: i32, needles: &[&str], out: Option<&Path>) {
    let o = convc(args);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(code), "{args:?}\nstderr: {e}");
    for n in needles {
        assert!(e.contains(n), "{args:?}: stderr lacks `{n}`:\n{e}");
    }
    assert!(!e.contains("panicked"), "{args:?} panicked:\n{e}");
    if code == 1 {
        assert!(e.starts_with("error: "), "{args:?}: {e}");
    }
    if let Some(p) = out {
        assert!(!p.exists(), "{args:?} wrote {}", p.display());
    }
}

fn apply(f: &Fixture, flags: &[&str], input: &str, output: &str) -> Vec<String> {
    let mut a = vec!["apply".to_string()];
    a.extend(flags.iter().map(|s| s.to_string()));
    a.push(f.s(input));
    a.push(f.s(output));
    a
}

#[test]
fn bad_files() {
    let f = Fixture::new();
    let out = f.path("out.npy");
    let k = ["--kernel", "sobel_x"];
    fails(
        &apply(&f, &k, "missing.npy", "out.npy"),
        1,
        &["INPUT", "missing.npy"],
        Some(&out),
    );
    fails(
        &apply(&f, &k, "missing.png", "out.png"),
        1,
        &["INPUT", "missing.png"],
        None,
    );
    std::fs::write(f.path("junk.npy"), b"not an npy file").unwrap();
    fails(
        &apply(&f, &k, "junk.npy", "out.npy"),
        1,
        &["junk.npy", ".npy"],
        Some(&out),
    );
    // A header promising more values than the file holds.
    write_npy(&f.path("full.npy"), &[6, 6], &[1.0f32; 36]);
    let full = std::fs::read(f.path("full.npy")).unwrap();
    std::fs::write(f.path("short.npy"), &full[..full.len() - 8]).unwrap();
    fails(
        &apply(&f, &k, "short.npy", "out.npy"),
        1,
        &["short.npy", "file ends", "[6, 6] float32", "truncated"],
        Some(&out),
    );
    std::fs::write(f.path("junk.png"), b"not a png").unwrap();
    fails(
        &apply(&f, &k, "junk.png", "out.png"),
        1,
        &["junk.png"],
        None,
    );
    fails(
        &apply(&f, &k, "img.npy", "out.bmp"),
        1,
        &[".bmp", ".png"],
        None,
    );
    fails(
        &apply(&f, &k, "img.txt", "out.npy"),
        1,
        &[".txt"],
        Some(&out),
    );
    // 3D, integer, Fortran order, non-finite.
    write_npy(&f.path("cube.npy"), &[2, 3, 4], &[1.0f32; 24]);
    fails(
        &apply(&f, &k, "cube.npy", "out.npy"),
        1,
        &["2D", "[2, 3, 4]"],
        Some(&out),
    );
    write_npy(&f.path("int.npy"), &[3, 3], &[1i32; 9]);
    fails(
        &apply(&f, &k, "int.npy", "out.npy"),
        1,
        &["integer", "float32"],
        Some(&out),
    );
    write_npy(&f.path("u8.npy"), &[3, 3], &[1u8; 9]);
    fails(
        &apply(&f, &k, "u8.npy", "out.npy"),
        1,
        &["integer"],
        Some(&out),
    );
    {
        use npyz::WriterBuilder;
        let file = std::fs::File::create(f.path("fortran.npy")).unwrap();
        let mut w = npyz::WriteOptions::new()
            .default_dtype()
            .shape(&[3, 4])
            .order(npyz::Order::Fortran)
            .writer(file)
            .begin_nd()
            .unwrap();
        w.extend([0.5f64; 12]).unwrap();
        w.finish().unwrap();
    }
    fails(
        &apply(&f, &k, "fortran.npy", "out.npy"),
        1,
        &["Fortran"],
        Some(&out),
    );
    let mut v = values(9, 2, 0.0, 1.0);
    v[4] = f64::NAN;
    write_npy(&f.path("nan.npy"), &[3, 3], &v);
    fails(
        &apply(&f, &k, "nan.npy", "out.npy"),
        1,
        &["row 1, column 1", "finite"],
        Some(&out),
    );
    // Colour to .npy, alpha to JPEG, a folder that does not exist.
    fails(
        &apply(&f, &k, "rgb.png", "out.npy"),
        1,
        &["RGB", "grayscale"],
        Some(&out),
    );
    fails(
        &apply(&f, &k, "rgba.png", "out.jpg"),
        1,
        &["alpha"],
        Some(&f.path("out.jpg")),
    );
    fails(
        &apply(&f, &k, "img.npy", "no/such/dir/out.npy"),
        1,
        &["no/such/dir/out.npy"],
        None,
    );
    // A result that overflows f32.
    write_npy(&f.path("huge.npy"), &[2, 2], &[3e38f32; 4]);
    fails(
        &apply(&f, &["--kernel", "[1, 1]"], "huge.npy", "out.npy"),
        1,
        &["overflow", "float64"],
        Some(&out),
    );
}

#[test]
fn bad_kernels() {
    let f = Fixture::new();
    let out = f.path("out.npy");
    let run = |flags: &[&str], needles: &[&str]| {
        fails(
            &apply(&f, flags, "img.npy", "out.npy"),
            1,
            needles,
            Some(&out),
        )
    };
    run(
        &["--kernel", "sobelx"],
        &[
            "unknown kernel `sobelx`",
            "sobel_x",
            "gaussian",
            "laplacian",
        ],
    );
    run(
        &["--kernel", "[[1,2,3],[4,5]]"],
        &["--kernel", "equal length"],
    );
    run(&["--kernel", "[[1, x]]"], &["expected a number"]);
    run(&["--kernel", "gaussian(sigma=-1)"], &["sigma", "> 0"]);
    run(
        &["--kernel", "sobel_x", "--size", "4x4"],
        &["cannot be 4x4", "3x3, 5x5, 7x7"],
    );
    run(&["--kernel", "box", "--size", "3y3"], &["--size", "3y3"]);
    run(&["--kernel", "box", "--size", "0x3"], &["--size"]);
    run(&["--kernel", "[[1,2]]", "--size", "3x3"], &["1x2", "3x3"]);
    // Ten billion coefficients: refused before any is allocated (this used to
    // exhaust the machine's memory).
    run(
        &["--kernel", "box", "--size", "100000x100000"],
        &["10000000000 coefficients", "at most 16777216"],
    );
    // NaN and 3D kernel files.
    write_npy(&f.path("nan-k.npy"), &[2, 2], &[1.0f64, f64::NAN, 0.0, 1.0]);
    let nan = f.s("nan-k.npy");
    run(
        &["--kernel-file", &nan],
        &["--kernel-file", "not finite", "[0, 1]"],
    );
    write_npy(&f.path("k3.npy"), &[2, 2, 2], &[1.0f32; 8]);
    let k3 = f.s("k3.npy");
    run(&["--kernel-file", &k3], &["1D or 2D"]);
    write_npy(&f.path("ki.npy"), &[3], &[1i64; 3]);
    let ki = f.s("ki.npy");
    run(&["--kernel-file", &ki], &["integer"]);
    let missing = f.s("nokernel.npy");
    run(
        &["--kernel-file", &missing],
        &["--kernel-file", "nokernel.npy"],
    );
    // Larger than the padded input in valid mode (the input is 8x9).
    run(
        &["--kernel", "box", "--size", "9x3", "--mode", "valid"],
        &["the output would be empty", "rows"],
    );
    run(
        &[
            "--kernel",
            "box",
            "--size",
            "3",
            "--dilation",
            "5",
            "--mode",
            "valid",
        ],
        &["the output would be empty"],
    );
}

#[test]
fn bad_options() {
    let f = Fixture::new();
    let out = f.path("out.npy");
    let run = |flags: &[&str], needles: &[&str]| {
        fails(
            &apply(&f, flags, "img.npy", "out.npy"),
            1,
            needles,
            Some(&out),
        )
    };
    let k = |extra: &[&'static str]| {
        let mut v = vec!["--kernel", "sobel_x"];
        v.extend_from_slice(extra);
        v
    };
    run(&k(&["--stride", "0"]), &["--stride", "at 1"]);
    run(&k(&["--stride", "2x0"]), &["--stride"]);
    run(&k(&["--stride", "two"]), &["--stride", "`two`"]);
    run(&k(&["--dilation", "0"]), &["--dilation"]);
    run(
        &k(&["--border", "bogus"]),
        &["unknown border `bogus`", "replicate", "wrap"],
    );
    run(&k(&["--border", "constant:abc"]), &["constant:C"]);
    run(
        &k(&["--border", "constant:nan"]),
        &["border constant", "not finite"],
    );
    // Finite as an f64 but infinite as the f32 the image is filtered in.
    run(
        &k(&["--border", "constant:1e39"]),
        &["border constant as f32", "not finite"],
    );
    run(
        &["--kernel", "[1e39, 1]"],
        &["kernel coefficient [0, 0] as f32", "not finite"],
    );
    run(
        &k(&["--backend", "gpu"]),
        &["unknown backend `gpu`", "generic", "naive"],
    );
    run(&k(&["--threads", "0"]), &["--threads", "at least 1"]);
    run(&k(&["--anchor", "3,0"]), &["anchor (3, 0)", "outside"]);
    run(&k(&["--anchor", "1"]), &["--anchor", "AY,AX"]);
    run(&k(&["--mode", "full", "--anchor", "1,1"]), &["same mode"]);
    run(&k(&["--pad", "1,1,1"]), &["--pad", "T,B,L,R"]);
    run(&k(&["--pad", "1,1,1,x"]), &["--pad", "`x`"]);
    // Usage errors, reported by the argument parser (exit 2).
    let usage = |flags: &[&str], needles: &[&str]| {
        fails(
            &apply(&f, flags, "img.npy", "out.npy"),
            2,
            needles,
            Some(&out),
        )
    };
    usage(
        &k(&["--pad", "1,1,1,1", "--mode", "same"]),
        &["--pad", "--mode"],
    );
    let kf = f.s("img.npy");
    usage(
        &["--kernel", "box", "--kernel-file", &kf],
        &["--kernel", "--kernel-file"],
    );
    usage(&[], &["--kernel"]);
    usage(&k(&["--mode", "sideways"]), &["sideways", "valid"]);
    usage(&k(&["--threads", "two"]), &["--threads", "two"]);
    usage(&["--kernel-file", &kf, "--size", "3x3"], &["--size"]);
}

#[test]
fn bad_demo_and_emit_arguments() {
    let f = Fixture::new();
    let o = f.s("demo");
    fails(
        &[
            "demo".into(),
            "--size".into(),
            "8".into(),
            "--out".into(),
            o.clone(),
        ],
        1,
        &["--size", "16"],
        Some(&f.path("demo")),
    );
    let a = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    fails(
        &a(&["emit", "--kernel", "sobel_x", "--input", "0x5"]),
        1,
        &["--input"],
        None,
    );
    fails(
        &a(&[
            "emit", "--kernel", "box", "--size", "5", "--mode", "valid", "--input", "3x9",
        ]),
        1,
        &["the output would be empty"],
        None,
    );
    fails(
        &a(&["emit", "--target", "cuda", "--kernel", "box"]),
        2,
        &["cuda"],
        None,
    );
    fails(&a(&["frobnicate"]), 2, &["frobnicate"], None);
}
