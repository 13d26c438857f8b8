//! The benchmark workloads as `conv!` instances, shared by the criterion benches.
//!
//! Issue 5's workloads on an `f32` image: 'same' output, zero border, one thread
//! (`threads = 1`). The JIT and the generic executor run each instance's
//! [`Convolution::spec`], so every backend of a bench times the very same spec.

use convc::{Convolution, conv};

/// A `conv!` value as the benches hold it.
pub type MacroConv = Box<dyn Convolution<Elem = f32>>;

/// `(name, conv! instance)` for every workload, in report order.
///
/// `dense_7x7` has the fixed pseudo-random coefficients of `benches/jit.rs`'s
/// `dense(7)` (its LCG, written out); `dilation2_3x3` a fixed random 3x3.
pub fn workloads() -> Vec<(&'static str, MacroConv)> {
    vec![
        (
            "sobel_x_3x3",
            Box::new(conv!(sobel_x, 3x3, border = zero, threads = 1)),
        ),
        (
            "gaussian_5x5",
            Box::new(conv!(gaussian(sigma = 1), 5x5, border = zero, threads = 1)),
        ),
        (
            "gaussian_15x15",
            Box::new(conv!(
                gaussian(sigma = 3),
                15x15,
                border = zero,
                threads = 1
            )),
        ),
        (
            "dense_7x7",
            Box::new(conv!(
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
            )),
        ),
        (
            "stride2_3x3",
            Box::new(conv!(gaussian, 3x3, stride = 2, border = zero, threads = 1)),
        ),
        (
            "dilation2_3x3",
            Box::new(conv!(
                [
                    [
                        0.30671146975176655,
                        -0.47067215407768614,
                        -0.7984728685374078
                    ],
                    [
                        -0.6327982588330343,
                        -0.44171713619841757,
                        -0.3252323039610776
                    ],
                    [0.24624726715908452, 0.8310574762464296, -0.9418759785888375]
                ],
                dilation = 2,
                border = zero,
                threads = 1
            )),
        ),
    ]
}

/// Image sides from `CONVC_BENCH_SIZE` (one size or a comma-separated list), or
/// `default`.
pub fn sizes(default: &[usize]) -> Vec<usize> {
    std::env::var("CONVC_BENCH_SIZE")
        .ok()
        .map(|v| v.split(',').filter_map(|s| s.trim().parse().ok()).collect())
        .filter(|v: &Vec<usize>| !v.is_empty())
        .unwrap_or_else(|| default.to_vec())
}
