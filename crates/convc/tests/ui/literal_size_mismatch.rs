use convc::conv;

fn main() {
    let _ = conv!([[1, 2, 1]], 3x3);
}
