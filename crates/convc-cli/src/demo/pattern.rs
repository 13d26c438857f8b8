//! The demo's synthetic test pattern and its fixed-seed random numbers.
//!
//! An `n` x `n` image with values 0..255, one quadrant each:
//! - top left: a zone plate (a chirp whose frequency rises from 0 at the centre to
//!   the Nyquist limit at the edge of its disc): blurs fade its rim, derivatives
//!   light up its fine rings;
//! - top right: filled shapes (disc, rectangle, triangle, ring) and thin lines on gray:
//!   edges in every direction;
//! - bottom left: text-like glyphs (5x7 dots, dark on light);
//! - bottom right: a linear ramp, a radial gradient and checkerboards of 2 to 16 px.

use convc::Image;

use crate::error::Result;

/// SplitMix64: a tiny, well-mixed generator; the demo's randomness is fixed by seed.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator starting at `seed`.
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [-1, 1).
    pub fn next_signed(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }
}

/// The test pattern, `n` x `n`, values 0..255.
pub fn test_pattern(n: usize) -> Result<Image<f32>> {
    let q = n / 2;
    Ok(Image::from_fn(n, n, |y, x| {
        let (top, left) = (y < q, x < q);
        let fy = (if top { y } else { y - q }) as f64;
        let fx = (if left { x } else { x - q }) as f64;
        let qf = q.max(1) as f64;
        let v = match (top, left) {
            (true, true) => zone_plate(fy, fx, qf),
            (true, false) => shapes(fy, fx, qf),
            (false, true) => glyphs(fy as usize, fx as usize, q.max(1)),
            (false, false) => gradients(fy, fx, qf),
        };
        v.clamp(0.0, 255.0) as f32
    })?)
}

fn zone_plate(y: f64, x: f64, q: f64) -> f64 {
    let c = q / 2.0 - 0.5;
    let r2 = (y - c).powi(2) + (x - c).powi(2);
    if r2 > (q / 2.0).powi(2) {
        return 128.0;
    }
    // Local frequency k*r/pi cycles per pixel with k = pi/q: 0.5 at r = q/2.
    127.5 + 127.5 * (std::f64::consts::PI * r2 / q).cos()
}

fn shapes(y: f64, x: f64, q: f64) -> f64 {
    let (u, v) = (x / q, y / q);
    let dist = |cu: f64, cv: f64| ((u - cu).powi(2) + (v - cv).powi(2)).sqrt();
    if dist(0.28, 0.28) < 0.2 {
        return 235.0;
    }
    let ring = dist(0.75, 0.25);
    if (0.1..0.16).contains(&ring) {
        return 255.0;
    }
    if (0.1..0.45).contains(&u) && (0.58..0.92).contains(&v) {
        return 15.0;
    }
    // Right triangle with its hypotenuse at 45 degrees.
    if (0.55..0.95).contains(&u) && (0.55..0.95).contains(&v) && u - 0.55 >= 0.95 - v {
        return 190.0;
    }
    // Two thin lines, one shallow, one steep, one pixel wide.
    if (y - (0.5 * x + 0.45 * q)).abs() < 0.75 || (y - (3.0 * x - 1.2 * q)).abs() < 1.5 {
        return 0.0;
    }
    100.0
}

fn glyphs(y: usize, x: usize, q: usize) -> f64 {
    let dot = (q / 128).max(1);
    let (cell_w, cell_h) = (6 * dot, 10 * dot);
    let (col, row) = (x / cell_w, y / cell_h);
    let (gx, gy) = ((x % cell_w) / dot, (y % cell_h) / dot);
    let paper = 235.0;
    if gx >= 5 || !(1..8).contains(&gy) {
        return paper;
    }
    let index = (row * 4096 + col) as u64;
    // Every sixth glyph is a space between "words".
    if (index % 6) == 5 {
        return paper;
    }
    let bits = SplitMix64::new(index).next_u64();
    if bits >> ((gy - 1) * 5 + gx) & 1 == 1 {
        30.0
    } else {
        paper
    }
}

fn gradients(y: f64, x: f64, q: f64) -> f64 {
    let h = q / 2.0;
    if y < h {
        return 255.0 * x / q;
    }
    let yy = y - h;
    if x < h {
        let r = ((yy - h / 2.0).powi(2) + (x - h / 2.0).powi(2)).sqrt();
        return 255.0 * (1.0 - r / (h / 2.0)).max(0.0);
    }
    let band = ((yy / h * 4.0) as u32).min(3);
    let cell = 2usize << band;
    if ((x as usize / cell) + (yy as usize / cell)).is_multiple_of(2) {
        255.0
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pattern_spans_0_to_255_and_is_deterministic() {
        let a = test_pattern(64).unwrap();
        let b = test_pattern(64).unwrap();
        assert_eq!(a, b);
        let (lo, hi) = a
            .data()
            .iter()
            .fold((f32::MAX, f32::MIN), |(l, h), &v| (l.min(v), h.max(v)));
        assert_eq!((lo, hi), (0.0, 255.0));
        // Every quadrant has structure (more than one value).
        for (y0, x0) in [(0, 0), (0, 32), (32, 0), (32, 32)] {
            let first = a.data()[y0 * 64 + x0];
            let varied =
                (y0..y0 + 32).any(|y| (x0..x0 + 32).any(|x| a.data()[y * 64 + x] != first));
            assert!(varied, "quadrant at ({y0}, {x0}) is flat");
        }
    }

    #[test]
    fn random_numbers_are_fixed_by_seed_and_in_range() {
        let mut a = SplitMix64::new(7);
        let mut b = SplitMix64::new(7);
        for _ in 0..1000 {
            let v = a.next_signed();
            assert_eq!(v, b.next_signed());
            assert!((-1.0..1.0).contains(&v));
        }
        assert_ne!(SplitMix64::new(1).next_u64(), SplitMix64::new(2).next_u64());
    }
}
