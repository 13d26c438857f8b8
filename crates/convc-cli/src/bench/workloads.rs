//! The benchmark's workloads and its input image.
//!
//! Every workload correlates an f32 image in 'same' mode with a zero border (as
//! `../shared/bench/opencv_anchor.py` does with `BORDER_CONSTANT`), on
//! `--threads` threads. The first four names are the anchor script's, so OpenCV rows
//! merge by name.

use convc::parse::parse_kernel;
use convc::{Border, ConvSpec, Image, Mode};

use crate::demo::pattern::SplitMix64;
use crate::demo::workloads::random_kernel;
use crate::error::{Result, bail};

/// Seed of the input image.
pub const INPUT_SEED: u64 = 0xBE4C_0001;
/// Seed of the dense 7x7 kernel.
pub const DENSE7_SEED: u64 = 0xBE4C_0007;
/// Seed of the dense 3x3 kernel of `dilation2_3x3`.
pub const DENSE3_SEED: u64 = 0xBE4C_0003;

/// One measured convolution.
#[derive(Debug, Clone)]
pub struct Workload {
    /// Name in the table, the JSON and the plot.
    pub name: &'static str,
    /// What it is, in words (for `--help`-like listings and docs).
    pub about: &'static str,
    /// The spec every backend prepares.
    pub spec: ConvSpec,
}

/// The workloads `list` names (comma-separated, in the bench's own order), or
/// all of them for `None`; an empty name is an error, and so is an unknown one
/// (its message lists the known ones).
pub fn select(all: Vec<Workload>, list: Option<&str>) -> Result<Vec<Workload>> {
    let Some(list) = list else {
        return Ok(all);
    };
    let known: Vec<&str> = all.iter().map(|w| w.name).collect();
    let mut wanted = Vec::new();
    for name in list.split(',').map(str::trim) {
        if name.is_empty() {
            bail!("--workloads: empty name in `{list}` (expected a comma-separated list)");
        }
        if !known.contains(&name) {
            bail!(
                "--workloads: unknown workload `{name}` (known: {})",
                known.join(", ")
            );
        }
        wanted.push(name.to_string());
    }
    Ok(all
        .into_iter()
        .filter(|w| wanted.iter().any(|n| n == w.name))
        .collect())
}

/// Every workload, in table order, each on `threads` threads.
pub fn workloads(threads: usize) -> Result<Vec<Workload>> {
    let spec = |k: convc::Kernel| {
        ConvSpec::new(k)
            .mode(Mode::Same)
            .border(Border::Zero)
            .threads(threads)
    };
    let named = |expr: &str, n: usize| parse_kernel(expr, Some((n, n)));
    Ok(vec![
        Workload {
            name: "sobel_x_3x3",
            about: "sobel_x 3x3",
            spec: spec(named("sobel_x", 3)?),
        },
        Workload {
            name: "gaussian_5x5",
            about: "gaussian(sigma=1) 5x5, separable",
            spec: spec(named("gaussian(sigma=1)", 5)?),
        },
        Workload {
            name: "gaussian_15x15",
            about: "gaussian(sigma=3) 15x15, separable",
            spec: spec(named("gaussian(sigma=3)", 15)?),
        },
        Workload {
            name: "dense_7x7",
            about: "dense random 7x7 (uniform in [-1, 1), fixed seed), not separable",
            spec: spec(random_kernel(7, DENSE7_SEED)?),
        },
        Workload {
            name: "stride2_3x3",
            about: "gaussian 3x3 with stride 2 (blur and decimate; output N/2 x N/2)",
            spec: spec(named("gaussian", 3)?).stride(2),
        },
        Workload {
            name: "dilation2_3x3",
            about: "dense random 3x3 with dilation 2 (taps 2 pixels apart)",
            spec: spec(random_kernel(3, DENSE3_SEED)?).dilation(2),
        },
    ])
}

/// The `n` x `n` input: uniform pseudo-random values in [0, 1), fixed seed.
pub fn input_image(n: usize) -> Result<Image<f32>> {
    let mut rng = SplitMix64::new(INPUT_SEED);
    // from_fn fills row by row, the order the values were always drawn in.
    Ok(Image::from_fn(n, n, |_, _| {
        ((rng.next_signed() + 1.0) * 0.5) as f32
    })?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use convc::plan::Method;
    use convc::{Plan, Shape};

    #[test]
    fn names_are_the_anchor_scripts_and_unique() {
        let w = workloads(1).unwrap();
        let names: Vec<_> = w.iter().map(|w| w.name).collect();
        assert_eq!(
            names,
            [
                "sobel_x_3x3",
                "gaussian_5x5",
                "gaussian_15x15",
                "dense_7x7",
                "stride2_3x3",
                "dilation2_3x3"
            ]
        );
    }

    #[test]
    fn specs_are_what_the_names_say() {
        let w = workloads(3).unwrap();
        let method = |i: usize| Plan::new(&w[i].spec).unwrap().method;
        for wl in &w {
            wl.spec.validate().unwrap();
            assert_eq!(wl.spec.threads, Some(3));
            assert_eq!(wl.spec.border, Border::Zero);
            assert_eq!(wl.spec.mode, Mode::Same);
        }
        assert_eq!(w[0].spec.kernel.get(1, 0), -2.0);
        assert!(
            matches!(method(1), Method::Separable { .. }),
            "{:?}",
            method(1)
        );
        assert!(
            matches!(method(2), Method::Separable { .. }),
            "{:?}",
            method(2)
        );
        assert!(matches!(method(3), Method::Direct(..)), "{:?}", method(3));
        assert_eq!(w[2].spec.kernel.height(), 15);
        let out = |i: usize| w[i].spec.output_shape(Shape::new(64, 64)).unwrap();
        assert_eq!(out(4), Shape::new(32, 32));
        assert_eq!(out(5), Shape::new(64, 64));
        assert_eq!(w[5].spec.dilation, convc::Axes::splat(2));
        assert!(w[5].spec.kernel.coeffs().iter().all(|&c| c != 0.0));
    }

    #[test]
    fn the_input_is_fixed_and_in_range() {
        let a = input_image(32).unwrap();
        assert_eq!(a, input_image(32).unwrap());
        assert!(a.data().iter().all(|v| (0.0..1.0).contains(v)));
        let first = a.data()[0];
        assert!(a.data().iter().any(|&v| v != first));
    }
}
