//! Which instruction sets a Plan's generated loops may run: decided at macro time
//! from the Plan, applied at run time by `convc::Isa::best_up_to`.

use convc_core::Plan;
use convc_core::plan::Method;
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

/// Taps of a pass above which it is compute-bound (the Plan's own threshold for
/// two rows per call instead of four).
pub const HEAVY_TAPS: usize = 25;

/// The widest variant for `plan`: AVX-512F when some pass has more than
/// [`HEAVY_TAPS`] taps (its multiply-adds dominate, and twice the lanes pay),
/// AVX2 + FMA otherwise (light stencils are bound by loads and memory traffic, and
/// on the AMD EPYC this was measured on, AVX-512's unaligned 64-byte loads, most of
/// which straddle two cache lines, made them 8-20% slower).
pub fn widest(plan: &Plan) -> Widest {
    let taps = match &plan.method {
        Method::Direct(st) => st.taps(),
        Method::Separable {
            vertical,
            horizontal,
        } => vertical.taps().max(horizontal.taps()),
    };
    if taps > HEAVY_TAPS {
        Widest::Avx512
    } else {
        Widest::Avx2Fma
    }
}
