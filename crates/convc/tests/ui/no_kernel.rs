use convc::conv;

fn main() {
    let _ = conv!();
}
