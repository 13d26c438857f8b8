//! Separable plans run horizontal pass first, one call in one sweep: for each
//! vector of columns, the horizontal pass of the call's new input rows into the
//! driver's ring, then the vertical pass of its output rows from the ring rows
//! and those values (`SeparableRows::fused`, `RowKernels::fused` in convc-core).
//!
//! Run one after the other, the horizontal pass reads the new image rows while
//! nothing is written, and the vertical pass writes the output rows while
//! nothing is read; in one sweep the reads and the writes overlap, as in a copy.
//! Measured first in C (scripts/probes/fused_separable.c, gaussian 5x5 at 4096 x
//! 4096 on an AMD Zen 4): 8.6-8.8 ms one pass after the other, 6.2 ms in one
//! sweep of 4 rows, streamed one step late. conv!'s gaussian 5x5 then went
//! 8.6-8.7 -> 5.8-6.0 ms at 4096 (three alternating runs), 10.5 -> 8.6 at 4099
//! and 0.47 -> 0.42 at 1024. Heavy plans keep the passes apart: their gaussian
//! 15x15 ran 14.3-14.6 -> 14.9-16.0 ms in one sweep, bound by its multiply-adds
//! rather than by the memory traffic the sweep overlaps.
//!
//! The step calls the passes' own one-vector functions (`horizontal_col` and
//! `vertical_cols`, or the vertical pass's late-storing step), so every ring
//! value and every output value is the one the passes compute separately.

use proc_macro2::{Ident, TokenStream};
use quote::{ToTokens, format_ident, quote};

use super::shifted::SweepCalls;
use super::{Kind, Loads, Pass, Rows, Stores};
use crate::lit::usize_lit;

impl Rows<'_> {
    /// The inherent functions of the fused sweep and the body of
    /// `SeparableRows::fused`, or `None` for heavy plans, where the driver
    /// never asks for it (a fixed input shape, which runs vertical pass first; a
    /// stride; rows of the window 2 or more apart) and where a pass has no terms.
    pub(super) fn fused(&self, v: &Pass<'_>, h: &Pass<'_>) -> Option<(TokenStream, TokenStream)> {
        let p = self.plan;
        if self.fixed.is_some()
            || p.is_heavy()
            || (p.stride.y, p.stride.x, p.dilation.y) != (1, 1, 1)
            || v.st.terms.is_empty()
            || h.st.terms.is_empty()
            || v.kind != Kind::Vertical
        {
            return None;
        }
        let rows = v.outputs;
        // The window: `rows + kh - 1` ring rows, the last `rows` of them new, every
        // one read (the driver runs the horizontal pass first only then).
        let span = rows + p.kernel.height - 1;
        let read: Vec<usize> = v.rows().into_iter().collect();
        if read != (0..span).collect::<Vec<_>>() {
            return None;
        }
        let elem = self.elem();
        let dtype = p.dtype;
        let simd = quote!(S: ::convc::__private::Simd<#elem>);
        let old = span - rows;
        let outs = v.outs();
        let vecs = v.per_row("m");
        let olds: Vec<Ident> = (0..old).map(|t| format_ident!("r{t}")).collect();
        let news: Vec<Ident> = (0..rows).map(|j| format_ident!("d{j}")).collect();
        let srcs: Vec<Ident> = (0..rows).map(|j| format_ident!("q{j}")).collect();
        // The slices the vertical pass reads: window row `t` is old row `t` (its
        // slice `s{t}_0`) or new row `t - old` (reborrowed from `d{t - old}`).
        let vslice = |t: usize| format_ident!("s{t}_0");
        let old_read: Vec<Ident> = (0..old).map(vslice).collect();
        let vargs: Vec<TokenStream> = (0..span)
            .map(|t| match t.checked_sub(old) {
                None => vslice(t).into_token_stream(),
                Some(j) => {
                    let d = &news[j];
                    quote!(&*#d)
                }
            })
            .collect();
        let hcols: Vec<usize> = h.sources().into_iter().map(|(_, c)| c).collect();
        let hslices: Vec<Vec<Ident>> = (0..rows)
            .map(|j| hcols.iter().map(|c| format_ident!("h{j}_{c}")).collect())
            .collect();
        let hflat: Vec<&Ident> = hslices.iter().flatten().collect();

        let mut decls = TokenStream::new();
        for o in outs.iter().chain(&news) {
            decls.extend(quote!(let #o = &mut #o[cols.start..cols.end];));
        }
        decls.extend(quote! {
            let b = cols.start;
            let n = cols.end - cols.start;
        });
        for (s, r) in old_read.iter().zip(&olds) {
            decls.extend(quote!(let #s = &#r[b..][..n];));
        }
        for (j, q) in srcs.iter().enumerate() {
            for (c, s) in hcols.iter().zip(&hslices[j]) {
                let c = usize_lit(*c);
                decls.extend(quote!(let #s = &#q[#c..][..n];));
            }
        }

        let hcol = h.cols_fn();
        let vcols = v.cols_fn();
        let late_fn = format_ident!("{}_late", vcols);
        let hcalls: TokenStream = news
            .iter()
            .zip(&hslices)
            .map(|(d, hs)| quote!(Self::#hcol(simd, i, #d, #(#hs,)*);))
            .collect();
        let pending = usize_lit(rows);
        let late_body = v.body(dtype, 1, Loads::Slices, Stores::Deferred);
        let shifts = v.per_row("z");
        let vparams: Vec<TokenStream> = (0..span)
            .map(|t| {
                let s = vslice(t);
                quote!(#s: &[#elem])
            })
            .collect();
        let js: Vec<_> = (0..rows).map(usize_lit).collect();
        // Where the rows are aligned differently: each step streams each row's
        // aligned vector completed by its own (rows/shifted.rs).
        let (shifted_fns, shifted_sweep) = if rows > 1 {
            // The vertical pass's step over the window, defined here unless
            // the vertical pass's own loops define it (the same function).
            let (vshifted, vshifted_fn) = v.shifted_step(&elem, dtype, &vparams);
            let vshifted_fn = (!v.streams_single_shifted()).then_some(vshifted_fn);
            let fns = quote! {
                #vshifted_fn

                /// One vector of columns of the fused sweep, streamed into rows
                /// aligned `z{j}` columns past its own, one step late.
                #[inline(always)]
                fn fused_cols_shifted<#simd>(
                    simd: S,
                    i: usize,
                    k: usize,
                    #(#vecs: &mut [S::V],)*
                    p: &mut [S::V; #pending],
                    #(#shifts: usize,)*
                    #(#old_read: &[#elem],)*
                    #(#news: &mut [#elem],)*
                    #(#hflat: &[#elem],)*
                ) {
                    #hcalls
                    Self::#vshifted(simd, i, k, #(#vecs,)* p, #(#shifts,)* #(#vargs,)*);
                }
            };
            let plain = |at: TokenStream, outs: &[TokenStream], base: Option<&Ident>| {
                let inputs = match base {
                    None => quote!(#(#old_read,)* #(#news,)* #(#hflat,)*),
                    Some(b) => {
                        quote!(#(&#old_read[#b..],)* #(&mut #news[#b..],)* #(&#hflat[#b..],)*)
                    }
                };
                quote!(Self::fused_cols(simd, #at, #(#outs,)* #inputs))
            };
            let step = quote! {
                Self::fused_cols_shifted(
                    simd, i, k, #(#vecs,)* &mut p, #(#shifts,)* #(#old_read,)* #(#news,)* #(#hflat,)*
                )
            };
            let d0 = &news[0];
            let calls = SweepCalls {
                plain: &plain,
                step,
                before_step: &[],
                frame: quote!(simd.stream_head(#d0).unwrap_or(e0)),
            };
            (fns, v.shifted_sweep(&elem, &quote!(n), calls))
        } else {
            (TokenStream::new(), TokenStream::new())
        };

        let functions = quote! {
            /// The vertical pass's step, streaming the previous step's vectors
            /// after its own loads (see the direct passes' streaming steps).
            #[inline(always)]
            fn #late_fn<#simd>(
                simd: S,
                i: usize,
                k: usize,
                #(#vecs: &mut [S::V],)*
                p: &mut [S::V; #pending],
                #(#vparams,)*
            ) {
                #(let #vecs = &mut #vecs[k..][..1];)*
                #late_body
            }

            #shifted_fns

            /// One vector of columns of the fused sweep, stored plainly.
            #[inline(always)]
            fn fused_cols<#simd>(
                simd: S,
                i: usize,
                #(#outs: &mut [#elem],)*
                #(#old_read: &[#elem],)*
                #(#news: &mut [#elem],)*
                #(#hflat: &[#elem],)*
            ) {
                #hcalls
                Self::#vcols(simd, i, #(#outs,)* #(#vargs,)*);
            }

            /// One vector of columns of the fused sweep, the output streamed one
            /// step late.
            #[inline(always)]
            fn fused_cols_late<#simd>(
                simd: S,
                i: usize,
                k: usize,
                #(#vecs: &mut [S::V],)*
                p: &mut [S::V; #pending],
                #(#old_read: &[#elem],)*
                #(#news: &mut [#elem],)*
                #(#hflat: &[#elem],)*
            ) {
                #hcalls
                Self::#late_fn(simd, i, k, #(#vecs,)* p, #(#vargs,)*);
            }

            /// The fused sweep over columns `cols` of one call: plain stores up to
            /// the rows' first aligned vector after their common aligned column,
            /// then streamed ones where the token streams, plain ones after.
            #[inline(always)]
            fn fused_rows<#simd>(
                simd: S,
                #(#outs: &mut [#elem],)*
                #(#olds: &[#elem],)*
                #(#news: &mut [#elem],)*
                #(#srcs: &[#elem],)*
                cols: ::core::ops::Range<usize>,
            ) {
                #decls
                let last = n - S::LANES;
                let mut i = 0;
                let h0 = simd.stream_head(o0);
                match h0 {
                    Some(h) if h <= last #(&& simd.stream_head(#outs) == h0)* => {
                        if h != 0 {
                            for i in [0, h] {
                                Self::fused_cols(simd, i, #(#outs,)* #(#old_read,)* #(#news,)* #(#hflat,)*);
                            }
                            i = h + S::LANES;
                        }
                        let end = if (n - i) % S::LANES == 0 { n } else { last };
                        #(let (_, #vecs, _) = simd.split_aligned(&mut #outs[i..]);)*
                        let mut k = 0;
                        let mut p = [simd.splat(0.0); #pending];
                        let mut late = 0;
                        while i + S::LANES <= end {
                            Self::fused_cols_late(
                                simd, i, late, #(#vecs,)* &mut p, #(#old_read,)* #(#news,)* #(#hflat,)*
                            );
                            late = k;
                            i += S::LANES;
                            k += 1;
                        }
                        if k > 0 {
                            #(simd.store_stream_vector(&mut #vecs[late], p[#js]);)*
                        }
                        if i == n {
                            return;
                        }
                    }
                    _ => {
                        #shifted_sweep
                    }
                }
                loop {
                    let at = if i < last { i } else { last };
                    {
                        let i = at;
                        Self::fused_cols(simd, i, #(#outs,)* #(#old_read,)* #(#news,)* #(#hflat,)*);
                    }
                    if at == last {
                        break;
                    }
                    i += S::LANES;
                }
            }
        };

        let old_idx: Vec<_> = (0..old).map(usize_lit).collect();
        let method = quote! {
            #[inline(always)]
            fn fused<S: ::convc::__private::Simd<#elem>>(
                simd: S,
                sources: &[&[#elem]],
                new: &mut [&mut [#elem]],
                old: &[&[#elem]],
                out: &mut [&mut [#elem]],
                cols: ::core::ops::Range<usize>,
            ) -> bool {
                if !S::WIDE || (cols.end - cols.start) < S::LANES {
                    return false;
                }
                let [#(#outs,)*] = out else { ::convc::__private::wrong_rows(#pending) };
                let [#(#news,)*] = new else { ::convc::__private::wrong_rows(#pending) };
                #(let #olds = old[#old_idx];)*
                #(let #srcs = sources[#js];)*
                Self::fused_rows(simd, #(#outs,)* #(#olds,)* #(#news,)* #(#srcs,)* cols);
                true
            }
        };
        Some((functions, method))
    }
}
