//! `conv!` next to the generic executor and the copy floor (criterion).
//!
//! `conv_macro_4096/<workload>/{copy,generic,conv!,conv!-<isa>}`: one 4096x4096
//! f32 image, single thread (`threads = 1`), zero border, 'same' output:
//!
//! - `sobel_x_3x3`, `gaussian_5x5` (sigma 1), `gaussian_15x15` (sigma 3), and
//!   `dense_7x7`: the same fixed random coefficients as the JIT bench's dense 7x7
//!   (its LCG, written out as a literal), so the two benches time one kernel;
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

use convc::{Convolution, Image, conv, exec::Generic};
use criterion::{BenchmarkGroup, BenchmarkId, Criterion, Throughput, measurement::WallTime};

fn size() -> usize {
    std::env::var("CONVC_BENCH_SIZE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4096)
}

/// `copy`, `generic` and every `conv!` variant of one workload.
fn workload<C: Convolution<Elem = f32>>(
    g: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    c: &C,
    src: &Image<f32>,
) {
    let n = src.width();
    let mut dst = Image::<f32>::zeros(n, n).expect("an image");
    g.bench_function(BenchmarkId::new(name, "copy"), |b| {
        b.iter(|| dst.data_mut().copy_from_slice(black_box(src.data())))
    });
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
    let n = size();
    let src = Image::<f32>::from_fn(n, n, |y, x| ((x * 7 + y * 13) % 255) as f32 / 255.0)
        .expect("an image");
    let mut g = c.benchmark_group(format!("conv_macro_{n}"));
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements((n * n) as u64));
    workload(
        &mut g,
        "sobel_x_3x3",
        &conv!(sobel_x, 3x3, border = zero, threads = 1),
        &src,
    );
    workload(
        &mut g,
        "gaussian_5x5",
        &conv!(gaussian(sigma = 1), 5x5, border = zero, threads = 1),
        &src,
    );
    workload(
        &mut g,
        "gaussian_15x15",
        &conv!(gaussian(sigma = 3), 15x15, border = zero, threads = 1),
        &src,
    );
    workload(
        &mut g,
        "dense_7x7",
        &conv!(
            [
                [
                    -0.31288522404123764,
                    0.9932688549122312,
                    0.7518798910868446,
                    0.6653227889574131,
                    0.6433407577620264,
                    0.5323678078159796,
                    0.9241024212867605
                ],
                [
                    0.8723417441923121,
                    0.819178330523719,
                    0.7953834658996383,
                    0.9892876317348565,
                    0.8558176658734088,
                    -0.6040587719867994,
                    0.6167348002651271
                ],
                [
                    -0.2855750794481311,
                    -0.5255981074907613,
                    -0.7210995803665194,
                    0.8552296092389473,
                    0.5887316243107209,
                    -0.5032131143589319,
                    -0.35421613305358
                ],
                [
                    -0.7444580515278939,
                    -0.37334150734264604,
                    0.9229298019382436,
                    0.7556325922810392,
                    0.8371505823484947,
                    -0.3950788154869094,
                    0.5592922373190985
                ],
                [
                    0.7085382118580394,
                    -0.2856152622037256,
                    -0.5653280605610517,
                    0.6988739715994502,
                    0.6411930016962623,
                    0.7152448633911339,
                    -0.6303932032065511
                ],
                [
                    0.5061243979445756,
                    0.6410590528019604,
                    -0.3202948463913041,
                    -0.6537900224457042,
                    0.9960258060547281,
                    -0.4036721665741613,
                    -0.3612119524146422
                ],
                [
                    -0.3249157750046846,
                    -0.28592310844250524,
                    -0.37315201258737374,
                    0.631277220202636,
                    -0.36627317509334345,
                    0.6181659665634359,
                    -0.320255563115879
                ]
            ],
            border = zero,
            threads = 1
        ),
        &src,
    );
    g.finish();
}

criterion::criterion_group!(benches, conv_macro);
criterion::criterion_main!(benches);
