//! `convc bench`: the speed of every backend on the workloads, as ratios
//! to a copy floor measured in the same run.
//!
//! Steps: parse and check the flags (and read `--opencv` first, so a bad file
//! fails before minutes of measuring); prepare every runner (JIT compiles, Plans)
//! outside the timed region; then for each workload time its runners (one warm-up,
//! `--reps` runs, median) and a batch of floor copies between workloads; check that
//! every backend's output agrees with the first backend's; time JIT compilation;
//! print the table; write `--json` and `--plot`.

pub mod machine;
pub mod measure;
pub mod plot;
pub mod report;
pub mod runners;
pub mod workloads;

use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};

use clap::Args;
use convc::accuracy::{error_bound, max_abs_input};
use convc::{Backend, Border, ConvSpec, Image};

use crate::demo::workloads::random_kernel;
use crate::error::{Result, bail};
use machine::Machine;
use measure::{Floor, median, time_ms};
use report::{CompileTimes, External, Report, Row};

/// Arguments of `convc bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Side of the square f32 input (16 to 16384).
    #[arg(long, value_name = "N", default_value_t = 4096)]
    pub size: usize,
    /// Threads every convolution runs on (the copy floor always uses one).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub threads: usize,
    /// Timed runs per row, after one warm-up (the median is reported).
    #[arg(long, value_name = "N", default_value_t = 9)]
    pub reps: usize,
    /// Comma-separated backends (`generic,jit,macro`), `all`, or `auto`; `macro`
    /// is the compile-time `conv!` code. Default: every available backend except
    /// reference and naive (too slow at 4096x4096), and macro.
    #[arg(long, value_name = "LIST")]
    pub backends: Option<String>,
    /// Comma-separated workloads to run (`sobel_x_3x3,gaussian_15x15`, ...).
    /// Default: all of them. The copy floor and the JIT compile times are
    /// measured either way.
    #[arg(long, value_name = "LIST")]
    pub workloads: Option<String>,
    /// Write the results as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Draw a bar chart of the ratios to the copy floor (SVG) to FILE.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
    /// Merge OpenCV's rows from the JSON `opencv_anchor.py --json` wrote.
    #[arg(long, value_name = "FILE.json")]
    pub opencv: Option<PathBuf>,
}

/// Accepted `--size`.
const SIZES: RangeInclusive<usize> = 16..=16384;
/// Accepted `--reps`.
const REPS: RangeInclusive<usize> = 1..=1000;
/// Accepted `--threads`.
const THREADS: RangeInclusive<usize> = 1..=1024;
/// Kernel sides whose JIT compile time is measured.
const COMPILE_SIZES: [usize; 3] = [3, 7, 15];
/// Seed of the kernels compiled for the compile times.
const COMPILE_SEED: u64 = 0xBE4C_C0DE;

fn check_range(flag: &str, v: usize, range: &RangeInclusive<usize>) -> Result<()> {
    if !range.contains(&v) {
        bail!(
            "{flag} must be between {} and {}, got {v}",
            range.start(),
            range.end()
        );
    }
    Ok(())
}

/// Refuses an output file whose folder does not exist, before the benchmarks
/// run (minutes at 4096) rather than after them.
fn check_output(flag: &str, path: &Path) -> Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !dir.is_dir() {
        bail!(
            "{flag}: cannot write `{}`: the folder `{}` does not exist",
            path.display(),
            dir.display()
        );
    }
    Ok(())
}

/// Runs `convc bench`.
pub fn run(args: &BenchArgs) -> Result<()> {
    check_range("--size", args.size, &SIZES)?;
    check_range("--reps", args.reps, &REPS)?;
    check_range("--threads", args.threads, &THREADS)?;
    if let Some(path) = &args.plot {
        if !path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("svg"))
        {
            bail!(
                "--plot draws an SVG chart: give a file ending in .svg, not `{}`",
                path.display()
            );
        }
        check_output("--plot", path)?;
    }
    if let Some(path) = &args.json {
        check_output("--json", path)?;
    }
    let n = args.size;
    let selection = runners::select_backends(args.backends.as_deref())?;
    let workloads = workloads::select(
        workloads::workloads(args.threads)?,
        args.workloads.as_deref(),
    )?;
    let names: Vec<&str> = workloads.iter().map(|w| w.name).collect();
    let external = match &args.opencv {
        Some(path) => Some(report::read_external(path, args.threads, n * n)?),
        None => None,
    };

    let mut runners = runners::backend_runners(&workloads, &selection.backends)?;
    if selection.macro_rows {
        runners.extend(runners::macro_runners(&workloads, args.threads)?);
    }
    if runners.is_empty() {
        bail!("--backends selected nothing to measure");
    }
    let machine = Machine::detect();
    let labels: Vec<&str> = dedup(runners.iter().map(|r| r.backend.as_str()));
    println!(
        "convc bench: {n}x{n} f32, correlate, same, zero border; threads={}; median of {} \
         runs after 1 warm-up; backends: {}",
        args.threads,
        args.reps,
        labels.join(", ")
    );
    println!("machine: {machine}");

    let input = workloads::input_image(n)?;
    let view = input.view();
    let mut floor = Floor::new(input.data().len())?;
    floor.sample(input.data(), args.reps);
    let mut measured: Vec<(usize, String, f64)> = Vec::new();
    let mut failures = Vec::new();
    for (i, wl) in workloads.iter().enumerate() {
        let shape = wl.spec.output_shape(input.shape())?;
        let mut out = Image::<f32>::zeros(shape.width, shape.height)?;
        // 2x: each of two backends is within DESIGN.md's bound of the reference.
        let bound = 2.0 * error_bound(&wl.spec, max_abs_input(&wl.spec, &view));
        let mut first: Option<(&str, Vec<f32>)> = None;
        for r in runners.iter().filter(|r| r.workload == i) {
            let samples = time_ms(args.reps, || (r.run)(&view, &mut out.view_mut()))?;
            measured.push((i, r.backend.clone(), median(&samples).max(1e-6)));
            match &first {
                None => first = Some((&r.backend, out.data().to_vec())),
                Some((base, want)) => {
                    if let Some(m) = first_difference(out.data(), want, shape.width, bound) {
                        let msg =
                            format!("{} / {}: {m} ({base} gave the other)", wl.name, r.backend);
                        eprintln!("MISMATCH: {msg}");
                        failures.push(msg);
                    }
                }
            }
        }
        floor.sample(input.data(), args.reps);
    }
    // 1 ns: the clock's resolution, so that no ratio divides by zero.
    let floor_ms = floor.median_ms().max(1e-6);
    let compile_ms = compile_times(args.reps, args.threads)?;

    let mut rows: Vec<Row> = measured
        .into_iter()
        .map(|(i, backend, ms)| {
            let pixels = workloads[i]
                .spec
                .output_shape(input.shape())
                .map_or(0, |s| s.pixels());
            Row {
                workload: workloads[i].name.to_string(),
                backend,
                threads: args.threads,
                median_ms: ms,
                mpx_s: pixels as f64 / ms / 1e3,
                ratio_to_floor: ms / floor_ms,
                external: false,
            }
        })
        .collect();
    let external_floor = external.as_ref().map(|e| e.floor_ms);
    if let Some(ext) = external {
        rows.extend(merge_external(ext, &names, args.threads));
    }
    let report = Report {
        machine,
        floor_ms,
        rows,
        compile_ms,
    };

    println!();
    print!("{}", report.table(&names));
    println!();
    println!(
        "copy floor: {} ms = median of {} copies of the {n}x{n} f32 input into a \
         preallocated buffer (one thread), taken between the workloads; x floor = median / floor",
        report::sig3(floor_ms),
        floor.count()
    );
    println!(
        "Mpx/s counts output pixels; every row agrees with its workload's first backend \
         within twice DESIGN.md's error bound"
    );
    if let (Some(f), Some(path)) = (external_floor, &args.opencv) {
        println!(
            "* rows from {}: ratio to their own copy floor ({} ms, measured by that \
             process); compare ratios, not ms",
            path.display(),
            report::sig3(f)
        );
    }
    if report.compile_ms.is_empty() {
        println!("JIT compile: skipped (the JIT backend is not available on this host)");
    } else {
        let parts: Vec<String> = report
            .compile_ms
            .iter()
            .map(|(k, ms)| format!("{k} {} ms", report::sig3(*ms)))
            .collect();
        println!(
            "JIT compile (dense random kernels, uncached, median of {}): {}",
            args.reps,
            parts.join(", ")
        );
    }
    for w in workloads.iter() {
        if w.name.starts_with("stride") || w.name.starts_with("dilation") {
            println!("{}: {}", w.name, w.about);
        }
    }
    if !failures.is_empty() {
        bail!(
            "{} row(s) disagree with another backend on the same workload: {}",
            failures.len(),
            failures.join("; ")
        );
    }
    if let Some(path) = &args.json {
        report.write_json(path)?;
        println!("wrote {}", path.display());
    }
    if let Some(path) = &args.plot {
        let title = format!(
            "convc bench: {n}x{n} f32, zero border, {} thread{}, copy floor {} ms",
            args.threads,
            if args.threads == 1 { "" } else { "s" },
            report::sig3(floor_ms)
        );
        plot::draw(path, &title, &names, &report.rows)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// The distinct items, first appearance first.
fn dedup<'a>(items: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut out: Vec<&str> = Vec::new();
    for s in items {
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

/// The `--opencv` rows for our workloads, with warnings on stderr for rows that
/// cannot compare (another workload, another thread count).
fn merge_external(ext: External, names: &[&str], threads: usize) -> Vec<Row> {
    let mut kept = Vec::new();
    for r in ext.rows {
        if !names.contains(&r.workload.as_str()) {
            eprintln!(
                "warning: --opencv: skipping row `{}` / {}: not one of this bench's workloads",
                r.workload, r.backend
            );
            continue;
        }
        if r.threads != threads {
            eprintln!(
                "warning: --opencv: row `{}` ran on {} thread(s), this bench on {threads}",
                r.workload, r.threads
            );
        }
        kept.push(r);
    }
    kept
}

/// The first output element where `got` and `want` differ by more than `bound`
/// (NaN never agrees), described.
fn first_difference(got: &[f32], want: &[f32], width: usize, bound: f64) -> Option<String> {
    if got.len() != want.len() {
        return Some(format!("{} outputs instead of {}", got.len(), want.len()));
    }
    got.iter()
        .zip(want)
        // NaN compares as neither: `within` is false, so NaN never agrees.
        .position(|(&g, &w)| {
            let within = (f64::from(g) - f64::from(w)).abs() <= bound;
            !within
        })
        .map(|i| {
            format!(
                "output ({}, {}) is {} but {} elsewhere (bound {bound:e})",
                i / width.max(1),
                i % width.max(1),
                got[i],
                want[i]
            )
        })
}

/// Median ms of compiling dense random 3x3, 7x7 and 15x15 kernels with the JIT,
/// each compile fresh (no cache); empty when the JIT is not available here.
fn compile_times(reps: usize, threads: usize) -> Result<CompileTimes> {
    if !Backend::available().contains(&Backend::Jit) {
        return Ok(Vec::new());
    }
    let jit = convc::Jit::new();
    let mut out = Vec::new();
    for k in COMPILE_SIZES {
        let spec = ConvSpec::new(random_kernel(k, COMPILE_SEED)?)
            .border(Border::Zero)
            .threads(threads);
        let samples = time_ms(reps, || jit.compile_uncached(&spec).map(drop))?;
        out.push((format!("{k}x{k}"), median(&samples)));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_beyond_the_bound_are_found_and_nan_never_agrees() {
        assert_eq!(first_difference(&[1.0, 2.0], &[1.0, 2.05], 2, 0.1), None);
        let m = first_difference(&[1.0, 2.0, 3.0, 9.0], &[1.0, 2.0, 3.0, 4.0], 2, 0.1).unwrap();
        assert!(m.starts_with("output (1, 1) is 9"), "{m}");
        assert!(first_difference(&[f32::NAN], &[f32::NAN], 1, 1.0).is_some());
        assert!(first_difference(&[1.0], &[1.0, 2.0], 1, 1.0).is_some());
    }

    #[test]
    fn ranges_are_checked_with_the_flag_name() {
        assert!(check_range("--size", 16, &SIZES).is_ok());
        let e = check_range("--size", 0, &SIZES).unwrap_err().to_string();
        assert_eq!(e, "--size must be between 16 and 16384, got 0");
    }

    #[test]
    fn compile_times_cover_three_sizes_when_the_jit_is_here() {
        let t = compile_times(1, 1).unwrap();
        if Backend::available().contains(&Backend::Jit) {
            let keys: Vec<&str> = t.iter().map(|(k, _)| k.as_str()).collect();
            assert_eq!(keys, ["3x3", "7x7", "15x15"]);
            assert!(t.iter().all(|(_, ms)| *ms > 0.0));
        } else {
            assert!(t.is_empty());
        }
    }

    #[test]
    fn dedup_keeps_first_appearance() {
        assert_eq!(dedup(["b", "a", "b", "c"].into_iter()), ["b", "a", "c"]);
    }
}
