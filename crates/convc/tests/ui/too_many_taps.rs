use convc::conv;

fn main() {
    // A 17x17 LoG is one pass of 289 taps: too many to unroll (256 at most).
    let _ = conv!(log, 17x17);
    // 25 million coefficients: more than any kernel may have.
    let _ = conv!(box, 5000x5000);
}
