use convc::conv;

fn main() {
    let _ = conv!(box, 3x3, threads = 0);
}
