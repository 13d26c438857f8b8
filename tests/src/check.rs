//! Running a [`Case`] on every backend and judging the result.
//!
//! For a valid case, [`check_case`] runs every backend of [`backends_under_test`]
//! (everything in [`Backend::available`] but the reference itself) with each thread
//! count asked for, on an input whose row gaps hold NaN (a backend that reads them
//! fails the comparison) into an output whose row gaps hold [`OUTPUT_SENTINEL`],
//! and requires:
//!
//! - every output element within DESIGN.md's bound of [`reference_f64`]
//!   ([`accuracy::error_bound`] with [`accuracy::max_abs_input`]);
//! - exact equality where DESIGN.md promises it (integer kernel, pixels, constant);
//! - the row gaps of the output untouched;
//! - bit-identical output for every thread count.
//!
//! For a case whose spec is invalid for its image (an empty output), it requires a
//! [`ConvError`] (never a panic) from the reference and from every backend.

use convc::accuracy::{self, Mismatch};
use convc::exec::reference_f64;
use convc::{
    Backend, ConvError, ConvSpec, Convolver, DType, Element, ImageView, ImageViewMut, Shape,
};

use crate::cases::Case;

/// Written into every output element before a backend runs; the row gaps must
/// still hold it afterwards. Exactly representable in f32.
pub const OUTPUT_SENTINEL: f64 = -98_765.437_5;

/// Every concrete backend this build has except [`Backend::Reference`] (the oracle):
/// new backends added to [`Backend::available`] are covered automatically.
pub fn backends_under_test() -> Vec<Backend> {
    Backend::available()
        .into_iter()
        .filter(|&b| b != Backend::Reference)
        .collect()
}

/// A row-major buffer with rows `pitch` elements apart (`pitch >= width`), holding
/// `height * pitch` elements so that every row, the last included, has a gap.
#[derive(Debug, Clone, PartialEq)]
pub struct Pitched<T> {
    /// The buffer.
    pub data: Vec<T>,
    /// Row width in elements.
    pub width: usize,
    /// Rows.
    pub height: usize,
    /// Elements between row starts.
    pub pitch: usize,
}

impl<T: Element> Pitched<T> {
    /// Every element set to `fill`.
    pub fn filled(width: usize, height: usize, pitch: usize, fill: T) -> Self {
        Pitched {
            data: vec![fill; height * pitch],
            width,
            height,
            pitch,
        }
    }

    /// `packed` (row-major, `width * height` values) laid out with `pitch`; the gaps
    /// hold `gap`.
    pub fn from_packed(packed: &[T], width: usize, height: usize, pitch: usize, gap: T) -> Self {
        let mut p = Self::filled(width, height, pitch, gap);
        for (y, row) in packed.chunks(width).enumerate() {
            p.data[y * pitch..y * pitch + width].copy_from_slice(row);
        }
        p
    }

    /// A view of the image.
    pub fn view(&self) -> convc::Result<ImageView<'_, T>> {
        ImageView::with_pitch(&self.data, self.width, self.height, self.pitch)
    }

    /// A writable view of the image.
    pub fn view_mut(&mut self) -> convc::Result<ImageViewMut<'_, T>> {
        ImageViewMut::with_pitch(&mut self.data, self.width, self.height, self.pitch)
    }

    /// The image without its gaps, row-major.
    pub fn packed(&self) -> Vec<T> {
        (0..self.height)
            .flat_map(|y| {
                self.data[y * self.pitch..y * self.pitch + self.width]
                    .iter()
                    .copied()
            })
            .collect()
    }

    /// The first gap element (row, column past the width) whose bits differ from
    /// `gap`.
    pub fn touched_gap(&self, gap: T) -> Option<(usize, usize)> {
        let bits = gap.to_f64().to_bits();
        (0..self.height).find_map(|y| {
            (self.width..self.pitch)
                .find(|&x| self.data[y * self.pitch + x].to_f64().to_bits() != bits)
                .map(|x| (y, x))
        })
    }
}

/// What checking a case found.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// A valid case: every backend agreed.
    Checked {
        /// The output shape.
        output: Shape,
        /// Largest `|error| / bound` over all backends and thread counts (0 when the
        /// bound is 0, i.e. an all-zero kernel or input).
        worst_ratio: f64,
    },
    /// An invalid case: every entry point returned this kind of error (the
    /// reference's is kept).
    Rejected(ConvError),
}

/// The first element of `got` (row-major, `out.width` per row) farther than the
/// bound from `want`; `Ok(worst |error| / bound)` otherwise.
pub fn compare(got: &[f64], want: &[f64], out: Shape, bound: f64) -> Result<f64, Mismatch> {
    let mut worst = 0.0f64;
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let err = (g - w).abs();
        // NaN never passes.
        if err.is_nan() || err > bound {
            return Err(Mismatch {
                y: i / out.width,
                x: i % out.width,
                got: g,
                want: w,
                bound,
            });
        }
        if bound > 0.0 {
            worst = worst.max(err / bound);
        }
    }
    Ok(worst)
}

/// Checks `case` on every backend under test with each of `threads`.
///
/// `Err` carries a message naming the backend, the thread count and what broke.
pub fn check_case(case: &Case, threads: &[usize]) -> Result<Outcome, String> {
    match case.spec.dtype {
        DType::F32 => check_typed::<f32>(case, threads),
        DType::F64 => check_typed::<f64>(case, threads),
    }
}

fn check_typed<T: Element>(case: &Case, threads: &[usize]) -> Result<Outcome, String> {
    let (h, w) = (case.shape.height, case.shape.width);
    let packed: Vec<T> = case.pixels().into_iter().map(T::from_f64).collect();
    let input = Pitched::from_packed(&packed, w, h, w + case.input_gap, T::from_f64(f64::NAN));
    let view = input.view().map_err(|e| format!("input view: {e}"))?;
    let out = match case.output_shape() {
        Ok(out) => out,
        Err(e) => return check_rejected(&case.spec, &view, e),
    };
    let want = reference_f64(&case.spec, &view).map_err(|e| format!("reference: {e}"))?;
    if want.len() != out.pixels() {
        return Err(format!(
            "reference gave {} values for a {out} output",
            want.len()
        ));
    }
    let bound = accuracy::error_bound(&case.spec, accuracy::max_abs_input(&case.spec, &view));
    let exact = case.exact();
    let mut worst_ratio = 0.0f64;
    for backend in backends_under_test() {
        let mut first: Option<(usize, Vec<u64>)> = None;
        for &t in threads {
            let what = format!("{backend} with {t} thread(s)");
            let spec = case.spec.clone().threads(t);
            let got = run(&spec, backend, &view, out, case.output_gap)
                .map_err(|e| format!("{what}: {e}"))?;
            let values: Vec<f64> = got.packed().iter().map(|v| v.to_f64()).collect();
            if let Some((y, x)) = got.touched_gap(T::from_f64(OUTPUT_SENTINEL)) {
                return Err(format!(
                    "{what} wrote into the row gap of the output at row {y}, column {x} \
                     (output {out}, pitch {})",
                    got.pitch
                ));
            }
            match compare(&values, &want, out, bound) {
                Ok(r) => worst_ratio = worst_ratio.max(r),
                Err(m) => return Err(format!("{what} disagrees with the reference: {m}")),
            }
            if exact && let Some(i) = (0..want.len()).find(|&i| values[i] != want[i]) {
                return Err(format!(
                    "{what}: integer kernel, pixels and border must be exact, but output \
                     ({}, {}) is {} and the reference {}",
                    i / out.width,
                    i % out.width,
                    values[i],
                    want[i]
                ));
            }
            let bits: Vec<u64> = values.iter().map(|v| v.to_bits()).collect();
            match &first {
                None => first = Some((t, bits)),
                Some((t0, b0)) => {
                    if let Some(i) = (0..bits.len()).find(|&i| bits[i] != b0[i]) {
                        return Err(format!(
                            "{backend}: {t} threads and {t0} threads differ at output ({}, {}): \
                             {} vs {} (results must be bit-identical for every thread count)",
                            i / out.width,
                            i % out.width,
                            f64::from_bits(bits[i]),
                            f64::from_bits(b0[i])
                        ));
                    }
                }
            }
        }
    }
    Ok(Outcome::Checked {
        output: out,
        worst_ratio,
    })
}

/// Runs `spec` on `backend` into a fresh output of shape `out` whose rows are
/// `gap` elements apart beyond the width, every element preset to
/// [`OUTPUT_SENTINEL`].
pub fn run<T: Element>(
    spec: &ConvSpec,
    backend: Backend,
    input: &ImageView<'_, T>,
    out: Shape,
    gap: usize,
) -> convc::Result<Pitched<T>> {
    let conv = Convolver::<T>::new(spec, backend)?;
    let shape = conv.output_shape(input.shape())?;
    if shape != out {
        return Err(ConvError::ShapeMismatch {
            what: "output (Convolver::output_shape vs ConvSpec::output_shape)",
            expected_h: out.height,
            expected_w: out.width,
            got_h: shape.height,
            got_w: shape.width,
        });
    }
    let mut got = Pitched::filled(
        out.width,
        out.height,
        out.width + gap,
        T::from_f64(OUTPUT_SENTINEL),
    );
    conv.apply(input, &mut got.view_mut()?)?;
    Ok(got)
}

/// An invalid case: the reference and every backend (with each entry point that
/// can see the problem) must return an error.
fn check_rejected<T: Element>(
    spec: &ConvSpec,
    input: &ImageView<'_, T>,
    why: ConvError,
) -> Result<Outcome, String> {
    if let Ok(v) = reference_f64(spec, input) {
        return Err(format!(
            "ConvSpec::output_shape says `{why}` but reference_f64 returned {} values",
            v.len()
        ));
    }
    for backend in Backend::available() {
        // A spec with a fixed input shape is already rejected here.
        let Ok(conv) = Convolver::<T>::new(spec, backend) else {
            continue;
        };
        if let Ok(s) = conv.output_shape(input.shape()) {
            return Err(format!(
                "ConvSpec::output_shape says `{why}` but {backend}'s output_shape is {s}"
            ));
        }
        let mut dummy = Pitched::filled(1, 1, 1, T::ZERO);
        let mut view = dummy.view_mut().map_err(|e| e.to_string())?;
        if conv.apply(input, &mut view).is_ok() {
            return Err(format!(
                "ConvSpec::output_shape says `{why}` but {backend} accepted the image"
            ));
        }
    }
    Ok(Outcome::Rejected(why))
}
