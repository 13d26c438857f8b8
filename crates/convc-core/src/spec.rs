//! [`ConvSpec`]: everything that defines a convolution, and its validation.

use std::fmt;
use std::hash::{Hash, Hasher};

use crate::border::Border;
use crate::element::DType;
use crate::error::{ConvError, Result, overflow};
use crate::kernel::Kernel;

/// The most rows or columns a dilated kernel may span, `(k - 1) * d + 1`
/// (4,194,304): see [`ConvSpec::validate`].
pub const MAX_KERNEL_EXTENT: usize = 1 << 22;

/// A value per image axis: `y` (rows) and `x` (columns).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Axes<T> {
    /// Along rows (height).
    pub y: T,
    /// Along columns (width).
    pub x: T,
}

impl<T: Copy> Axes<T> {
    /// `y` and `x` set to `v`.
    pub fn splat(v: T) -> Self {
        Axes { y: v, x: v }
    }
    /// From `(y, x)`.
    pub fn new(y: T, x: T) -> Self {
        Axes { y, x }
    }
}

/// Whether the kernel is applied as written or flipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Op {
    /// The kernel applied as written (OpenCV `filter2D`, PyTorch `conv2d`,
    /// `scipy.ndimage.correlate`). The default.
    #[default]
    Correlate,
    /// The kernel flipped in every axis (`scipy.signal.convolve2d`,
    /// `scipy.ndimage.convolve`, MATLAB `conv2`).
    Convolve,
}

/// How much padding surrounds the input, and so how large the output is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Mode {
    /// No padding: only windows entirely inside the input.
    Valid,
    /// Output = ceil(input / stride); the anchor sits on the output pixel. The default.
    #[default]
    Same,
    /// Every window that overlaps the input: (k - 1) * d padding on both sides.
    Full,
    /// Explicit padding in pixels.
    Explicit {
        /// Rows above.
        top: usize,
        /// Rows below.
        bottom: usize,
        /// Columns left.
        left: usize,
        /// Columns right.
        right: usize,
    },
}

/// Padding in pixels on each side of the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Pads {
    /// Rows above.
    pub top: usize,
    /// Rows below.
    pub bottom: usize,
    /// Columns left.
    pub left: usize,
    /// Columns right.
    pub right: usize,
}

/// Whether the planner may split a rank-1 kernel into two 1D passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Strategy {
    /// Split when analysis finds rank 1 and the split is cheaper. The default.
    #[default]
    Auto,
    /// Always one 2D pass.
    Direct,
    /// Two 1D passes; a kernel that is not rank 1 is an error.
    Separable,
}

/// A 2D image shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shape {
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
}

impl Shape {
    /// `height` x `width`.
    pub fn new(height: usize, width: usize) -> Self {
        Shape { height, width }
    }
    /// Number of pixels.
    pub fn pixels(&self) -> usize {
        self.height * self.width
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}", self.height, self.width)
    }
}

/// Everything that defines a 2D convolution: kernel, op, stride, dilation, mode,
/// anchor, border, element type, and optionally a fixed input shape.
///
/// The builder methods never fail; [`ConvSpec::validate`] reports every bad value.
/// Defaults (DESIGN.md): correlate, `Same`, anchor k/2, border `Mirror`, stride 1,
/// dilation 1, f32, all cores.
///
/// ```
/// use convc_core::{Border, ConvSpec, Kernel, Mode, Op, Shape};
/// let spec = ConvSpec::new(Kernel::from_rows(&[[1.0, 2.0, 1.0]])?)
///     .op(Op::Convolve)
///     .mode(Mode::Valid)
///     .stride(2)
///     .border(Border::Zero);
/// assert_eq!(spec.output_shape(Shape::new(4, 9))?, Shape::new(2, 4));
/// # Ok::<(), convc_core::ConvError>(())
/// ```
#[derive(Debug, Clone)]
pub struct ConvSpec {
    /// The kernel as written.
    pub kernel: Kernel,
    /// Correlate (default) or convolve.
    pub op: Op,
    /// Step between output pixels, in input pixels.
    pub stride: Axes<usize>,
    /// Step between kernel taps, in input pixels.
    pub dilation: Axes<usize>,
    /// Padding mode.
    pub mode: Mode,
    /// Kernel element that sits on the output pixel in `Same` mode (default k/2).
    pub anchor: Option<Axes<usize>>,
    /// Values read from the padding.
    pub border: Border,
    /// Element type of input, output and arithmetic.
    pub dtype: DType,
    /// A fixed input shape, making every loop bound a constant.
    pub input: Option<Shape>,
    /// Worker threads (None: all cores). Results are identical for every count.
    pub threads: Option<usize>,
    /// Direct or separable.
    pub strategy: Strategy,
}

impl ConvSpec {
    /// A spec with every default.
    pub fn new(kernel: Kernel) -> ConvSpec {
        ConvSpec {
            kernel,
            op: Op::default(),
            stride: Axes::splat(1),
            dilation: Axes::splat(1),
            mode: Mode::default(),
            anchor: None,
            border: Border::default(),
            dtype: DType::default(),
            input: None,
            threads: None,
            strategy: Strategy::default(),
        }
    }

    /// Sets the op.
    #[must_use]
    pub fn op(mut self, op: Op) -> Self {
        self.op = op;
        self
    }
    /// Sets the same stride on both axes.
    #[must_use]
    pub fn stride(mut self, s: usize) -> Self {
        self.stride = Axes::splat(s);
        self
    }
    /// Sets the stride per axis.
    #[must_use]
    pub fn stride_yx(mut self, y: usize, x: usize) -> Self {
        self.stride = Axes::new(y, x);
        self
    }
    /// Sets the same dilation on both axes.
    #[must_use]
    pub fn dilation(mut self, d: usize) -> Self {
        self.dilation = Axes::splat(d);
        self
    }
    /// Sets the dilation per axis.
    #[must_use]
    pub fn dilation_yx(mut self, y: usize, x: usize) -> Self {
        self.dilation = Axes::new(y, x);
        self
    }
    /// Sets the mode.
    #[must_use]
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }
    /// Sets the anchor (row, column) used by `Same` mode.
    #[must_use]
    pub fn anchor(mut self, ay: usize, ax: usize) -> Self {
        self.anchor = Some(Axes::new(ay, ax));
        self
    }
    /// Sets the border.
    #[must_use]
    pub fn border(mut self, border: Border) -> Self {
        self.border = border;
        self
    }
    /// Sets the element type.
    #[must_use]
    pub fn dtype(mut self, dtype: DType) -> Self {
        self.dtype = dtype;
        self
    }
    /// Fixes the input shape.
    #[must_use]
    pub fn input_shape(mut self, height: usize, width: usize) -> Self {
        self.input = Some(Shape::new(height, width));
        self
    }
    /// Sets the number of worker threads.
    #[must_use]
    pub fn threads(mut self, n: usize) -> Self {
        self.threads = Some(n);
        self
    }
    /// Sets the strategy.
    #[must_use]
    pub fn strategy(mut self, strategy: Strategy) -> Self {
        self.strategy = strategy;
        self
    }

    /// The anchor in effect: the given one or (kh/2, kw/2).
    pub fn effective_anchor(&self) -> Axes<usize> {
        self.anchor
            .unwrap_or(Axes::new(self.kernel.height() / 2, self.kernel.width() / 2))
    }

    /// The kernel actually applied as a correlation: as written, or flipped.
    pub fn applied_kernel(&self) -> Kernel {
        match self.op {
            Op::Correlate => self.kernel.clone(),
            Op::Convolve => self.kernel.flipped(),
        }
    }

    /// Checks every value that does not depend on the input; with a fixed input
    /// shape also that the output is not empty.
    ///
    /// A kernel may span at most [`MAX_KERNEL_EXTENT`] rows or columns once
    /// dilated: the row driver keeps one reference per window row and buffers
    /// the padded columns an edge reads, so a larger span would exhaust memory.
    pub fn validate(&self) -> Result<()> {
        let k = &self.kernel;
        if k.depth() != 1 {
            return Err(ConvError::Unsupported(format!(
                "a {} kernel: 3D kernels need 3D images, which convc does not have yet",
                k.shape()
            )));
        }
        // A value finite in f64 but not in the element type would be infinite
        // in the generated code (and make NaN of 0 * inf), not in the reference.
        let as_elem = |what: String, v: f64| {
            if v.is_finite() {
                format!("{what} as {}", self.dtype)
            } else {
                what
            }
        };
        for (i, &c) in k.coeffs().iter().enumerate() {
            if !self.dtype.holds(c) {
                return Err(ConvError::NotFinite {
                    what: as_elem(
                        format!("kernel coefficient [{}, {}]", i / k.width(), i % k.width()),
                        c,
                    ),
                    value: c,
                });
            }
        }
        let nonzero = [
            (self.stride.y, "stride (y)"),
            (self.stride.x, "stride (x)"),
            (self.dilation.y, "dilation (y)"),
            (self.dilation.x, "dilation (x)"),
        ];
        for (v, what) in nonzero {
            if v == 0 {
                return Err(ConvError::ZeroSize { what });
            }
        }
        if let Some(a) = self.anchor
            && (a.y >= k.height() || a.x >= k.width())
        {
            return Err(ConvError::AnchorOutOfRange {
                ay: a.y,
                ax: a.x,
                kh: k.height(),
                kw: k.width(),
            });
        }
        if let Border::Constant(c) = self.border
            && !self.dtype.holds(c)
        {
            return Err(ConvError::NotFinite {
                what: as_elem("border constant".into(), c),
                value: c,
            });
        }
        if self.threads == Some(0) {
            return Err(ConvError::ZeroSize {
                what: "thread count",
            });
        }
        self.extent_y()?;
        self.extent_x()?;
        self.pads()?;
        if let Some(shape) = self.input {
            self.output_shape(shape)?;
        }
        Ok(())
    }

    fn extent(k: usize, d: usize, axis: &str) -> Result<usize> {
        let extent = (k - 1)
            .checked_mul(d)
            .and_then(|e| e.checked_add(1))
            .ok_or_else(|| overflow(format!("kernel extent along {axis}")))?;
        if extent > MAX_KERNEL_EXTENT {
            return Err(ConvError::Unsupported(format!(
                "the kernel spans {extent} elements along {axis} (size {k} with dilation {d}); \
                 convc supports at most {MAX_KERNEL_EXTENT}"
            )));
        }
        Ok(extent)
    }

    /// Rows the kernel spans: (kh - 1) * dy + 1.
    pub fn extent_y(&self) -> Result<usize> {
        Self::extent(self.kernel.height(), self.dilation.y, "y")
    }

    /// Columns the kernel spans: (kw - 1) * dx + 1.
    pub fn extent_x(&self) -> Result<usize> {
        Self::extent(self.kernel.width(), self.dilation.x, "x")
    }

    /// Padding on each side, as DESIGN.md "Semantics" defines it for each mode.
    pub fn pads(&self) -> Result<Pads> {
        let (ey, ex) = (self.extent_y()? - 1, self.extent_x()? - 1);
        Ok(match self.mode {
            Mode::Valid => Pads::default(),
            Mode::Full => Pads {
                top: ey,
                bottom: ey,
                left: ex,
                right: ex,
            },
            Mode::Explicit {
                top,
                bottom,
                left,
                right,
            } => Pads {
                top,
                bottom,
                left,
                right,
            },
            Mode::Same => {
                let a = self.effective_anchor();
                let (kh, kw) = (self.kernel.height(), self.kernel.width());
                // Anchor a sits on the output pixel: a * d before, (k - 1 - a) * d after
                // for correlation; convolution flips the kernel, so the sides swap.
                let before_y = a.y.min(kh - 1) * self.dilation.y;
                let before_x = a.x.min(kw - 1) * self.dilation.x;
                let (top, bottom) = (before_y, ey - before_y);
                let (left, right) = (before_x, ex - before_x);
                match self.op {
                    Op::Correlate => Pads {
                        top,
                        bottom,
                        left,
                        right,
                    },
                    Op::Convolve => Pads {
                        top: bottom,
                        bottom: top,
                        left: right,
                        right: left,
                    },
                }
            }
        })
    }

    /// The output shape for an input shape, with checked arithmetic:
    /// `floor((in + pad_before + pad_after - extent) / stride) + 1` per axis.
    pub fn output_shape(&self, input: Shape) -> Result<Shape> {
        let kernel = Shape::new(self.kernel.height(), self.kernel.width());
        output_shape(input, kernel, self.pads()?, self.dilation, self.stride)
    }

    /// With a fixed input shape, any other shape is an error.
    pub fn check_input(&self, input: Shape) -> Result<()> {
        check_fixed_input(self.input, input)
    }

    /// A copy without the thread count: what a compiled kernel depends on (the JIT
    /// cache key).
    pub fn code_key(&self) -> ConvSpec {
        ConvSpec {
            threads: None,
            ..self.clone()
        }
    }
}

/// Output shape of a `kernel`-sized window with `pads`, `dilation` and `stride` over
/// `input`: `floor((in + before + after - extent) / stride) + 1` per axis, with
/// checked arithmetic. Padded sizes must fit in `isize` (executors index with it).
pub(crate) fn output_shape(
    input: Shape,
    kernel: Shape,
    pads: Pads,
    dilation: Axes<usize>,
    stride: Axes<usize>,
) -> Result<Shape> {
    if input.height == 0 {
        return Err(ConvError::ZeroSize {
            what: "image height",
        });
    }
    if input.width == 0 {
        return Err(ConvError::ZeroSize {
            what: "image width",
        });
    }
    let axis = |n: usize,
                before: usize,
                after: usize,
                k: usize,
                d: usize,
                s: usize,
                name: &'static str| {
        let extent = ConvSpec::extent(k, d, name)?;
        let padded = n
            .checked_add(before)
            .and_then(|v| v.checked_add(after))
            .filter(|&v| v <= isize::MAX as usize)
            .ok_or_else(|| overflow(format!("padded input {name}")))?;
        if padded < extent {
            return Err(ConvError::KernelLargerThanInput {
                axis: name,
                kernel: k,
                dilation: d,
                extent,
                padded,
            });
        }
        if s == 0 {
            return Err(ConvError::ZeroSize { what: "stride" });
        }
        Ok((padded - extent) / s + 1)
    };
    let h = axis(
        input.height,
        pads.top,
        pads.bottom,
        kernel.height,
        dilation.y,
        stride.y,
        "rows",
    )?;
    let w = axis(
        input.width,
        pads.left,
        pads.right,
        kernel.width,
        dilation.x,
        stride.x,
        "columns",
    )?;
    h.checked_mul(w)
        .ok_or_else(|| overflow("output pixel count"))?;
    Ok(Shape::new(h, w))
}

pub(crate) fn check_fixed_input(fixed: Option<Shape>, input: Shape) -> Result<()> {
    match fixed {
        Some(f) if f != input => Err(ConvError::ShapeMismatch {
            what: "input",
            expected_h: f.height,
            expected_w: f.width,
            got_h: input.height,
            got_w: input.width,
        }),
        _ => Ok(()),
    }
}

impl PartialEq for ConvSpec {
    fn eq(&self, o: &Self) -> bool {
        self.kernel == o.kernel
            && self.op == o.op
            && self.stride == o.stride
            && self.dilation == o.dilation
            && self.mode == o.mode
            && self.effective_anchor() == o.effective_anchor()
            && self.border == o.border
            && self.dtype == o.dtype
            && self.input == o.input
            && self.threads == o.threads
            && self.strategy == o.strategy
    }
}

impl Eq for ConvSpec {}

impl Hash for ConvSpec {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.kernel.hash(state);
        self.op.hash(state);
        self.stride.hash(state);
        self.dilation.hash(state);
        self.mode.hash(state);
        self.effective_anchor().hash(state);
        self.border.hash(state);
        self.dtype.hash(state);
        self.input.hash(state);
        self.threads.hash(state);
        self.strategy.hash(state);
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::Correlate => "correlate",
            Op::Convolve => "convolve",
        })
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mode::Valid => f.write_str("valid"),
            Mode::Same => f.write_str("same"),
            Mode::Full => f.write_str("full"),
            Mode::Explicit {
                top,
                bottom,
                left,
                right,
            } => write!(f, "pad({top}, {bottom}, {left}, {right})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(h: usize, w: usize) -> Kernel {
        Kernel::new(h, w, vec![1.0; h * w]).unwrap()
    }

    #[test]
    fn same_pads_follow_the_anchor_and_flip_for_convolve() {
        let s = ConvSpec::new(k(2, 4));
        assert_eq!(
            s.pads().unwrap(),
            Pads {
                top: 1,
                bottom: 0,
                left: 2,
                right: 1
            }
        );
        let c = s.clone().op(Op::Convolve);
        assert_eq!(
            c.pads().unwrap(),
            Pads {
                top: 0,
                bottom: 1,
                left: 1,
                right: 2
            }
        );
        let d = ConvSpec::new(k(3, 3)).dilation(2).anchor(0, 2);
        assert_eq!(
            d.pads().unwrap(),
            Pads {
                top: 0,
                bottom: 4,
                left: 4,
                right: 0
            }
        );
    }

    #[test]
    fn output_shapes() {
        let s = ConvSpec::new(k(3, 3));
        assert_eq!(s.output_shape(Shape::new(5, 7)).unwrap(), Shape::new(5, 7));
        let s = s.stride(2);
        assert_eq!(s.output_shape(Shape::new(5, 8)).unwrap(), Shape::new(3, 4));
        let v = ConvSpec::new(k(3, 3)).mode(Mode::Valid);
        assert_eq!(v.output_shape(Shape::new(5, 7)).unwrap(), Shape::new(3, 5));
        let f = ConvSpec::new(k(3, 3)).mode(Mode::Full).dilation_yx(1, 2);
        assert_eq!(f.output_shape(Shape::new(5, 7)).unwrap(), Shape::new(7, 11));
    }

    #[test]
    fn bad_values_are_errors() {
        let v = ConvSpec::new(k(3, 3)).mode(Mode::Valid);
        assert!(matches!(
            v.output_shape(Shape::new(2, 7)),
            Err(ConvError::KernelLargerThanInput { axis: "rows", .. })
        ));
        assert!(matches!(
            v.output_shape(Shape::new(0, 7)),
            Err(ConvError::ZeroSize { .. })
        ));
        assert!(matches!(
            ConvSpec::new(k(3, 3)).stride(0).validate(),
            Err(ConvError::ZeroSize { .. })
        ));
        assert!(matches!(
            ConvSpec::new(k(3, 3)).dilation_yx(1, 0).validate(),
            Err(ConvError::ZeroSize { .. })
        ));
        assert!(matches!(
            ConvSpec::new(k(3, 3)).anchor(3, 0).validate(),
            Err(ConvError::AnchorOutOfRange { .. })
        ));
        assert!(matches!(
            ConvSpec::new(k(3, 3)).dilation(usize::MAX).validate(),
            Err(ConvError::Overflow { .. })
        ));
        // A span the driver could not buffer is refused; the largest one passes.
        let d = (MAX_KERNEL_EXTENT - 1) / 2;
        assert!(ConvSpec::new(k(3, 3)).dilation_yx(1, d).validate().is_ok());
        assert!(matches!(
            ConvSpec::new(k(3, 3)).dilation_yx(d + 1, 1).validate(),
            Err(ConvError::Unsupported(_))
        ));
        assert!(matches!(
            ConvSpec::new(k(3, 3))
                .border(Border::Constant(f64::NAN))
                .validate(),
            Err(ConvError::NotFinite { .. })
        ));
        // Finite in f64 but infinite in f32: an error for f32 code only.
        let big = ConvSpec::new(Kernel::new(1, 2, vec![1.0e39, 1.0]).unwrap());
        let e = big.validate().unwrap_err();
        assert_eq!(
            e.to_string(),
            "kernel coefficient [0, 0] as f32 is not finite (1e39)"
        );
        assert!(big.clone().dtype(DType::F64).validate().is_ok());
        let edge = ConvSpec::new(k(3, 3)).border(Border::Constant(-1.0e39));
        assert!(matches!(
            edge.validate(),
            Err(ConvError::NotFinite { ref what, .. }) if what == "border constant as f32"
        ));
        assert!(edge.dtype(DType::F64).validate().is_ok());
        // The largest f32 is fine.
        let max = ConvSpec::new(Kernel::new(1, 1, vec![f32::MAX as f64]).unwrap());
        assert!(max.validate().is_ok());
        let huge = ConvSpec::new(k(1, 1)).mode(Mode::Explicit {
            top: usize::MAX,
            bottom: 1,
            left: 0,
            right: 0,
        });
        assert!(matches!(
            huge.output_shape(Shape::new(1, 1)),
            Err(ConvError::Overflow { .. })
        ));
        assert!(
            ConvSpec::new(k(3, 3))
                .mode(Mode::Valid)
                .input_shape(2, 2)
                .validate()
                .is_err()
        );
    }

    #[test]
    fn equal_specs_hash_equal() {
        use std::collections::hash_map::DefaultHasher;
        let a = ConvSpec::new(k(3, 3));
        let b = ConvSpec::new(k(3, 3)).anchor(1, 1);
        assert_eq!(a, b);
        let h = |s: &ConvSpec| {
            let mut st = DefaultHasher::new();
            s.hash(&mut st);
            st.finish()
        };
        assert_eq!(h(&a), h(&b));
        assert_ne!(a, a.clone().stride(2));
    }
}
