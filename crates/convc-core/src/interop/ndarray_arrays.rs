//! `ndarray` 2D arrays as convc images (rows along axis 0, columns along axis 1).
//!
//! Only arrays in standard (row-major, contiguous) layout convert without a copy.
//! A sliced view such as `a.slice(s![.., 1..5])` has rows further apart than its
//! width, which [`ImageView::with_pitch`] could describe, but the elements between
//! its rows may belong to another live view (`split_at`), so handing them out as
//! one slice would alias; such views are refused and
//! `as_standard_layout()` makes a contiguous copy.

use ndarray::{Array2, ArrayView2, ArrayViewMut2};

use crate::element::Element;
use crate::error::{ConvError, Result};
use crate::image::{Image, ImageView, ImageViewMut};

fn not_row_major(what: &str, strides: &[isize]) -> ConvError {
    ConvError::Unsupported(format!(
        "{what} with strides {strides:?} is not in standard (row-major, contiguous) layout; \
         make it so with `.as_standard_layout()`"
    ))
}

/// A zero-copy view of a row-major array.
///
/// ```
/// use convc_core::ImageView;
/// use ndarray::Array2;
/// let a = Array2::<f32>::from_shape_fn((3, 5), |(y, x)| (10 * y + x) as f32);
/// let view = ImageView::try_from(a.view())?;
/// assert_eq!((view.height(), view.width()), (3, 5));
/// assert_eq!(view.get(2, 4), 24.0);
/// // A transposed (column-major) view is refused rather than read wrongly.
/// assert!(ImageView::try_from(a.t()).is_err());
/// # Ok::<(), convc_core::ConvError>(())
/// ```
impl<'a, T: Element> TryFrom<ArrayView2<'a, T>> for ImageView<'a, T> {
    type Error = ConvError;

    fn try_from(array: ArrayView2<'a, T>) -> Result<Self> {
        let (height, width) = array.dim();
        let strides = array.strides().to_vec();
        match array.to_slice() {
            Some(data) => ImageView::new(data, width, height),
            None => Err(not_row_major("an ndarray view", &strides)),
        }
    }
}

/// A zero-copy writable view of a row-major array: the output of
/// [`apply`](crate::exec::Generic::apply) and of every backend's `apply`.
///
/// ```
/// use convc_core::{exec::Generic, parse::parse_kernel, ConvSpec, ImageView, ImageViewMut};
/// use ndarray::Array2;
/// let src = Array2::<f32>::from_shape_fn((8, 8), |(_, x)| x as f32);
/// let mut dst = Array2::<f32>::zeros((8, 8));
/// let spec = ConvSpec::new(parse_kernel("sobel_x", None)?);
/// Generic::new(&spec)?.apply(
///     &ImageView::try_from(src.view())?,
///     &mut ImageViewMut::try_from(dst.view_mut())?,
/// )?;
/// assert_eq!(dst[[4, 4]], 8.0); // a ramp rising by 1 per column
/// # Ok::<(), convc_core::ConvError>(())
/// ```
impl<'a, T: Element> TryFrom<ArrayViewMut2<'a, T>> for ImageViewMut<'a, T> {
    type Error = ConvError;

    fn try_from(array: ArrayViewMut2<'a, T>) -> Result<Self> {
        let (height, width) = array.dim();
        let strides = array.strides().to_vec();
        match array.into_slice() {
            Some(data) => ImageViewMut::new(data, width, height),
            None => Err(not_row_major("an ndarray view", &strides)),
        }
    }
}

/// Takes the array's buffer when it is row-major and starts at its first
/// element; copies it into row-major order otherwise (any layout converts).
///
/// ```
/// use convc_core::Image;
/// use ndarray::{Array2, ShapeBuilder};
/// let a = Array2::<f64>::from_shape_vec((2, 3).f(), vec![1., 4., 2., 5., 3., 6.]).unwrap();
/// let img = Image::try_from(a)?; // column-major in, row-major out
/// assert_eq!(img.data(), &[1., 2., 3., 4., 5., 6.]);
/// # Ok::<(), convc_core::ConvError>(())
/// ```
impl<T: Element> TryFrom<Array2<T>> for Image<T> {
    type Error = ConvError;

    fn try_from(array: Array2<T>) -> Result<Self> {
        let (height, width) = array.dim();
        let data = if array.is_standard_layout() {
            match array.into_raw_vec_and_offset() {
                (data, Some(0) | None) if data.len() == width * height => data,
                (data, Some(offset)) => data[offset..offset + width * height].to_vec(),
                (data, None) => data,
            }
        } else {
            array.iter().copied().collect()
        };
        Image::from_vec(data, width, height)
    }
}

/// The image's buffer as a row-major array, without a copy.
///
/// ```
/// use convc_core::Image;
/// use ndarray::Array2;
/// let img = Image::<f32>::from_fn(4, 2, |y, x| (y * 4 + x) as f32)?;
/// let a = Array2::from(img);
/// assert_eq!(a.dim(), (2, 4));
/// assert_eq!(a[[1, 3]], 7.0);
/// # Ok::<(), convc_core::ConvError>(())
/// ```
impl<T: Element> From<Image<T>> for Array2<T> {
    fn from(image: Image<T>) -> Self {
        let shape = (image.height(), image.width());
        Array2::from_shape_vec(shape, image.into_vec())
            .expect("an Image holds exactly width * height elements")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Axis, s};

    #[test]
    fn standard_views_convert_without_a_copy() {
        let a = Array2::<f32>::from_shape_fn((4, 6), |(y, x)| (y * 6 + x) as f32);
        let view = ImageView::try_from(a.view()).unwrap();
        assert_eq!(view.data().as_ptr(), a.as_ptr());
        assert_eq!(view.pitch(), 6);
        assert_eq!(view.row(3), &[18., 19., 20., 21., 22., 23.]);
        // A band of whole rows is still contiguous.
        let band = ImageView::try_from(a.slice(s![1..3, ..])).unwrap();
        assert_eq!(band.row(0), &[6., 7., 8., 9., 10., 11.]);
    }

    #[test]
    fn views_that_skip_columns_are_refused() {
        let mut a = Array2::<f32>::zeros((4, 6));
        let err = ImageView::try_from(a.slice(s![.., 1..5])).unwrap_err();
        assert!(
            err.to_string().contains("as_standard_layout"),
            "message: {err}"
        );
        assert!(ImageView::try_from(a.slice(s![.., ..;2])).is_err());
        assert!(ImageView::try_from(a.slice(s![..;-1, ..])).is_err());
        // The aliasing case the refusal prevents: two halves of one array.
        let (left, _right) = a.view_mut().split_at(Axis(1), 3);
        assert!(ImageViewMut::try_from(left).is_err());
    }

    #[test]
    fn empty_arrays_are_zero_size_errors() {
        let a = Array2::<f32>::zeros((0, 5));
        assert!(matches!(
            ImageView::try_from(a.view()),
            Err(ConvError::ZeroSize { .. })
        ));
        assert!(matches!(
            Image::try_from(Array2::<f64>::zeros((3, 0))),
            Err(ConvError::ZeroSize { .. })
        ));
    }

    #[test]
    fn owned_arrays_round_trip_in_any_layout() {
        let a = Array2::<f64>::from_shape_fn((3, 4), |(y, x)| (y * 4 + x) as f64);
        let want: Vec<f64> = (0..12).map(f64::from).collect();
        assert_eq!(Image::try_from(a.clone()).unwrap().data(), &want[..]);
        // Column-major, and a standard-layout array that starts past its buffer's head.
        assert_eq!(
            Image::try_from(a.t().as_standard_layout().into_owned().reversed_axes())
                .unwrap()
                .data(),
            &want[..]
        );
        let mut tall = Array2::<f64>::zeros((5, 4));
        tall.slice_mut(s![2.., ..]).assign(&a);
        tall.slice_collapse(s![2.., ..]);
        assert_eq!(Image::try_from(tall).unwrap().data(), &want[..]);
        let back = Array2::from(Image::try_from(a.clone()).unwrap());
        assert_eq!(back, a);
    }
}
