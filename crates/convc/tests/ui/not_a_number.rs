use convc::conv;

fn main() {
    let _ = conv!([[1, 2], [x, 4]]);
}
