//! Shared helpers for convc's cross-backend integration tests.
//!
//! Every test file under `tests/tests/` (the proptest suite, the golden fixtures, and
//! later the JIT and `conv!` suites) builds on these:
//!
//! - [`cases`]: proptest strategies for kernels (integer, float, scaled-integer,
//!   separable, symmetric, with zero taps), specs (every op, mode, border, stride,
//!   dilation, anchor, strategy, element type) and whole [`cases::Case`]s (spec, image
//!   shape, row pitches, pixel values);
//! - [`check`]: running a case on every backend in [`convc::Backend::available`]
//!   and comparing with [`convc::exec::reference_f64`] within DESIGN.md's bound
//!   ([`convc::accuracy`]), with the pitch-gap, exactness and thread-determinism
//!   checks;
//! - [`npy`]: reading and writing the small `.npy` files the fixtures and the CLI use;
//! - [`golden`]: the manifest of `tests/fixtures/golden` (cases computed by numpy
//!   and scipy) turned back into [`convc::ConvSpec`]s;
//! - [`Rng`]: the deterministic generator pixel values come from;
//! - [`proptest_config`]: the fixed configuration that keeps CI deterministic.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod cases;
pub mod check;
pub mod golden;
pub mod npy;

use proptest::test_runner::{Config, RngSeed};

/// Seed of every property unless `PROPTEST_RNG_SEED` says otherwise.
pub const FIXED_SEED: u64 = 0x00C0_4FC0_2026_1125;

/// The proptest configuration of convc's suites: `cases` cases and a fixed seed, so
/// that CI runs the same cases every time, unless the usual environment variables
/// ask for something else (`PROPTEST_CASES=5000 PROPTEST_RNG_SEED=7 cargo test`
/// explores further). Failures are not persisted to files: with the fixed seed
/// they reproduce by themselves, and proptest prints the shrunk case.
pub fn proptest_config(cases: u32) -> Config {
    let env = Config::default();
    Config {
        cases: if std::env::var_os("PROPTEST_CASES").is_some() {
            env.cases
        } else {
            cases
        },
        rng_seed: if std::env::var_os("PROPTEST_RNG_SEED").is_some() {
            env.rng_seed
        } else {
            RngSeed::Fixed(FIXED_SEED)
        },
        failure_persistence: None,
        // Each shrink step reruns every backend; keep shrinking bounded.
        max_shrink_iters: 256,
        ..env
    }
}

/// SplitMix64: a small deterministic generator, so an image is reproduced from its
/// seed alone (proptest shrinks the seed, not thousands of pixels).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator started at `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[-1, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    }

    /// Uniform integer in `lo..=hi`.
    pub fn int(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as i64
    }
}
