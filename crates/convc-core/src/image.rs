//! Image views over caller-owned buffers, and an owned [`Image`].

use crate::element::Element;
use crate::error::{ConvError, Result, overflow};
use crate::spec::Shape;

/// Elements a `height` x `width` image with row `pitch` needs: (h - 1) * pitch + w.
fn required_len(
    what: &'static str,
    len: usize,
    width: usize,
    height: usize,
    pitch: usize,
) -> Result<usize> {
    if width == 0 {
        return Err(ConvError::ZeroSize {
            what: "image width",
        });
    }
    if height == 0 {
        return Err(ConvError::ZeroSize {
            what: "image height",
        });
    }
    if pitch < width {
        return Err(ConvError::PitchTooSmall { pitch, width });
    }
    let needed = (height - 1)
        .checked_mul(pitch)
        .and_then(|v| v.checked_add(width))
        .ok_or_else(|| overflow(format!("{what} image size")))?;
    if len < needed {
        return Err(ConvError::BufferTooSmall {
            what,
            needed,
            got: len,
        });
    }
    Ok(needed)
}

/// A read-only 2D image: `height` rows of `width` elements, rows `pitch` apart.
///
/// ```
/// use convc_core::ImageView;
/// let data = vec![0f32; 3 * 8];
/// let img = ImageView::with_pitch(&data, 5, 3, 8)?; // 5 wide, 3 high, rows 8 apart
/// assert_eq!(img.row(2).len(), 5);
/// assert!(ImageView::new(&data[..10], 5, 3).is_err()); // too short
/// # Ok::<(), convc_core::ConvError>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ImageView<'a, T> {
    data: &'a [T],
    width: usize,
    height: usize,
    pitch: usize,
}

impl<'a, T: Element> ImageView<'a, T> {
    /// A tightly packed image (pitch = width).
    pub fn new(data: &'a [T], width: usize, height: usize) -> Result<Self> {
        Self::with_pitch(data, width, height, width)
    }

    /// An image whose rows are `pitch` elements apart (pitch >= width). The buffer
    /// must hold at least (height - 1) * pitch + width elements.
    pub fn with_pitch(data: &'a [T], width: usize, height: usize, pitch: usize) -> Result<Self> {
        required_len("input", data.len(), width, height, pitch)?;
        Ok(ImageView {
            data,
            width,
            height,
            pitch,
        })
    }

    /// Columns.
    pub fn width(&self) -> usize {
        self.width
    }
    /// Rows.
    pub fn height(&self) -> usize {
        self.height
    }
    /// Elements between the starts of consecutive rows.
    pub fn pitch(&self) -> usize {
        self.pitch
    }
    /// (height, width).
    pub fn shape(&self) -> Shape {
        Shape::new(self.height, self.width)
    }
    /// The underlying buffer (may extend past the last row's width).
    pub fn data(&self) -> &'a [T] {
        self.data
    }
    /// Row `y` (`width` elements).
    ///
    /// # Panics
    /// If `y >= height`.
    #[inline]
    pub fn row(&self, y: usize) -> &'a [T] {
        assert!(y < self.height, "row {y} out of range");
        &self.data[y * self.pitch..y * self.pitch + self.width]
    }
    /// Element at (y, x).
    ///
    /// # Panics
    /// If out of range.
    #[inline]
    pub fn get(&self, y: usize, x: usize) -> T {
        assert!(x < self.width, "column {x} out of range");
        self.data[y * self.pitch + x]
    }
}

/// A writable 2D image: `height` rows of `width` elements, rows `pitch` apart.
/// Elements between rows (pitch > width) are never written.
#[derive(Debug)]
pub struct ImageViewMut<'a, T> {
    data: &'a mut [T],
    width: usize,
    height: usize,
    pitch: usize,
}

impl<'a, T: Element> ImageViewMut<'a, T> {
    /// A tightly packed image (pitch = width).
    pub fn new(data: &'a mut [T], width: usize, height: usize) -> Result<Self> {
        Self::with_pitch(data, width, height, width)
    }

    /// An image whose rows are `pitch` elements apart.
    pub fn with_pitch(
        data: &'a mut [T],
        width: usize,
        height: usize,
        pitch: usize,
    ) -> Result<Self> {
        required_len("output", data.len(), width, height, pitch)?;
        Ok(ImageViewMut {
            data,
            width,
            height,
            pitch,
        })
    }

    /// Columns.
    pub fn width(&self) -> usize {
        self.width
    }
    /// Rows.
    pub fn height(&self) -> usize {
        self.height
    }
    /// Elements between the starts of consecutive rows.
    pub fn pitch(&self) -> usize {
        self.pitch
    }
    /// (height, width).
    pub fn shape(&self) -> Shape {
        Shape::new(self.height, self.width)
    }
    /// A read-only view of the same pixels.
    pub fn as_view(&self) -> ImageView<'_, T> {
        ImageView {
            data: self.data,
            width: self.width,
            height: self.height,
            pitch: self.pitch,
        }
    }
    /// Row `y`, writable.
    ///
    /// # Panics
    /// If `y >= height`.
    pub fn row_mut(&mut self, y: usize) -> &mut [T] {
        assert!(y < self.height, "row {y} out of range");
        &mut self.data[y * self.pitch..y * self.pitch + self.width]
    }
    /// Every row, writable, as disjoint slices (what the executors split into bands).
    pub fn rows_mut(&mut self) -> Vec<&mut [T]> {
        let (w, h) = (self.width, self.height);
        self.data
            .chunks_mut(self.pitch)
            .take(h)
            .map(|r| &mut r[..w])
            .collect()
    }
}

/// An owned, tightly packed image.
///
/// On Linux, the buffers of 4 MiB and more that [`Image::zeros`] and
/// [`Image::from_fn`] allocate ask the kernel for transparent huge pages before
/// their first write, as numpy does for its arrays: a filter walking several rows of
/// a large image then misses the TLB far less often. [`Image::from_vec`] keeps the
/// caller's buffer as it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Image<T> {
    data: Vec<T>,
    width: usize,
    height: usize,
}

impl<T: Element> Image<T> {
    /// A `width` x `height` image of zeros.
    ///
    /// Errors: a zero side, a pixel count that overflows `usize`, or a buffer
    /// the allocator refuses ([`ConvError::OutOfMemory`]) instead of an abort.
    ///
    /// ```
    /// use convc_core::{ConvError, Image};
    /// assert_eq!(Image::<f32>::zeros(3, 2)?.data(), &[0.0; 6]);
    /// // 16 EiB of pixels: an error, not an aborted process.
    /// assert!(matches!(
    ///     Image::<f32>::zeros(1 << 31, 1 << 31),
    ///     Err(ConvError::OutOfMemory { .. })
    /// ));
    /// # Ok::<(), ConvError>(())
    /// ```
    pub fn zeros(width: usize, height: usize) -> Result<Self> {
        let len = width
            .checked_mul(height)
            .ok_or_else(|| overflow("image size"))?;
        required_len("output", len, width, height, width)?;
        Ok(Image {
            data: crate::pages::zeroed(len, || format!("{width}x{height} image"))?,
            width,
            height,
        })
    }
    /// Wraps a buffer of exactly `width * height` elements.
    pub fn from_vec(data: Vec<T>, width: usize, height: usize) -> Result<Self> {
        let len = width
            .checked_mul(height)
            .ok_or_else(|| overflow("image size"))?;
        required_len("input", data.len(), width, height, width)?;
        if data.len() != len {
            return Err(ConvError::ShapeMismatch {
                what: "buffer",
                expected_h: height,
                expected_w: width,
                got_h: data.len() / width.max(1),
                got_w: width,
            });
        }
        Ok(Image {
            data,
            width,
            height,
        })
    }
    /// Builds an image from a function of (y, x).
    pub fn from_fn(
        width: usize,
        height: usize,
        mut f: impl FnMut(usize, usize) -> T,
    ) -> Result<Self> {
        let mut img = Self::zeros(width, height)?;
        for y in 0..height {
            for x in 0..width {
                img.data[y * width + x] = f(y, x);
            }
        }
        Ok(img)
    }
    /// Columns.
    pub fn width(&self) -> usize {
        self.width
    }
    /// Rows.
    pub fn height(&self) -> usize {
        self.height
    }
    /// (height, width).
    pub fn shape(&self) -> Shape {
        Shape::new(self.height, self.width)
    }
    /// Pixels, row-major.
    pub fn data(&self) -> &[T] {
        &self.data
    }
    /// Pixels, row-major, writable.
    pub fn data_mut(&mut self) -> &mut [T] {
        &mut self.data
    }
    /// The buffer.
    pub fn into_vec(self) -> Vec<T> {
        self.data
    }
    /// A view.
    pub fn view(&self) -> ImageView<'_, T> {
        ImageView {
            data: &self.data,
            width: self.width,
            height: self.height,
            pitch: self.width,
        }
    }
    /// A writable view.
    pub fn view_mut(&mut self) -> ImageViewMut<'_, T> {
        ImageViewMut {
            data: &mut self.data,
            width: self.width,
            height: self.height,
            pitch: self.width,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_are_checked() {
        let d = vec![0f32; 10];
        assert!(ImageView::new(&d, 5, 2).is_ok());
        assert!(matches!(
            ImageView::new(&d, 5, 3),
            Err(ConvError::BufferTooSmall { needed: 15, .. })
        ));
        assert!(matches!(
            ImageView::with_pitch(&d, 5, 2, 4),
            Err(ConvError::PitchTooSmall { .. })
        ));
        assert!(ImageView::with_pitch(&d, 3, 2, 7).is_ok()); // last row may end early
        assert!(matches!(
            ImageView::new(&d, 0, 1),
            Err(ConvError::ZeroSize { .. })
        ));
        assert!(matches!(
            ImageView::with_pitch(&d, 1, usize::MAX, usize::MAX),
            Err(ConvError::Overflow { .. })
        ));
    }

    #[test]
    fn images_beyond_memory_are_errors() {
        // More bytes than `isize::MAX`, and more than a 48-bit address space.
        for (w, h) in [(1usize << 31, 1usize << 31), (1 << 24, 1 << 24)] {
            match Image::<f64>::zeros(w, h) {
                Err(e @ ConvError::OutOfMemory { .. }) => {
                    let text = e.to_string();
                    assert!(text.contains(&format!("{w}x{h} image")), "{text}");
                }
                other => panic!("{w}x{h}: {other:?}"),
            }
        }
        assert!(matches!(
            Image::<f32>::from_fn(1 << 24, 1 << 24, |_, _| 1.0),
            Err(ConvError::OutOfMemory { .. })
        ));
    }

    #[test]
    fn rows_mut_skip_the_pitch_gap() {
        let mut d = vec![0f64; 3 * 4 - 1];
        let mut img = ImageViewMut::with_pitch(&mut d, 3, 3, 4).unwrap();
        for r in img.rows_mut() {
            r.fill(1.0);
        }
        assert_eq!(
            d,
            vec![1.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0]
        );
    }
}
