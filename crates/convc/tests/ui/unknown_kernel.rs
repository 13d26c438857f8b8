use convc::conv;

fn main() {
    let _ = conv!(sobel_z, 3x3);
}
