//! Light passes streaming rows that are aligned differently: where every
//! output row of a call streams but their aligned vectors start at different
//! columns (widths that are not a multiple of a vector), the single-vector
//! steps still stream, each row's aligned vectors assembled from two computed
//! ones (`Simd::join`).
//!
//! The steps' columns start at a column `f` below a vector: where the pass
//! reads the driver's ring (the fused sweep, and the vertical pass run
//! horizontal pass first), the ring rows' first aligned column, so that every
//! ring access is aligned; otherwise row 0's first aligned column `e0`. (The
//! ring is laid out at the band's first output row's alignment, which a
//! call's first row shares only where every row is aligned alike.) Row `j`'s
//! aligned vectors start `z{j}` columns into a step's vector. Each step
//! computes its vectors, then streams into row `j` the aligned vector that
//! starts `z{j}` columns into the previous step's, completed by its own
//! ([`Stores::DeferredShifted`]: after the step's loads, as the single-vector
//! steps that stream aligned rows do). Each row's columns before its first
//! streamed vector and after its last are computed into scratch rows and
//! copied, so that no cache line gets both kinds of store.
//!
//! Measured on an AMD Zen 4 (`convc bench`, the builds alternating): at
//! 4099 x 4099 sobel 7.3-8.5 -> 6.2-6.7 ms, gaussian 5x5 (the fused sweep)
//! 9.0-9.3 -> 7.8-8.0 with the steps at `e0`, and in a quieter hour 8.5-8.9
//! -> 7.3-7.5 at `e0` -> 6.3-7.3 at the ring's column; gaussian 15x15 (its
//! single-vector vertical pass) 11.6-13.9 -> 10.4-11.2; at 4104 x 4104,
//! whose rows are 32 bytes apart modulo a line, gaussian 5x5 8.5-11.0 ->
//! 6.8-7.3. The sweep runs after the aligned rows' loop has declined: placed
//! before it, it cost sobel at 4096, where it never runs, about 5%.

use convc_core::DType;
use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use super::{Kind, Loads, MAX_LANES, Pass, Stores};
use crate::lit::usize_lit;

/// A call of a sweep's one-vector function that stores plainly: given the
/// column, the output rows and, for the tail, the column the inputs start
/// from (`None`: 0).
pub(super) type PlainCall<'a> =
    &'a dyn Fn(TokenStream, &[TokenStream], Option<&Ident>) -> TokenStream;

/// How [`Pass::shifted_sweep`] calls a sweep's one-vector functions.
pub(super) struct SweepCalls<'a> {
    /// One vector of columns stored plainly.
    pub plain: PlainCall<'a>,
    /// The streaming step at column `i`, into vector `k` of each `m{j}`, with
    /// `p` (the previous step's vectors) and the shifts `z{j}`.
    pub step: TokenStream,
    /// Statements before each step (prefetches).
    pub before_step: &'a [TokenStream],
    /// The first column of the steps (below `LANES`), given the rows' first
    /// aligned columns `e{j}`.
    pub frame: TokenStream,
}

impl Pass<'_> {
    /// The one-vector step `{cols_fn}_shifted` of [`Stores::DeferredShifted`],
    /// reading `inputs` (the parameters after the shifts `d{j}`).
    pub(super) fn shifted_step(
        &self,
        elem: &Ident,
        dtype: DType,
        inputs: &[TokenStream],
    ) -> (Ident, TokenStream) {
        let name = format_ident!("{}_shifted", self.cols_fn());
        let simd = quote!(S: ::convc::__private::Simd<#elem>);
        let (vecs, shifts) = (self.per_row("m"), self.per_row("d"));
        let pending = usize_lit(self.outputs);
        let body = self.body(dtype, 1, Loads::Slices, Stores::DeferredShifted);
        let function = quote! {
            /// One vector of columns, streamed into rows aligned `d{j}`
            /// columns past its own, one step late.
            #[inline(always)]
            fn #name<#simd>(
                simd: S,
                i: usize,
                k: usize,
                #(#vecs: &mut [S::V],)*
                p: &mut [S::V; #pending],
                #(#shifts: usize,)*
                #(#inputs,)*
            ) {
                #(let #vecs = &mut #vecs[k..][..1];)*
                #body
            }
        };
        (name, function)
    }

    /// Whether the pass's own loops stream rows aligned differently through
    /// [`Pass::single_shifted`] (and so define `{cols_fn}_shifted`).
    pub(super) fn streams_single_shifted(&self) -> bool {
        self.streams && self.outputs > 1 && self.sx == 1 && self.vectors() == 1
    }

    /// [`Pass::shifted_sweep`] for a single-vector pass (`{cols_fn}` over the
    /// input `slices`): adds its step function to `fns`.
    pub(super) fn single_shifted(
        &self,
        elem: &Ident,
        dtype: DType,
        n: &TokenStream,
        slices: &[Ident],
        prefetches: &[TokenStream],
        fns: &mut TokenStream,
    ) -> TokenStream {
        let params: Vec<TokenStream> = slices.iter().map(|s| quote!(#s: &[#elem])).collect();
        let (step_fn, function) = self.shifted_step(elem, dtype, &params);
        fns.extend(function);
        let cols_fn = self.cols_fn();
        let (vecs, shifts) = (self.per_row("m"), self.per_row("z"));
        let plain = |at: TokenStream, outs: &[TokenStream], base: Option<&Ident>| {
            let inputs = match base {
                None => quote!(#(#slices,)*),
                Some(b) => quote!(#(&#slices[#b..],)*),
            };
            quote!(Self::#cols_fn(simd, #at, #(#outs,)* #inputs))
        };
        let step = quote!(Self::#step_fn(simd, i, k, #(#vecs,)* &mut p, #(#shifts,)* #(#slices,)*));
        let calls = SweepCalls {
            plain: &plain,
            step,
            before_step: prefetches,
            frame: if self.kind == Kind::Vertical {
                let first = &slices[0];
                quote!(simd.stream_head(#first).unwrap_or(e0))
            } else {
                quote!(e0)
            },
        };
        self.shifted_sweep(elem, n, calls)
    }

    /// The sweep over the `n` columns of the output rows (sliced to the
    /// call's columns) where every row streams from a different first aligned
    /// column: runs and returns, or falls through where the rows are aligned
    /// alike, the token does not stream or the row holds fewer than four
    /// vectors. Only for passes of several output rows.
    pub(super) fn shifted_sweep(
        &self,
        elem: &Ident,
        n: &TokenStream,
        calls: SweepCalls<'_>,
    ) -> TokenStream {
        let outs = self.outs();
        let [vecs, heads, shifts, scratch] = ["m", "e", "z", "t"].map(|p| self.per_row(p));
        let (e0, rest) = heads.split_first().expect("several output rows");
        let js: Vec<_> = (0..self.outputs).map(usize_lit).collect();
        // The head (columns `0..f + LANES`) and the tail (under two vectors).
        let width = usize_lit(2 * MAX_LANES);
        let into_scratch: Vec<TokenStream> = scratch.iter().map(|t| quote!(&mut #t)).collect();
        let head_first = (calls.plain)(quote!(0), &into_scratch, None);
        let head = (calls.plain)(quote!(f), &into_scratch, None);
        let base = format_ident!("base");
        let tail = (calls.plain)(quote!(a - base), &into_scratch, Some(&base));
        let SweepCalls {
            step,
            before_step,
            frame,
            ..
        } = calls;
        quote! {
            if let [#(Some(#heads)),*] = [#(simd.stream_head(#outs)),*] {
                if !(#(#rest == #e0)&&*) && #n >= 4 * S::LANES {
                    let l = S::LANES;
                    let f = #frame;
                    #(let #shifts = (#heads + l - f) % l;)*
                    #(let mut #scratch = [0.0 as #elem; #width];)*
                    if f != 0 {
                        #head_first;
                    }
                    #head;
                    #(#outs[..f + #shifts].copy_from_slice(&#scratch[..f + #shifts]);)*
                    let mut p = [#(simd.load(&#scratch, f)),*];
                    let mut i = f + l;
                    {
                        // Vector `k` of `m{j}` starts `z{j}` columns into the
                        // vector of the step before step `k`.
                        #(let (_, #vecs, _) = simd.split_aligned(&mut #outs[..]);)*
                        #(let #vecs = &mut #vecs[(f + #shifts - #heads) / l..];)*
                        let mut k = 0;
                        while i + l <= #n {
                            #(#before_step)*
                            #step;
                            i += l;
                            k += 1;
                        }
                    }
                    // The last step's vector, then the columns after it.
                    let base = i - l;
                    #(simd.store(&mut #scratch, 0, p[#js]);)*
                    let mut at = i;
                    while at < #n {
                        let a = if at + l <= #n { at } else { #n - l };
                        #tail;
                        at += l;
                    }
                    #(#outs[base + #shifts..].copy_from_slice(&#scratch[#shifts..#n - base]);)*
                    return;
                }
            }
        }
    }
}
