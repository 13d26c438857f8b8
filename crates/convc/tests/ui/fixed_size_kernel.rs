use convc::conv;

fn main() {
    let _ = conv!(scharr_x, 5x5);
}
