use convc::conv;

conv!(pub fn edges sobel_x, 3x3);

fn main() {}
