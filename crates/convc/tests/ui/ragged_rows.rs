use convc::conv;

fn main() {
    let _ = conv!([[1, 2, 1], [2, 4], [1, 2, 1]]);
}
