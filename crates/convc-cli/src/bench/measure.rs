//! Timing: medians of wall-clock samples, and the copy floor.

use std::time::Instant;

/// The median of `samples` (the upper one for an even count, as the OpenCV anchor
/// script takes it); NaN for none.
pub fn median(samples: &[f64]) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    s[s.len() / 2]
}

/// Runs `f` once to warm up, then `reps` times, and returns each timed run in ms.
/// The first error stops the timing.
pub fn time_ms<E>(reps: usize, mut f: impl FnMut() -> Result<(), E>) -> Result<Vec<f64>, E> {
    f()?;
    let mut samples = Vec::with_capacity(reps);
    for _ in 0..reps {
        let t = Instant::now();
        f()?;
        samples.push(t.elapsed().as_secs_f64() * 1e3);
    }
    Ok(samples)
}

/// The copy floor: a plain copy of the input into a preallocated buffer (read
/// once, write once), sampled in batches between the workloads so that it sees
/// the same machine state they do.
pub struct Floor {
    dst: Vec<f32>,
    samples: Vec<f64>,
}

impl Floor {
    /// A floor for inputs of `len` elements, copied into a buffer allocated as
    /// images are (so on huge pages where images get them).
    pub fn new(len: usize) -> convc::Result<Floor> {
        Ok(Floor {
            dst: convc::Image::<f32>::zeros(len, 1)?.into_vec(),
            samples: Vec::new(),
        })
    }

    /// Times one batch: a warm-up copy, then `reps` timed copies of `src`.
    pub fn sample(&mut self, src: &[f32], reps: usize) {
        let dst = &mut self.dst;
        let batch = time_ms::<std::convert::Infallible>(reps, || {
            dst.copy_from_slice(src);
            std::hint::black_box(&mut *dst);
            Ok(())
        });
        let Ok(batch) = batch;
        self.samples.extend(batch);
    }

    /// Copies timed so far.
    pub fn count(&self) -> usize {
        self.samples.len()
    }

    /// Median ms of every copy timed so far.
    pub fn median_ms(&self) -> f64 {
        median(&self.samples)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_is_the_middle_sample() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 3.0);
        assert_eq!(median(&[7.0]), 7.0);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn time_ms_warms_up_then_counts_reps_and_stops_at_an_error() {
        let mut calls = 0;
        let t = time_ms::<()>(4, || {
            calls += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!((t.len(), calls), (4, 5));
        assert!(t.iter().all(|&ms| ms >= 0.0));
        let mut calls = 0;
        let e = time_ms(4, || {
            calls += 1;
            if calls == 3 { Err("boom") } else { Ok(()) }
        });
        assert_eq!((e, calls), (Err("boom"), 3));
    }

    #[test]
    fn the_floor_copies_and_accumulates_batches() {
        let src: Vec<f32> = (0..1000).map(|i| i as f32).collect();
        let mut f = Floor::new(src.len()).unwrap();
        f.sample(&src, 3);
        f.sample(&src, 2);
        assert_eq!(f.count(), 5);
        assert_eq!(f.dst, src);
        assert!(f.median_ms() >= 0.0);
    }
}
