//! Every form of `conv!`, used from a crate outside the workspace (trybuild builds
//! this file as its own crate with `convc` as a path dependency), each checked
//! against the reference executor.

use convc::accuracy::check_against_reference;
use convc::{ConvError, ConvSpec, Convolution, Image, ImageView, ImageViewMut, conv};

conv!(pub fn sobel3 = sobel_x, 3x3);

fn pattern(w: usize, h: usize) -> Result<Image<f32>, ConvError> {
    Image::from_fn(w, h, |y, x| ((x * 7 + y * 13) % 31) as f32 - 15.0)
}

fn agrees(spec: &ConvSpec, src: &ImageView<'_, f32>, dst: &Image<f32>) {
    if let Err(m) = check_against_reference(spec, src, &dst.view()).unwrap() {
        panic!("{m}\n{spec:?}");
    }
}

fn check<C: Convolution<Elem = f32>>(c: &C, w: usize, h: usize) -> Result<(), ConvError> {
    let src = pattern(w, h)?;
    let dst = c.apply_new(&src.view())?;
    agrees(c.spec(), &src.view(), &dst);
    Ok(())
}

fn main() -> Result<(), ConvError> {
    check(&conv!(sobel_x, 3x3), 64, 40)?;
    check(&conv!(gaussian(sigma = 1.5), 7x7, border = reflect), 61, 33)?;
    check(&conv!([[1, 2, 1], [2, 4, 2], [1, 2, 1]] / 16), 70, 9)?;
    check(
        &conv!(
            sobel_x,
            3x3,
            stride = 2,
            dilation = 2,
            mode = valid,
            op = convolve
        ),
        59,
        21,
    )?;
    check(&conv!(box, 5x5, input = 24x80), 80, 24)?;
    check(
        &conv!(
            laplacian,
            3x3,
            mode = pad(1, 0, 2, 1),
            border = constant(0.5)
        ),
        37,
        12,
    )?;
    check(
        &conv!(sharpen, 3x3, border = wrap, anchor = (0, 2), threads = 2),
        45,
        30,
    )?;

    let f64_blur = conv!(binomial, 5x5, dtype = f64, border = replicate);
    let src = Image::<f64>::from_fn(50, 20, |y, x| (x * y % 17) as f64)?;
    let dst = f64_blur.apply_new(&src.view())?;
    if let Err(m) = check_against_reference(f64_blur.spec(), &src.view(), &dst.view())? {
        panic!("{m}");
    }

    // The item form is a plain function.
    let src = pattern(64, 40)?;
    let mut dst = Image::<f32>::zeros(64, 40)?;
    sobel3(&src.view(), &mut dst.view_mut())?;
    let want = conv!(sobel_x, 3x3).apply_new(&src.view())?;
    assert_eq!(dst, want);

    // Wrong shapes are errors, not panics.
    let mut small = vec![0.0f32; 10];
    let mut out = ImageViewMut::new(&mut small, 5, 2)?;
    assert!(sobel3(&src.view(), &mut out).is_err());
    Ok(())
}
