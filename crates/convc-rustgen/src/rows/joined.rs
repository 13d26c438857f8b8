//! Heavy horizontal passes: part of a step's shifted input vectors made in
//! registers rather than loaded ([`Joined`]).

use std::collections::BTreeSet;

use convc_core::DType;
use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use super::{Kind, Loads, Pass, Stores};
use crate::lit::usize_lit;

/// Which shifted vectors a [`Joined`] step makes in registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Flavor {
    /// One vector per step; the odd offsets below the lane count, each one
    /// permute of `ja` and `jb` (`Simd::CHEAP_JOIN`: 512-bit vectors).
    Odd,
    /// Two vectors of half a cache line per step (8 x `f32` or 4 x `f64`),
    /// whose first input sits at the start of a cache line; the offsets whose
    /// loads would straddle two lines (`f32`: 9 to 15 elements past a line's
    /// start; `f64`: 5 to 7), each a `vpalignr` of two loaded vectors or of one
    /// and their middle halves, or those halves alone (`Simd::JOINS_LINES`:
    /// AVX2).
    Lines,
}

/// Bytes of a cache line.
const LINE_BYTES: usize = 64;
/// Output vectors per [`Flavor::Lines`] step: one cache line of each output row.
pub(super) const LINES_VECTORS: usize = 2;

/// A horizontal pass's step that builds some of its shifted input vectors in
/// registers, from the vectors it loads at its first column offset `c0` and a
/// whole number of vectors further on (`ja` and `jb` for [`Flavor::Odd`],
/// `j{m}` at `c0 + 8 m` for [`Flavor::Lines`]). The other vectors are loads.
///
/// Why: a 15-tap row filter is bound by its loads, nearly all of them across
/// two cache lines, and the permutes run on FP ports the arithmetic leaves
/// partly idle.
/// - AVX-512, measured in C first (`scripts/probes/horizontal_shifts.c`, a
///   15-tap horizontal pass over a 4096 x 4096 image on the AMD EPYC, Zen 4):
///   7.1 ms with 15 loads, 5.9 with 2 loads and 14 permutes, 4.5 with the odd
///   offsets shifted. conv!'s gaussian 15x15 at 4096: 13.6-14.0 -> 11.4-12.1 ms.
/// - AVX2 (the AMD EPYC, Zen 3, the seventeenth session, alternating in one
///   process, minima of each run): conv!'s gaussian 15x15 at 4096 x 256 (in
///   cache) 0.94-1.01 ms with two loaded vectors per step, 0.92-1.10 with every
///   shifted vector joined, 0.88-0.98 with the odd offsets joined, 0.82-0.86
///   with the straddling ones joined. At 4096 x 4096, where the image comes
///   from memory, `convc bench` ran it level (docs/performance-history.md).
pub(super) struct Joined {
    flavor: Flavor,
    /// The first column offset and its source slice.
    c0: usize,
    first: Ident,
    lanes: usize,
    /// Elements of a cache line.
    line: usize,
    /// The vectors `j{m}` a [`Flavor::Lines`] step loads.
    loaded: BTreeSet<usize>,
    /// Columns from `i` of every source slice that one step reads: its last
    /// `j{m}` from `first`, or its vectors' loads.
    reach: usize,
}

impl Joined {
    /// The vectors the step loads for its joins.
    pub(super) fn pair(&self) -> TokenStream {
        let s = &self.first;
        match self.flavor {
            Flavor::Odd => quote! {
                let ja = simd.load(#s, i);
                let jb = simd.load(#s, i + S::LANES);
            },
            Flavor::Lines => {
                let loads = self.loaded.iter().map(|&m| {
                    let j = format_ident!("j{m}");
                    let at = usize_lit(m * self.lanes);
                    quote!(let #j = simd.load(#s, i + #at);)
                });
                quote!(#(#loads)*)
            }
        }
    }

    /// `let x = ...;` for vector `v` of the step at row `t`, column offset `c`.
    pub(super) fn load(&self, x: &Ident, t: usize, c: usize, v: usize) -> TokenStream {
        let d = c - self.c0;
        match self.flavor {
            Flavor::Odd if d == 0 => quote!(let #x = ja;),
            Flavor::Odd if d == self.lanes => quote!(let #x = jb;),
            Flavor::Odd if d < self.lanes && d % 2 == 1 => {
                let d = usize_lit(d);
                quote!(let #x = simd.join(ja, jb, #d);)
            }
            Flavor::Lines => {
                let d = d + v * self.lanes;
                let (m, r) = (d / self.lanes, d % self.lanes);
                let j = format_ident!("j{m}");
                if straddles(d, self.lanes, self.line) {
                    let k = format_ident!("j{}", m + 1);
                    let r = usize_lit(r);
                    quote!(let #x = simd.join_const::<#r>(#j, #k);)
                } else if r == 0 && self.loaded.contains(&m) {
                    quote!(let #x = #j;)
                } else {
                    let s = format_ident!("s{t}_{c}");
                    if v == 0 {
                        quote!(let #x = simd.load(#s, i);)
                    } else {
                        let at = usize_lit(v * self.lanes);
                        quote!(let #x = simd.load(#s, i + #at);)
                    }
                }
            }
            Flavor::Odd => {
                let s = format_ident!("s{t}_{c}");
                quote!(let #x = simd.load(#s, i);)
            }
        }
    }
}

/// Whether a vector of `lanes` elements loaded `d` elements past the start of
/// a cache line of `line` elements straddles two lines.
fn straddles(d: usize, lanes: usize, line: usize) -> bool {
    d % line > line - lanes
}

impl Pass<'_> {
    /// The horizontal pass of a heavy plan without a column stride: adds its
    /// steps with shifted vectors to `fns` and returns the loops over the
    /// columns that run them (from `i`, over `n` columns, prefetching with
    /// `prefetch` at `at`), for the tokens they suit, before the loop that loads
    /// everything; `None` for other passes. `slices` are the pass's source
    /// slices in column order.
    pub(super) fn joined_steps(
        &self,
        elem: &Ident,
        dtype: DType,
        n: &TokenStream,
        slices: &[Ident],
        prefetch: Option<&TokenStream>,
        fns: &mut TokenStream,
    ) -> Option<TokenStream> {
        let odd = self.joined(Flavor::Odd, dtype, slices)?;
        let outs = self.outs();
        let cols_fn = self.cols_fn();
        let mut step_fn = |joined: &Joined, name: &Ident, vectors: usize| {
            let body = self.body(dtype, vectors, Loads::Joined(joined), Stores::Plain);
            fns.extend(quote! {
                #[inline(always)]
                fn #name<S: ::convc::__private::Simd<#elem>>(
                    simd: S,
                    i: usize,
                    #(#outs: &mut [#elem],)*
                    #(#slices: &[#elem],)*
                ) {
                    #body
                }
            });
        };
        let step = format_ident!("{cols_fn}_joined");
        step_fn(&odd, &step, 1);
        // Up to the vector whose neighbour `jb` is the row's last: the last
        // vector or two then load every input.
        let lanes = usize_lit(odd.lanes);
        let mut loops = quote! {
            if S::CHEAP_JOIN && S::LANES == #lanes {
                while i + 2 * S::LANES <= #n {
                    let at = i;
                    #prefetch
                    Self::#step(simd, i, #(#outs,)* #(#slices,)*);
                    i += S::LANES;
                }
            }
        };
        if let Some(lines) = self.joined(Flavor::Lines, dtype, slices) {
            let step = format_ident!("{cols_fn}_line_joined");
            step_fn(&lines, &step, LINES_VECTORS);
            let first = &lines.first;
            let reach = usize_lit(lines.reach);
            let line = usize_lit(lines.line);
            let lanes = usize_lit(lines.lanes);
            let width = usize_lit(LINES_VECTORS * lines.lanes);
            loops.extend(quote! {
                if S::JOINS_LINES && S::LANES == #lanes {
                    // The step's joins assume that `first[i]` starts a cache
                    // line: single vectors reach one, the last overlapping the
                    // step's first columns (same sums, same values).
                    let skew = (#first.as_ptr().addr() / ::core::mem::size_of::<#elem>())
                        .wrapping_add(i)
                        .wrapping_neg()
                        % #line;
                    if i + skew + #reach <= #n {
                        let mut head = i;
                        while head < i + skew {
                            let at = head;
                            #prefetch
                            Self::#cols_fn(simd, head, #(#outs,)* #(#slices,)*);
                            head += S::LANES;
                        }
                        i += skew;
                        while i + #reach <= #n {
                            // The prefetch runs where `at` is a multiple of a
                            // line, which `i` need not be: once per step.
                            let at = i - i % #line;
                            #prefetch
                            Self::#step(simd, i, #(#outs,)* #(#slices,)*);
                            i += #width;
                        }
                    }
                }
            });
        }
        Some(loops)
    }

    /// Whether the pass has a [`Flavor::Lines`] step for `dtype`: the tokens
    /// that run it skip the loaded blocks.
    pub(super) fn joins_lines(&self, dtype: DType) -> bool {
        self.joined(Flavor::Lines, dtype, &[format_ident!("s")])
            .is_some()
    }

    /// The [`Joined`] step of a heavy horizontal pass without a column stride
    /// whose taps read at least two columns; `None` for any other pass.
    fn joined(&self, flavor: Flavor, dtype: DType, slices: &[Ident]) -> Option<Joined> {
        let columns: Vec<usize> = self.sources().into_iter().map(|(_, c)| c).collect();
        if self.kind != Kind::Horizontal || !self.heavy || self.sx != 1 || columns.len() < 2 {
            return None;
        }
        let c0 = columns[0];
        let line = LINE_BYTES / dtype.size_bytes();
        let (lanes, vectors) = match flavor {
            Flavor::Odd => (line, 1),
            Flavor::Lines => (line / 2, LINES_VECTORS),
        };
        let offsets = columns
            .iter()
            .flat_map(|c| (0..vectors).map(move |v| c - c0 + v * lanes));
        let loaded: BTreeSet<usize> = match flavor {
            Flavor::Odd => BTreeSet::new(),
            Flavor::Lines => offsets
                .filter(|&d| straddles(d, lanes, line))
                .flat_map(|d| [d / lanes, d / lanes + 1])
                .collect(),
        };
        // Columns of `first` (and of every source slice) from `i` that the
        // step reads: its last `j{m}`, or its vectors' plain loads.
        let reach = loaded
            .last()
            .map_or(0, |m| (m + 1) * lanes)
            .max(vectors * lanes)
            .max(2 * lanes);
        Some(Joined {
            flavor,
            c0,
            first: slices[0].clone(),
            lanes,
            line,
            loaded,
            reach,
        })
    }
}
