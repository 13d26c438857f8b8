//! JIT compile time and run time (criterion).
//!
//! - `jit_compile/*`: lowering + Cranelift + finalization of one spec, cache
//!   bypassed (`Jit::compile_uncached`), for dense (non-separable, every tap a
//!   distinct coefficient) 3x3, 7x7 and 15x15 kernels and a separable 15x15
//!   Gaussian.
//! - `jit_<N>/<workload>/{copy,generic,jit}`: one NxN f32 image (4096 by
//!   default), single thread, zero border, 'same' output; the JIT next to the
//!   generic executor and a plain copy of the image (the floor every single-pass
//!   filter pays). Compilation happens once, outside the timed loop.
//!
//! `CONVC_BENCH_SIZE` takes one size or a comma-separated list: power-of-two
//! widths are the worst case for tall kernels (rows 16 KiB apart share L1 sets),
//! so bench an odd width next to 4096.
//!
//! ```text
//! cargo bench -p convc-benches --bench jit -- --warm-up-time 1 --measurement-time 3
//! CONVC_BENCH_SIZE=4096,4099 cargo bench -p convc-benches --bench jit -- jit_40
//! CONVC_BENCH_SIZE=1024 cargo bench -p convc-benches --bench jit -- jit_1024   # smaller images
//! ```

use std::hint::black_box;

use convc::{Border, ConvSpec, Image, Jit, Kernel, exec::Generic, named};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

/// A dense kernel: every coefficient distinct and non-zero, no symmetry, not
/// separable (a fixed LCG, so every run benches the same kernel).
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
    Kernel::new(n, n, coeffs).expect("a valid kernel")
}

fn gaussian(n: usize, sigma: f64) -> Kernel {
    named::build("gaussian", &[("sigma".into(), sigma)], Some((n, n))).expect("a gaussian")
}

/// The workloads of issue 5 (4096x4096 f32, one thread, zero border, 'same').
fn workloads() -> Vec<(&'static str, ConvSpec)> {
    let spec = |k: Kernel| ConvSpec::new(k).border(Border::Zero).threads(1);
    vec![
        (
            "sobel_x_3x3",
            spec(named::build("sobel_x", &[], None).expect("sobel")),
        ),
        ("gaussian_5x5", spec(gaussian(5, 1.0))),
        ("gaussian_15x15", spec(gaussian(15, 3.0))),
        ("dense_7x7", spec(dense(7))),
        ("dense_15x15", spec(dense(15))),
    ]
}

fn compile_time(c: &mut Criterion) {
    let jit = Jit::new();
    let mut group = c.benchmark_group("jit_compile");
    let cases = [
        ("dense_3x3", dense(3)),
        ("dense_7x7", dense(7)),
        ("dense_15x15", dense(15)),
        ("gaussian_15x15", gaussian(15, 3.0)),
    ];
    for (name, kernel) in cases {
        let spec = ConvSpec::new(kernel).border(Border::Zero);
        group.bench_function(name, |b| {
            b.iter(|| jit.compile_uncached(black_box(&spec)).expect("compiles"))
        });
    }
    group.finish();
}

fn run_time(c: &mut Criterion) {
    let sizes = convc_benches::sizes(&[4096]);
    let jit = Jit::new();
    for size in sizes {
        let src = Image::<f32>::from_fn(size, size, |y, x| ((x * 7 + y * 13) % 251) as f32 / 250.0)
            .expect("image");
        let mut dst = Image::<f32>::zeros(size, size).expect("image");
        let mut group = c.benchmark_group(format!("jit_{size}"));
        group.sample_size(10);
        group.throughput(Throughput::Elements((size * size) as u64));
        for (name, spec) in workloads() {
            group.bench_function(BenchmarkId::new(name, "copy"), |b| {
                b.iter(|| dst.data_mut().copy_from_slice(black_box(src.data())))
            });
            let generic = Generic::<f32>::new(&spec).expect("plans");
            group.bench_function(BenchmarkId::new(name, "generic"), |b| {
                b.iter(|| generic.apply(black_box(&src.view()), &mut dst.view_mut()))
            });
            let compiled = jit.compile(&spec).expect("compiles");
            group.bench_function(BenchmarkId::new(name, "jit"), |b| {
                b.iter(|| compiled.apply(black_box(&src.view()), &mut dst.view_mut()))
            });
        }
        group.finish();
    }
}

criterion_group!(benches, compile_time, run_time);
criterion_main!(benches);
