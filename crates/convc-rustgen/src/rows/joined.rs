//! Heavy horizontal passes: part of a step's shifted input vectors made in
//! registers rather than loaded ([`Joined`]).

use convc_core::DType;
use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use super::{Kind, Loads, Pass, Stores};
use crate::lit::usize_lit;

/// A horizontal pass's step that builds some of its shifted input vectors in
/// registers: it loads the vectors at its first column offset `c0` and one
/// vector further on (`ja`, `jb`) and makes the vector at offset `c0 + d` for
/// odd `d` below the lane count as `simd.join(ja, jb, d)`, a permute, instead
/// of a load. The others are loads (`ja` and `jb` themselves at `d = 0` and `d
/// = lanes`). Only for tokens whose `join` is one instruction
/// (`Simd::CHEAP_JOIN`, 512-bit vectors), whose lane count is `lanes`.
///
/// Why: a 15-tap row filter is bound by its loads, nearly all of them across
/// two cache lines, and the permutes run on FP ports the arithmetic leaves
/// partly idle. Measured in C first (`scripts/probes/horizontal_shifts.c`, a
/// 15-tap horizontal pass over a 4096 x 4096 image on the AMD EPYC, Zen 4): 7.1
/// ms with 15 loads, 5.9 with 2 loads and 14 permutes, 4.5 with the odd offsets
/// shifted. conv!'s gaussian 15x15 at 4096: 13.6-14.0 -> 11.4-12.1 ms.
pub(super) struct Joined {
    /// The first column offset and its source slice.
    c0: usize,
    first: Ident,
    lanes: usize,
}

impl Joined {
    /// `ja` and `jb`.
    pub(super) fn pair(&self) -> TokenStream {
        let s = &self.first;
        quote! {
            let ja = simd.load(#s, i);
            let jb = simd.load(#s, i + S::LANES);
        }
    }

    /// `let x = ...;` for the vector at row `t`, column offset `c`.
    pub(super) fn load(&self, x: &Ident, t: usize, c: usize) -> TokenStream {
        let d = c - self.c0;
        if d == 0 {
            quote!(let #x = ja;)
        } else if d == self.lanes {
            quote!(let #x = jb;)
        } else if d < self.lanes && d % 2 == 1 {
            let d = usize_lit(d);
            quote!(let #x = simd.join(ja, jb, #d);)
        } else {
            let s = format_ident!("s{t}_{c}");
            quote!(let #x = simd.load(#s, i);)
        }
    }
}

impl Pass<'_> {
    /// The horizontal pass of a heavy plan without a column stride: adds its
    /// step with shifted vectors to `fns` and returns the loop over the columns
    /// that runs it (from `i`, over `n` columns, prefetching with `prefetch` at
    /// `at`), for the tokens it suits, before the loop that loads everything;
    /// `None` for other passes. `slices` are the pass's source slices in column
    /// order.
    pub(super) fn joined_steps(
        &self,
        elem: &Ident,
        dtype: DType,
        n: &TokenStream,
        slices: &[Ident],
        prefetch: Option<&TokenStream>,
        fns: &mut TokenStream,
    ) -> Option<TokenStream> {
        let joined = self.joined(dtype, slices)?;
        let step = format_ident!("{}_joined", self.cols_fn());
        let outs = self.outs();
        let body = self.body(dtype, 1, Loads::Joined(&joined), Stores::Plain);
        fns.extend(quote! {
            #[inline(always)]
            fn #step<S: ::convc::__private::Simd<#elem>>(
                simd: S,
                i: usize,
                #(#outs: &mut [#elem],)*
                #(#slices: &[#elem],)*
            ) {
                #body
            }
        });
        // Up to the vector whose neighbour `jb` is the row's last: the last
        // vector or two then load every input.
        let lanes = usize_lit(joined.lanes);
        Some(quote! {
            if S::CHEAP_JOIN && S::LANES == #lanes {
                while i + 2 * S::LANES <= #n {
                    let at = i;
                    #prefetch
                    Self::#step(simd, i, #(#outs,)* #(#slices,)*);
                    i += S::LANES;
                }
            }
        })
    }

    /// The [`Joined`] step of a heavy horizontal pass without a column stride
    /// whose taps read at least two columns; `None` for any other pass.
    fn joined(&self, dtype: DType, slices: &[Ident]) -> Option<Joined> {
        let columns: Vec<usize> = self.sources().into_iter().map(|(_, c)| c).collect();
        if self.kind != Kind::Horizontal || !self.heavy || self.sx != 1 || columns.len() < 2 {
            return None;
        }
        Some(Joined {
            c0: columns[0],
            first: slices[0].clone(),
            lanes: 64 / dtype.size_bytes(),
        })
    }
}
