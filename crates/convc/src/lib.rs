//! convc: specialized 2D convolutions for Rust.
//!
//! One model ([`ConvSpec`]: kernel, op, stride, dilation, mode, anchor, border,
//! element type) and several backends that agree on it:
//!
//! - [`Backend::Reference`]: the definition in `f64` (the oracle);
//! - [`Backend::Naive`]: the textbook four loops;
//! - [`Backend::Generic`]: the Plan interpreted with the kernel in memory;
//! - [`Backend::Jit`] (feature `jit`, on by default): the Plan compiled to machine
//!   code at run time with Cranelift ([`Jit`], [`CompiledConv`]);
//! - [`conv!`]: the Plan turned into Rust source at compile time, fully unrolled
//!   and multiversioned ([`Convolution`]).
//!
//! ```
//! use convc::{Backend, ConvSpec, Convolver, Image, parse::parse_kernel};
//! let spec = ConvSpec::new(parse_kernel("gaussian(sigma=1.5)", Some((7, 7)))?);
//! let blur = Convolver::<f32>::new(&spec, Backend::Auto)?;
//! let src = Image::<f32>::from_fn(64, 64, |y, x| ((x / 8 + y / 8) % 2) as f32)?;
//! let dst = blur.apply_new(&src.view())?;
//! assert_eq!(dst.shape(), src.shape());
//! # Ok::<(), convc::ConvError>(())
//! ```
//!
//! # Features
//!
//! - `jit` (default): the Cranelift backend.
//! - `ndarray`: [`ImageView`], [`ImageViewMut`] and [`Image`] to and from
//!   `ndarray`'s row-major 2D arrays, views without a copy ([`interop`]).
//! - `image`: the same for the `image` crate's grey `ImageBuffer<Luma<f32>, _>`.
//!
//! ```
//! # #[cfg(feature = "ndarray")] {
//! use convc::{conv, Convolution, ImageView, ImageViewMut};
//! use ndarray::Array2;
//! let src = Array2::from_shape_fn((48, 64), |(y, x)| (x * y % 17) as f32);
//! let mut dst = Array2::<f32>::zeros((48, 64));
//! conv!(box, 3x3).apply(&ImageView::try_from(src.view())?, &mut ImageViewMut::try_from(dst.view_mut())?)?;
//! # }
//! # Ok::<(), convc::ConvError>(())
//! ```
#![deny(unsafe_code)]
#![deny(missing_docs)]

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;
mod backend;
mod convolution;

pub use backend::{Backend, Convolver};
pub use convc_core::{
    Axes, Border, ConvError, ConvSpec, DType, Element, ExactForm, Factors, Image, ImageView,
    ImageViewMut, Kernel, KernelShape, MAX_KERNEL_EXTENT, MAX_KERNEL_TAPS, Mode, Op, Pads, Plan,
    Result, Shape, Strategy, accuracy, analyze, border, exec, interop, named, parse, plan,
};
#[cfg(feature = "jit")]
pub use convc_jit::{CacheStats, CompiledConv, Jit, JitOptions, OptLevel, live_modules};
pub use convc_macros::conv;
pub use convolution::{Convolution, Isa};

/// The README's example, compiled and run as a doctest so that it stays true.
#[cfg(all(doctest, feature = "jit"))]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeExample;
