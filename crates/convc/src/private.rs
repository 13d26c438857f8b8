//! The runtime that `conv!`-generated code calls, always through absolute
//! `::convc::__private::...` paths. Not public API: names here may change in any
//! release.
//!
//! Generated code provides the row loops of one Plan as implementations of
//! [`DirectRows`] or [`SeparableRows`], generic over whether fused multiply-add may
//! be used. This module instantiates them once per instruction set ([`Isa`]) under
//! `#[target_feature]`, picks the variant once (the widest this CPU has, up to the
//! widest the macro chose for the Plan; cached with the rest of the [`Compiled`]
//! value in a static of the generated code) and hands the resulting function
//! pointers to convc-core's row driver, which does everything else (shape checks,
//! bands for threads, border rows, the padded temporary rows between separable
//! passes, the edge columns of direct passes).

use std::ops::Range;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use convc_core::exec::execute_with_threads;
use convc_core::parse::parse_kernel;
use convc_core::plan::Method;
use convc_core::{ConvError, ConvSpec, Element, ImageView, ImageViewMut, Kernel, Plan, Result};

use crate::convolution::Isa;
pub use dispatch::Rows;

#[path = "private/simd.rs"]
pub mod simd;
pub use simd::Simd;

/// The direct (2D) row loop of a generated convolution, generic over the
/// instruction set it computes with.
pub trait DirectRows<T: Lanes>: 'static {
    /// [`RowKernels::direct`](convc_core::exec::RowKernels::direct): the interior
    /// columns `cols` of the `rows_per_call` output rows of one call.
    fn direct<S: Simd<T>>(simd: S, window: &[&[T]], out: &mut [&mut [T]], cols: Range<usize>);
}

/// The two 1D row loops of a generated separable convolution.
pub trait SeparableRows<T: Lanes>: 'static {
    /// [`RowKernels::vertical`](convc_core::exec::RowKernels::vertical): the
    /// `rows_per_call` temporary rows of one call from its window of input rows.
    fn vertical<S: Simd<T>>(simd: S, window: &[&[T]], tmp: &mut [&mut [T]], cols: Range<usize>);
    /// [`RowKernels::horizontal`](convc_core::exec::RowKernels::horizontal): one
    /// output row from a temporary row padded by the border rule.
    fn horizontal<S: Simd<T>>(simd: S, src: &[T], out: &mut [T], cols: Range<usize>);
    /// [`RowKernels::fused`](convc_core::exec::RowKernels::fused): both passes of
    /// one call in one sweep over its columns; `false` where this token or these
    /// columns have no such sweep (the default: `conv!` generates one for the
    /// plans the driver runs horizontal pass first).
    fn fused<S: Simd<T>>(
        simd: S,
        sources: &[&[T]],
        new: &mut [&mut [T]],
        old: &[&[T]],
        out: &mut [&mut [T]],
        cols: Range<usize>,
    ) -> bool {
        let _ = (simd, sources, new, old, out, cols);
        false
    }
}

/// Generated code was called with another number of output rows than the Plan's
/// `rows_per_call` (`expected`): convc-core's driver never does that.
#[cold]
#[track_caller]
pub fn wrong_rows(expected: usize) -> ! {
    panic!(
        "conv! row loops compute {expected} output rows per call; the driver passed another count"
    )
}

/// Rebuilds a kernel from the expression `conv!` planned it from (`text` and
/// `size`, as [`parse_kernel`] takes them), then gives it `name` if one is given.
///
/// # Panics
/// If the text does not parse: `conv!` parsed the same text with the same
/// function when it expanded, so this is a bug.
pub fn kernel(text: &str, size: Option<(usize, usize)>, name: Option<&str>) -> Kernel {
    let k = parse_kernel(text, size).unwrap_or_else(|e| {
        panic!("conv! planned the kernel `{text}` when it expanded, but it fails at run time: {e}")
    });
    match name {
        Some(n) => k.named(n),
        None => k,
    }
}

/// The run-time side of one `conv!` expansion: its spec, its Plan, and the row
/// loops chosen for this CPU.
pub struct Compiled<T: Element> {
    spec: ConvSpec,
    /// The Plan, planned again from `spec` (an error only where this target's
    /// sizes differ from the host's that expanded the macro).
    plan: Result<Plan>,
    /// The variant `apply` runs.
    isa: Isa,
    /// The widest variant compiled.
    widest: Isa,
    rows: Rows<T>,
    select: fn(Isa) -> Option<Rows<T>>,
}

impl<T: Lanes> Compiled<T> {
    /// For a direct Plan whose row loop is `K`, compiled for the instruction sets
    /// `V` names. `plan_text` is the `Display` of the Plan the macro lowered; debug
    /// builds check that `spec` plans to the same.
    pub fn direct<K: DirectRows<T>, V: Variants>(spec: ConvSpec, plan_text: &str) -> Self {
        Self::new(spec, plan_text, V::WIDEST, V::direct::<T, K>)
    }

    /// For a separable Plan whose row loops are `K`.
    pub fn separable<K: SeparableRows<T>, V: Variants>(spec: ConvSpec, plan_text: &str) -> Self {
        Self::new(spec, plan_text, V::WIDEST, V::separable::<T, K>)
    }

    fn new(
        spec: ConvSpec,
        plan_text: &str,
        widest: Isa,
        select: fn(Isa) -> Option<Rows<T>>,
    ) -> Self {
        let plan = Plan::new(&spec);
        if let Ok(p) = &plan {
            debug_assert_eq!(
                p.to_string(),
                plan_text,
                "the run-time Plan differs from the one conv! lowered"
            );
        }
        let isa = Isa::best_up_to(widest);
        let rows = select(isa).expect("Isa::best_up_to returns a supported variant");
        Compiled {
            spec,
            plan,
            isa,
            widest,
            rows,
            select,
        }
    }
}

/// The instruction-set variants one `conv!` expansion compiles: every one up to
/// the widest rustgen chose for its Plan (`convc_rustgen::widest`). Only the
/// variants named here are instantiated, so a capped Plan costs less to compile.
pub trait Variants: 'static {
    /// The widest variant.
    const WIDEST: Isa;
    /// The direct row loops of `K` for `isa`, when compiled and supported here.
    fn direct<T: Lanes, K: DirectRows<T>>(isa: Isa) -> Option<Rows<T>>;
    /// The separable row loops of `K` for `isa`, when compiled and supported here.
    fn separable<T: Lanes, K: SeparableRows<T>>(isa: Isa) -> Option<Rows<T>>;
}

/// Baseline, AVX2 + FMA and AVX-512F variants.
#[derive(Debug)]
pub struct UpToAvx512;

/// Baseline and AVX2 + FMA variants.
#[derive(Debug)]
pub struct UpToAvx2Fma;

impl Variants for UpToAvx512 {
    const WIDEST: Isa = Isa::Avx512;
    fn direct<T: Lanes, K: DirectRows<T>>(isa: Isa) -> Option<Rows<T>> {
        Rows::direct::<K, true>(isa)
    }
    fn separable<T: Lanes, K: SeparableRows<T>>(isa: Isa) -> Option<Rows<T>> {
        Rows::separable::<K, true>(isa)
    }
}

impl Variants for UpToAvx2Fma {
    const WIDEST: Isa = Isa::Avx2Fma;
    fn direct<T: Lanes, K: DirectRows<T>>(isa: Isa) -> Option<Rows<T>> {
        Rows::direct::<K, false>(isa)
    }
    fn separable<T: Lanes, K: SeparableRows<T>>(isa: Isa) -> Option<Rows<T>> {
        Rows::separable::<K, false>(isa)
    }
}

impl<T: Element> Compiled<T> {
    /// The spec.
    pub fn spec(&self) -> &ConvSpec {
        &self.spec
    }

    /// The variant [`apply`](Self::apply) runs when given none.
    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// The variants compiled for this Plan that this CPU runs, slowest first.
    pub fn isas(&self) -> Vec<Isa> {
        Isa::supported()
            .into_iter()
            .filter(|&i| i <= self.widest)
            .collect()
    }

    /// Runs the Plan through the core driver with the row loops for `isa`
    /// (`None`: the chosen one) on `threads` threads (`None`: the spec's count).
    pub fn apply(
        &self,
        isa: Option<Isa>,
        threads: Option<Option<usize>>,
        input: &ImageView<'_, T>,
        output: &mut ImageViewMut<'_, T>,
    ) -> Result<()> {
        let plan = self.plan.as_ref().map_err(Clone::clone)?;
        let threads = threads.unwrap_or(plan.threads);
        match isa {
            None => {
                let rows = configured(self.rows, self.isa, plan, output);
                execute_with_threads(plan, &rows, input, output, threads)
            }
            Some(isa) => {
                let rows = (self.select)(isa).ok_or_else(|| {
                    if isa > self.widest {
                        ConvError::Unsupported(format!(
                            "the {isa} variant of this conv! value: for its Plan conv! \
                             compiles variants up to {} (see Convolution::isas)",
                            self.widest
                        ))
                    } else {
                        isa.unsupported()
                    }
                })?;
                let rows = configured(rows, isa, plan, output);
                execute_with_threads(plan, &rows, input, output, threads)
            }
        }
    }
}

/// `rows` (the loops for `isa`) set up for one call: streaming stores for large
/// outputs; strips, the horizontal pass first and edges through the generated
/// loops unless the input shape is fixed (the loops then cover whole rows with
/// constant bounds).
fn configured<T: Element>(
    rows: Rows<T>,
    isa: Isa,
    plan: &Plan,
    output: &ImageViewMut<'_, T>,
) -> Rows<T> {
    let dynamic = plan.input.is_none();
    // Tests run the narrower variants through AVX-512's paths too.
    let paths = if NARROW_VECTORS_AS_WIDE.load(Ordering::Relaxed) {
        Isa::Avx512
    } else {
        isa
    };
    rows.streaming(streams(paths, plan, output))
        .sweeping(sweeps(paths))
        .strips(strip(plan))
        .horizontal_first(dynamic)
        .edges(dynamic)
}

/// Output columns per strip of the separable passes: the temporary columns a
/// strip's vertical pass writes (4 rows of 1 KiB for `f32`) are still in L1 when
/// its horizontal pass reads them. On an Intel Xeon at 4096 x 4096: gaussian 5x5
/// 14.4 ms over whole rows, 11.8 / 12.1 / 12.8 / 13.9 with strips of 128 / 256 /
/// 512 / 1024; gaussian 15x15 18.3 over whole rows, 19.0 / 17.7 / 17.5 / 17.9.
/// (The JIT strips light plans only: its heavy ones are faster over whole rows.)
pub const SEPARABLE_STRIP: usize = 256;

/// Strips for the separable passes, unless the input shape is fixed (the
/// generated loops then cover whole rows with constant bounds).
fn strip(plan: &Plan) -> Option<usize> {
    plan.input.is_none().then_some(SEPARABLE_STRIP)
}

/// Outputs of at least this many bytes are written with streaming stores.
pub const STREAM_MIN_BYTES: usize = 8 << 20;

/// Whether the row loops should stream their stores into `output`: for a direct
/// plan whose output has at least [`STREAM_MIN_BYTES`], more than a core's
/// share of the caches, so that its lines would be evicted before anyone reads
/// them. Writing them without reading them first saves a third of the memory
/// traffic (a 4096 x 4096 `f32` copy on an Intel Xeon: 8.8 ms with plain
/// stores, 6.2 with streaming ones; sobel 11.0 -> 8.7 ms, dense 7x7 19.2 ->
/// 16.6 ms). Separable plans stream where the driver runs their horizontal
/// pass first ([`Rows::horizontal_first`]): the vertical pass then writes the
/// output rows (on an AMD EPYC, Zen 4, medians of five alternating runs at
/// 4096 x 4096: gaussian 5x5 12.9 -> 12.1 ms, 15x15 20.5 -> 18.1). Their
/// horizontal pass never streams: run second, streamed in strips or whole rows,
/// it ran gaussian 5x5 14 -> 19 ms and 15x15 20 -> 26 ms on the Xeon. (Where
/// the driver falls back to the vertical pass first, for a ring of filtered
/// rows over 256 MiB, the vertical pass streams into its temporary rows: the
/// same values, read back by the same thread.)
///
/// Only `isa`s whose vectors fill a cache line stream ([`streams_whole_lines`]).
fn streams<T: Element>(isa: Isa, plan: &Plan, output: &ImageViewMut<'_, T>) -> bool {
    streams_whole_lines(isa)
        && (matches!(plan.method, Method::Direct(_))
            || (plan.input.is_none() && convc_core::exec::runs_horizontal_first(plan)))
        && output.height() * output.width() * std::mem::size_of::<T>() >= STREAM_MIN_BYTES
}

/// Whether `isa`'s vectors fill a 64-byte cache line (AVX-512), so that each
/// streaming store writes a whole line. The generated steps store one vector
/// into each of a call's rows in turn; with narrower vectors every row then
/// holds a half-written line in a write-combining buffer until its next store,
/// which some CPUs handle badly (likely writing partial lines out for want of
/// buffers). On an AMD EPYC of the Zen 3 generation (AVX2, no AVX-512) at
/// 4096 x 4096, `conv!`'s AVX2 loops ran gaussian 5x5 43-48 ms streamed
/// against 17-19 with plain stores, gaussian 15x15 (8 rows per call) 57-61
/// against 22-26, sobel 16.5-17.5 against 12.4-14 and dense 7x7 29-39 against
/// 28-35 (in one process, alternating). A C probe of the stores alone
/// (`scripts/probes/narrow_streams.c`, three runs) wrote an image 8 rows at a
/// time in 15.7-31 ms with one 32-byte streaming store per row and step,
/// 8.7-9.3 with two (whole lines) and 8.1-11.2 with plain stores; 1 row at a
/// time 7.1-8.1, 6.9-7.5 and 9.2-9.4.
fn streams_whole_lines(isa: Isa) -> bool {
    isa == Isa::Avx512
}

/// Whether the light separable passes of `isa` sweep both passes at once
/// (`SeparableRows::fused`): only with AVX-512, whose 32 vector registers hold
/// a step of both passes. On an AMD EPYC of the Zen 3 generation the AVX2 sweep
/// ran slower than the passes apart at every size tried (plain stores, in one
/// process, alternating): gaussian 5x5 at 4096 x 4096 15.3-16.6 ms against
/// 11.0-11.5, at 1024 x 1024 1.20 against 0.78, at 4099 11.5-12.1 against
/// 10.6-11.4; box 5x5 and gaussian 7x7 (sigma 1.5) at 1024 0.92 and 1.00
/// against 0.60 and 0.67. With AVX-512 on a Zen 4 the sweep is the faster
/// (gaussian 5x5 at 4096 8.6 -> 5.9 ms streamed, at 1024 0.47 -> 0.42).
fn sweeps(isa: Isa) -> bool {
    isa == Isa::Avx512
}

/// Whether variants with vectors narrower than a cache line stream
/// (`streams_whole_lines`) and sweep (`sweeps`) as AVX-512 does. Only tests set
/// it, so that those generated loops stay covered with 8 lanes and on CPUs
/// without AVX-512; it changes speed only, never a value (streamed and plain
/// stores write the same bits, and the sweep computes what the passes apart
/// do).
#[doc(hidden)]
pub static NARROW_VECTORS_AS_WIDE: AtomicBool = AtomicBool::new(false);

/// Where generated code keeps its [`Compiled`]: built on first use.
pub struct Lazy<T: Element>(OnceLock<Compiled<T>>);

impl<T: Element> Lazy<T> {
    /// Empty.
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        Lazy(OnceLock::new())
    }

    /// The value, built by `init` the first time.
    pub fn get_or_init(&self, init: fn() -> Compiled<T>) -> &Compiled<T> {
        self.0.get_or_init(init)
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// An element type `conv!` compiles for (`f32`, `f64`), with the token type of
/// each instruction set for it.
pub trait Lanes: Element + sealed::Sealed {
    /// AVX-512F vectors of this type.
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    type Avx512: Simd<Self>;
    /// AVX2 + FMA vectors of this type.
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    type Avx2Fma: Simd<Self>;
    /// The baseline's vectors (SSE2 on x86 targets that have it, arrays elsewhere).
    type Baseline: Simd<Self>;
}

/// The baseline token of this target.
#[cfg(all(
    any(target_arch = "x86", target_arch = "x86_64"),
    target_feature = "sse2"
))]
type BaselineToken = simd::Sse2;
#[cfg(not(all(
    any(target_arch = "x86", target_arch = "x86_64"),
    target_feature = "sse2"
)))]
type BaselineToken = simd::Portable;

impl Lanes for f32 {
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    type Avx512 = simd::Avx512;
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    type Avx2Fma = simd::Avx2Fma;
    type Baseline = BaselineToken;
}

impl Lanes for f64 {
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    type Avx512 = simd::Avx512;
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    type Avx2Fma = simd::Avx2Fma;
    type Baseline = BaselineToken;
}

/// The only `unsafe` of `conv!` code outside [`simd`]: calling the row loops
/// compiled with `#[target_feature]` through function pointers that exist only for
/// instruction sets this CPU has.
#[allow(unsafe_code)]
pub mod dispatch {
    use std::ops::Range;

    use convc_core::Element;
    use convc_core::exec::RowKernels;

    use super::{DirectRows, Lanes, SeparableRows, Simd};
    use crate::convolution::Isa;

    /// The last argument of each: whether the token streams its output stores
    /// ([`Simd::streaming`]).
    type DirectFn<T> = unsafe fn(&[&[T]], &mut [&mut [T]], Range<usize>, bool);
    type VerticalFn<T> = unsafe fn(&[&[T]], &mut [&mut [T]], Range<usize>, bool);
    type HorizontalFn<T> = unsafe fn(&[T], &mut [T], Range<usize>, bool);
    type FusedFn<T> =
        unsafe fn(&[&[T]], &mut [&mut [T]], &[&[T]], &mut [&mut [T]], Range<usize>, bool) -> bool;

    /// The row loops of one Plan for one instruction set. Only built by
    /// `Rows::direct` and `Rows::separable`, which refuse an instruction set
    /// this CPU lacks: holding a `Rows` proves its functions may be called.
    pub struct Rows<T> {
        kind: Kind<T>,
        /// Whether the output stores bypass the caches ([`Rows::streaming`]).
        stream: bool,
        /// Separable plans' output columns per strip ([`Rows::strips`]).
        strip: Option<usize>,
        /// Whether separable plans run the horizontal pass first
        /// ([`Rows::horizontal_first`]).
        horizontal_first: bool,
        /// Whether the driver runs the edges of direct plans through these
        /// loops ([`Rows::edges`]).
        edges: bool,
        /// Whether light separable passes sweep both passes at once (`sweeps`).
        sweeps: bool,
    }

    impl<T> Clone for Rows<T> {
        fn clone(&self) -> Self {
            *self
        }
    }

    impl<T> Copy for Rows<T> {}

    impl<T> Clone for Kind<T> {
        fn clone(&self) -> Self {
            *self
        }
    }

    impl<T> Copy for Kind<T> {}

    impl<T> Rows<T> {
        /// The same loops, with the output stores of generated code that streams
        /// them (direct passes of light plans) bypassing the caches when `on`:
        /// for outputs too large to be read back from the cache, whose lines the
        /// core then never reads before writing (`streams` decides).
        pub fn streaming(self, on: bool) -> Self {
            Rows { stream: on, ..self }
        }

        /// The same loops, run by the driver strip by strip of `strip` output
        /// columns for separable plans (`None`: whole rows).
        pub fn strips(self, strip: Option<usize>) -> Self {
            Rows { strip, ..self }
        }

        /// The same loops, run by the driver horizontal pass first for separable
        /// plans when `on` ([`RowKernels::horizontal_first`]; the driver keeps
        /// [`Rows::strips`] for the plans it runs vertical pass first). The
        /// vertical pass then reads its window from the driver's ring of
        /// filtered rows, laid out so that its rows never share L1 sets, instead
        /// of from image rows 16 KiB apart at width 4096, which evict each other
        /// from an 8-way L1. On an AMD EPYC (Zen 4) at 4096 x 4096, gaussian 5x5
        /// 14.2-14.9 -> 10.5-10.7 ms and 15x15 31.9-32.5 -> 15.8-16.1; at 4099
        /// 12.2-12.6 -> 11.0-12.7 and 21.1-21.6 -> 17.1-18.8. (On the Intel
        /// Xeon of December 2026, with its 12-way L1, gaussian 15x15 ran 15.1 ->
        /// 19.4 ms instead: docs/performance.md.)
        pub fn horizontal_first(self, on: bool) -> Self {
            Rows {
                horizontal_first: on,
                ..self
            }
        }

        /// The same loops, sweeping both light separable passes at once where
        /// the driver asks (`SeparableRows::fused`) when `on`, declining
        /// otherwise (`sweeps` decides).
        pub fn sweeping(self, on: bool) -> Self {
            Rows { sweeps: on, ..self }
        }

        /// The same loops, run by the driver also over the padded edge columns
        /// of direct plans when `on` (loops for any columns; not those of a
        /// fixed input shape).
        pub fn edges(self, on: bool) -> Self {
            Rows { edges: on, ..self }
        }
    }

    enum Kind<T> {
        Direct(DirectFn<T>),
        Separable(VerticalFn<T>, HorizontalFn<T>, FusedFn<T>),
    }

    impl<T: Lanes> Rows<T> {
        /// `AVX512`: whether the AVX-512 variant is compiled (a constant, so that
        /// the other instantiation never names it).
        pub(crate) fn direct<K: DirectRows<T>, const AVX512: bool>(isa: Isa) -> Option<Self> {
            let f: DirectFn<T> = match isa {
                #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
                Isa::Avx512 if AVX512 => x86::direct_avx512::<T, K>,
                Isa::Avx512 => return None,
                #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
                Isa::Avx2Fma => x86::direct_avx2::<T, K>,
                _ => direct_base::<T, K>,
            };
            isa.is_supported().then_some(Rows {
                kind: Kind::Direct(f),
                stream: false,
                strip: None,
                horizontal_first: false,
                edges: false,
                sweeps: false,
            })
        }

        pub(crate) fn separable<K: SeparableRows<T>, const AVX512: bool>(isa: Isa) -> Option<Self> {
            let (v, h, f): (VerticalFn<T>, HorizontalFn<T>, FusedFn<T>) = match isa {
                #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
                Isa::Avx512 if AVX512 => (
                    x86::vertical_avx512::<T, K>,
                    x86::horizontal_avx512::<T, K>,
                    x86::fused_avx512::<T, K>,
                ),
                Isa::Avx512 => return None,
                #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
                Isa::Avx2Fma => (
                    x86::vertical_avx2::<T, K>,
                    x86::horizontal_avx2::<T, K>,
                    x86::fused_avx2::<T, K>,
                ),
                _ => (
                    vertical_base::<T, K>,
                    horizontal_base::<T, K>,
                    fused_base::<T, K>,
                ),
            };
            isa.is_supported().then_some(Rows {
                kind: Kind::Separable(v, h, f),
                stream: false,
                strip: None,
                horizontal_first: false,
                edges: false,
                sweeps: false,
            })
        }
    }

    impl<T: Element> RowKernels<T> for Rows<T> {
        fn direct(&self, window: &[&[T]], out: &mut [&mut [T]], cols: Range<usize>) {
            match self.kind {
                // SAFETY: `f` comes from `Rows::direct`, which returned it only after
                // `Isa::is_supported` found the features it was compiled with on this
                // CPU; the loop itself is safe code.
                Kind::Direct(f) => unsafe { f(window, out, cols, self.stream) },
                Kind::Separable(..) => {
                    unreachable!("the driver runs separable plans in two passes")
                }
            }
        }

        fn vertical(&self, window: &[&[T]], tmp: &mut [&mut [T]], cols: Range<usize>) {
            match self.kind {
                // SAFETY: as in `direct`: `Rows::separable` checked the features.
                // `self.stream` is set for separable plans only where the driver
                // runs the horizontal pass first, `tmp` then being output rows.
                Kind::Separable(v, ..) => unsafe { v(window, tmp, cols, self.stream) },
                Kind::Direct(_) => unreachable!("the driver runs direct plans in one pass"),
            }
        }

        fn horizontal(&self, src: &[T], out: &mut [T], cols: Range<usize>) {
            match self.kind {
                // SAFETY: as in `direct`: `Rows::separable` checked the features.
                Kind::Separable(_, h, _) => unsafe { h(src, out, cols, self.stream) },
                Kind::Direct(_) => unreachable!("the driver runs direct plans in one pass"),
            }
        }

        fn fused(
            &self,
            sources: &[&[T]],
            new: &mut [&mut [T]],
            old: &[&[T]],
            out: &mut [&mut [T]],
            cols: Range<usize>,
        ) -> bool {
            if !self.sweeps {
                return false;
            }
            match self.kind {
                // SAFETY: as in `direct`: `Rows::separable` checked the features.
                // The driver calls this only for plans it runs horizontal pass
                // first, `out` then being output rows.
                Kind::Separable(_, _, f) => unsafe { f(sources, new, old, out, cols, self.stream) },
                Kind::Direct(_) => false,
            }
        }

        /// A vector of AVX-512's `f32` lanes (two of AVX2's): wider edges
        /// measured slower (dense 7x7 at 512x512: 0.26 ms with 16 columns,
        /// 0.28 with 32, 0.30 with 64 and with 4, 0.36 with the generic loops).
        fn direct_edge_columns(&self) -> Option<usize> {
            self.edges.then_some(16)
        }

        fn direct_edge(&self, window: &[&[T]], out: &mut [&mut [T]], cols: Range<usize>) {
            match self.kind {
                // SAFETY: as in `direct`. The scratch rows are read back at once:
                // never streamed.
                Kind::Direct(f) => unsafe { f(window, out, cols, false) },
                Kind::Separable(..) => {
                    unreachable!("the driver runs separable plans in two passes")
                }
            }
        }

        fn separable_strip(&self) -> Option<usize> {
            self.strip
        }

        /// A vector of AVX-512's `f32` lanes, as for direct edges.
        fn horizontal_edge_columns(&self) -> Option<usize> {
            Some(16)
        }

        fn horizontal_first(&self) -> bool {
            self.horizontal_first
        }

        fn band_done(&self) {
            if self.stream {
                // Another band's thread, or the caller, may read these rows next.
                super::simd::store_fence();
            }
        }
    }

    /// The baseline variants. `unsafe` only to share the function pointer types:
    /// the baseline token's features are part of the target.
    unsafe fn direct_base<T: Lanes, K: DirectRows<T>>(
        w: &[&[T]],
        o: &mut [&mut [T]],
        c: Range<usize>,
        stream: bool,
    ) {
        // SAFETY: the baseline token needs only what the target guarantees.
        let simd = unsafe { T::Baseline::new_unchecked() }.streaming(stream);
        K::direct(simd, w, o, c);
    }

    unsafe fn vertical_base<T: Lanes, K: SeparableRows<T>>(
        w: &[&[T]],
        t: &mut [&mut [T]],
        c: Range<usize>,
        stream: bool,
    ) {
        // SAFETY: as in `direct_base`.
        let simd = unsafe { T::Baseline::new_unchecked() }.streaming(stream);
        K::vertical(simd, w, t, c);
    }

    unsafe fn horizontal_base<T: Lanes, K: SeparableRows<T>>(
        s: &[T],
        o: &mut [T],
        c: Range<usize>,
        stream: bool,
    ) {
        // SAFETY: as in `direct_base`.
        let simd = unsafe { T::Baseline::new_unchecked() }.streaming(stream);
        K::horizontal(simd, s, o, c);
    }

    unsafe fn fused_base<T: Lanes, K: SeparableRows<T>>(
        s: &[&[T]],
        n: &mut [&mut [T]],
        w: &[&[T]],
        o: &mut [&mut [T]],
        c: Range<usize>,
        stream: bool,
    ) -> bool {
        // SAFETY: as in `direct_base`.
        let simd = unsafe { T::Baseline::new_unchecked() }.streaming(stream);
        K::fused(simd, s, n, w, o, c)
    }

    /// The same loops with the AVX tokens, compiled with the features enabled so
    /// that the intrinsics inline. Each may run only where the CPU has them.
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    mod x86 {
        use super::*;

        /// One `#[target_feature]` entry point per pass and token.
        macro_rules! entry {
            ($name:ident, $feature:literal, $token:ident, $trait:ident :: $pass:ident,
             ($($arg:ident: $ty:ty),*) $(-> $ret:ty)?) => {
                #[target_feature(enable = $feature)]
                pub(super) unsafe fn $name<T: Lanes, K: $trait<T>>(
                    $($arg: $ty,)* stream: bool
                ) $(-> $ret)? {
                    // SAFETY: this function runs only where the CPU has `$feature`
                    // (`Rows` hands it out after `Isa::is_supported`).
                    let simd = unsafe { T::$token::new_unchecked() }.streaming(stream);
                    K::$pass(simd, $($arg),*)
                }
            };
        }

        entry!(direct_avx512, "avx512f", Avx512, DirectRows::direct,
            (w: &[&[T]], o: &mut [&mut [T]], c: Range<usize>));
        entry!(direct_avx2, "avx2,fma", Avx2Fma, DirectRows::direct,
            (w: &[&[T]], o: &mut [&mut [T]], c: Range<usize>));
        entry!(vertical_avx512, "avx512f", Avx512, SeparableRows::vertical,
            (w: &[&[T]], t: &mut [&mut [T]], c: Range<usize>));
        entry!(vertical_avx2, "avx2,fma", Avx2Fma, SeparableRows::vertical,
            (w: &[&[T]], t: &mut [&mut [T]], c: Range<usize>));
        entry!(horizontal_avx512, "avx512f", Avx512, SeparableRows::horizontal,
            (s: &[T], o: &mut [T], c: Range<usize>));
        entry!(horizontal_avx2, "avx2,fma", Avx2Fma, SeparableRows::horizontal,
            (s: &[T], o: &mut [T], c: Range<usize>));
        entry!(fused_avx512, "avx512f", Avx512, SeparableRows::fused,
            (s: &[&[T]], n: &mut [&mut [T]], w: &[&[T]], o: &mut [&mut [T]], c: Range<usize>)
            -> bool);
        entry!(fused_avx2, "avx2,fma", Avx2Fma, SeparableRows::fused,
            (s: &[&[T]], n: &mut [&mut [T]], w: &[&[T]], o: &mut [&mut [T]], c: Range<usize>)
            -> bool);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use convc_core::{Image, named};

    #[test]
    fn only_avx512_streams_large_outputs_and_sweeps() {
        assert!(sweeps(Isa::Avx512));
        assert!(!sweeps(Isa::Avx2Fma) && !sweeps(Isa::Baseline));
        let spec = ConvSpec::new(named::build("sobel_x", &[], None).unwrap());
        let plan = Plan::new(&spec).unwrap();
        let side = 2048;
        assert!(side * side * 4 >= STREAM_MIN_BYTES);
        let mut large = Image::<f32>::zeros(side, side).unwrap();
        let mut small = Image::<f32>::zeros(64, 64).unwrap();
        assert!(streams(Isa::Avx512, &plan, &large.view_mut()));
        assert!(!streams(Isa::Avx512, &plan, &small.view_mut()));
        for narrow in [Isa::Avx2Fma, Isa::Baseline] {
            assert!(!streams(narrow, &plan, &large.view_mut()), "{narrow}");
        }
    }
}
