use convc::conv;

fn main() {
    let _ = conv!([[1, 2], [1e999, 1]]);
}
