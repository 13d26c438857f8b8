//! The `ndarray` and `image` features: arrays and grey buffers go through every
//! backend as views of their own memory and come out bit-identical to the same
//! pixels run as `Image`s.

use convc::{
    Backend, Border, ConvSpec, Convolution, Convolver, Image, ImageView, ImageViewMut, conv,
    parse::parse_kernel,
};
use image::{GrayImage, ImageBuffer, Luma};
use ndarray::{Array2, s};

fn pattern(y: usize, x: usize) -> f32 {
    ((x * 7 + y * 13) % 31) as f32 - 15.0
}

fn spec() -> ConvSpec {
    ConvSpec::new(parse_kernel("gaussian(sigma=1.2)", Some((5, 5))).unwrap())
        .border(Border::Reflect)
}

#[test]
fn arrays_run_through_every_backend_as_images_do() {
    let (h, w) = (37, 53);
    let array = Array2::from_shape_fn((h, w), |(y, x)| pattern(y, x));
    let image = Image::from_fn(w, h, pattern).unwrap();
    for backend in Backend::available() {
        let conv = Convolver::<f32>::new(&spec(), backend).unwrap();
        let want = conv.apply_new(&image.view()).unwrap();
        let mut out = Array2::<f32>::zeros((h, w));
        conv.apply(
            &ImageView::try_from(array.view()).unwrap(),
            &mut ImageViewMut::try_from(out.view_mut()).unwrap(),
        )
        .unwrap();
        assert_eq!(out, Array2::from(want), "{backend:?}");
    }
}

#[test]
fn conv_macro_output_lands_in_an_array() {
    let sobel = conv!(sobel_x, 3x3, border = replicate);
    let ramp = Array2::from_shape_fn((16, 24), |(_, x)| 2.0 * x as f32);
    let mut out = Array2::<f32>::from_elem((16, 24), f32::NAN);
    sobel
        .apply(
            &ImageView::try_from(ramp.view()).unwrap(),
            &mut ImageViewMut::try_from(out.view_mut()).unwrap(),
        )
        .unwrap();
    // Interior: 2 per column, times sobel's 1 + 2 + 1 rows and 2 columns apart.
    assert!(out.slice(s![.., 1..23]).iter().all(|&v| v == 16.0), "{out}");
    // Replicated edges see half the gradient.
    assert!(out.column(0).iter().all(|&v| v == 8.0), "{out}");
}

#[test]
fn a_view_that_skips_columns_is_an_error_not_a_wrong_image() {
    let array = Array2::from_shape_fn((8, 8), |(y, x)| pattern(y, x));
    let conv = Convolver::<f32>::new(&spec(), Backend::Auto).unwrap();
    assert!(ImageView::try_from(array.slice(s![.., 2..6])).is_err());
    // The contiguous copy runs and matches the copy made by hand.
    let cut = array.slice(s![.., 2..6]).as_standard_layout().into_owned();
    let by_hand = Image::from_fn(4, 8, |y, x| pattern(y, x + 2)).unwrap();
    assert_eq!(
        conv.apply_new(&ImageView::try_from(cut.view()).unwrap())
            .unwrap(),
        conv.apply_new(&by_hand.view()).unwrap()
    );
}

#[test]
fn grey_buffers_run_through_the_jit_and_back() {
    let grey: GrayImage =
        ImageBuffer::from_fn(40, 30, |x, y| Luma([((x * 9 + y * 5) % 256) as u8]));
    let luma = image::DynamicImage::ImageLuma8(grey).to_luma32f();
    let as_image = Image::from_fn(40, 30, |y, x| luma.get_pixel(x as u32, y as u32)[0]).unwrap();
    let conv = Convolver::<f32>::new(&spec(), Backend::Auto).unwrap();
    let mut out = ImageBuffer::<Luma<f32>, Vec<f32>>::new(40, 30);
    conv.apply(
        &ImageView::try_from(&luma).unwrap(),
        &mut ImageViewMut::try_from(&mut out).unwrap(),
    )
    .unwrap();
    let want = conv.apply_new(&as_image.view()).unwrap();
    assert_eq!(out.as_raw(), want.data());
    // And an owned result goes back to an ImageBuffer without a copy.
    let back = ImageBuffer::<Luma<f32>, Vec<f32>>::try_from(want).unwrap();
    assert_eq!(back, out);
}
