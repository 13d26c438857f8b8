//! Edge magnitude with `conv!`: the Sobel x and y derivatives, compiled into the
//! binary with their coefficients as constants, combined as sqrt(gx² + gy²).
//!
//! ```text
//! cargo run --release -p convc-examples --example sobel_edges -- [INPUT.png] [OUTPUT.png]
//! ```
//!
//! Without an input it filters a built-in pattern (rings and a tilted square);
//! the output (default `sobel_edges.png`) is an 8-bit grayscale PNG scaled so the
//! strongest edge is white.

use std::error::Error;
use std::time::Instant;

use convc::{Convolution, Image, conv};

// The item form: a plain function. Correlate (so a brightness rising downwards
// gives a positive response), replicate border (no false edges at the frame).
conv!(
    /// d/dy of a grayscale image, 3x3 Sobel.
    fn sobel_y = sobel_y, 3x3, border = replicate
);

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let input = args.next();
    let output = args.next().unwrap_or_else(|| "sobel_edges.png".into());

    let src = match &input {
        Some(path) => load_gray(path)?,
        None => pattern(640, 480)?,
    };
    let (w, h) = (src.width(), src.height());

    // The expression form: a zero-sized value implementing `Convolution`.
    let sobel_x = conv!(sobel_x, 3x3, border = replicate);
    let mut gx = Image::<f32>::zeros(w, h)?;
    let mut gy = Image::<f32>::zeros(w, h)?;
    let start = Instant::now();
    sobel_x.apply(&src.view(), &mut gx.view_mut())?;
    sobel_y(&src.view(), &mut gy.view_mut())?;
    let took = start.elapsed();

    let magnitude: Vec<f32> = gx
        .data()
        .iter()
        .zip(gy.data())
        .map(|(x, y)| x.hypot(*y))
        .collect();
    let max = magnitude
        .iter()
        .copied()
        .fold(0.0f32, f32::max)
        .max(f32::MIN_POSITIVE);
    let pixels: Vec<u8> = magnitude
        .iter()
        .map(|m| (m / max * 255.0).round() as u8)
        .collect();
    image::GrayImage::from_raw(w as u32, h as u32, pixels)
        .ok_or("the magnitude image has the wrong size")?
        .save(&output)?;
    println!(
        "{}: {w}x{h}, two 3x3 Sobel passes in {:.2} ms ({} code), strongest edge {max:.3}; wrote {output}",
        input.as_deref().unwrap_or("built-in pattern"),
        took.as_secs_f64() * 1e3,
        sobel_x.isa(),
    );
    Ok(())
}

/// An image file as grayscale in [0, 1] (convc's `image` feature converts the buffer).
fn load_gray(path: &str) -> Result<Image<f32>, Box<dyn Error>> {
    Ok(Image::try_from(image::open(path)?.to_luma32f())?)
}

/// Concentric rings and a tilted bright square on a soft gradient.
fn pattern(w: usize, h: usize) -> convc::Result<Image<f32>> {
    let (cx, cy) = (w as f32 * 0.35, h as f32 * 0.5);
    Image::from_fn(w, h, |y, x| {
        let (fx, fy) = (x as f32, y as f32);
        let r = ((fx - cx).powi(2) + (fy - cy).powi(2)).sqrt();
        let ring = if ((r / 24.0) as u32).is_multiple_of(2) {
            0.6
        } else {
            0.2
        };
        // A square rotated by 30 degrees around (0.75 w, 0.5 h).
        let (dx, dy) = (fx - w as f32 * 0.75, fy - h as f32 * 0.5);
        let (c, s) = (30f32.to_radians().cos(), 30f32.to_radians().sin());
        let (u, v) = (c * dx + s * dy, -s * dx + c * dy);
        let square = u.abs() < 70.0 && v.abs() < 70.0;
        let base = if r < 200.0 {
            ring
        } else {
            0.1 + 0.3 * fy / h as f32
        };
        if square { 0.95 } else { base }
    })
}
