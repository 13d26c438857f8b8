//! Which instruction sets a Plan's generated loops may run: decided at macro time
//! from the Plan, applied at run time by `convc::Isa::best_up_to`.

use convc_core::Plan;
use proc_macro2::TokenStream;
use quote::quote;

/// The widest variant the generated code should run (where the CPU has it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Widest {
    /// AVX2 with FMA (256-bit vectors).
    Avx2Fma,
    /// AVX-512F (512-bit vectors).
    Avx512,
}

impl Widest {
    /// The `::convc::__private::Variants` type that compiles up to this one.
    pub(crate) fn tokens(self) -> TokenStream {
        match self {
            Widest::Avx2Fma => quote!(::convc::__private::UpToAvx2Fma),
            Widest::Avx512 => quote!(::convc::__private::UpToAvx512),
        }
    }
}

/// The widest variant for `plan`: AVX-512F, except for light plans
/// ([`Plan::is_heavy`] false: at most 25 taps per output pixel) with a column
/// stride above 2, which AVX2 + FMA serves better: their strided loads gather
/// one lane at a time, and 16 lanes cost more than twice 8 (stride 2 3x3 at
/// 4096 x 4096 on an Intel Xeon, when stride 2 gathered too: 8.5 ms with AVX2,
/// 27 with AVX-512). A stride of 2 loads two vectors and shuffles them
/// (`Simd::load_strided`); on the AMD Zen 4 its 3x3 blur ran 4.2-5.2 ms with
/// AVX2 and 3.7-4.5 with AVX-512 (five alternating runs).
///
/// Light stride-1 plans used to stop at AVX2 too: on an AMD EPYC, AVX-512's
/// unaligned 64-byte loads, most of which straddle two cache lines, made the
/// memory-bound stencils 8-20% slower. On the Xeon, with the streaming output
/// stores, AVX-512 is faster for them (sobel 8.4 -> 7.3 ms, dilation 2 3x3
/// 10.1 -> 8.2; in cache, at 1024 x 1024, 4% and 8%), as for heavy plans
/// (gaussian 15x15 18 -> 15 ms, dense 7x7 1.6x).
pub fn widest(plan: &Plan) -> Widest {
    if plan.is_heavy() || plan.stride.x <= 2 {
        Widest::Avx512
    } else {
        Widest::Avx2Fma
    }
}
