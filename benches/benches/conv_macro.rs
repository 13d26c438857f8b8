//! `conv!` next to the generic executor and the copy floor (criterion).
//!
//! `conv_macro_<N>/<workload>/{copy,generic,conv!,conv!-<isa>}`: one NxN (4096)
//! f32 image, single thread (`threads = 1`), zero border, 'same' output:
//!
//! - the workloads of `convc_benches::workloads` (sobel_x 3x3, gaussian 5x5 and
//!   15x15, dense 7x7, stride 2 and dilation 2 3x3);
//! - `copy`: copying the image into a preallocated buffer, the floor every
//!   single-pass filter pays (read once, write once);
//! - `conv!` runs the variant this CPU selects; `conv!-<isa>` every other variant
//!   it supports (baseline SSE2, AVX2+FMA), to show what each one buys.
//!
//! ```text
//! cargo bench -p convc-benches --bench conv_macro -- --warm-up-time 1 --measurement-time 3
//! CONVC_BENCH_SIZE=1024 cargo bench -p convc-benches --bench conv_macro   # smaller images
//! ```

use std::hint::black_box;
use std::time::Duration;

use convc::{Convolution, Image, exec::Generic};
use criterion::{BenchmarkGroup, BenchmarkId, Criterion, Throughput, measurement::WallTime};

/// `copy`, `generic` and every `conv!` variant of one workload.
fn workload(
    g: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    c: &dyn Convolution<Elem = f32>,
    src: &Image<f32>,
) {
    let mut copy = Image::<f32>::zeros(src.width(), src.height()).expect("an image");
    g.bench_function(BenchmarkId::new(name, "copy"), |b| {
        b.iter(|| copy.data_mut().copy_from_slice(black_box(src.data())))
    });
    let out = c.output_shape(src.shape()).expect("an output shape");
    let mut dst = Image::<f32>::zeros(out.width, out.height).expect("an image");
    let generic = Generic::<f32>::new(c.spec()).expect("the spec conv! planned");
    g.bench_function(BenchmarkId::new(name, "generic"), |b| {
        b.iter(|| {
            generic
                .apply(&black_box(src).view(), &mut dst.view_mut())
                .expect("generic runs")
        })
    });
    g.bench_function(BenchmarkId::new(name, "conv!"), |b| {
        b.iter(|| {
            c.apply(&black_box(src).view(), &mut dst.view_mut())
                .expect("conv! runs")
        })
    });
    for isa in c.isas().into_iter().filter(|&i| i != c.isa()) {
        g.bench_function(BenchmarkId::new(name, format!("conv!-{isa}")), |b| {
            b.iter(|| {
                c.apply_with_isa(isa, &black_box(src).view(), &mut dst.view_mut())
                    .expect("conv! runs")
            })
        });
    }
}

fn conv_macro(c: &mut Criterion) {
    for n in convc_benches::sizes(&[4096]) {
        let src = Image::<f32>::from_fn(n, n, |y, x| ((x * 7 + y * 13) % 255) as f32 / 255.0)
            .expect("an image");
        let mut g = c.benchmark_group(format!("conv_macro_{n}"));
        g.sample_size(10)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3))
            .throughput(Throughput::Elements((n * n) as u64));
        for (name, conv) in convc_benches::workloads() {
            workload(&mut g, name, &*conv, &src);
        }
        g.finish();
    }
}

criterion::criterion_group!(benches, conv_macro);
criterion::criterion_main!(benches);
