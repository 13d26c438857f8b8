use convc::conv;

fn main() {
    let _ = conv!(box, 3y3);
}
