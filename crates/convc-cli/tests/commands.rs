//! `convc kernels`, `convc emit` and `convc demo`.

mod common;

use common::*;
use convc::Backend;
use convc::named::NAMED_KERNELS;

#[test]
fn kernels_lists_every_name_with_its_matrix() {
    let o = convc(["kernels"]);
    assert_ok(&o, "kernels");
    let text = stdout(&o);
    for k in NAMED_KERNELS {
        assert!(
            text.lines().any(|l| l == k.name),
            "`{}` is not listed:\n{text}",
            k.name
        );
        assert!(text.contains(k.summary), "summary of {} missing", k.name);
    }
    // sobel_x at its default size, as Kernel's Display prints it.
    assert!(
        text.contains("    [-1  0  1]\n    [-2  0  2]\n    [-1  0  1]"),
        "{text}"
    );
    assert!(text.contains("sigma=<number>"));
}

#[test]
fn emit_plan_prints_the_method() {
    let o = convc(["emit", "--target", "plan", "--kernel", "sobel_x"]);
    assert_ok(&o, "emit sobel_x");
    let text = stdout(&o);
    assert!(text.contains("plan: correlate sobel_x 3x3, f32"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.trim_start().starts_with("method: direct")),
        "{text}"
    );
    assert!(text.contains("input any size"), "{text}");

    let o = convc([
        "emit", "--kernel", "gaussian", "--size", "5x5", "--input", "32x48", "--dtype", "f64",
    ]);
    assert_ok(&o, "emit gaussian");
    let text = stdout(&o);
    assert!(
        text.lines()
            .any(|l| l.trim_start().starts_with("method: separable")),
        "{text}"
    );
    assert!(text.contains("input fixed at 32x48"), "{text}");
    assert!(text.contains(", f64"), "{text}");

    let o = convc([
        "emit", "--kernel", "box", "--stride", "2x3", "--pad", "1,0,2,0", "--border", "wrap",
    ]);
    assert_ok(&o, "emit box");
    let text = stdout(&o);
    assert!(
        text.contains("stride 2x3, dilation 1x1, pads top 1 bottom 0 left 2 right 0, border wrap"),
        "{text}"
    );
}

#[test]
fn emit_generated_code_for_every_target() {
    // What each generator must show for sobel_x: the 2* multiply and no coefficient table.
    let expect: [(&str, &[&str]); 3] = [
        (
            "rust",
            &["impl ::convc::Convolution for", "* simd.splat(2.0)"],
        ),
        ("clif", &["function", "f32x4", "fadd"]),
        ("asm", &["addps", "%xmm"]),
    ];
    for (t, needles) in expect {
        let o = convc(["emit", "--target", t, "--kernel", "sobel_x"]);
        assert_ok(&o, t);
        let text = stdout(&o);
        for n in needles {
            assert!(text.contains(n), "--target {t} lacks `{n}`:\n{text}");
        }
    }
    let o = convc([
        "emit", "--target", "rust", "--kernel", "sobel_x", "--stride", "0",
    ]);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn demo_runs_small_and_writes_pngs() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo-out");
    let o = convc(["demo", "--size", "64", "--out", out.to_str().unwrap()]);
    assert_ok(&o, "demo");
    let text = stdout(&o);
    for b in Backend::available() {
        assert!(
            text.lines()
                .any(|l| l.split_whitespace().any(|w| w == b.name())),
            "backend {b} missing from the table:\n{text}"
        );
    }
    for w in [
        "sobel magnitude",
        "gaussian 7x7",
        "laplacian",
        "sharpen",
        "dense 7x7",
    ] {
        assert!(text.contains(w), "workload {w} missing:\n{text}");
    }
    assert!(text.contains("threads=1"), "{text}");
    assert!(text.contains("every backend agrees"), "{text}");
    for (file, side) in [
        ("pattern.png", 64),
        ("pattern-128.png", 128),
        ("sobel-magnitude.png", 64),
        ("gaussian-7x7.png", 64),
        ("laplacian.png", 64),
        ("sharpen.png", 64),
        ("dense-7x7-random.png", 128),
    ] {
        let img = image::open(out.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!((img.width(), img.height()), (side, side), "{file}");
        assert_eq!(img.color(), image::ColorType::L8, "{file}");
        let px = img.as_bytes();
        assert!(px.iter().any(|&v| v != px[0]), "{file} is a flat image");
    }
}
