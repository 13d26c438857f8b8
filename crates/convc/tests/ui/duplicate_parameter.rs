use convc::conv;

fn main() {
    let _ = conv!(gaussian(sigma = 1, sigma = 2), 5x5);
}
