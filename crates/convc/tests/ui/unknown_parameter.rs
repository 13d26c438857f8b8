use convc::conv;

fn main() {
    let _ = conv!(box(sigma = 1), 3x3);
}
