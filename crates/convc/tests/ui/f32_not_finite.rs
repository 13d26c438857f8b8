use convc::conv;

fn main() {
    // Finite as an f64, infinite as the f32 the code computes in.
    let _ = conv!([[1, 2], [-1e39, 1]]);
    let _ = conv!(box, 3x3, border = constant(1e39));
    // With f64 code both are fine.
    let _ = conv!([[1, 2], [-1e39, 1]], dtype = f64);
    let _ = conv!(box, 3x3, border = constant(1e39), dtype = f64);
}
