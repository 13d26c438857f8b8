//! The core driver's [`RowKernels`] backed by generated code: every call proves
//! its accesses in bounds, then calls through the function pointer.

use std::marker::PhantomData;
use std::ops::Range;

use convc_core::exec::RowKernels;
use convc_core::{ConvError, Element, Result};

use crate::lower::{PassKind, Reach, RowStencil};
use crate::module::{Code, Pass};

/// Row pointers kept on the stack up to this many rows.
const STACK_ROWS: usize = 32;

/// Output columns per strip of light separable plans. On the Xeon at 4096 x
/// 4096, gaussian 5x5: 16.5-17.1 ms over whole rows, 15.6-16.3 / 15.8-16.2 /
/// 15.7-16.9 with strips of 128 / 256 / 512; gaussian 15x15 (heavy) 22.3-23.0
/// over whole rows, 25.0-25.3 with strips of 256.
pub(crate) const SEPARABLE_STRIP: usize = 256;

/// The interior loops of one compiled convolution, for element type `T`.
///
/// Only [`Kernels::new`] makes one, after checking that `T` is the element type
/// the code was generated for.
pub(crate) struct Kernels<'a, T> {
    code: &'a Code,
    _elem: PhantomData<fn(&T)>,
}

impl<'a, T: Element> Kernels<'a, T> {
    pub(crate) fn new(code: &'a Code) -> Result<Self> {
        if T::DTYPE != code.plan.dtype {
            return Err(ConvError::DTypeMismatch {
                expected: code.plan.dtype,
                got: T::DTYPE,
            });
        }
        Ok(Kernels {
            code,
            _elem: PhantomData,
        })
    }

    fn pass(&self, kind: PassKind) -> &'a Pass {
        self.code.pass(kind).unwrap_or_else(|| {
            panic!(
                "internal error: the driver called the {kind} pass, which this plan does not have"
            )
        })
    }

    /// Checks that `pass` reads only inside `rows` and writes only inside `outs`
    /// for output columns `cols`, then runs it. Panics (never UB) on an
    /// impossible combination: the driver only makes calls that pass.
    fn run(&self, pass: &Pass, rows: &[&[T]], outs: &mut [&mut [T]], cols: Range<usize>) {
        let st = &pass.stencil;
        if cols.is_empty() {
            return;
        }
        prove_bounds(
            st,
            pass.reach,
            rows.iter().map(|r| r.len()),
            rows.len(),
            outs,
            &cols,
        );
        assert_eq!(T::DTYPE, st.dtype, "Kernels::new checked the element type");
        with_pointers(rows, st.in_rows, |in_ptrs| {
            with_mut_pointers(outs, |out_ptrs| {
                // SAFETY: `pass.func` was generated from `st` with the `RowFn`
                // signature and stays valid while `self.code` is borrowed (the
                // module is freed only when the `Code` is dropped). Its element
                // type is `T` (checked above). It reads the `st.in_rows` pointers of
                // `in_ptrs` and the `st.out_rows` of `out_ptrs` (lengths checked by
                // `prove_bounds`), then, for output columns x in `cols` only
                // (clif.rs: the last block overlaps instead of running past
                // `cols.end`), reads row `tap.row + j * row_step` at columns
                // `x * sx + tap.col - left` — inside every row by `prove_bounds` —
                // and writes `outs[j][x]`, inside every output row by
                // `prove_bounds`. The output rows are distinct `&mut` slices, so the
                // writes alias neither each other nor the inputs. It may call
                // `prefetch_rows` with sub-slices of these two pointer arrays
                // (lengths within `st.in_rows` and `st.out_rows`), which reads
                // only those pointers.
                unsafe { (pass.func)(in_ptrs.as_ptr(), out_ptrs.as_ptr(), cols.start, cols.end) }
            })
        });
    }
}

/// Asserts every access a call of `st` over `cols` makes lies inside the given
/// rows: `reach` is `st.reach()`, `row_lens` the input row lengths (`n_rows` of
/// them), `outs` the output rows.
fn prove_bounds<T>(
    st: &RowStencil,
    reach: Option<Reach>,
    row_lens: impl Iterator<Item = usize>,
    n_rows: usize,
    outs: &[&mut [T]],
    cols: &Range<usize>,
) {
    if let Some(fixed) = &st.cols {
        assert_eq!(
            cols, fixed,
            "the {} pass was compiled for columns {fixed:?}",
            st.kind
        );
    }
    assert_eq!(outs.len(), st.out_rows, "output rows per call");
    for o in outs {
        assert!(o.len() >= cols.end, "output row shorter than the columns");
    }
    assert!(n_rows >= st.in_rows, "fewer input rows than the window");
    debug_assert_eq!(reach, st.reach());
    if let Some(Reach { max_row, lo, hi }) = reach {
        assert!(max_row < st.in_rows, "a tap reads past the window");
        // Lowest column read: cols.start * sx + lo - left >= 0.
        let first = cols
            .start
            .checked_mul(st.sx)
            .and_then(|v| v.checked_add(lo))
            .expect("column arithmetic overflows");
        assert!(first >= st.left, "a tap reads left of the row");
        // Highest column read: (cols.end - 1) * sx + hi - left < len.
        let last = (cols.end - 1)
            .checked_mul(st.sx)
            .and_then(|v| v.checked_add(hi))
            .expect("column arithmetic overflows")
            - st.left;
        for len in row_lens.take(st.in_rows) {
            assert!(last < len, "a tap reads right of the row");
        }
    }
}

fn with_pointers<T, R>(rows: &[&[T]], n: usize, f: impl FnOnce(&[*const u8]) -> R) -> R {
    let ptr = |r: &&[T]| r.as_ptr().cast::<u8>();
    if n <= STACK_ROWS {
        let mut buf = [std::ptr::null::<u8>(); STACK_ROWS];
        for (b, r) in buf.iter_mut().zip(&rows[..n]) {
            *b = ptr(r);
        }
        f(&buf[..n])
    } else {
        let v: Vec<*const u8> = rows[..n].iter().map(ptr).collect();
        f(&v)
    }
}

fn with_mut_pointers<T, R>(outs: &mut [&mut [T]], f: impl FnOnce(&[*mut u8]) -> R) -> R {
    let n = outs.len();
    if n <= STACK_ROWS {
        let mut buf = [std::ptr::null_mut::<u8>(); STACK_ROWS];
        for (b, r) in buf.iter_mut().zip(outs.iter_mut()) {
            *b = r.as_mut_ptr().cast::<u8>();
        }
        f(&buf[..n])
    } else {
        let v: Vec<*mut u8> = outs
            .iter_mut()
            .map(|r| r.as_mut_ptr().cast::<u8>())
            .collect();
        f(&v)
    }
}

impl<T: Element> RowKernels<T> for Kernels<'_, T> {
    fn direct(&self, window: &[&[T]], out: &mut [&mut [T]], cols: Range<usize>) {
        self.run(self.pass(PassKind::Direct), window, out, cols);
    }

    fn vertical(&self, window: &[&[T]], tmp: &mut [&mut [T]], cols: Range<usize>) {
        self.run(self.pass(PassKind::Vertical), window, tmp, cols);
    }

    fn horizontal(&self, src: &[T], out: &mut [T], cols: Range<usize>) {
        self.run(self.pass(PassKind::Horizontal), &[src], &mut [out], cols);
    }

    /// Edges too, widened to one 128-bit vector of `f32` (wider ones measured
    /// slower: dense 7x7 at 512x512 0.54-0.57 ms with 4 columns, 0.60-0.62 with
    /// 16, 0.63 with the generic loops), unless the code was compiled for one
    /// input shape (its column bounds are constants).
    fn direct_edge_columns(&self) -> Option<usize> {
        self.code.plan.input.is_none().then_some(4)
    }

    /// Light separable plans the driver runs vertical pass first run strip by
    /// strip (their memory traffic then interleaves reads and writes more
    /// finely); heavy ones, bound by their arithmetic, and fixed shapes,
    /// compiled for whole rows, do not.
    fn separable_strip(&self) -> Option<usize> {
        let plan = &self.code.plan;
        (plan.input.is_none() && !plan.is_heavy()).then_some(SEPARABLE_STRIP)
    }

    /// Separable plans of any input shape ([`crate::lower::horizontal_first`]);
    /// their passes' prefetches were chosen for that order (clif.rs).
    fn horizontal_first(&self) -> bool {
        crate::lower::horizontal_first(&self.code.plan)
    }
}

/// Cache lines per row the prefetch helper asks for at each call: one period
/// (`clif::PREFETCH_PERIOD` bytes) of columns.
#[cfg(target_arch = "x86_64")]
const PREFETCH_LINES: usize = crate::clif::PREFETCH_PERIOD / 64;

/// Called by generated code (x86_64), which has no prefetch instruction of its
/// own: asks the cache hierarchy for `PREFETCH_LINES` lines of each of the
/// `n_rows` input rows in `rows[..n_rows]` from byte `row_offset` on, and of each
/// of the `n_outs` output rows in `outs[..n_outs]` from byte `out_offset` on.
///
/// Nothing is dereferenced but the two pointer arrays: a prefetch never faults
/// and never changes memory, wherever it points (addresses past a row's end
/// are computed with wrapping arithmetic and are harmless).
///
/// # Safety
///
/// `rows` must point to `n_rows` readable pointers and `outs` to `n_outs`
/// (generated code passes slices of the row arrays it was itself given, which
/// `Kernels::run` built with at least that many entries).
#[cfg(target_arch = "x86_64")]
pub(crate) unsafe extern "C" fn prefetch_rows(
    rows: *const *const u8,
    n_rows: usize,
    outs: *const *const u8,
    n_outs: usize,
    row_offset: usize,
    out_offset: usize,
) {
    use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
    let fetch = |array: *const *const u8, n: usize, offset: usize| {
        for r in 0..n {
            // SAFETY: the caller guarantees `array` holds `n` readable pointers.
            let row = unsafe { *array.add(r) };
            for line in 0..PREFETCH_LINES {
                let p = row.wrapping_add(offset.wrapping_add(64 * line));
                // SAFETY: SSE is part of x86_64; a prefetch reads and writes
                // nothing and never faults, whatever the address.
                unsafe { _mm_prefetch::<_MM_HINT_T0>(p.cast()) };
            }
        }
    };
    fetch(rows, n_rows, row_offset);
    fetch(outs, n_outs, out_offset);
}
