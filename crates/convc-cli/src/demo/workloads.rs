//! The demo's table of workloads. Add a row here to add a workload.

use convc::parse::parse_kernel;
use convc::{ConvSpec, Kernel};

use super::pattern::SplitMix64;
use crate::error::Result;

/// Which input a workload filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// The test pattern at `--size`.
    Pattern,
    /// The test pattern at twice `--size` (the large, slow workload).
    Pattern2x,
}

/// How a workload's stage outputs become one image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Combine {
    /// One stage; its output as is.
    Single,
    /// Two stages (x and y derivative): sqrt(gx^2 + gy^2).
    Magnitude,
}

/// How a result becomes an 8-bit PNG (docs/cli.md lists them per workload).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum View {
    /// Rounded and clamped to 0..255 (blurs, sharpen).
    Clamp,
    /// |x| times a factor, clamped to 0..255 (derivatives).
    Abs(f64),
    /// Signed, around mid-gray: 127.5 + 127.5 * x / max|x| (outputs of arbitrary
    /// range and sign: 0 is gray, the largest |x| is black or white).
    SignedNormalized,
}

/// One row of the demo: a named job run through every backend.
#[derive(Debug, Clone)]
pub struct Workload {
    /// Name in the table.
    pub name: String,
    /// PNG file name for its result.
    pub file: String,
    /// What it filters.
    pub input: Input,
    /// The convolutions, each run (and timed, and checked) on the input.
    pub stages: Vec<ConvSpec>,
    /// How the stage outputs combine.
    pub combine: Combine,
    /// How the result is shown.
    pub view: View,
}

/// Seed of the dense random kernel.
pub const DENSE_SEED: u64 = 0x5EED_C0DE;

/// A dense, non-separable `n` x `n` kernel with coefficients uniform in [-1, 1).
pub fn random_kernel(n: usize, seed: u64) -> Result<Kernel> {
    let mut rng = SplitMix64::new(seed);
    let coeffs = (0..n * n).map(|_| rng.next_signed()).collect();
    Ok(Kernel::new(n, n, coeffs)?.named(format!("random {n}x{n} (seed {seed:#x})")))
}

/// Every workload, in table order. Timing runs use one thread.
pub fn workloads() -> Result<Vec<Workload>> {
    let spec = |expr: &str, size: (usize, usize)| -> Result<ConvSpec> {
        Ok(ConvSpec::new(parse_kernel(expr, Some(size))?).threads(1))
    };
    let one = |name: &str, file: &str, spec: ConvSpec, view: View| Workload {
        name: name.into(),
        file: file.into(),
        input: Input::Pattern,
        stages: vec![spec],
        combine: Combine::Single,
        view,
    };
    Ok(vec![
        Workload {
            name: "sobel magnitude 3x3".into(),
            file: "sobel-magnitude.png".into(),
            input: Input::Pattern,
            stages: vec![spec("sobel_x", (3, 3))?, spec("sobel_y", (3, 3))?],
            combine: Combine::Magnitude,
            view: View::Abs(0.25),
        },
        one(
            "gaussian 7x7 sigma 2",
            "gaussian-7x7.png",
            spec("gaussian(sigma=2)", (7, 7))?,
            View::Clamp,
        ),
        one(
            "laplacian 3x3",
            "laplacian.png",
            spec("laplacian", (3, 3))?,
            View::Abs(1.0),
        ),
        one(
            "sharpen 3x3",
            "sharpen.png",
            spec("sharpen", (3, 3))?,
            View::Clamp,
        ),
        Workload {
            name: "dense 7x7 random (2x size)".into(),
            file: "dense-7x7-random.png".into(),
            input: Input::Pattern2x,
            stages: vec![ConvSpec::new(random_kernel(7, DENSE_SEED)?).threads(1)],
            combine: Combine::Single,
            view: View::SignedNormalized,
        },
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use convc::{Plan, plan::Method};

    #[test]
    fn the_table_is_well_formed() {
        let w = workloads().unwrap();
        assert!(w.len() >= 5);
        for wl in &w {
            assert!(wl.file.ends_with(".png"));
            assert!(!wl.stages.is_empty());
            assert_eq!(wl.combine == Combine::Magnitude, wl.stages.len() == 2);
            for s in &wl.stages {
                assert_eq!(s.threads, Some(1));
                s.validate().unwrap();
            }
        }
        let files: std::collections::HashSet<_> = w.iter().map(|wl| &wl.file).collect();
        assert_eq!(files.len(), w.len(), "file names must differ");
    }

    #[test]
    fn the_random_kernel_is_dense_fixed_and_not_separable() {
        let a = random_kernel(7, DENSE_SEED).unwrap();
        assert_eq!(a, random_kernel(7, DENSE_SEED).unwrap());
        assert!(a.coeffs().iter().all(|&c| c != 0.0));
        let plan = Plan::new(&ConvSpec::new(a)).unwrap();
        assert!(matches!(plan.method, Method::Direct(_)), "{plan}");
    }
}
