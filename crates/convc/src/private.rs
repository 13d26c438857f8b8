//! The runtime that `conv!`-generated code calls, always through absolute
//! `::convc::__private::...` paths. Not public API: names here may change in any
//! release.
//!
//! Generated code provides the interior row loops of one Plan as implementations
//! of [`DirectRows`] or [`SeparableRows`], generic over whether fused multiply-add
//! may be used. This module instantiates them once per instruction set ([`Isa`])
//! under `#[target_feature]`, picks the variant for this CPU once (cached with the
//! rest of the [`Compiled`] value in a static of the generated code) and hands the
//! resulting function pointers to convc-core's row driver, which does everything
//! else (shape checks, bands for threads, border rows and columns, the ring of rows
//! between separable passes).

use std::ops::Range;
use std::sync::OnceLock;

use convc_core::exec::execute;
use convc_core::parse::parse_kernel;
use convc_core::{ConvSpec, Element, ImageView, ImageViewMut, Kernel, Plan, Result};

use crate::convolution::Isa;
use dispatch::Rows;

/// The direct (2D) row loop of a generated convolution.
pub trait DirectRows<T>: 'static {
    /// [`RowKernels::direct`](convc_core::exec::RowKernels::direct) for the
    /// interior columns `cols`; `FMA`: fused multiply-add is fast here.
    fn direct<const FMA: bool>(window: &[&[T]], out: &mut [&mut [T]], cols: Range<usize>);
}

/// The two 1D row loops of a generated separable convolution.
pub trait SeparableRows<T>: 'static {
    /// [`RowKernels::horizontal`](convc_core::exec::RowKernels::horizontal).
    fn horizontal<const FMA: bool>(src: &[T], dst: &mut [T], cols: Range<usize>);
    /// [`RowKernels::vertical`](convc_core::exec::RowKernels::vertical).
    fn vertical<const FMA: bool>(rows: &[&[T]], dst: &mut [T]);
}

/// `acc + a * c`: fused (one rounding) in the FMA variants, a separate multiply and
/// add in the baseline one (where `mul_add` would be a libm call).
#[inline(always)]
pub fn madd<const FMA: bool, T: Lanes>(a: T, c: T, acc: T) -> T {
    if FMA { a.fused(c, acc) } else { acc + a * c }
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
    rows: Rows<T>,
    select: fn(Isa) -> Option<Rows<T>>,
}

impl<T: Lanes> Compiled<T> {
    /// For a direct Plan whose row loop is `K`. `plan_text` is the `Display` of the
    /// Plan the macro lowered; debug builds check that `spec` plans to the same.
    pub fn direct<K: DirectRows<T>>(spec: ConvSpec, plan_text: &str) -> Self {
        Self::new(spec, plan_text, Rows::direct::<K>)
    }

    /// For a separable Plan whose row loops are `K`.
    pub fn separable<K: SeparableRows<T>>(spec: ConvSpec, plan_text: &str) -> Self {
        Self::new(spec, plan_text, Rows::separable::<K>)
    }

    fn new(spec: ConvSpec, plan_text: &str, select: fn(Isa) -> Option<Rows<T>>) -> Self {
        let plan = Plan::new(&spec);
        if let Ok(p) = &plan {
            debug_assert_eq!(
                p.to_string(),
                plan_text,
                "the run-time Plan differs from the one conv! lowered"
            );
        }
        let rows = select(Isa::detected()).or_else(|| select(Isa::Baseline));
        Compiled {
            spec,
            plan,
            rows: rows.expect("the baseline variant runs everywhere"),
            select,
        }
    }
}

impl<T: Element> Compiled<T> {
    /// The spec.
    pub fn spec(&self) -> &ConvSpec {
        &self.spec
    }

    /// Runs the Plan through the core driver with the row loops for `isa`
    /// (`None`: the detected one).
    pub fn apply(
        &self,
        isa: Option<Isa>,
        input: &ImageView<'_, T>,
        output: &mut ImageViewMut<'_, T>,
    ) -> Result<()> {
        let plan = self.plan.as_ref().map_err(Clone::clone)?;
        match isa {
            None => execute(plan, &self.rows, input, output),
            Some(isa) => {
                let rows = (self.select)(isa).ok_or_else(|| isa.unsupported())?;
                execute(plan, &rows, input, output)
            }
        }
    }
}

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

/// An element type `conv!` compiles for (`f32`, `f64`).
pub trait Lanes: Element + sealed::Sealed {
    /// `self * c + acc` with one rounding.
    fn fused(self, c: Self, acc: Self) -> Self;
}

impl Lanes for f32 {
    #[inline(always)]
    fn fused(self, c: Self, acc: Self) -> Self {
        self.mul_add(c, acc)
    }
}

impl Lanes for f64 {
    #[inline(always)]
    fn fused(self, c: Self, acc: Self) -> Self {
        self.mul_add(c, acc)
    }
}

/// The only `unsafe` of `conv!` code: calling the row loops compiled with
/// `#[target_feature]` through function pointers that exist only for instruction
/// sets this CPU has.
#[allow(unsafe_code)]
pub mod dispatch {
    use std::ops::Range;

    use convc_core::Element;
    use convc_core::exec::RowKernels;

    use super::{DirectRows, Lanes, SeparableRows};
    use crate::convolution::Isa;

    /// A direct row loop compiled for one instruction set.
    pub type DirectFn<T> = unsafe fn(&[&[T]], &mut [&mut [T]], Range<usize>);
    /// A horizontal row loop compiled for one instruction set.
    pub type HorizontalFn<T> = unsafe fn(&[T], &mut [T], Range<usize>);
    /// A vertical row loop compiled for one instruction set.
    pub type VerticalFn<T> = unsafe fn(&[&[T]], &mut [T]);

    /// The row loops of one Plan for one instruction set. Only built by
    /// [`Rows::direct`] and [`Rows::separable`], which refuse an instruction set
    /// this CPU lacks: holding a `Rows` proves its functions may be called.
    pub(crate) enum Rows<T> {
        Direct(DirectFn<T>),
        Separable(HorizontalFn<T>, VerticalFn<T>),
    }

    impl<T: Lanes> Rows<T> {
        pub(crate) fn direct<K: DirectRows<T>>(isa: Isa) -> Option<Self> {
            let f: DirectFn<T> = match isa {
                #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
                Isa::Avx512 => x86::direct_avx512::<T, K>,
                #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
                Isa::Avx2Fma => x86::direct_avx2::<T, K>,
                _ => direct_base::<T, K>,
            };
            isa.is_supported().then_some(Rows::Direct(f))
        }

        pub(crate) fn separable<K: SeparableRows<T>>(isa: Isa) -> Option<Self> {
            let (h, v): (HorizontalFn<T>, VerticalFn<T>) = match isa {
                #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
                Isa::Avx512 => (x86::horizontal_avx512::<T, K>, x86::vertical_avx512::<T, K>),
                #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
                Isa::Avx2Fma => (x86::horizontal_avx2::<T, K>, x86::vertical_avx2::<T, K>),
                _ => (horizontal_base::<T, K>, vertical_base::<T, K>),
            };
            isa.is_supported().then_some(Rows::Separable(h, v))
        }
    }

    impl<T: Element> RowKernels<T> for Rows<T> {
        fn direct(&self, window: &[&[T]], out: &mut [&mut [T]], cols: Range<usize>) {
            match self {
                // SAFETY: `f` comes from `Rows::direct`, which returned it only after
                // `Isa::is_supported` found the features it was compiled with on this
                // CPU; the loop itself is safe code.
                Rows::Direct(f) => unsafe { f(window, out, cols) },
                Rows::Separable(..) => unreachable!("the driver runs separable plans by rows"),
            }
        }

        fn horizontal(&self, src: &[T], dst: &mut [T], cols: Range<usize>) {
            match self {
                // SAFETY: as in `direct`: `Rows::separable` checked the features.
                Rows::Separable(h, _) => unsafe { h(src, dst, cols) },
                Rows::Direct(_) => unreachable!("the driver runs direct plans by windows"),
            }
        }

        fn vertical(&self, rows: &[&[T]], dst: &mut [T]) {
            match self {
                // SAFETY: as in `direct`: `Rows::separable` checked the features.
                Rows::Separable(_, v) => unsafe { v(rows, dst) },
                Rows::Direct(_) => unreachable!("the driver runs direct plans by windows"),
            }
        }
    }

    pub(super) fn direct_base<T, K: DirectRows<T>>(
        w: &[&[T]],
        o: &mut [&mut [T]],
        c: Range<usize>,
    ) {
        K::direct::<false>(w, o, c)
    }

    pub(super) fn horizontal_base<T, K: SeparableRows<T>>(s: &[T], d: &mut [T], c: Range<usize>) {
        K::horizontal::<false>(s, d, c)
    }

    pub(super) fn vertical_base<T, K: SeparableRows<T>>(r: &[&[T]], d: &mut [T]) {
        K::vertical::<false>(r, d)
    }

    /// The same loops compiled with wider vectors and FMA. Each is `unsafe` only
    /// because of `#[target_feature]`: it may run only where the CPU has the
    /// features.
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    pub(super) mod x86 {
        use super::*;

        #[target_feature(enable = "avx512f")]
        pub(crate) unsafe fn direct_avx512<T, K: DirectRows<T>>(
            w: &[&[T]],
            o: &mut [&mut [T]],
            c: Range<usize>,
        ) {
            K::direct::<true>(w, o, c)
        }

        #[target_feature(enable = "avx2,fma")]
        pub(crate) unsafe fn direct_avx2<T, K: DirectRows<T>>(
            w: &[&[T]],
            o: &mut [&mut [T]],
            c: Range<usize>,
        ) {
            K::direct::<true>(w, o, c)
        }

        #[target_feature(enable = "avx512f")]
        pub(crate) unsafe fn horizontal_avx512<T, K: SeparableRows<T>>(
            s: &[T],
            d: &mut [T],
            c: Range<usize>,
        ) {
            K::horizontal::<true>(s, d, c)
        }

        #[target_feature(enable = "avx2,fma")]
        pub(crate) unsafe fn horizontal_avx2<T, K: SeparableRows<T>>(
            s: &[T],
            d: &mut [T],
            c: Range<usize>,
        ) {
            K::horizontal::<true>(s, d, c)
        }

        #[target_feature(enable = "avx512f")]
        pub(crate) unsafe fn vertical_avx512<T, K: SeparableRows<T>>(r: &[&[T]], d: &mut [T]) {
            K::vertical::<true>(r, d)
        }

        #[target_feature(enable = "avx2,fma")]
        pub(crate) unsafe fn vertical_avx2<T, K: SeparableRows<T>>(r: &[&[T]], d: &mut [T]) {
            K::vertical::<true>(r, d)
        }
    }
}
