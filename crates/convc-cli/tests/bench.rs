//! `convc bench`: the run, its JSON schema, the SVG, merging OpenCV's rows, and
//! bad flags. Speed is reported, never asserted: only the arithmetic between the
//! numbers (ratio = median / floor, Mpx/s from the output size) is checked.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::*;
use convc::Backend;
use serde_json::Value;

const WORKLOADS: [&str; 6] = [
    "sobel_x_3x3",
    "gaussian_5x5",
    "gaussian_15x15",
    "dense_7x7",
    "stride2_3x3",
    "dilation2_3x3",
];

struct Tmp {
    dir: tempfile::TempDir,
}

impl Tmp {
    fn new() -> Tmp {
        Tmp {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn s(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// Runs `convc bench --size size --reps reps`, then `extra`.
fn bench(size: &str, reps: &str, extra: &[&str]) -> Output {
    let mut a = args(&["bench", "--size", size, "--reps", reps]);
    a.extend(args(extra));
    convc(&a)
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn positive(v: &Value, what: &str) -> f64 {
    let x = v
        .as_f64()
        .unwrap_or_else(|| panic!("{what} is not a number: {v}"));
    assert!(x.is_finite() && x > 0.0, "{what} = {x}");
    x
}

/// Output pixels of a workload on an `n` x `n` input.
fn out_pixels(workload: &str, n: usize) -> f64 {
    if workload == "stride2_3x3" {
        (n.div_ceil(2) * n.div_ceil(2)) as f64
    } else {
        (n * n) as f64
    }
}

/// Checks the schema and the arithmetic of our rows, one per workload and
/// backend; returns the rows.
fn check_report(j: &Value, n: usize, threads: u64, backends: &[&str]) -> Vec<Value> {
    check_rows(j, n, threads, backends, &WORKLOADS)
}

/// [`check_report`] for the given workloads only.
fn check_rows(
    j: &Value,
    n: usize,
    threads: u64,
    backends: &[&str],
    workloads: &[&str],
) -> Vec<Value> {
    let keys: Vec<&str> = j.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["compile_ms", "floor_ms", "machine", "rows"]);
    let m = &j["machine"];
    assert!(m["cpu"].as_str().is_some_and(|s| !s.is_empty()), "{m}");
    assert!(m["cores"].as_u64().is_some_and(|c| c >= 1), "{m}");
    assert!(m["features"].is_array(), "{m}");
    let floor = positive(&j["floor_ms"], "floor_ms");
    let rows = j["rows"].as_array().unwrap().clone();
    let ours: Vec<&Value> = rows.iter().filter(|r| r["backend"] != "opencv").collect();
    assert_eq!(ours.len(), workloads.len() * backends.len(), "{rows:#?}");
    for w in workloads {
        for b in backends {
            let hits: Vec<_> = ours
                .iter()
                .filter(|r| r["workload"] == *w && r["backend"] == *b)
                .collect();
            assert_eq!(hits.len(), 1, "{w} / {b}: {rows:#?}");
        }
    }
    for r in &ours {
        let o = r.as_object().unwrap();
        let mut k: Vec<&str> = o.keys().map(String::as_str).collect();
        k.sort_unstable();
        assert_eq!(
            k,
            [
                "backend",
                "median_ms",
                "mpx_s",
                "ratio_to_floor",
                "threads",
                "workload"
            ]
        );
        assert_eq!(r["threads"].as_u64(), Some(threads), "{r}");
        let ms = positive(&r["median_ms"], "median_ms");
        let mpx = positive(&r["mpx_s"], "mpx_s");
        let ratio = positive(&r["ratio_to_floor"], "ratio_to_floor");
        assert!(
            (ratio - ms / floor).abs() <= 1e-9 * ratio,
            "{r} floor {floor}"
        );
        let want = out_pixels(r["workload"].as_str().unwrap(), n) / ms / 1e3;
        assert!(
            (mpx - want).abs() <= 1e-9 * want,
            "{r}: Mpx/s {mpx} != {want}"
        );
    }
    let compile = j["compile_ms"].as_object().unwrap();
    if Backend::available().contains(&Backend::Jit) {
        let mut k: Vec<&str> = compile.keys().map(String::as_str).collect();
        k.sort_unstable();
        assert_eq!(k, ["15x15", "3x3", "7x7"]);
        for (key, v) in compile {
            positive(v, key);
        }
    } else {
        assert!(compile.is_empty(), "{compile:?}");
    }
    rows
}

/// The backends the default run measures: the available ones but the slow
/// ones, then the compile-time `conv!` rows.
fn default_backends() -> Vec<&'static str> {
    Backend::available()
        .into_iter()
        .filter(|b| !matches!(b, Backend::Reference | Backend::Naive))
        .map(Backend::name)
        .chain(["macro"])
        .collect()
}

#[test]
fn bench_writes_the_table_json_and_svg() {
    let t = Tmp::new();
    let o = bench(
        "64",
        "2",
        &["--json", &t.s("b.json"), "--plot", &t.s("b.svg")],
    );
    assert_ok(&o, "bench");
    let out = stdout(&o);
    let backends = default_backends();
    assert!(backends.contains(&"generic"), "{backends:?}");
    check_report(&read_json(&t.path("b.json")), 64, 1, &backends);
    for w in WORKLOADS {
        for b in &backends {
            let line = out
                .lines()
                .find(|l| l.starts_with(w) && l.split_whitespace().nth(1) == Some(*b));
            assert!(line.is_some(), "no table row {w} / {b}:\n{out}");
        }
    }
    for needle in ["copy floor", "machine:", "JIT compile"] {
        assert!(out.contains(needle), "stdout lacks `{needle}`:\n{out}");
    }
    let svg = std::fs::read_to_string(t.path("b.svg")).unwrap();
    assert!(svg.starts_with("<svg"));
    for needle in WORKLOADS.iter().chain(&backends).chain(&["copy floor"]) {
        assert!(svg.contains(needle), "the SVG lacks `{needle}`");
    }
}

#[test]
fn backends_and_threads_are_the_ones_asked_for() {
    let t = Tmp::new();
    let o = bench(
        "32",
        "1",
        &[
            "--threads",
            "2",
            "--backends",
            "naive, generic,naive",
            "--json",
            &t.s("b.json"),
        ],
    );
    assert_ok(&o, "bench --backends naive,generic");
    check_report(&read_json(&t.path("b.json")), 32, 2, &["naive", "generic"]);
    assert!(!t.path("b.svg").exists());
}

#[test]
fn macro_rows_run_alone_on_the_threads_asked_for() {
    let t = Tmp::new();
    let o = bench(
        "40",
        "1",
        &[
            "--threads",
            "2",
            "--backends",
            "macro",
            "--json",
            &t.s("b.json"),
        ],
    );
    assert_ok(&o, "bench --backends macro");
    check_report(&read_json(&t.path("b.json")), 40, 2, &["macro"]);
    let o = bench(
        "40",
        "1",
        &["--backends", "macro,generic", "--json", &t.s("c.json")],
    );
    assert_ok(&o, "bench --backends macro,generic");
    check_report(&read_json(&t.path("c.json")), 40, 1, &["macro", "generic"]);
}

#[test]
fn workloads_runs_only_the_ones_named() {
    let t = Tmp::new();
    let o = bench(
        "40",
        "1",
        &[
            "--backends",
            "generic",
            "--workloads",
            "gaussian_15x15, sobel_x_3x3",
            "--json",
            &t.s("b.json"),
        ],
    );
    assert_ok(&o, "bench --workloads");
    let rows = check_rows(
        &read_json(&t.path("b.json")),
        40,
        1,
        &["generic"],
        &["sobel_x_3x3", "gaussian_15x15"],
    );
    // In the bench's own order, whatever the order named.
    assert_eq!(rows[0]["workload"], "sobel_x_3x3", "{rows:#?}");
    let out = stdout(&o);
    assert!(!out.contains("dense_7x7"), "{out}");
}

#[test]
fn opencv_rows_merge_with_their_own_ratios() {
    let t = Tmp::new();
    let anchor = serde_json::json!({
        "floor_ms": 2.0,
        "rows": [
            {"workload": "sobel_x_3x3", "backend": "opencv", "threads": 1,
             "median_ms": 2.76, "mpx_s": 6078.6, "ratio_to_floor": 1.38},
            {"workload": "dense_7x7", "backend": "opencv", "threads": 1,
             "median_ms": 6.5, "mpx_s": 2581.1, "ratio_to_floor": 3.25},
            {"workload": "not_ours_9x9", "backend": "opencv", "threads": 1,
             "median_ms": 1.0, "mpx_s": 1.0, "ratio_to_floor": 0.5}
        ]
    });
    std::fs::write(t.path("cv.json"), anchor.to_string()).unwrap();
    let o = bench(
        "48",
        "1",
        &[
            "--backends",
            "generic",
            "--opencv",
            &t.s("cv.json"),
            "--json",
            &t.s("b.json"),
            "--plot",
            &t.s("b.svg"),
        ],
    );
    assert_ok(&o, "bench --opencv");
    let rows = check_report(&read_json(&t.path("b.json")), 48, 1, &["generic"]);
    let cv: Vec<&Value> = rows.iter().filter(|r| r["backend"] == "opencv").collect();
    assert_eq!(cv.len(), 2, "{rows:#?}");
    let sobel = cv.iter().find(|r| r["workload"] == "sobel_x_3x3").unwrap();
    // Its own ratio and ms, untouched by our floor.
    assert_eq!(sobel["ratio_to_floor"].as_f64(), Some(1.38));
    assert_eq!(sobel["median_ms"].as_f64(), Some(2.76));
    assert!(cv.iter().any(|r| r["workload"] == "dense_7x7"));
    let err = stderr(&o);
    assert!(
        err.contains("not_ours_9x9"),
        "no warning for the unknown row:\n{err}"
    );
    let out = stdout(&o);
    let line = out
        .lines()
        .find(|l| l.starts_with("sobel_x_3x3") && l.contains("opencv"))
        .unwrap_or_else(|| panic!("no opencv row in the table:\n{out}"));
    assert!(line.contains("1.38"), "{line}");
    let svg = std::fs::read_to_string(t.path("b.svg")).unwrap();
    assert!(svg.contains("opencv") && svg.contains("1.38") && svg.contains("3.25"));
}

/// Runs `convc bench` with `extra` (plus a --json path); asserts exit 1, one
/// `error: ` line naming every needle, no panic, no JSON written.
fn fails(extra: &[&str], needles: &[&str]) {
    let t = Tmp::new();
    let json = t.s("b.json");
    let mut a = args(&["bench", "--json", &json]);
    for (flag, value) in [("--size", "32"), ("--reps", "1")] {
        if !extra.contains(&flag) {
            a.extend(args(&[flag, value]));
        }
    }
    a.extend(args(extra));
    let o = convc(&a);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{a:?}\nstderr: {e}");
    assert!(e.starts_with("error: "), "{a:?}: {e}");
    for n in needles {
        assert!(e.contains(n), "{a:?}: stderr lacks `{n}`:\n{e}");
    }
    assert!(!e.contains("panicked"), "{a:?} panicked:\n{e}");
    assert!(!t.path("b.json").exists(), "{a:?} wrote the JSON");
}

#[test]
fn bad_flags_exit_1_with_a_message() {
    fails(&["--size", "0"], &["--size", "got 0"]);
    fails(&["--size", "100000"], &["--size"]);
    fails(&["--reps", "0"], &["--reps", "got 0"]);
    fails(&["--threads", "0"], &["--threads"]);
    fails(
        &["--backends", "generic,turbo"],
        &["--backends", "`turbo`", "generic"],
    );
    fails(&["--backends", ""], &["--backends", "empty"]);
    fails(&["--backends", "generic,"], &["--backends", "empty"]);
    fails(
        &["--workloads", "sobel_x_3x3,sobel_9x9"],
        &["--workloads", "`sobel_9x9`", "gaussian_15x15"],
    );
    fails(&["--workloads", ""], &["--workloads", "empty"]);
}

#[test]
fn bad_opencv_files_exit_1_with_a_message() {
    let t = Tmp::new();
    let missing = t.s("missing.json");
    fails(&["--opencv", &missing], &["--opencv", "missing.json"]);
    std::fs::write(t.path("garbage.json"), "floor_ms: 2").unwrap();
    fails(
        &["--opencv", &t.s("garbage.json")],
        &["--opencv", "garbage.json"],
    );
    std::fs::write(t.path("norows.json"), r#"{"floor_ms": 2}"#).unwrap();
    fails(&["--opencv", &t.s("norows.json")], &["--opencv", "`rows`"]);
    std::fs::write(
        t.path("badrow.json"),
        r#"{"floor_ms": 2, "rows": [{"workload": "dense_7x7", "median_ms": -1}]}"#,
    )
    .unwrap();
    fails(
        &["--opencv", &t.s("badrow.json")],
        &["rows[0]", "median_ms"],
    );
}

#[test]
fn an_unwritable_plot_is_an_error() {
    let t = Tmp::new();
    let o = bench(
        "16",
        "1",
        &["--backends", "generic", "--plot", &t.s("no-such-dir/b.svg")],
    );
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{e}");
    assert!(e.starts_with("error: ") && e.contains("--plot"), "{e}");
    assert!(!e.contains("panicked"), "{e}");
}

#[test]
fn output_files_are_checked_before_the_benchmarks_run() {
    // A chart that is not an SVG: the name says otherwise.
    fails(&["--plot", "chart.png"], &["--plot", ".svg", "chart.png"]);
    // Missing folders, for --plot and --json: refused before any row is timed
    // (stdout holds no table).
    let t = Tmp::new();
    for flag in ["--plot", "--json"] {
        let path = t.s("no-such-dir/out.svg");
        let o = convc(args(&["bench", "--size", "16", "--reps", "1", flag, &path]));
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{flag}: {e}");
        assert!(e.contains(flag) && e.contains("does not exist"), "{e}");
        assert!(
            !stdout(&o).contains("copy floor"),
            "{flag} ran the benchmarks first"
        );
    }
}

#[test]
fn a_non_integer_size_is_a_usage_error() {
    let o = convc(args(&["bench", "--size", "big"]));
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--size"));
}
