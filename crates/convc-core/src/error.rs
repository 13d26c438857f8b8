//! The one error type of convc.

use thiserror::Error;

/// Everything that can go wrong between a kernel expression and a filtered image.
///
/// Every public entry point of convc returns `Result<_, ConvError>`; bad input is
/// reported here and never by a panic.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum ConvError {
    /// A size (image, kernel, stride, dilation, pitch, ...) that must be positive is 0.
    #[error("{what} must be at least 1, got 0")]
    ZeroSize {
        /// What was zero, e.g. "stride (x)" or "image width".
        what: &'static str,
    },

    /// A size computation overflowed `usize`.
    #[error("size overflow: {what}")]
    Overflow {
        /// Which computation overflowed.
        what: String,
    },

    /// Memory for a buffer could not be allocated (an image far larger than the
    /// machine's memory, say): reported instead of aborting the process.
    #[error("cannot allocate {bytes} bytes for the {what}")]
    OutOfMemory {
        /// What the memory was for, e.g. "4096x4096 image".
        what: String,
        /// Bytes asked for.
        bytes: usize,
    },

    /// A buffer is shorter than its declared shape needs.
    #[error("{what} buffer holds {got} elements but its shape needs {needed}")]
    BufferTooSmall {
        /// "input" or "output".
        what: &'static str,
        /// Elements needed: (height - 1) * pitch + width.
        needed: usize,
        /// Elements given.
        got: usize,
    },

    /// A row pitch is smaller than the row width.
    #[error("row pitch {pitch} is smaller than the width {width}")]
    PitchTooSmall {
        /// Row pitch in elements.
        pitch: usize,
        /// Row width in elements.
        width: usize,
    },

    /// A kernel coefficient, border constant or parameter is NaN or infinite
    /// (for `f32` code, also one beyond `f32::MAX`: see [`DType::holds`](crate::DType::holds)).
    #[error("{what} is not finite ({value:e})")]
    NotFinite {
        /// What holds the value, e.g. "kernel coefficient [1, 2]".
        what: String,
        /// The offending value.
        value: f64,
    },

    /// The kernel does not fit in the padded input, so the output would be empty.
    #[error(
        "the kernel spans {extent} {axis} (size {kernel} with dilation {dilation}) but the \
         padded input has only {padded}: the output would be empty"
    )]
    KernelLargerThanInput {
        /// "rows" or "columns".
        axis: &'static str,
        /// Kernel size along the axis.
        kernel: usize,
        /// Dilation along the axis.
        dilation: usize,
        /// (kernel - 1) * dilation + 1.
        extent: usize,
        /// Input size plus padding along the axis.
        padded: usize,
    },

    /// The anchor lies outside the kernel.
    #[error("anchor ({ay}, {ax}) lies outside the {kh}x{kw} kernel")]
    AnchorOutOfRange {
        /// Anchor row.
        ay: usize,
        /// Anchor column.
        ax: usize,
        /// Kernel height.
        kh: usize,
        /// Kernel width.
        kw: usize,
    },

    /// An image does not have the shape the operation needs.
    #[error("{what} is {got_h}x{got_w} but {expected_h}x{expected_w} is required")]
    ShapeMismatch {
        /// "input" or "output".
        what: &'static str,
        /// Required height.
        expected_h: usize,
        /// Required width.
        expected_w: usize,
        /// Actual height.
        got_h: usize,
        /// Actual width.
        got_w: usize,
    },

    /// The element type of an image differs from the one the convolution was built for.
    #[error("the convolution was built for {expected} but the image holds {got}")]
    DTypeMismatch {
        /// Element type of the spec.
        expected: crate::DType,
        /// Element type of the image.
        got: crate::DType,
    },

    /// A kernel name that convc does not know.
    #[error("unknown kernel `{name}`; known kernels: {}", known.join(", "))]
    UnknownKernel {
        /// The name given.
        name: String,
        /// Every known name.
        known: Vec<&'static str>,
    },

    /// A named kernel was asked for with a size it does not have.
    #[error("kernel `{kernel}` cannot be {height}x{width}: {reason}")]
    InvalidKernelSize {
        /// Kernel name.
        kernel: &'static str,
        /// Requested height.
        height: usize,
        /// Requested width.
        width: usize,
        /// Which sizes are allowed.
        reason: String,
    },

    /// A kernel parameter that is unknown, duplicated or out of range.
    #[error("kernel `{kernel}`: {message}")]
    InvalidParameter {
        /// Kernel name.
        kernel: &'static str,
        /// What is wrong.
        message: String,
    },

    /// A kernel built from rows whose lengths differ, or from no values at all.
    #[error("malformed kernel: {0}")]
    MalformedKernel(String),

    /// A kernel expression, size or option that does not parse.
    #[error("{message} at position {position} of `{input}`")]
    Parse {
        /// The text being parsed.
        input: String,
        /// Byte offset of the problem.
        position: usize,
        /// Length in bytes of the offending text (at least 1 where there is text).
        len: usize,
        /// What was expected and what was found.
        message: String,
    },

    /// A thread count of 0 or another invalid option value.
    #[error("invalid option: {0}")]
    InvalidOption(String),

    /// A feature convc does not provide (yet), e.g. a 3D kernel on a 2D image.
    #[error("unsupported: {0}")]
    Unsupported(String),

    /// A code generator failed (a bug: please report it with the spec).
    #[error("code generation failed: {0}")]
    Codegen(String),
}

/// `Result` with [`ConvError`].
pub type Result<T, E = ConvError> = std::result::Result<T, E>;

pub(crate) fn overflow(what: impl Into<String>) -> ConvError {
    ConvError::Overflow { what: what.into() }
}
