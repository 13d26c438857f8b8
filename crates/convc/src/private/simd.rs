//! The vectors `conv!` row loops compute with: instruction-set tokens and the
//! vector types they make.
//!
//! A token ([`Avx512`], [`Avx2Fma`], [`Sse2`], [`Portable`]) is a small value
//! whose existence proves that the CPU has its instruction set (pulp's habit):
//! [`Avx512::new`] and [`Avx2Fma::new`] detect the features, and the dispatch in
//! this crate makes them without a check only inside the `#[target_feature]`
//! functions that it calls after detection. Every vector value is made by a token
//! (`load`, `splat`), so holding one proves the same, and its operators are safe.
//! Generated code is generic over the token ([`Simd`]) and contains no `unsafe`.
//! The x86 tokens also carry one flag, whether generated code may write the
//! output with non-temporal stores ([`Simd::streaming`], [`Simd::stream_head`];
//! the runtime sets it for large outputs of direct plans).
//!
//! Every operation rounds like the scalar one it stands for (IEEE add, subtract,
//! multiply, negate; [`Simd::madd`] fused with one rounding in the FMA tokens and
//! their [`Simd::Scalar`], a separate multiply and add otherwise), so a column
//! computed in a vector or by the scalar tail loop gets the same bits.

// The tokens' constructors are `unsafe` (their contract is the CPU's features), and
// the x86 vectors call intrinsics; each block says why it is sound.
#![allow(unsafe_code)]

use std::fmt::Debug;
use std::ops::{Add, Mul, Neg, Sub};

use super::Lanes;

/// An instruction set's vectors of `T`. `LANES` consecutive columns at a time;
/// [`Simd::Scalar`] computes one column with the same rounding (the tail of a row).
pub trait Simd<T: Lanes>: Copy + Debug + 'static {
    /// A vector of `LANES` elements.
    type V: Copy
        + Add<Output = Self::V>
        + Sub<Output = Self::V>
        + Mul<Output = Self::V>
        + Neg<Output = Self::V>;
    /// The one-lane token with the same rounding.
    type Scalar: Simd<T, V = T>;
    /// Elements per vector.
    const LANES: usize;
    /// Whether generated code computes all output rows of a call in one loop
    /// with this token (sharing the input vectors they read), rather than one row
    /// at a time (smaller code: the baseline's and the scalar tokens' choice).
    const WIDE: bool;
    /// Whether [`Simd::join`] is one in-register instruction (512-bit vectors):
    /// generated horizontal passes of heavy plans then make some of their
    /// shifted input vectors with it rather than load them.
    const CHEAP_JOIN: bool = false;
    /// Whether [`Simd::join_const`] is at most two in-register instructions
    /// and a vector is half a cache line (AVX2's 8 x `f32` and 4 x `f64`): generated
    /// horizontal passes of heavy plans then make the shifted input vectors
    /// that would straddle two cache lines with it rather than load them.
    const JOINS_LINES: bool = false;
    /// Whether generated vertical passes of heavy plans multiply each tap on
    /// its own rather than add symmetric pairs first (`c * (a + b)`): with
    /// 16 vector registers, the pairs' rows and the broadcast coefficients do
    /// not fit beside a call's partial sums, and the spills and reloaded
    /// broadcasts, not the arithmetic, bound the pass (AVX2). The token's
    /// [`Simd::Scalar`] answers the same, so that its columns round alike.
    const SPLITS_PAIRS: bool = false;
    /// The token without a check.
    ///
    /// # Safety
    /// The CPU must have the token's instruction set.
    unsafe fn new_unchecked() -> Self;
    /// The one-lane token.
    fn scalar(self) -> Self::Scalar;
    /// Every lane `c`.
    fn splat(self, c: T) -> Self::V;
    /// `s[i..i + LANES]`.
    ///
    /// # Panics
    /// When that range is outside `s` (the row loops' indices never are, and the
    /// check compiles away).
    fn load(self, s: &[T], i: usize) -> Self::V;
    /// Lane `k` is `s[(i + k) * step]`.
    ///
    /// # Panics
    /// When an index is outside `s`.
    fn load_strided(self, s: &[T], i: usize, step: usize) -> Self::V;
    /// `o[i..i + LANES] = v`.
    ///
    /// # Panics
    /// When that range is outside `o`.
    fn store(self, o: &mut [T], i: usize, v: Self::V);
    /// `acc + a * c`: fused (one rounding) where the token has FMA.
    fn madd(self, a: Self::V, c: Self::V, acc: Self::V) -> Self::V;
    /// A hint that the cache line holding `s[i]` is read or written soon
    /// (`prefetcht0` with the x86 tokens, nothing with the others). Any `i` is
    /// allowed: a prefetch past the slice is a hint like any other.
    #[inline(always)]
    fn prefetch(self, s: &[T], i: usize) {
        let _ = (s, i);
    }
    /// [`Simd::prefetch`] of an output row: nothing when the token streams (a
    /// line fetched into the cache would only be evicted again by a streaming
    /// store).
    #[inline(always)]
    fn prefetch_out(self, o: &[T], i: usize) {
        self.prefetch(o, i);
    }
    /// The token, with [`Simd::stream_head`] finding aligned columns to stream
    /// into when `on` (the x86 tokens; the others never stream).
    #[inline(always)]
    fn streaming(self, on: bool) -> Self {
        let _ = on;
        self
    }
    /// The first index of `o` at a vector-aligned address (below `LANES`),
    /// where the token streams; `None` where it does not, or where `o` is not
    /// aligned to its element size (so that no index is).
    #[inline(always)]
    fn stream_head(self, o: &[T]) -> Option<usize> {
        let _ = o;
        None
    }
    /// `o` split around its whole vector-aligned vectors: the elements before
    /// the first, the vectors, the elements after (for the x86 tokens; the
    /// others return all of `o` first). Generated code calls it only where the
    /// token streams ([`Simd::stream_head`]).
    #[inline(always)]
    fn split_aligned(self, o: &mut [T]) -> (&mut [T], &mut [Self::V], &mut [T]) {
        (o, &mut [], &mut [])
    }
    /// A streaming (non-temporal) store of `v` into `slot`, a vector of an
    /// output row ([`Simd::split_aligned`]): the line is written without being
    /// read first. Aligned by its type, so nothing is tested (a branch choosing
    /// between two stores, or a panic on misalignment, in each store of a heavy
    /// step ran it 60-100% slower); a plain store with the tokens that do not
    /// stream.
    #[inline(always)]
    fn store_stream_vector(self, slot: &mut Self::V, v: Self::V) {
        *slot = v;
    }
    /// Lanes `d..LANES` of `lo`, then lanes `0..d` of `hi` (`d < LANES`): the
    /// vector starting `d` columns into `lo` when `hi` follows it in a row. The
    /// streaming steps of heavy passes assemble each row's aligned vectors from
    /// two computed ones with it, where the rows of a call are aligned
    /// differently (one permute with AVX-512, two and a blend with AVX2; through
    /// memory with the other tokens, which never stream).
    ///
    /// # Panics
    /// When `d >= LANES` (only with the tokens that go through memory).
    #[inline(always)]
    fn join(self, lo: Self::V, hi: Self::V, d: usize) -> Self::V {
        let mut lanes = [T::ZERO; 32];
        self.store(&mut lanes, 0, lo);
        self.store(&mut lanes, Self::LANES, hi);
        self.load(&lanes[..2 * Self::LANES], d)
    }
    /// [`Simd::join`] by a constant `D < LANES`, for the tokens that have a
    /// shorter form when `D` is known (AVX2's 8 x `f32` and 4 x `f64`, whose
    /// `join` takes two permutes and a blend for any `d`).
    ///
    /// # Panics
    /// As [`Simd::join`].
    #[inline(always)]
    fn join_const<const D: usize>(self, lo: Self::V, hi: Self::V) -> Self::V {
        self.join(lo, hi, D)
    }
    /// A compiler barrier for memory accesses: no load or store the code
    /// generator emits moves across it (an empty `asm!` block with the x86
    /// tokens, nothing with the others). Emits no instruction; it pins LLVM's
    /// schedule of a long unrolled step, whose loads it would otherwise hoist.
    #[inline(always)]
    fn barrier(self) {}
}

/// One lane, with a fused multiply-add (`mul_add`): the tail of FMA tokens' rows,
/// and their rows narrower than a vector.
#[derive(Debug, Clone, Copy)]
pub struct ScalarFma(());

/// [`ScalarFma`] for the tokens that split symmetric pairs
/// ([`Simd::SPLITS_PAIRS`]): the same arithmetic, in their form.
#[derive(Debug, Clone, Copy)]
pub struct ScalarFmaSplit(());

/// One lane, multiply and add rounded separately: the tail and the rows narrower
/// than a vector of the others.
#[derive(Debug, Clone, Copy)]
pub struct ScalarPlain(());

impl ScalarPlain {
    /// The token (every CPU runs it).
    pub fn new() -> ScalarPlain {
        ScalarPlain(())
    }
}

impl Default for ScalarPlain {
    fn default() -> Self {
        ScalarPlain::new()
    }
}

macro_rules! scalar_token {
    ($token:ident, $t:ty, split = $split:literal, |$a:ident, $c:ident, $acc:ident| $madd:expr) => {
        impl Simd<$t> for $token {
            type V = $t;
            type Scalar = $token;
            const LANES: usize = 1;
            const WIDE: bool = false;
            const SPLITS_PAIRS: bool = $split;
            #[inline(always)]
            unsafe fn new_unchecked() -> Self {
                $token(())
            }
            #[inline(always)]
            fn scalar(self) -> Self {
                self
            }
            #[inline(always)]
            fn splat(self, c: $t) -> $t {
                c
            }
            #[inline(always)]
            fn load(self, s: &[$t], i: usize) -> $t {
                s[i]
            }
            #[inline(always)]
            fn load_strided(self, s: &[$t], i: usize, step: usize) -> $t {
                s[i * step]
            }
            #[inline(always)]
            fn store(self, o: &mut [$t], i: usize, v: $t) {
                o[i] = v;
            }
            #[inline(always)]
            fn madd(self, $a: $t, $c: $t, $acc: $t) -> $t {
                $madd
            }
        }
    };
}

scalar_token!(ScalarFma, f32, split = false, |a, c, acc| a.mul_add(c, acc));
scalar_token!(ScalarFma, f64, split = false, |a, c, acc| a.mul_add(c, acc));
scalar_token!(ScalarFmaSplit, f32, split = true, |a, c, acc| a
    .mul_add(c, acc));
scalar_token!(ScalarPlain, f32, split = false, |a, c, acc| acc + a * c);
scalar_token!(ScalarPlain, f64, split = false, |a, c, acc| acc + a * c);

/// Portable 4 x `f32` / 2 x `f64` lanes as arrays (targets without the x86 tokens).
#[derive(Debug, Clone, Copy)]
pub struct Portable(());

impl Portable {
    /// The token (every CPU runs it).
    pub fn new() -> Portable {
        Portable(())
    }
}

impl Default for Portable {
    fn default() -> Self {
        Portable::new()
    }
}

/// `N` lanes of `T` as an array.
#[derive(Debug, Clone, Copy)]
pub struct Arr<T, const N: usize>([T; N]);

macro_rules! arr_ops {
    ($t:ty, $n:literal) => {
        impl Add for Arr<$t, $n> {
            type Output = Self;
            #[inline(always)]
            fn add(self, o: Self) -> Self {
                Arr(std::array::from_fn(|k| self.0[k] + o.0[k]))
            }
        }
        impl Sub for Arr<$t, $n> {
            type Output = Self;
            #[inline(always)]
            fn sub(self, o: Self) -> Self {
                Arr(std::array::from_fn(|k| self.0[k] - o.0[k]))
            }
        }
        impl Mul for Arr<$t, $n> {
            type Output = Self;
            #[inline(always)]
            fn mul(self, o: Self) -> Self {
                Arr(std::array::from_fn(|k| self.0[k] * o.0[k]))
            }
        }
        impl Neg for Arr<$t, $n> {
            type Output = Self;
            #[inline(always)]
            fn neg(self) -> Self {
                Arr(self.0.map(|v| -v))
            }
        }
        impl Simd<$t> for Portable {
            type V = Arr<$t, $n>;
            type Scalar = ScalarPlain;
            const LANES: usize = $n;
            const WIDE: bool = false;
            #[inline(always)]
            unsafe fn new_unchecked() -> Self {
                Portable(())
            }
            #[inline(always)]
            fn scalar(self) -> ScalarPlain {
                ScalarPlain(())
            }
            #[inline(always)]
            fn splat(self, c: $t) -> Self::V {
                Arr([c; $n])
            }
            #[inline(always)]
            fn load(self, s: &[$t], i: usize) -> Self::V {
                Arr(s[i..][..$n].try_into().expect("the range has N elements"))
            }
            #[inline(always)]
            fn load_strided(self, s: &[$t], i: usize, step: usize) -> Self::V {
                Arr(std::array::from_fn(|k| s[(i + k) * step]))
            }
            #[inline(always)]
            fn store(self, o: &mut [$t], i: usize, v: Self::V) {
                o[i..][..$n].copy_from_slice(&v.0);
            }
            #[inline(always)]
            fn madd(self, a: Self::V, c: Self::V, acc: Self::V) -> Self::V {
                acc + a * c
            }
        }
    };
}

arr_ops!(f32, 4);
arr_ops!(f64, 2);

#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
pub use x86::{Avx2Fma, Avx512, Sse2};

/// Orders this thread's earlier streaming stores before its later stores
/// (`sfence` on x86, the only targets whose tokens stream), so that a thread
/// that synchronizes with this one afterwards sees them.
pub fn store_fence() {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: SSE is part of every x86-64 CPU.
    unsafe {
        std::arch::x86_64::_mm_sfence();
    }
    #[cfg(target_arch = "x86")]
    if std::arch::is_x86_feature_detected!("sse") {
        // SAFETY: the CPU has SSE (checked).
        unsafe { std::arch::x86::_mm_sfence() }
    }
}

/// The x86 tokens and vectors. The only `unsafe` here calls intrinsics, each
/// justified by the token that made the values (see the module docs).
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
mod x86 {
    #[cfg(target_arch = "x86")]
    use std::arch::x86::*;
    #[cfg(target_arch = "x86_64")]
    use std::arch::x86_64::*;
    use std::ops::{Add, Mul, Neg, Sub};

    use super::{ScalarFma, ScalarFmaSplit, ScalarPlain, Simd};

    // Each x86 token holds whether generated code may stream its stores.

    /// AVX-512F: 16 x `f32`, 8 x `f64`, fused multiply-add.
    #[derive(Debug, Clone, Copy)]
    pub struct Avx512(bool);

    /// AVX2 with FMA: 8 x `f32`, 4 x `f64`, fused multiply-add.
    #[derive(Debug, Clone, Copy)]
    pub struct Avx2Fma(bool);

    /// SSE2: 4 x `f32`, 2 x `f64`, multiply and add rounded separately.
    #[derive(Debug, Clone, Copy)]
    pub struct Sse2(bool);

    impl Avx512 {
        /// The token, when this CPU has AVX-512F.
        pub fn new() -> Option<Avx512> {
            std::arch::is_x86_feature_detected!("avx512f").then_some(Avx512(false))
        }
    }

    impl Avx2Fma {
        /// The token, when this CPU has AVX2 and FMA.
        pub fn new() -> Option<Avx2Fma> {
            (std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma"))
            .then_some(Avx2Fma(false))
        }
    }

    impl Sse2 {
        /// The token, when this CPU has SSE2 (every x86-64 CPU does).
        pub fn new() -> Option<Sse2> {
            std::arch::is_x86_feature_detected!("sse2").then_some(Sse2(false))
        }
    }

    /// `Simd::join` of 8 x `f32` by AVX2: each source permuted by `(l + d) % 8`,
    /// then lanes `l + d >= 8` from `hi`.
    ///
    /// # Safety
    /// The CPU must have AVX2.
    #[inline(always)]
    unsafe fn join_avx2(lo: __m256, hi: __m256, d: i32) -> __m256 {
        // SAFETY: the caller's token proves AVX2.
        unsafe {
            let from = _mm256_add_epi32(
                _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                _mm256_set1_epi32(d),
            );
            let idx = _mm256_and_si256(from, _mm256_set1_epi32(7));
            let upper = _mm256_cmpgt_epi32(from, _mm256_set1_epi32(7));
            _mm256_blendv_ps(
                _mm256_permutevar8x32_ps(lo, idx),
                _mm256_permutevar8x32_ps(hi, idx),
                _mm256_castsi256_ps(upper),
            )
        }
    }

    /// `Simd::join_const::<D>` of 8 x `f32` by AVX2: the two 128-bit halves
    /// between `lo` and `hi` (`vperm2f128`), then one byte shift within each
    /// half (`vpalignr`) unless `D` is 0, 4 or 8.
    ///
    /// The shift is written in `asm!`: LLVM lowers the same shuffle written with
    /// intrinsics to two `vshufps` for odd `D` (the seventeenth session's build
    /// of gaussian 15x15: 18 shuffles per vector where 15 loads had been).
    ///
    /// # Safety
    /// The CPU must have AVX2.
    #[inline(always)]
    unsafe fn join_const_avx2<const D: usize>(lo: __m256, hi: __m256) -> __m256 {
        // SAFETY: the caller's token proves AVX2.
        unsafe {
            let mid = _mm256_permute2f128_ps::<0x21>(lo, hi);
            match D {
                0 => lo,
                1..4 => alignr_avx2(mid, lo, D),
                4 => mid,
                5..8 => alignr_avx2(hi, mid, D - 4),
                _ => hi,
            }
        }
    }

    /// `Simd::join_const::<D>` of 4 x `f64` by AVX2: [`join_const_avx2`] of
    /// twice as many `f32` lanes (`vperm2f128`, then `vpalignr` by 8 bytes for
    /// odd `D`).
    ///
    /// # Safety
    /// The CPU must have AVX2.
    #[inline(always)]
    unsafe fn join_const_avx2_f64<const D: usize>(lo: __m256d, hi: __m256d) -> __m256d {
        // SAFETY: the caller's token proves AVX2.
        unsafe {
            let (lo, hi) = (_mm256_castpd_ps(lo), _mm256_castpd_ps(hi));
            let joined = match D {
                0 => lo,
                1 => join_const_avx2::<2>(lo, hi),
                2 => join_const_avx2::<4>(lo, hi),
                3 => join_const_avx2::<6>(lo, hi),
                _ => hi,
            };
            _mm256_castps_pd(joined)
        }
    }

    /// Lanes `d..d + 4` of each 128-bit half of `hi:lo` (`vpalignr` by `4 d`
    /// bytes, `d` 1 to 3 and constant after inlining).
    ///
    /// # Safety
    /// The CPU must have AVX2.
    // Not `inline(always)`, which `target_feature` excludes; inlined into the
    // AVX2 code that calls it all the same (its features are a subset).
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn alignr_avx2(hi: __m256, lo: __m256, d: usize) -> __m256 {
        let out: __m256;
        // SAFETY: reads and writes registers only; the caller proves AVX2,
        // which `ymm` operands and `vpalignr` need.
        unsafe {
            match d {
                1 => {
                    std::arch::asm!("vpalignr {o}, {h}, {l}, 4", o = lateout(ymm_reg) out, h = in(ymm_reg) hi, l = in(ymm_reg) lo, options(pure, nomem, nostack, preserves_flags))
                }
                2 => {
                    std::arch::asm!("vpalignr {o}, {h}, {l}, 8", o = lateout(ymm_reg) out, h = in(ymm_reg) hi, l = in(ymm_reg) lo, options(pure, nomem, nostack, preserves_flags))
                }
                _ => {
                    std::arch::asm!("vpalignr {o}, {h}, {l}, 12", o = lateout(ymm_reg) out, h = in(ymm_reg) hi, l = in(ymm_reg) lo, options(pure, nomem, nostack, preserves_flags))
                }
            }
        }
        out
    }

    /// One vector type: its token, lanes, and the intrinsics of each operation.
    macro_rules! vector {
        (@given $($x:tt)+) => { true };
        (@given) => { false };
        (
            $(#[$doc:meta])*
            $name:ident($raw:ty): $token:ident, $t:ty, $lanes:literal, $scalar:ident, wide = $wide:literal, split = $split:literal,
            feature = $feature:literal, stream = $stream:ident,
            add = $add:ident, sub = $sub:ident, mul = $mul:ident, set1 = $set1:ident,
            madd = |$a:ident, $c:ident, $acc:ident| $madd:expr,
            evens = |$elo:ident, $ehi:ident| $evens:expr
            $(, join = |$lo:ident, $hi:ident, $d:ident| $join:expr)?
            $(, join_const = |$clo:ident, $chi:ident| $join_const:expr)?
        ) => {
            $(#[$doc])*
            #[derive(Debug, Clone, Copy)]
            #[repr(transparent)]
            pub struct $name($raw);

            // SAFETY (every block of this impl and the operators): a `$name` exists
            // only if a `$token` made it, which proves the CPU has `$feature`; the
            // intrinsics need nothing else. Loads and stores transmute between
            // `[$t; $lanes]` and `$raw`, which have the same size and every bit
            // pattern valid, after bounds-checked slicing.
            impl Add for $name {
                type Output = Self;
                #[inline(always)]
                fn add(self, o: Self) -> Self {
                    $name(unsafe { $add(self.0, o.0) })
                }
            }
            impl Sub for $name {
                type Output = Self;
                #[inline(always)]
                fn sub(self, o: Self) -> Self {
                    $name(unsafe { $sub(self.0, o.0) })
                }
            }
            impl Mul for $name {
                type Output = Self;
                #[inline(always)]
                fn mul(self, o: Self) -> Self {
                    $name(unsafe { $mul(self.0, o.0) })
                }
            }
            impl Neg for $name {
                type Output = Self;
                /// `-0.0 - x`: exactly `-x` for every `x`, zeros included.
                #[inline(always)]
                fn neg(self) -> Self {
                    $name(unsafe { $sub($set1(-0.0), self.0) })
                }
            }
            impl Simd<$t> for $token {
                type V = $name;
                type Scalar = $scalar;
                const LANES: usize = $lanes;
                const WIDE: bool = $wide;
                const CHEAP_JOIN: bool = $lanes * ::std::mem::size_of::<$t>() == 64;
                const JOINS_LINES: bool = vector!(@given $($join_const)?);
                const SPLITS_PAIRS: bool = $split;
                #[inline(always)]
                unsafe fn new_unchecked() -> Self {
                    $token(false)
                }
                #[inline(always)]
                fn scalar(self) -> $scalar {
                    $scalar(())
                }
                #[inline(always)]
                fn splat(self, c: $t) -> $name {
                    $name(unsafe { $set1(c) })
                }
                #[inline(always)]
                fn load(self, s: &[$t], i: usize) -> $name {
                    let lanes: &[$t; $lanes] = s[i..][..$lanes].try_into().expect("$lanes lanes");
                    // A transmute rather than the `loadu` intrinsic: the same
                    // unaligned load, without the copy (and its debug-build checks)
                    // that the intrinsic is written with.
                    $name(unsafe { std::mem::transmute::<[$t; $lanes], $raw>(*lanes) })
                }
                #[inline(always)]
                fn load_strided(self, s: &[$t], i: usize, step: usize) -> $name {
                    if step == 2 {
                        // Two loads and one or two shuffles rather than a lane at a
                        // time (a stride-2 blur spent most of its time inserting
                        // lanes). `$ehi` starts a column early, so that the last
                        // column read is the last lane's, as below.
                        let $elo = self.load(s, 2 * i);
                        let $ehi = self.load(s, 2 * i + $lanes - 1);
                        return $name(unsafe { $evens });
                    }
                    let lanes: [$t; $lanes] = std::array::from_fn(|k| s[(i + k) * step]);
                    $name(unsafe { std::mem::transmute::<[$t; $lanes], $raw>(lanes) })
                }
                #[inline(always)]
                fn store(self, o: &mut [$t], i: usize, v: $name) {
                    let lanes: &mut [$t; $lanes] =
                        (&mut o[i..][..$lanes]).try_into().expect("$lanes lanes");
                    *lanes = unsafe { std::mem::transmute::<$raw, [$t; $lanes]>(v.0) };
                }
                #[inline(always)]
                fn madd(self, $a: $name, $c: $name, $acc: $name) -> $name {
                    $name(unsafe { $madd })
                }
                #[inline(always)]
                fn prefetch(self, s: &[$t], i: usize) {
                    // SAFETY: a prefetch is a hint: it never faults and changes
                    // nothing a program can observe, whatever the address (hence
                    // `wrapping_add`, which makes no claim about it either).
                    unsafe { _mm_prefetch::<_MM_HINT_T0>(s.as_ptr().wrapping_add(i).cast::<i8>()) }
                }
                #[inline(always)]
                fn prefetch_out(self, o: &[$t], i: usize) {
                    if !self.0 {
                        self.prefetch(o, i);
                    }
                }
                #[inline(always)]
                fn streaming(self, on: bool) -> Self {
                    $token(on)
                }
                #[inline(always)]
                fn stream_head(self, o: &[$t]) -> Option<usize> {
                    const ALIGN: usize = std::mem::size_of::<$raw>();
                    let misaligned = o.as_ptr() as usize % ALIGN;
                    if !self.0 || misaligned % std::mem::size_of::<$t>() != 0 {
                        return None;
                    }
                    Some((ALIGN - misaligned) % ALIGN / std::mem::size_of::<$t>())
                }
                #[inline(always)]
                fn split_aligned(self, o: &mut [$t]) -> (&mut [$t], &mut [$name], &mut [$t]) {
                    // Computed here rather than by `align_to_mut`, which may leave
                    // aligned elements in its prefix: generated code relies on
                    // vector 0 starting at the first aligned element.
                    const ALIGN: usize = std::mem::size_of::<$raw>();
                    let misaligned = o.as_ptr() as usize % ALIGN;
                    if misaligned % std::mem::size_of::<$t>() != 0 {
                        return (o, &mut [], &mut []);
                    }
                    let head = ((ALIGN - misaligned) % ALIGN / std::mem::size_of::<$t>()).min(o.len());
                    let (prefix, rest) = o.split_at_mut(head);
                    let vectors = rest.len() / $lanes;
                    if vectors == 0 {
                        // (`rest` may start unaligned when `o` ends before `head`.)
                        return (prefix, &mut [], rest);
                    }
                    let (middle, suffix) = rest.split_at_mut(vectors * $lanes);
                    // SAFETY: `middle` starts at an address aligned to `$name`'s
                    // size and alignment (`$name` is `$raw`, `repr(transparent)`)
                    // and holds `vectors` times `$lanes` `$t`, which is what
                    // `vectors` `$name` are, every bit pattern valid, no padding;
                    // it is borrowed mutably for the result's lifetime.
                    let middle = unsafe {
                        std::slice::from_raw_parts_mut(middle.as_mut_ptr().cast::<$name>(), vectors)
                    };
                    (prefix, middle, suffix)
                }
                #[inline(always)]
                fn store_stream_vector(self, slot: &mut $name, v: $name) {
                    // SAFETY: `slot` is a valid `$name`, aligned to the vector's
                    // size as the non-temporal store requires (by its type).
                    unsafe { $stream((slot as *mut $name).cast::<$t>(), v.0) }
                }
                $(
                #[inline(always)]
                fn join(self, $lo: $name, $hi: $name, $d: usize) -> $name {
                    debug_assert!($d < $lanes);
                    // SAFETY: see the impl; `$d < $lanes` keeps every index in
                    // the two sources (and any index picks some lane: no fault).
                    $name(unsafe { $join })
                }
                )?
                $(
                #[inline(always)]
                fn join_const<const D: usize>(self, $clo: $name, $chi: $name) -> $name {
                    debug_assert!(D < $lanes);
                    // SAFETY: see the impl.
                    $name(unsafe { $join_const })
                }
                )?
                #[inline(always)]
                fn barrier(self) {
                    // SAFETY: an empty block: it reads and writes nothing; without
                    // `nomem`, the compiler assumes it may touch memory, so no load
                    // or store moves across it.
                    unsafe { std::arch::asm!("", options(nostack, preserves_flags)) }
                }
            }
        };
    }

    vector!(
        /// 16 x `f32` (AVX-512F).
        F32x16(__m512): Avx512, f32, 16, ScalarFma, wide = true, split = false, feature = "avx512f", stream = _mm512_stream_ps,
        add = _mm512_add_ps, sub = _mm512_sub_ps, mul = _mm512_mul_ps, set1 = _mm512_set1_ps,
        madd = |a, c, acc| _mm512_fmadd_ps(a.0, c.0, acc.0),
        evens = |lo, hi| {
            let lanes = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 17, 19, 21, 23, 25, 27, 29, 31);
            _mm512_permutex2var_ps(lo.0, lanes, hi.0)
        },
        join = |lo, hi, d| {
            let lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
            // Index bit 4 picks `hi`.
            _mm512_permutex2var_ps(lo.0, _mm512_add_epi32(lanes, _mm512_set1_epi32(d as i32)), hi.0)
        }
    );
    vector!(
        /// 8 x `f64` (AVX-512F).
        F64x8(__m512d): Avx512, f64, 8, ScalarFma, wide = true, split = false, feature = "avx512f", stream = _mm512_stream_pd,
        add = _mm512_add_pd, sub = _mm512_sub_pd, mul = _mm512_mul_pd, set1 = _mm512_set1_pd,
        madd = |a, c, acc| _mm512_fmadd_pd(a.0, c.0, acc.0),
        evens = |lo, hi| {
            let lanes = _mm512_setr_epi64(0, 2, 4, 6, 9, 11, 13, 15);
            _mm512_permutex2var_pd(lo.0, lanes, hi.0)
        },
        join = |lo, hi, d| {
            let lanes = _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7);
            // Index bit 3 picks `hi`.
            _mm512_permutex2var_pd(lo.0, _mm512_add_epi64(lanes, _mm512_set1_epi64(d as i64)), hi.0)
        }
    );
    vector!(
        /// 8 x `f32` (AVX2 + FMA).
        F32x8(__m256): Avx2Fma, f32, 8, ScalarFmaSplit, wide = true, split = true, feature = "avx2,fma", stream = _mm256_stream_ps,
        add = _mm256_add_ps, sub = _mm256_sub_ps, mul = _mm256_mul_ps, set1 = _mm256_set1_ps,
        madd = |a, c, acc| _mm256_fmadd_ps(a.0, c.0, acc.0),
        // Lanes lo0 lo2 hi1 hi3 | lo4 lo6 hi5 hi7, then their middle pairs swapped.
        evens = |lo, hi| _mm256_castpd_ps(_mm256_permute4x64_pd::<0b11_01_10_00>(
            _mm256_castps_pd(_mm256_shuffle_ps::<0b11_01_10_00>(lo.0, hi.0))
        )),
        join = |lo, hi, d| join_avx2(lo.0, hi.0, d as i32),
        join_const = |lo, hi| join_const_avx2::<D>(lo.0, hi.0)
    );
    vector!(
        /// 4 x `f64` (AVX2 + FMA).
        F64x4(__m256d): Avx2Fma, f64, 4, ScalarFma, wide = true, split = false, feature = "avx2,fma", stream = _mm256_stream_pd,
        add = _mm256_add_pd, sub = _mm256_sub_pd, mul = _mm256_mul_pd, set1 = _mm256_set1_pd,
        madd = |a, c, acc| _mm256_fmadd_pd(a.0, c.0, acc.0),
        // Lanes lo0 hi1 lo2 hi3, then the middle two swapped.
        evens = |lo, hi| _mm256_permute4x64_pd::<0b11_01_10_00>(
            _mm256_shuffle_pd::<0b1010>(lo.0, hi.0)
        ),
        join = |lo, hi, d| {
            // Lane `l` of `f64` is lanes `2l, 2l + 1` of `f32`.
            let (lo, hi) = (_mm256_castpd_ps(lo.0), _mm256_castpd_ps(hi.0));
            _mm256_castps_pd(join_avx2(lo, hi, 2 * d as i32))
        },
        join_const = |lo, hi| join_const_avx2_f64::<D>(lo.0, hi.0)
    );
    vector!(
        /// 4 x `f32` (SSE2).
        F32x4(__m128): Sse2, f32, 4, ScalarPlain, wide = false, split = false, feature = "sse2", stream = _mm_stream_ps,
        add = _mm_add_ps, sub = _mm_sub_ps, mul = _mm_mul_ps, set1 = _mm_set1_ps,
        madd = |a, c, acc| _mm_add_ps(acc.0, _mm_mul_ps(a.0, c.0)),
        evens = |lo, hi| _mm_shuffle_ps::<0b11_01_10_00>(lo.0, hi.0)
    );
    vector!(
        /// 2 x `f64` (SSE2).
        F64x2(__m128d): Sse2, f64, 2, ScalarPlain, wide = false, split = false, feature = "sse2", stream = _mm_stream_pd,
        add = _mm_add_pd, sub = _mm_sub_pd, mul = _mm_mul_pd, set1 = _mm_set1_pd,
        madd = |a, c, acc| _mm_add_pd(acc.0, _mm_mul_pd(a.0, c.0)),
        evens = |lo, hi| _mm_shuffle_pd::<0b10>(lo.0, hi.0)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every operation, at columns `i..i + U::LANES`.
    fn ops<T: Lanes, U: Simd<T>>(u: U, xs: &[T], out: &mut [T], i: usize) {
        let (a, b) = (u.load(xs, i), u.load_strided(xs, i, 2));
        let v = u.madd(a - b, u.splat(T::from_f64(0.1)), -(a * b) + a);
        u.store(out, i, v);
    }

    /// The token's vectors and its scalar twin give the same bits.
    fn same_bits<T: Lanes + PartialEq, S: Simd<T>>(s: S) {
        let xs: Vec<T> = (0..64)
            .map(|i| T::from_f64((i as f64 * 0.37).sin() * 1e3))
            .collect();
        let mut got = vec![T::ZERO; 32];
        let mut want = vec![T::ZERO; 32];
        for i in (0..32).step_by(S::LANES) {
            ops(s, &xs, &mut got, i);
        }
        for i in 0..32 {
            ops(s.scalar(), &xs, &mut want, i);
        }
        assert!(got == want, "{s:?}");
    }

    /// Whether `S` and its scalar twin compute heavy vertical passes alike.
    fn twin_splits_alike<T: Lanes, S: Simd<T>>() -> bool {
        S::SPLITS_PAIRS == <S::Scalar as Simd<T>>::SPLITS_PAIRS
    }

    #[test]
    fn scalar_twins_split_pairs_like_their_tokens() {
        // A column computed by the scalar twin (a row's tail, a narrow image)
        // must get the bits its token's vectors would give it.
        assert!(twin_splits_alike::<f32, Portable>());
        assert!(twin_splits_alike::<f64, Portable>());
        assert!(twin_splits_alike::<f32, ScalarFmaSplit>());
        #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
        {
            assert!(twin_splits_alike::<f32, Sse2>());
            assert!(twin_splits_alike::<f64, Sse2>());
            assert!(twin_splits_alike::<f32, Avx2Fma>());
            assert!(twin_splits_alike::<f64, Avx2Fma>());
            assert!(twin_splits_alike::<f32, Avx512>());
            assert!(twin_splits_alike::<f64, Avx512>());
            // Only 8 x f32 with AVX2 splits (measured there; f64 was not).
            let splits = [
                <Avx2Fma as Simd<f32>>::SPLITS_PAIRS,
                <Avx2Fma as Simd<f64>>::SPLITS_PAIRS,
                <Avx512 as Simd<f32>>::SPLITS_PAIRS,
            ];
            assert_eq!(splits, [true, false, false]);
        }
    }

    /// Runs the generic check `$check` for `f32` and `f64` with every x86
    /// token the host has.
    macro_rules! with_x86_tokens {
        ($check:ident) => {
            #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
            {
                if let Some(s) = Sse2::new() {
                    $check::<f32, _>(s);
                    $check::<f64, _>(s);
                }
                if let Some(s) = Avx2Fma::new() {
                    $check::<f32, _>(s);
                    $check::<f64, _>(s);
                }
                if let Some(s) = Avx512::new() {
                    $check::<f32, _>(s);
                    $check::<f64, _>(s);
                }
            }
        };
    }

    /// Strided loads read every `step`-th element from `i * step`, up to the
    /// last element of the slice and no further.
    fn strided<T: Lanes + PartialEq, S: Simd<T>>(s: S) {
        let xs: Vec<T> = (0..200).map(|i| T::from_f64(i as f64 + 0.25)).collect();
        for step in 1..=4 {
            for i in 0..20 {
                let last = (i + S::LANES - 1) * step;
                let src = &xs[..=last];
                let mut got = [T::ZERO; 16];
                s.store(&mut got, 0, s.load_strided(src, i, step));
                let want: Vec<T> = (0..S::LANES).map(|k| xs[(i + k) * step]).collect();
                assert!(got[..S::LANES] == want[..], "{s:?} step {step} at {i}");
            }
        }
    }

    #[test]
    fn strided_loads_read_every_step_th_element_to_the_slice_end() {
        strided::<f32, _>(Portable::new());
        strided::<f64, _>(Portable::new());
        with_x86_tokens!(strided);
    }

    #[test]
    fn vectors_round_like_their_scalar_tail() {
        same_bits::<f32, _>(Portable::new());
        same_bits::<f64, _>(Portable::new());
        with_x86_tokens!(same_bits);
    }

    /// `split_aligned` starts its vectors at `stream_head`, holds every whole
    /// vector after it, and streaming stores land where plain ones would.
    fn aligned_split<T: Lanes + PartialEq, S: Simd<T>>(s: S) {
        let s = s.streaming(true);
        let xs: Vec<T> = (0..16).map(|i| T::from_f64(i as f64)).collect();
        let mut buf = [T::ZERO; 200];
        for start in 0..20 {
            for len in [0, 3, S::LANES, 100, 200 - start] {
                let o = &mut buf[start..start + len];
                let head = s.stream_head(o).expect("the token streams");
                let base = o.as_ptr() as usize;
                let (prefix, vectors, suffix) = s.split_aligned(o);
                assert_eq!(prefix.len(), head.min(len), "{s:?} {start} {len}");
                assert_eq!(vectors.len(), (len - prefix.len()) / S::LANES);
                assert_eq!(prefix.len() + vectors.len() * S::LANES + suffix.len(), len);
                if let Some(v0) = vectors.first_mut() {
                    let at = v0 as *mut S::V as usize;
                    assert_eq!(at, base + head * std::mem::size_of::<T>());
                    assert_eq!(at % std::mem::size_of::<S::V>(), 0);
                    let x = s.load(&xs, 0);
                    s.store_stream_vector(v0, x);
                }
            }
        }
        store_fence();
        // The last split of each start wrote xs[..LANES] at its head.
        let o = &buf[19..];
        let head = s.stream_head(o).unwrap();
        assert!(o[head..head + S::LANES] == xs[..S::LANES], "{s:?}");
    }

    #[test]
    fn aligned_splits_start_at_the_stream_head() {
        with_x86_tokens!(aligned_split);
    }

    /// `join(lo, hi, d)` is the vector `d` columns into `lo`, for every `d`.
    fn joins<T: Lanes + PartialEq, S: Simd<T>>(s: S) {
        let xs: Vec<T> = (0..32).map(|i| T::from_f64(i as f64 + 0.5)).collect();
        let (lo, hi) = (s.load(&xs, 0), s.load(&xs, S::LANES));
        for d in 0..S::LANES {
            let mut got = [T::ZERO; 16];
            s.store(&mut got, 0, s.join(lo, hi, d));
            assert!(got[..S::LANES] == xs[d..d + S::LANES], "{s:?} d = {d}");
        }
        // `join_const` likewise, for every constant below the lane count.
        macro_rules! each_constant {
            ($($d:literal)*) => {$(
                if $d < S::LANES {
                    let mut got = [T::ZERO; 16];
                    s.store(&mut got, 0, s.join_const::<$d>(lo, hi));
                    assert!(got[..S::LANES] == xs[$d..$d + S::LANES], "{s:?} join_const D = {}", $d);
                }
            )*};
        }
        each_constant!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15);
    }

    #[test]
    fn joins_shift_two_vectors_by_every_lane_count() {
        joins::<f32, _>(Portable::new());
        joins::<f64, _>(Portable::new());
        joins::<f32, _>(ScalarFma(()));
        with_x86_tokens!(joins);
    }
}
