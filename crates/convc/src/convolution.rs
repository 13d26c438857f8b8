//! What a `conv!` value is: the [`Convolution`] trait, and the instruction sets
//! ([`Isa`]) its specialized code is compiled for.

use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering};

use convc_core::{ConvError, ConvSpec, Element, Image, ImageView, ImageViewMut, Result, Shape};

use crate::__private::Compiled;

/// A convolution compiled by [`conv!`](crate::conv): a zero-sized value whose row
/// loops hold the kernel as constants.
///
/// `conv!` implements this trait for the type it generates; the methods are the
/// same for every kernel. The element type is fixed at compile time by the `dtype`
/// option (`f32` unless told otherwise).
///
/// ```
/// use convc::{conv, Convolution, Image};
/// let sobel = conv!(sobel_x, 3x3, border = replicate);  // correlate, 'same' output
/// let src = Image::<f32>::from_fn(32, 16, |_, x| x as f32)?; // rising to the right
/// let mut dst = Image::<f32>::zeros(32, 16)?;
/// sobel.apply(&src.view(), &mut dst.view_mut())?;
/// assert_eq!(dst.data()[8 * 32 + 10], 8.0);
/// assert_eq!(sobel.spec().kernel.get(1, 0), -2.0);
/// # Ok::<(), convc::ConvError>(())
/// ```
pub trait Convolution {
    /// Element type of input, output and arithmetic (`f32` or `f64`).
    type Elem: Element;

    /// The compiled convolution behind this value (hidden: generated code only).
    #[doc(hidden)]
    fn __compiled(&self) -> &'static Compiled<Self::Elem>;

    /// The spec this convolution was compiled from (rebuilt once from the
    /// literals `conv!` emitted; equal to the one the macro planned).
    fn spec(&self) -> &'static ConvSpec {
        self.__compiled().spec()
    }

    /// The output shape for an input shape; with `input = HxW`, any other input
    /// shape is an error.
    fn output_shape(&self, input: Shape) -> Result<Shape> {
        let spec = self.spec();
        spec.check_input(input)?;
        spec.output_shape(input)
    }

    /// Filters `input` into `output`, whose shape must be
    /// [`output_shape`](Self::output_shape) of the input's, on the spec's thread
    /// count (the `threads` option; all cores without it): the interior through the
    /// specialized code for the instruction set [`isa`](Self::isa) names, the border
    /// rows and columns through the shared driver.
    fn apply(
        &self,
        input: &ImageView<'_, Self::Elem>,
        output: &mut ImageViewMut<'_, Self::Elem>,
    ) -> Result<()> {
        self.__compiled().apply(None, None, input, output)
    }

    /// [`apply`](Self::apply) on a thread count chosen at run time: `Some(n)` runs
    /// on `n` threads (rayon, over bands of output rows), `None` on all cores,
    /// whatever the `threads` option said. The result is bit-identical for every
    /// count. `Some(0)` is an error.
    ///
    /// ```
    /// use convc::{conv, Convolution, Image};
    /// let blur = conv!(gaussian, 5x5);
    /// let src = Image::<f32>::from_fn(300, 200, |y, x| ((x * y) % 7) as f32)?;
    /// let mut one = Image::<f32>::zeros(300, 200)?;
    /// let mut two = Image::<f32>::zeros(300, 200)?;
    /// blur.apply_with_threads(&src.view(), &mut one.view_mut(), Some(1))?;
    /// blur.apply_with_threads(&src.view(), &mut two.view_mut(), Some(2))?;
    /// assert_eq!(one, two);
    /// # Ok::<(), convc::ConvError>(())
    /// ```
    fn apply_with_threads(
        &self,
        input: &ImageView<'_, Self::Elem>,
        output: &mut ImageViewMut<'_, Self::Elem>,
        threads: Option<usize>,
    ) -> Result<()> {
        self.__compiled().apply(None, Some(threads), input, output)
    }

    /// Filters `input` into a new image.
    fn apply_new(&self, input: &ImageView<'_, Self::Elem>) -> Result<Image<Self::Elem>> {
        let out = self.output_shape(input.shape())?;
        let mut img = Image::zeros(out.width, out.height)?;
        self.apply(input, &mut img.view_mut())?;
        Ok(img)
    }

    /// The instruction set [`apply`](Self::apply) runs: the widest this CPU
    /// supports up to the widest `conv!` chose for the Plan (light, memory-bound
    /// stencils stop at AVX2+FMA; see docs/macro.md), chosen once per value.
    fn isa(&self) -> Isa {
        self.__compiled().isa()
    }

    /// The variants this value can run: those `conv!` compiled for its Plan (every
    /// one up to the widest it chose) that this CPU supports, slowest first. The
    /// last is [`isa`](Self::isa).
    fn isas(&self) -> Vec<Isa> {
        self.__compiled().isas()
    }

    /// [`apply`](Self::apply) with the code compiled for `isa` (to compare the
    /// variants in tests and benches). An `isa` this CPU lacks, or one wider than
    /// `conv!` compiled for this Plan (see [`isas`](Self::isas)), is an error.
    fn apply_with_isa(
        &self,
        isa: Isa,
        input: &ImageView<'_, Self::Elem>,
        output: &mut ImageViewMut<'_, Self::Elem>,
    ) -> Result<()> {
        self.__compiled().apply(Some(isa), None, input, output)
    }
}

/// An instruction-set variant of `conv!` code. The generated row loops are compiled
/// for every variant up to the widest `conv!` chose for the Plan (AVX2 + FMA for
/// light stencils, AVX-512F for heavy ones; see docs/macro.md), and each value runs
/// the widest of those this CPU supports ([`Isa::best_up_to`]).
///
/// Variants are ordered by width: `Baseline < Avx2Fma < Avx512`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Isa {
    /// The target's baseline (SSE2 on x86-64); separate multiply and add.
    Baseline,
    /// x86 AVX2 with FMA: 256-bit vectors, fused multiply-add.
    Avx2Fma,
    /// x86 AVX-512F: 512-bit vectors, fused multiply-add.
    Avx512,
}

/// 0: not detected yet; otherwise `Isa::code`.
static DETECTED: AtomicU8 = AtomicU8::new(0);

impl Isa {
    /// Every variant, slowest first.
    pub const ALL: [Isa; 3] = [Isa::Baseline, Isa::Avx2Fma, Isa::Avx512];

    /// The best variant this CPU supports, detected on first use and cached.
    pub fn detected() -> Isa {
        match DETECTED.load(Ordering::Relaxed) {
            0 => {
                let best = Isa::ALL
                    .into_iter()
                    .rev()
                    .find(|isa| isa.is_supported())
                    .unwrap_or(Isa::Baseline);
                DETECTED.store(best.code(), Ordering::Relaxed);
                best
            }
            code => Isa::ALL[usize::from(code) - 1],
        }
    }

    /// The widest variant this CPU supports that is no wider than `widest`
    /// (the baseline when none is).
    pub fn best_up_to(widest: Isa) -> Isa {
        Isa::ALL
            .into_iter()
            .rev()
            .filter(|&i| i.code() <= widest.code())
            .find(|i| i.is_supported())
            .unwrap_or(Isa::Baseline)
    }

    /// The variants this CPU can run, slowest first.
    pub fn supported() -> Vec<Isa> {
        Isa::ALL.into_iter().filter(|i| i.is_supported()).collect()
    }

    /// True when this CPU has the features the variant was compiled for.
    pub fn is_supported(self) -> bool {
        match self {
            Isa::Baseline => true,
            #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
            Isa::Avx2Fma => {
                std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
            }
            #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
            Isa::Avx512 => std::arch::is_x86_feature_detected!("avx512f"),
            #[cfg(not(any(target_arch = "x86", target_arch = "x86_64")))]
            Isa::Avx2Fma | Isa::Avx512 => false,
        }
    }

    /// `baseline`, `avx2+fma` or `avx512f`.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Baseline => "baseline",
            Isa::Avx2Fma => "avx2+fma",
            Isa::Avx512 => "avx512f",
        }
    }

    fn code(self) -> u8 {
        match self {
            Isa::Baseline => 1,
            Isa::Avx2Fma => 2,
            Isa::Avx512 => 3,
        }
    }

    /// The error for a variant this CPU lacks.
    pub(crate) fn unsupported(self) -> ConvError {
        ConvError::Unsupported(format!(
            "the {} variant of conv! code on this CPU",
            self.name()
        ))
    }
}

impl fmt::Display for Isa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detection_is_cached_and_supported() {
        let first = Isa::detected();
        assert!(first.is_supported());
        assert_eq!(Isa::detected(), first);
        assert!(Isa::supported().contains(&Isa::Baseline));
        assert_eq!(*Isa::supported().last().unwrap(), first);
    }

    #[test]
    fn best_up_to_caps_the_width() {
        assert_eq!(Isa::best_up_to(Isa::Baseline), Isa::Baseline);
        assert_eq!(Isa::best_up_to(Isa::Avx512), Isa::detected());
        let avx2 = Isa::best_up_to(Isa::Avx2Fma);
        assert!(avx2.is_supported() && avx2 != Isa::Avx512);
        assert_eq!(avx2 == Isa::Avx2Fma, Isa::Avx2Fma.is_supported());
    }
}
