use convc::conv;

fn main() {
    let _ = conv!(gaussian(sigma = 1.5), 4x4);
}
