//! The generic executor: the Plan interpreted, with the kernel in memory.
//!
//! The same algorithm as the specialized backends (interior without border tests,
//! separable passes through a cache-resident padded row, register-blocked row loops
//! that rustc vectorizes), with taps read from a table and loop bounds known only
//! at run time. The driver also runs these loops on the edges of every backend's
//! direct plans.
//! It is compiled by rustc for the default target, like any Rust library a user
//! would write: the honest baseline that specialized code is measured against.

use std::ops::Range;

use crate::element::Element;
use crate::error::Result;
use crate::exec::{RowKernels, execute};
use crate::image::{ImageView, ImageViewMut};
use crate::plan::{Method, Plan, Stencil};
use crate::spec::ConvSpec;

/// Output pixels accumulated in registers at once.
const BLOCK: usize = 16;

/// A tap with its offsets resolved: window row, column offset, signed coefficient.
#[derive(Debug, Clone, Copy)]
struct FlatTap<T> {
    row: usize,
    col: usize,
    coeff: T,
}

#[derive(Debug, Clone)]
struct Flat<T> {
    taps: Vec<FlatTap<T>>,
    scale: Option<T>,
}

impl<T: Element> Flat<T> {
    /// `row_step`/`col_step`: what one kernel row/column moves in the source.
    fn new(st: &Stencil, row_step: usize, col_step: usize) -> Flat<T> {
        let taps = st
            .terms
            .iter()
            .flat_map(|t| t.signed_taps())
            .map(|(tap, c)| FlatTap {
                row: tap.row * row_step,
                col: tap.col * col_step,
                coeff: T::from_f64(c),
            })
            .collect();
        Flat {
            taps,
            scale: (st.scale != 1.0).then(|| T::from_f64(st.scale)),
        }
    }

    /// `out[x] = scale * sum(coeff * row(tap)[x * sx + tap.col - origin])` for `x`
    /// in `cols`, BLOCK outputs at a time.
    #[inline]
    fn run<'r>(
        &self,
        row: impl Fn(usize) -> &'r [T],
        out: &mut [T],
        cols: Range<usize>,
        sx: usize,
        origin: usize,
    ) where
        T: 'r,
    {
        let mut x = cols.start;
        while x + BLOCK <= cols.end {
            let mut acc = [T::ZERO; BLOCK];
            for tap in &self.taps {
                let start = x * sx + tap.col - origin;
                let src = row(tap.row);
                if sx == 1 {
                    let s = &src[start..start + BLOCK];
                    for i in 0..BLOCK {
                        acc[i] = acc[i] + tap.coeff * s[i];
                    }
                } else {
                    let s = &src[start..start + (BLOCK - 1) * sx + 1];
                    for i in 0..BLOCK {
                        acc[i] = acc[i] + tap.coeff * s[i * sx];
                    }
                }
            }
            self.store(&acc, &mut out[x..x + BLOCK]);
            x += BLOCK;
        }
        if x < cols.end {
            let n = cols.end - x;
            let mut acc = [T::ZERO; BLOCK];
            for tap in &self.taps {
                let start = x * sx + tap.col - origin;
                let src = row(tap.row);
                for i in 0..n {
                    acc[i] = acc[i] + tap.coeff * src[start + i * sx];
                }
            }
            self.store(&acc[..n], &mut out[x..cols.end]);
        }
    }

    #[inline]
    fn store(&self, acc: &[T], out: &mut [T]) {
        match self.scale {
            Some(s) => out.iter_mut().zip(acc).for_each(|(o, &a)| *o = a * s),
            None => out.copy_from_slice(acc),
        }
    }
}

/// The row loops of the generic executor.
#[derive(Debug, Clone)]
pub(crate) struct GenericKernels<T> {
    /// Direct taps (empty for separable plans).
    direct: Flat<T>,
    /// Separable plans' passes (empty for direct plans).
    vertical: Flat<T>,
    horizontal: Flat<T>,
    sx: usize,
    sy: usize,
    left: usize,
}

impl<T: Element> GenericKernels<T> {
    pub(crate) fn new(plan: &Plan) -> Self {
        Self::with_col_step(plan, plan.dilation.x)
    }

    /// The loops with one kernel column `dx` source elements apart (the
    /// dilation, or the segment length of a compacted edge buffer).
    pub(crate) fn with_col_step(plan: &Plan, dx: usize) -> Self {
        let dy = plan.dilation.y;
        let empty = || Flat {
            taps: vec![],
            scale: None,
        };
        let (direct, vertical, horizontal) = match &plan.method {
            Method::Direct(st) => (Flat::new(st, dy, dx), empty(), empty()),
            Method::Separable {
                vertical,
                horizontal,
            } => (
                empty(),
                Flat::new(vertical, dy, 0),
                Flat::new(horizontal, 0, dx),
            ),
        };
        GenericKernels {
            direct,
            vertical,
            horizontal,
            sx: plan.stride.x,
            sy: plan.stride.y,
            left: plan.pads.left,
        }
    }

    /// The direct loop over window rows given by `row_of(t)`, whose element 0 is
    /// padded column `origin`.
    pub(crate) fn direct_rows<'r>(
        &self,
        row_of: impl Fn(usize) -> &'r [T],
        origin: usize,
        out: &mut [&mut [T]],
        cols: Range<usize>,
    ) where
        T: 'r,
    {
        for (j, row) in out.iter_mut().enumerate() {
            let base = j * self.sy;
            self.direct
                .run(|r| row_of(base + r), row, cols.clone(), self.sx, origin);
        }
    }
}

impl<T: Element> RowKernels<T> for GenericKernels<T> {
    fn direct(&self, window: &[&[T]], out: &mut [&mut [T]], cols: Range<usize>) {
        // Window rows are input rows: element 0 is padded column `pads.left`.
        self.direct_rows(|t| window[t], self.left, out, cols);
    }

    fn vertical(&self, window: &[&[T]], tmp: &mut [&mut [T]], cols: Range<usize>) {
        for (j, row) in tmp.iter_mut().enumerate() {
            let base = j * self.sy;
            self.vertical
                .run(|r| window[base + r], row, cols.clone(), 1, 0);
        }
    }

    fn horizontal(&self, src: &[T], out: &mut [T], cols: Range<usize>) {
        self.horizontal.run(|_| src, out, cols, self.sx, 0);
    }
}

/// A convolution run by the generic executor.
///
/// ```
/// use convc_core::{exec::Generic, named, ConvSpec, Image};
/// let blur = Generic::<f32>::new(&ConvSpec::new(named::build("gaussian", &[], Some((5, 5)))?))?;
/// let src = Image::<f32>::from_fn(64, 48, |y, x| ((x ^ y) & 15) as f32)?;
/// let mut dst = Image::<f32>::zeros(64, 48)?;
/// blur.apply(&src.view(), &mut dst.view_mut())?;
/// # Ok::<(), convc_core::ConvError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Generic<T> {
    plan: Plan,
    kernels: GenericKernels<T>,
}

impl<T: Element> Generic<T> {
    /// Plans `spec` for the generic executor.
    pub fn new(spec: &ConvSpec) -> Result<Self> {
        Ok(Self::from_plan(Plan::new(spec)?))
    }

    /// Uses an existing plan.
    pub fn from_plan(plan: Plan) -> Self {
        let kernels = GenericKernels::new(&plan);
        Generic { plan, kernels }
    }

    /// The plan being run.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// Filters `input` into `output` (whose shape must be the output shape).
    pub fn apply(&self, input: &ImageView<'_, T>, output: &mut ImageViewMut<'_, T>) -> Result<()> {
        execute(&self.plan, &self.kernels, input, output)
    }
}
