//! `convc demo`: the project's job on a built-in input.
//!
//! For every workload of [`workloads::workloads`], every backend of
//! [`Backend::available`] and the compile-time `conv!` code (row `macro`, where the
//! workload's specs are known at compile time: [`macro_rows`]): run the stages
//! (timed, one thread), check every output element against the reference
//! (`convc::exec::reference_f64`, computed once per stage) within DESIGN.md's
//! bound, print a table row, and write the input and one result per workload as
//! PNGs. A disagreement is reported at once on stderr and
//! makes the command exit 1 at the end.

pub mod macro_rows;
pub mod pattern;
pub mod workloads;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use convc::accuracy::{error_bound, max_abs_input};
use convc::exec::reference_f64;
use convc::{Backend, Convolver, Image, ImageView, ImageViewMut};

use crate::DemoArgs;
use crate::error::{Context, Result, bail};
use crate::io::{to_u8, write_gray_png};
use workloads::{Combine, Input, View, Workload};

/// The label of the `conv!` rows.
const MACRO: &str = "macro";

/// Smallest and largest `--size`.
const SIZES: std::ops::RangeInclusive<usize> = 16..=4096;

/// Runs `convc demo`.
pub fn run(args: &DemoArgs) -> Result<()> {
    let started = Instant::now();
    if !SIZES.contains(&args.size) {
        bail!(
            "--size must be between {} and {}, got {}",
            SIZES.start(),
            SIZES.end(),
            args.size
        );
    }
    std::fs::create_dir_all(&args.out)
        .context(|| format!("creating the output folder `{}`", args.out.display()))?;

    let backends = Backend::available();
    let shown = shown_backend(&backends);
    let names: Vec<&str> = backends.iter().map(|b| b.name()).chain([MACRO]).collect();
    println!(
        "convc demo: {n}x{n} test pattern ({m}x{m} for the dense workload); backends: {}",
        names.join(", "),
        n = args.size,
        m = 2 * args.size,
    );
    println!(
        "threads=1 for every run; ms = median of 5 runs (3 when a run takes over 0.25 s, 1 \
         over 1 s); times cover the convolutions only; err/bound = largest |error| against \
         the f64 reference over DESIGN.md's bound (must be <= 1)"
    );
    println!();
    println!(
        "{:<28} {:<10} {:>4} {:>10} {:>9} {:>9} {:>10}",
        "workload", "backend", "runs", "median ms", "Mpx/s", "vs naive", "err/bound"
    );

    let mut inputs: BTreeMap<usize, Image<f32>> = BTreeMap::new();
    let mut written = Vec::new();
    let mut failures = Vec::new();
    for wl in workloads::workloads()? {
        let n = match wl.input {
            Input::Pattern => args.size,
            Input::Pattern2x => 2 * args.size,
        };
        if let std::collections::btree_map::Entry::Vacant(slot) = inputs.entry(n) {
            let img = pattern::test_pattern(n)?;
            let file = if n == args.size {
                "pattern.png".to_string()
            } else {
                format!("pattern-{n}.png")
            };
            let bytes: Vec<u8> = img.data().iter().map(|&v| to_u8(v.into())).collect();
            write_gray_png(&args.out.join(&file), n, n, &bytes)?;
            written.push(file);
            slot.insert(img);
        }
        let input = &inputs[&n];
        let result = run_workload(&wl, input, &backends, shown, &mut failures)?;
        let (w, h) = (result.width(), result.height());
        let bytes = view(&result, wl.view);
        write_gray_png(&args.out.join(&wl.file), w, h, &bytes)?;
        written.push(wl.file.clone());
    }
    println!();
    println!(
        "wrote {} PNGs to {} ({} backend's results): {}",
        written.len(),
        args.out.display(),
        shown,
        written.join(", ")
    );
    println!("demo took {:.1} s", started.elapsed().as_secs_f64());
    if !failures.is_empty() {
        bail!(
            "{} result(s) disagree with the reference beyond DESIGN.md's bound: {}",
            failures.len(),
            failures.join("; ")
        );
    }
    println!("every backend agrees with the reference within DESIGN.md's bound");
    Ok(())
}

/// Whose results the PNGs show: the backend `auto` picks, when available.
fn shown_backend(backends: &[Backend]) -> Backend {
    let auto = Backend::Auto.resolve();
    if backends.contains(&auto) {
        auto
    } else {
        *backends.last().unwrap_or(&Backend::Reference)
    }
}

/// One table row.
struct Row {
    /// A backend's name, or `macro`.
    label: &'static str,
    backend: Option<Backend>,
    runs: usize,
    median: Duration,
    ratio: f64,
}

/// A prepared stage: filters the input into its output.
type StageFn = Box<dyn Fn(&ImageView<'_, f32>, &mut ImageViewMut<'_, f32>) -> convc::Result<()>>;

/// Runs one workload through every backend, prints its rows, and returns its
/// combined result as computed by `shown`.
fn run_workload(
    wl: &Workload,
    input: &Image<f32>,
    backends: &[Backend],
    shown: Backend,
    failures: &mut Vec<String>,
) -> Result<Image<f32>> {
    let view_in = input.view();
    // The oracle, once per stage.
    let references = wl
        .stages
        .iter()
        .map(|s| {
            let want = reference_f64(s, &view_in)?;
            let bound = error_bound(s, max_abs_input(s, &view_in));
            Ok((want, bound))
        })
        .collect::<Result<Vec<_>>>()?;
    let out_shape = wl.stages[0].output_shape(input.shape())?;
    let mut rows = Vec::new();
    let mut kept = None;
    for &backend in backends {
        let stages = wl
            .stages
            .iter()
            .map(|s| {
                let c = Convolver::<f32>::new(s, backend)?;
                Ok(Box::new(
                    move |i: &ImageView<'_, f32>, o: &mut ImageViewMut<'_, f32>| c.apply(i, o),
                ) as StageFn)
            })
            .collect::<convc::Result<Vec<_>>>()?;
        let (row, outs) = run_row(wl, input, backend.name(), &stages, &references, failures)?;
        rows.push(Row {
            backend: Some(backend),
            ..row
        });
        if backend == shown {
            kept = Some(outs);
        }
    }
    if let Some(convs) = macro_rows::macro_stages(&wl.name) {
        let stages: Vec<StageFn> = convs
            .into_iter()
            .map(|c| {
                Box::new(move |i: &ImageView<'_, f32>, o: &mut ImageViewMut<'_, f32>| c.apply(i, o))
                    as StageFn
            })
            .collect();
        let (row, _) = run_row(wl, input, MACRO, &stages, &references, failures)?;
        rows.push(row);
    }
    let naive = rows
        .iter()
        .find(|r| r.backend == Some(Backend::Naive))
        .map(|r| r.median);
    let mpx = out_shape.pixels() as f64 / 1e6;
    for r in &rows {
        let secs = r.median.as_secs_f64().max(1e-9);
        let vs = naive.map_or_else(
            || "-".to_string(),
            |n| format!("{:.2}x", n.as_secs_f64() / secs),
        );
        println!(
            "{:<28} {:<10} {:>4} {:>10.2} {:>9.1} {:>9} {:>10.3}",
            wl.name,
            r.label,
            r.runs,
            secs * 1e3,
            mpx / secs,
            vs,
            r.ratio
        );
    }
    let outs = kept.ok_or_else(|| {
        crate::error::CliError::new(format!("backend {shown} is not available to show results"))
    })?;
    combine(outs, wl.combine)
}

/// Times one row's stages on `input` (5 runs, fewer when slow), checks each
/// output against its reference, and returns the row and the outputs.
fn run_row(
    wl: &Workload,
    input: &Image<f32>,
    label: &'static str,
    stages: &[StageFn],
    references: &[(Vec<f64>, f64)],
    failures: &mut Vec<String>,
) -> Result<(Row, Vec<Image<f32>>)> {
    let view_in = input.view();
    let mut outs = wl
        .stages
        .iter()
        .map(|s| {
            let o = s.output_shape(input.shape())?;
            Image::<f32>::zeros(o.width, o.height)
        })
        .collect::<convc::Result<Vec<_>>>()?;
    let mut times = Vec::new();
    loop {
        let t = Instant::now();
        for (c, o) in stages.iter().zip(outs.iter_mut()) {
            c(&view_in, &mut o.view_mut())?;
        }
        times.push(t.elapsed());
        if times.len() >= runs_for(times[0]) {
            break;
        }
    }
    times.sort();
    let median = times[times.len() / 2];
    let mut ratio = 0.0f64;
    for ((stage, out), (want, bound)) in wl.stages.iter().zip(&outs).zip(references) {
        let check = compare(out, want, *bound);
        ratio = ratio.max(check.ratio);
        if let Some(m) = check.first_bad {
            let name = stage.kernel.name().unwrap_or("kernel");
            let msg = format!("{} / {label} / {name}: {m}", wl.name);
            eprintln!("MISMATCH: {msg}");
            failures.push(msg);
        }
    }
    let row = Row {
        label,
        backend: None,
        runs: times.len(),
        median,
        ratio,
    };
    Ok((row, outs))
}

/// How many runs to time, given the first: 5, or fewer for slow backends.
fn runs_for(first: Duration) -> usize {
    match first.as_secs_f64() {
        t if t > 1.0 => 1,
        t if t > 0.25 => 3,
        _ => 5,
    }
}

/// The outcome of comparing one output with the reference.
#[derive(Debug, Clone, PartialEq)]
struct Check {
    /// Largest |error| over the bound (0 when exact).
    ratio: f64,
    /// The first element beyond the bound, described.
    first_bad: Option<String>,
}

/// Compares `got` with the reference values `want` (row-major, same shape).
fn compare(got: &Image<f32>, want: &[f64], bound: f64) -> Check {
    let mut worst = 0.0f64;
    let mut first_bad = None;
    for (i, (&g, &w)) in got.data().iter().zip(want).enumerate() {
        let err = (f64::from(g) - w).abs();
        // NaN never passes.
        let within = err <= bound;
        if !within && first_bad.is_none() {
            first_bad = Some(format!(
                "output ({}, {}) is {g} but the reference is {w} (|error| {err:e} > bound {bound:e})",
                i / got.width(),
                i % got.width()
            ));
        }
        worst = worst.max(err);
    }
    if got.data().len() != want.len() && first_bad.is_none() {
        first_bad = Some(format!(
            "{} output values but the reference has {}",
            got.data().len(),
            want.len()
        ));
    }
    let ratio = if worst == 0.0 {
        0.0
    } else if bound > 0.0 {
        worst / bound
    } else {
        f64::INFINITY
    };
    Check { ratio, first_bad }
}

/// Combines stage outputs into one image.
fn combine(mut outs: Vec<Image<f32>>, how: Combine) -> Result<Image<f32>> {
    match how {
        Combine::Single => Ok(outs.swap_remove(0)),
        Combine::Magnitude => {
            let (gx, gy) = (&outs[0], &outs[1]);
            if gx.shape() != gy.shape() {
                bail!("magnitude of differently shaped outputs");
            }
            let data = gx
                .data()
                .iter()
                .zip(gy.data())
                .map(|(&x, &y)| (x * x + y * y).sqrt())
                .collect();
            Ok(Image::from_vec(data, gx.width(), gx.height())?)
        }
    }
}

/// 8-bit pixels for a PNG (see [`View`]).
fn view(img: &Image<f32>, how: View) -> Vec<u8> {
    let data = img.data().iter().map(|&v| f64::from(v));
    match how {
        View::Clamp => data.map(to_u8).collect(),
        View::Abs(f) => data.map(|v| to_u8(v.abs() * f)).collect(),
        View::SignedNormalized => {
            let max = img
                .data()
                .iter()
                .fold(0.0f64, |m, &v| m.max(f64::from(v).abs()));
            let f = if max > 0.0 { 127.5 / max } else { 0.0 };
            data.map(|v| to_u8(127.5 + v * f)).collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compare_finds_the_first_element_beyond_the_bound() {
        let got = Image::from_vec(vec![1.0f32, 2.0, 3.5, 4.0], 2, 2).unwrap();
        let ok = compare(&got, &[1.0, 2.0, 3.5, 4.0], 0.1);
        assert_eq!(ok.ratio, 0.0);
        assert!(ok.first_bad.is_none());
        let bad = compare(&got, &[1.0, 2.05, 3.0, 4.0], 0.1);
        assert!((bad.ratio - 5.0).abs() < 1e-9, "{}", bad.ratio);
        assert!(bad.first_bad.unwrap().starts_with("output (1, 0)"));
        let nan = Image::from_vec(vec![f32::NAN], 1, 1).unwrap();
        assert!(compare(&nan, &[0.0], 1.0).first_bad.is_some());
    }

    #[test]
    fn magnitude_and_views() {
        let gx = Image::from_vec(vec![3.0f32, -600.0], 2, 1).unwrap();
        let gy = Image::from_vec(vec![4.0f32, 0.0], 2, 1).unwrap();
        let m = combine(vec![gx, gy], Combine::Magnitude).unwrap();
        assert_eq!(m.data(), &[5.0, 600.0]);
        assert_eq!(view(&m, View::Clamp), vec![5, 255]);
        assert_eq!(view(&m, View::Abs(0.25)), vec![1, 150]);
        let signed = Image::from_vec(vec![-4.0f32, 0.0, 2.0, 4.0], 4, 1).unwrap();
        assert_eq!(
            view(&signed, View::SignedNormalized),
            vec![0, 128, 191, 255]
        );
    }

    #[test]
    fn slow_backends_run_fewer_times() {
        assert_eq!(runs_for(Duration::from_millis(3)), 5);
        assert_eq!(runs_for(Duration::from_millis(400)), 3);
        assert_eq!(runs_for(Duration::from_secs(2)), 1);
    }
}
