//! The `image` crate's one-channel buffers as convc images.
//!
//! `ImageBuffer<Luma<T>, _>` stores rows one after another with no gap, so views
//! need no copy. Decoded files arrive as `DynamicImage`; `to_luma32f()` turns one
//! into an `ImageBuffer<Luma<f32>, Vec<f32>>` (values in 0..1) that converts here.
//! Colour images are several planes, which convc filters one at a time.

use std::ops::{Deref, DerefMut};

use image::{ImageBuffer, Luma, Primitive};

use crate::element::Element;
use crate::error::{ConvError, Result, overflow};
use crate::image::{Image, ImageView, ImageViewMut};

/// (width, height) as `usize`.
fn dims<T, C: Deref<Target = [T]>>(buffer: &ImageBuffer<Luma<T>, C>) -> (usize, usize)
where
    T: Primitive,
{
    (buffer.width() as usize, buffer.height() as usize)
}

/// A zero-copy view of a grey image.
///
/// ```
/// use convc_core::ImageView;
/// use image::{ImageBuffer, Luma};
/// let grey = ImageBuffer::from_fn(5, 3, |x, y| Luma([(10 * y + x) as f32]));
/// let view = ImageView::try_from(&grey)?;
/// assert_eq!((view.height(), view.width()), (3, 5));
/// assert_eq!(view.get(2, 4), 24.0); // (row, column)
/// # Ok::<(), convc_core::ConvError>(())
/// ```
impl<'a, T, C> TryFrom<&'a ImageBuffer<Luma<T>, C>> for ImageView<'a, T>
where
    T: Element + Primitive,
    C: Deref<Target = [T]>,
{
    type Error = ConvError;

    fn try_from(buffer: &'a ImageBuffer<Luma<T>, C>) -> Result<Self> {
        let (width, height) = dims(buffer);
        ImageView::new(buffer, width, height)
    }
}

/// A zero-copy writable view of a grey image: where a backend's `apply` writes.
///
/// ```
/// use convc_core::{exec::Generic, parse::parse_kernel, ConvSpec, ImageView, ImageViewMut};
/// use image::{ImageBuffer, Luma};
/// let src = ImageBuffer::from_fn(8, 8, |x, _| Luma([x as f32]));
/// let mut dst = ImageBuffer::<Luma<f32>, Vec<f32>>::new(8, 8);
/// let spec = ConvSpec::new(parse_kernel("sobel_x", None)?);
/// Generic::new(&spec)?.apply(&ImageView::try_from(&src)?, &mut ImageViewMut::try_from(&mut dst)?)?;
/// assert_eq!(dst.get_pixel(4, 4)[0], 8.0); // a ramp rising by 1 per column
/// # Ok::<(), convc_core::ConvError>(())
/// ```
impl<'a, T, C> TryFrom<&'a mut ImageBuffer<Luma<T>, C>> for ImageViewMut<'a, T>
where
    T: Element + Primitive,
    C: DerefMut<Target = [T]>,
{
    type Error = ConvError;

    fn try_from(buffer: &'a mut ImageBuffer<Luma<T>, C>) -> Result<Self> {
        let (width, height) = dims(buffer);
        ImageViewMut::new(buffer, width, height)
    }
}

/// Takes the buffer's pixels without copying (a longer container is cut to
/// `width * height`).
///
/// ```
/// use convc_core::Image;
/// use image::{GrayImage, ImageBuffer, Luma};
/// let grey: GrayImage = ImageBuffer::from_fn(4, 2, |x, y| Luma([(y * 4 + x) as u8]));
/// // Decoded files are `DynamicImage`s; `to_luma32f` gives f32 values in 0..1.
/// let img = Image::try_from(image::DynamicImage::ImageLuma8(grey).to_luma32f())?;
/// assert_eq!(img.data()[7], 7.0 / 255.0);
/// # Ok::<(), convc_core::ConvError>(())
/// ```
impl<T> TryFrom<ImageBuffer<Luma<T>, Vec<T>>> for Image<T>
where
    T: Element + Primitive,
{
    type Error = ConvError;

    fn try_from(buffer: ImageBuffer<Luma<T>, Vec<T>>) -> Result<Self> {
        let (width, height) = dims(&buffer);
        let mut data = buffer.into_raw();
        data.truncate(width.saturating_mul(height));
        Image::from_vec(data, width, height)
    }
}

/// The image's pixels as a grey `ImageBuffer`, without copying.
///
/// Errors: a side longer than `u32::MAX`, which `image` cannot describe.
///
/// ```
/// use convc_core::Image;
/// use image::{ImageBuffer, Luma};
/// let img = Image::<f32>::from_fn(4, 2, |y, x| (y * 4 + x) as f32)?;
/// let grey = ImageBuffer::<Luma<f32>, Vec<f32>>::try_from(img)?;
/// assert_eq!(grey.dimensions(), (4, 2)); // (width, height)
/// assert_eq!(grey.get_pixel(3, 1)[0], 7.0);
/// # Ok::<(), convc_core::ConvError>(())
/// ```
impl<T> TryFrom<Image<T>> for ImageBuffer<Luma<T>, Vec<T>>
where
    T: Element + Primitive,
{
    type Error = ConvError;

    fn try_from(image: Image<T>) -> Result<Self> {
        let side = |n: usize, what: &str| {
            u32::try_from(n).map_err(|_| overflow(format!("{what} {n} exceeds u32 (image crate)")))
        };
        let width = side(image.width(), "width")?;
        let height = side(image.height(), "height")?;
        ImageBuffer::from_raw(width, height, image.into_vec())
            .ok_or_else(|| overflow("image buffer length"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::GrayImage;

    #[test]
    fn views_borrow_the_pixels() {
        let mut grey = ImageBuffer::from_fn(6, 4, |x, y| Luma([(y * 6 + x) as f64]));
        let ptr = grey.as_raw().as_ptr();
        let view = ImageView::try_from(&grey).unwrap();
        assert_eq!(view.data().as_ptr(), ptr);
        assert_eq!(view.row(3), &[18., 19., 20., 21., 22., 23.]);
        let mut out = ImageViewMut::try_from(&mut grey).unwrap();
        out.row_mut(0)[5] = -1.0;
        assert_eq!(grey.get_pixel(5, 0)[0], -1.0);
    }

    #[test]
    fn a_longer_container_is_cut_to_the_image() {
        let grey = ImageBuffer::<Luma<f32>, Vec<f32>>::from_raw(2, 2, vec![1., 2., 3., 4., 5.])
            .expect("a container longer than the image is allowed");
        assert_eq!(ImageView::try_from(&grey).unwrap().data().len(), 5);
        assert_eq!(Image::try_from(grey).unwrap().data(), &[1., 2., 3., 4.]);
    }

    #[test]
    fn empty_buffers_are_zero_size_errors() {
        let empty = ImageBuffer::<Luma<f32>, Vec<f32>>::new(0, 3);
        assert!(matches!(
            ImageView::try_from(&empty),
            Err(ConvError::ZeroSize { .. })
        ));
        assert!(matches!(
            Image::try_from(empty),
            Err(ConvError::ZeroSize { .. })
        ));
    }

    #[test]
    fn round_trip() {
        let grey: GrayImage = ImageBuffer::from_fn(5, 3, |x, y| Luma([(x * 40 + y) as u8]));
        let img = Image::try_from(image::DynamicImage::ImageLuma8(grey).to_luma32f()).unwrap();
        let back = ImageBuffer::<Luma<f32>, Vec<f32>>::try_from(img.clone()).unwrap();
        assert_eq!(back.dimensions(), (5, 3));
        assert_eq!(back.as_raw(), img.data());
    }
}
