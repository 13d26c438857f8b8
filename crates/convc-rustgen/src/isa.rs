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

/// The widest variant for `plan`: AVX-512F when the plan is heavy
/// ([`Plan::is_heavy`]: more than 25 taps per output pixel, the two separable
/// passes' together), whose multiply-adds dominate so that twice the lanes pay;
/// AVX2 + FMA otherwise. Light stencils are bound by loads and memory traffic: on
/// an AMD EPYC, AVX-512's unaligned 64-byte loads, most of which straddle two
/// cache lines, made them 8-20% slower, and on an Intel Xeon they were no faster,
/// while a separable 15x15 Gaussian (15 + 15 taps) ran 15-20% faster with AVX-512.
pub fn widest(plan: &Plan) -> Widest {
    if plan.is_heavy() {
        Widest::Avx512
    } else {
        Widest::Avx2Fma
    }
}
