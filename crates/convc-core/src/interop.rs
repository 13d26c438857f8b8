//! Conversions between convc's images and the array types of other crates,
//! each behind the feature of the same name.
//!
//! - `ndarray`: [`ImageView`](crate::ImageView) and
//!   [`ImageViewMut`](crate::ImageViewMut) from row-major `ArrayView2` and
//!   `ArrayViewMut2` without copying; [`Image`](crate::Image) to and from
//!   `Array2`.
//! - `image`: the same for the `image` crate's one-channel buffers,
//!   `ImageBuffer<Luma<T>, _>` (what `DynamicImage::to_luma32f` returns).
//!
//! Views borrow the caller's pixels; nothing is copied unless a conversion says so.
//! A layout convc cannot address (columns not adjacent in memory, negative
//! strides) is a [`ConvError::Unsupported`](crate::ConvError::Unsupported), not a
//! silent copy: the caller decides whether to make the array contiguous.

#[cfg(feature = "image")]
mod image_buffers;
#[cfg(feature = "ndarray")]
mod ndarray_arrays;
