//! convc-core: the convolution model every convc backend shares.
//!
//! A kernel ([`Kernel`], named ones in [`named`], text in [`parse`]) and options
//! make a [`ConvSpec`]; [`ConvSpec::validate`] reports every bad value as a
//! [`ConvError`]; [`analyze::analyze`] finds rank-1 splits, symmetry and common
//! factors; [`Plan::new`] turns all that into the [`Plan`] that code generators
//! lower. [`exec`] holds the reference (the definition, in `f64`), naive and generic
//! executors and the row driver that backends plug their inner loops into.
//!
//! ```
//! use convc_core::{exec::Generic, parse::parse_kernel, Border, ConvSpec, Image};
//! let spec = ConvSpec::new(parse_kernel("sobel_x", None)?).border(Border::Replicate);
//! let src = Image::<f32>::from_fn(32, 32, |_, x| x as f32)?; // a ramp rising to the right
//! let mut dst = Image::<f32>::zeros(32, 32)?;
//! Generic::new(&spec)?.apply(&src.view(), &mut dst.view_mut())?;
//! assert_eq!(dst.data()[16 * 32 + 16], 8.0); // correlate: +gradient to the right
//! # Ok::<(), convc_core::ConvError>(())
//! ```
#![deny(unsafe_code)]
#![deny(missing_docs)]

pub mod accuracy;
pub mod analyze;
pub mod border;
mod element;
mod error;
pub mod exec;
mod image;
pub mod interop;
mod kernel;
pub mod named;
mod pages;
pub mod parse;
pub mod plan;
mod spec;

pub use border::Border;
pub use element::{DType, Element};
pub use error::{ConvError, Result};
pub use image::{Image, ImageView, ImageViewMut};
pub use kernel::{ExactForm, Factors, Kernel, KernelShape, MAX_KERNEL_TAPS};
pub use plan::Plan;
pub use spec::{Axes, ConvSpec, MAX_KERNEL_EXTENT, Mode, Op, Pads, Shape, Strategy};
