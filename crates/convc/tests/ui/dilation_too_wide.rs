use convc::conv;

fn main() {
    let _ = conv!(sobel_x, 3x3, dilation = (1, 3000000));
}
