//! Every backend on every workload, side by side (criterion).
//!
//! `workloads_<N>/<workload>/<backend>`: one NxN f32 image (1024 and 4096 by
//! default), single thread, zero border, 'same' output, throughput in input
//! pixels. The workloads are `convc_benches::workloads` (issue 5's four plus
//! stride 2 and dilation 2 3x3); each `conv!` instance's spec is what the other
//! backends run, so every row of a group times the same convolution:
//!
//! - `copy`: the input copied into a preallocated buffer, the floor every
//!   single-pass filter pays;
//! - `naive`: the textbook four loops (only up to 1024x1024: at 4096 one run of
//!   a dense 7x7 takes seconds);
//! - `generic`: the Plan interpreted with the kernel in memory;
//! - `conv!`: the compile-time specialized code, widest ISA this CPU has;
//! - `jit`: the Cranelift backend, compiled once outside the timed loop.
//!
//! JIT compile times are `benches/jit.rs`'s `jit_compile` group.
//!
//! ```text
//! cargo bench -p convc-benches --bench workloads -- --warm-up-time 1 --measurement-time 3
//! CONVC_BENCH_SIZE=4099 cargo bench -p convc-benches --bench workloads   # an odd width
//! ```

use std::hint::black_box;
use std::time::Duration;

use convc::{Backend, Convolver, Image};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

/// The largest side `naive` is timed on.
const NAIVE_MAX: usize = 1024;

fn workloads(c: &mut Criterion) {
    for n in convc_benches::sizes(&[1024, 4096]) {
        let src = Image::<f32>::from_fn(n, n, |y, x| ((x * 7 + y * 13) % 251) as f32 / 250.0)
            .expect("an image");
        let mut copy = Image::<f32>::zeros(n, n).expect("an image");
        let mut g = c.benchmark_group(format!("workloads_{n}"));
        g.sample_size(10)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3))
            .throughput(Throughput::Elements((n * n) as u64));
        for (name, conv) in convc_benches::workloads() {
            g.bench_function(BenchmarkId::new(name, "copy"), |b| {
                b.iter(|| copy.data_mut().copy_from_slice(black_box(src.data())))
            });
            let out = conv.output_shape(src.shape()).expect("an output shape");
            let mut dst = Image::<f32>::zeros(out.width, out.height).expect("an image");
            let mut backends = vec![("generic", Backend::Generic)];
            if n <= NAIVE_MAX {
                backends.insert(0, ("naive", Backend::Naive));
            }
            if Backend::available().contains(&Backend::Jit) {
                backends.push(("jit", Backend::Jit));
            }
            for (label, backend) in backends {
                // Prepared (planned, compiled) outside the timed loop.
                let run = Convolver::<f32>::new(conv.spec(), backend).expect("a backend");
                g.bench_function(BenchmarkId::new(name, label), |b| {
                    b.iter(|| {
                        run.apply(&black_box(&src).view(), &mut dst.view_mut())
                            .expect("runs")
                    })
                });
            }
            g.bench_function(BenchmarkId::new(name, "conv!"), |b| {
                b.iter(|| {
                    conv.apply(&black_box(&src).view(), &mut dst.view_mut())
                        .expect("runs")
                })
            });
        }
        g.finish();
    }
}

criterion_group!(benches, workloads);
criterion_main!(benches);
