//! Times the JIT next to the generic executor and a plain copy on issue 5's
//! workloads (f32, zero border, 'same', single thread), plus compile times.
//!
//! Medians of per-run *thread CPU time* (and wall time): on a shared machine the
//! CPU time of a single-threaded run is far less disturbed by other processes
//! than the wall clock. Criterion's wall-clock figures: `benches/benches/jit.rs`.
//!
//! ```text
//! cargo run --release -p convc-jit --example timing            # 4096x4096, 7 rounds
//! cargo run --release -p convc-jit --example timing -- 4099 9  # width 4099, 9 rounds
//! ```

use std::time::Instant;

use convc_core::exec::Generic;
use convc_core::{Border, ConvSpec, Image, ImageView, ImageViewMut, Kernel, Mode, named};
use convc_jit::Jit;

/// Thread CPU time in milliseconds.
fn cpu_ms() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write; the clock id is a constant.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 * 1e3 + ts.tv_nsec as f64 / 1e6
}

/// (cpu ms, wall ms) of one run of `f`.
fn time(f: &mut dyn FnMut()) -> (f64, f64) {
    let (c, w) = (cpu_ms(), Instant::now());
    f();
    (cpu_ms() - c, w.elapsed().as_secs_f64() * 1e3)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The dense kernel of `benches/benches/jit.rs` (same LCG).
fn dense(n: usize) -> Kernel {
    let mut s = 0x2545_F491_4F6C_DD1Du64 ^ n as u64;
    let coeffs = (0..n * n)
        .map(|_| {
            s = s
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let u = (s >> 11) as f64 / (1u64 << 53) as f64;
            if u < 0.5 { u - 0.75 } else { u }
        })
        .collect();
    Kernel::new(n, n, coeffs).expect("valid")
}

fn gaussian(n: usize, sigma: f64) -> Kernel {
    named::build("gaussian", &[("sigma".into(), sigma)], Some((n, n))).expect("gaussian")
}

fn main() -> convc_core::Result<()> {
    let mut args = std::env::args().skip(1);
    let width: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(4096);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(7);
    let height = 4096;
    let jit = Jit::new();
    println!(
        "{width}x{height} f32, 1 thread, zero border, 'same'; medians of {rounds} runs; fma: {}",
        jit.fma()
    );
    let spec = |k: Kernel| ConvSpec::new(k).border(Border::Zero).threads(1);
    let workloads = [
        ("sobel_x 3x3", spec(named::build("sobel_x", &[], None)?)),
        ("gaussian 5x5", spec(gaussian(5, 1.0))),
        ("gaussian 15x15", spec(gaussian(15, 3.0))),
        ("dense 7x7", spec(dense(7))),
        ("dense 15x15", spec(dense(15))),
        ("dense 15x15 valid", spec(dense(15)).mode(Mode::Valid)),
    ];
    let src = Image::<f32>::from_fn(width, height, |y, x| {
        ((x * 7 + y * 13) % 251) as f32 / 250.0
    })?;
    let mut copy = vec![0f32; width * height];
    println!(
        "{:18} {:>9} {:>9} {:>9} | {:>8} {:>8} | {:>9} {:>9}",
        "workload", "copy cpu", "gen cpu", "jit cpu", "jit/copy", "gen/jit", "gen wall", "jit wall"
    );
    for (name, spec) in workloads {
        let out = spec.output_shape(src.shape())?;
        let mut dst = vec![0f32; out.pixels()];
        let compiled = jit.compile(&spec)?;
        let generic = Generic::<f32>::new(&spec)?;
        let (mut c, mut g, mut j) = (vec![], vec![], vec![]);
        for _ in 0..rounds {
            c.push(time(&mut || copy.copy_from_slice(src.data())));
            g.push(time(&mut || {
                let mut o = ImageViewMut::new(&mut dst, out.width, out.height).expect("shape");
                generic.apply(&src.view(), &mut o).expect("runs");
            }));
            j.push(time(&mut || {
                let mut o = ImageViewMut::new(&mut dst, out.width, out.height).expect("shape");
                compiled.apply(&src.view(), &mut o).expect("runs");
            }));
        }
        let cpu = |v: &[(f64, f64)]| median(v.iter().map(|t| t.0).collect());
        let wall = |v: &[(f64, f64)]| median(v.iter().map(|t| t.1).collect());
        let (cc, gc, jc) = (cpu(&c), cpu(&g), cpu(&j));
        println!(
            "{name:18} {cc:9.2} {gc:9.2} {jc:9.2} | {:7.2}x {:7.2}x | {:9.2} {:9.2}",
            jc / cc,
            gc / jc,
            wall(&g),
            wall(&j)
        );
        if name.starts_with("sobel") {
            // A sanity check on the last JIT result (the test suites do the rest).
            let got = ImageView::new(&dst, out.width, out.height)?;
            let verdict = convc_core::accuracy::check_against_reference(&spec, &src.view(), &got)?;
            assert!(
                verdict.is_ok(),
                "{name}: the JIT disagrees with the reference"
            );
        }
    }
    println!("compile (median of 21, cache bypassed):");
    for (name, kernel) in [
        ("dense 3x3", dense(3)),
        ("dense 7x7", dense(7)),
        ("dense 15x15", dense(15)),
        ("gaussian 15x15", gaussian(15, 3.0)),
    ] {
        let spec = ConvSpec::new(kernel);
        let mut t: Vec<f64> = (0..21)
            .map(|_| {
                let s = Instant::now();
                jit.compile_uncached(&spec).expect("compiles");
                s.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        t.sort_by(f64::total_cmp);
        println!("  {name:16} {:.3} ms", t[10]);
    }
    Ok(())
}
