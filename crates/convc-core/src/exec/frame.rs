//! The border frame: output columns whose taps read past the left or right edge.
//!
//! Few columns (about anchor * dilation on each side), so they are computed one
//! pixel at a time with a precomputed map from (column, tap column) to source.

use crate::border::Source;
use crate::element::Element;
use crate::plan::{Geometry, Plan, Stencil};

/// For each frame column, where each kernel column reads from.
pub(crate) struct ColumnMap {
    /// Output columns outside the interior.
    xs: Vec<usize>,
    /// `src[i * kw + n]`: source of tap column `n` for output column `xs[i]`.
    src: Vec<Source>,
    kw: usize,
}

impl ColumnMap {
    pub(crate) fn new(plan: &Plan, geom: &Geometry) -> ColumnMap {
        let ow = geom.output.width;
        let interior = geom.interior_x.clone();
        let xs: Vec<usize> = (0..ow).filter(|x| !interior.contains(x)).collect();
        let kw = plan.kernel.width;
        let (sx, dx, pl) = (plan.stride.x, plan.dilation.x, plan.pads.left as isize);
        let src = xs
            .iter()
            .flat_map(|&x| {
                (0..kw).map(move |n| {
                    let q = (x * sx + n * dx) as isize - pl;
                    plan.border.map(q, geom.input.width)
                })
            })
            .collect();
        ColumnMap { xs, src, kw }
    }
}

#[inline]
fn read<T: Element>(row: &[T], src: Source, constant: T) -> T {
    match src {
        Source::Index(c) => row[c],
        Source::Constant => constant,
    }
}

/// `scale * sum(coeff * (sum plus - sum minus))` with the rows chosen by `row_of`.
#[inline]
fn pixel<'r, T: Element>(
    st: &Stencil,
    map: &[Source],
    row_of: impl Fn(usize) -> &'r [T],
    constant: T,
) -> T {
    let mut acc = T::ZERO;
    for term in &st.terms {
        let mut s = T::ZERO;
        for t in &term.plus {
            s = s + read(row_of(t.row), map[t.col], constant);
        }
        for t in &term.minus {
            s = s - read(row_of(t.row), map[t.col], constant);
        }
        acc = if term.is_unit() {
            acc + s
        } else {
            acc + T::from_f64(term.coeff) * s
        };
    }
    if st.scale != 1.0 {
        acc = acc * T::from_f64(st.scale);
    }
    acc
}

/// Frame columns of the output rows of one direct call.
pub(crate) fn direct<T: Element>(
    st: &Stencil,
    plan: &Plan,
    map: &ColumnMap,
    window: &[&[T]],
    out: &mut [&mut [T]],
    constant: T,
) {
    let (sy, dy) = (plan.stride.y, plan.dilation.y);
    for (j, row) in out.iter_mut().enumerate() {
        for (i, &x) in map.xs.iter().enumerate() {
            let cols = &map.src[i * map.kw..(i + 1) * map.kw];
            row[x] = pixel(st, cols, |m| window[j * sy + m * dy], constant);
        }
    }
}

/// Frame columns of one horizontal pass.
pub(crate) fn horizontal<T: Element>(
    st: &Stencil,
    map: &ColumnMap,
    src: &[T],
    dst: &mut [T],
    constant: T,
) {
    for (i, &x) in map.xs.iter().enumerate() {
        let cols = &map.src[i * map.kw..(i + 1) * map.kw];
        dst[x] = pixel(st, cols, |_| src, constant);
    }
}
