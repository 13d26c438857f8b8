use convc::conv;

fn main() {
    let _ = conv!(box, 9x9, mode = valid, input = 4x4);
}
