use convc::conv;

fn main() {
    let _ = conv!(laplacian, strategy = separable);
}
