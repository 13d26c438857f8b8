//! The row loops: each pass of the Plan as one function over a row, and the
//! `DirectRows` / `SeparableRows` implementation that calls it.
//!
//! A pass becomes an `#[inline(always)]` associated function of the convolution
//! type taking the output row and every input row it reads as separate slices (so
//! the optimizer knows they do not overlap). It cuts one sub-slice of equal length
//! per tap, then runs a single loop over the output columns whose body is every
//! tap, fully unrolled, each coefficient a literal: rustc drops the bounds checks
//! (every index is below the common length) and vectorizes the loop. The taps
//! accumulate into up to [`ACCUMULATORS`] partial sums, so the dependency chain of
//! one output is a quarter as long and consecutive vectors overlap in the CPU.

use std::ops::Range;

use convc_core::plan::{Method, Stencil, Tap};
use convc_core::{DType, Plan, Result};
use proc_macro2::{Ident, Span, TokenStream};
use quote::{ToTokens, format_ident, quote};

use crate::lit::{elem_lit, usize_lit};

/// Partial sums per output.
pub(crate) const ACCUMULATORS: usize = 4;

/// What a fixed input shape makes constant.
#[derive(Debug, Clone)]
pub(crate) struct Fixed {
    /// Output row length.
    out_w: usize,
    /// Output columns the driver hands to the direct and horizontal loops.
    interior: Range<usize>,
}

impl Fixed {
    pub(crate) fn of(plan: &Plan) -> Result<Option<Fixed>> {
        let Some(shape) = plan.input else {
            return Ok(None);
        };
        let g = plan.geometry(shape)?;
        Ok(Some(Fixed {
            out_w: g.output.width,
            interior: g.interior_x,
        }))
    }
}

/// Which pass a stencil is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Direct,
    Horizontal,
    Vertical,
}

/// Everything the lowering of one Plan needs.
pub(crate) struct Rows<'a> {
    pub(crate) plan: &'a Plan,
    /// The convolution type; the row functions are its associated functions.
    pub(crate) ty: &'a Ident,
    pub(crate) fixed: Option<Fixed>,
}

impl Rows<'_> {
    fn elem(&self) -> Ident {
        Ident::new(self.plan.dtype.name(), Span::call_site())
    }

    /// The row functions (an inherent impl of the convolution type) and its
    /// `DirectRows` or `SeparableRows` impl.
    pub(crate) fn lower(&self) -> TokenStream {
        let ty = self.ty;
        let (passes, rows) = match &self.plan.method {
            Method::Direct(st) => (self.pass(Kind::Direct, st), self.direct_rows(st)),
            Method::Separable {
                horizontal,
                vertical,
            } => {
                let h = self.pass(Kind::Horizontal, horizontal);
                let v = self.pass(Kind::Vertical, vertical);
                (quote!(#h #v), self.separable_rows(vertical))
            }
        };
        quote! {
            #[allow(clippy::all, clippy::pedantic, clippy::nursery, clippy::restriction)]
            impl #ty {
                #passes
            }

            #rows
        }
    }

    /// Kernel rows (direct, vertical) that have taps, in order; `[0]` for a
    /// horizontal pass with taps.
    fn used_rows(kind: Kind, st: &Stencil) -> Vec<usize> {
        let mut rows: Vec<usize> = taps(st)
            .map(|t| if kind == Kind::Horizontal { 0 } else { t.row })
            .collect();
        rows.sort_unstable();
        rows.dedup();
        rows
    }

    fn fn_name(kind: Kind) -> Ident {
        match kind {
            Kind::Direct => format_ident!("direct_row"),
            Kind::Horizontal => format_ident!("horizontal_row"),
            Kind::Vertical => format_ident!("vertical_row"),
        }
    }

    /// `fn {kind}_row<const FMA: bool>(o, r.., [cols])`: the pass over one row.
    fn pass(&self, kind: Kind, st: &Stencil) -> TokenStream {
        let elem = self.elem();
        let name = Self::fn_name(kind);
        let row_vars: Vec<Ident> = Self::used_rows(kind, st)
            .iter()
            .map(|m| format_ident!("r{m}"))
            .collect();
        let p = self.plan;
        // Output column x reads input column `x * sx + n * dx - left` (direct,
        // horizontal) or `x` (vertical: the rows are horizontal results).
        let (sx, dx, left) = match kind {
            Kind::Vertical => (1, 0, 0),
            _ => (p.stride.x, p.dilation.x, p.pads.left),
        };
        // The columns are a parameter unless the input shape fixes them.
        let cols_param = (kind != Kind::Vertical && self.fixed.is_none())
            .then(|| quote!(cols: ::core::ops::Range<usize>,));
        let no_taps = st.terms.is_empty();

        // The output range and the first input column, as constants when the
        // input shape is fixed.
        let mut prelude = TokenStream::new();
        let (n, base): (TokenStream, Option<TokenStream>) = match (&self.fixed, kind) {
            (Some(f), Kind::Vertical) => {
                let ow = usize_lit(f.out_w);
                prelude.extend(quote!(let o = &mut o[..#ow];));
                (quote!(#ow), None)
            }
            (Some(f), _) => {
                let (x0, x1) = (usize_lit(f.interior.start), usize_lit(f.interior.end));
                prelude.extend(quote!(let o = &mut o[#x0..#x1];));
                let n = usize_lit(f.interior.len());
                // The driver calls this only when the interior is not empty.
                let b = (f.interior.start * sx).saturating_sub(left);
                (quote!(#n), Some(usize_lit(b).into_token_stream()))
            }
            (None, Kind::Vertical) => {
                prelude.extend(quote!(let n = o.len();));
                (quote!(n), None)
            }
            (None, _) if no_taps => {
                prelude.extend(quote!(let o = &mut o[cols];));
                (quote!(n), None)
            }
            (None, _) => {
                let (s, l) = (usize_lit(sx), usize_lit(left));
                let b = match (sx, left) {
                    (1, 0) => quote!(cols.start),
                    (1, _) => quote!(cols.start - #l),
                    (_, 0) => quote!(cols.start * #s),
                    _ => quote!(cols.start * #s - #l),
                };
                prelude.extend(quote! {
                    let b = #b;
                    let n = cols.end - cols.start;
                    let o = &mut o[cols];
                });
                (quote!(n), Some(quote!(b)))
            }
        };

        let var = |t: &Tap| match kind {
            Kind::Direct => format_ident!("t{}_{}", t.row, t.col),
            Kind::Horizontal => format_ident!("t{}", t.col),
            Kind::Vertical => format_ident!("t{}", t.row),
        };
        // Each tap: the sub-slice it reads, of the same length for every tap.
        let fixed_n = self.fixed.as_ref().map(|f| match kind {
            Kind::Vertical => f.out_w,
            _ => f.interior.len(),
        });
        let len = match (sx, fixed_n) {
            (1, _) => n.clone(),
            (s, Some(n)) => usize_lit((n.max(1) - 1) * s + 1).into_token_stream(),
            (s, None) => {
                let s = usize_lit(s);
                quote!((n - 1) * #s + 1)
            }
        };
        let mut decls = TokenStream::new();
        for tap in taps(st) {
            let v = var(tap);
            let row = format_ident!("r{}", if kind == Kind::Horizontal { 0 } else { tap.row });
            let off = tap.col * dx;
            let start = match (&base, off) {
                (None, _) => None,
                (Some(b), 0) => Some(b.clone()),
                (Some(b), off) => {
                    // A constant base folds with the offset.
                    let off_lit = usize_lit(off);
                    match &self.fixed {
                        Some(f) => Some(
                            usize_lit((f.interior.start * sx).saturating_sub(left) + off)
                                .into_token_stream(),
                        ),
                        None => Some(quote!(#b + #off_lit)),
                    }
                }
            };
            decls.extend(match start {
                Some(s) => quote!(let #v = &#row[#s..][..#len];),
                None => quote!(let #v = &#row[..#len];),
            });
        }
        let lane = |t: &Tap| {
            let v = var(t);
            if sx == 1 {
                quote!(#v[i])
            } else {
                let s = usize_lit(sx);
                quote!(#v[i * #s])
            }
        };
        let (uses_madd, body) = lane_code(st, p.dtype, &elem, &lane);
        let import = uses_madd.then(|| {
            quote!(
                use ::convc::__private::madd;
            )
        });
        // With a column stride, `n - 1` needs a non-empty row.
        let guard = (sx > 1 && self.fixed.is_none()).then(|| {
            quote! {
                if n == 0 {
                    return;
                }
            }
        });
        let loop_ = if st.terms.is_empty() {
            quote!(o.fill(0.0);)
        } else {
            quote! {
                for i in 0..#n {
                    #body
                }
            }
        };
        quote! {
            #[inline(always)]
            fn #name<const FMA: bool>(o: &mut [#elem], #(#row_vars: &[#elem],)* #cols_param) {
                #import
                #prelude
                #guard
                #decls
                #loop_
            }
        }
    }

    /// `DirectRows`: the direct pass over each output row of the call.
    fn direct_rows(&self, st: &Stencil) -> TokenStream {
        let elem = self.elem();
        let ty = self.ty;
        let p = self.plan;
        let window = if p.stride.y == 1 {
            quote!(&window[j..])
        } else {
            let sy = usize_lit(p.stride.y);
            quote!(&window[j * #sy..])
        };
        let rows: Vec<TokenStream> = Self::used_rows(Kind::Direct, st)
            .into_iter()
            .map(|m| {
                let t = usize_lit(m * p.dilation.y);
                quote!(w[#t])
            })
            .collect();
        let check = self.fixed_check();
        let cols = self.fixed.is_none().then(|| quote!(cols.clone()));
        // An all-zero kernel reads no rows.
        let (each, w) = if rows.is_empty() {
            (quote!(o in out.iter_mut()), quote!(let _ = window;))
        } else {
            (
                quote!((j, o) in out.iter_mut().enumerate()),
                quote!(let w = #window;),
            )
        };
        quote! {
            #[allow(clippy::all, clippy::pedantic, clippy::nursery, clippy::restriction)]
            impl ::convc::__private::DirectRows<#elem> for #ty {
                #[inline(always)]
                fn direct<const FMA: bool>(
                    window: &[&[#elem]],
                    out: &mut [&mut [#elem]],
                    cols: ::core::ops::Range<usize>,
                ) {
                    #check
                    for #each {
                        #w
                        Self::direct_row::<FMA>(o, #(#rows,)* #cols);
                    }
                }
            }
        }
    }

    /// With a fixed input the row functions use constant bounds; debug builds check
    /// that the driver asks for exactly those columns.
    fn fixed_check(&self) -> TokenStream {
        match &self.fixed {
            Some(f) => {
                let (x0, x1) = (usize_lit(f.interior.start), usize_lit(f.interior.end));
                quote!(debug_assert_eq!(cols, #x0..#x1);)
            }
            None => TokenStream::new(),
        }
    }

    /// `SeparableRows`: the horizontal pass over one input row, the vertical pass
    /// over the rows of horizontal results.
    fn separable_rows(&self, vertical: &Stencil) -> TokenStream {
        let elem = self.elem();
        let ty = self.ty;
        let vrows: Vec<TokenStream> = Self::used_rows(Kind::Vertical, vertical)
            .into_iter()
            .map(|m| {
                let m = usize_lit(m);
                quote!(rows[#m])
            })
            .collect();
        let check = self.fixed_check();
        let cols = self.fixed.is_none().then(|| quote!(cols));
        quote! {
            #[allow(clippy::all, clippy::pedantic, clippy::nursery, clippy::restriction)]
            impl ::convc::__private::SeparableRows<#elem> for #ty {
                #[inline(always)]
                fn horizontal<const FMA: bool>(
                    src: &[#elem],
                    dst: &mut [#elem],
                    cols: ::core::ops::Range<usize>,
                ) {
                    #check
                    Self::horizontal_row::<FMA>(dst, src, #cols);
                }

                #[inline(always)]
                fn vertical<const FMA: bool>(rows: &[&[#elem]], dst: &mut [#elem]) {
                    Self::vertical_row::<FMA>(dst, #(#vrows),*);
                }
            }
        }
    }
}

/// Every tap of a stencil, in term order.
fn taps(st: &Stencil) -> impl Iterator<Item = &Tap> {
    st.terms.iter().flat_map(|t| t.plus.iter().chain(&t.minus))
}

/// The loop body for output lane `i`: `o[i] = scale * sum over terms of coeff *
/// (plus taps - minus taps)`. A ±1 term is adds and subtracts, any other term one
/// multiply (fused with the accumulation in the FMA variants); the terms go round
/// robin into up to [`ACCUMULATORS`] partial sums added pairwise at the end; the
/// scale is one multiply. Returns whether `madd` is used.
fn lane_code(
    st: &Stencil,
    dtype: DType,
    elem: &Ident,
    lane: &dyn Fn(&Tap) -> TokenStream,
) -> (bool, TokenStream) {
    let k = st.terms.len().min(ACCUMULATORS);
    let accs: Vec<Ident> = (0..k).map(|j| format_ident!("a{j}")).collect();
    // How many terms each accumulator takes (a `mut` binding needs more than one).
    let count = |j: usize| (st.terms.len() + k - 1 - j) / k;
    let mut uses_madd = false;
    let mut stmts = TokenStream::new();
    for (t, term) in st.terms.iter().enumerate() {
        let a = &accs[t % k];
        let first = t < k;
        let plus: Vec<TokenStream> = term.plus.iter().map(lane).collect();
        let minus: Vec<TokenStream> = term.minus.iter().map(lane).collect();
        let binding = if count(t % k) > 1 {
            quote!(let mut #a)
        } else {
            quote!(let #a)
        };
        stmts.extend(if term.is_unit() {
            match (first, plus.split_first()) {
                (true, Some((p0, rest))) => quote!(#binding = #p0 #(+ #rest)* #(- #minus)*;),
                (true, None) => {
                    let (m0, rest) = minus.split_first().expect("a term has taps");
                    quote!(#binding = -#m0 #(- #rest)*;)
                }
                (false, Some((p0, rest))) => quote!(#a += #p0 #(+ #rest)* #(- #minus)*;),
                (false, None) => {
                    let (m0, rest) = minus.split_first().expect("a term has taps");
                    if rest.is_empty() {
                        quote!(#a -= #m0;)
                    } else {
                        quote!(#a -= #m0 #(+ #rest)*;)
                    }
                }
            }
        } else {
            // coeff * (p0 + p1 - m0 - m1), or -coeff * (m0 + m1) when nothing is added.
            let (sum, coeff) = match plus.split_first() {
                Some((p0, rest)) => (quote!(#p0 #(+ #rest)* #(- #minus)*), term.coeff),
                None => {
                    let (m0, rest) = minus.split_first().expect("a term has taps");
                    (quote!(#m0 #(+ #rest)*), -term.coeff)
                }
            };
            let c = elem_lit(coeff, dtype);
            if first {
                if term.plus.len() + term.minus.len() == 1 {
                    quote!(#binding = #sum * #c;)
                } else {
                    quote!(#binding = (#sum) * #c;)
                }
            } else {
                uses_madd = true;
                quote!(#a = madd::<FMA, #elem>(#sum, #c, #a);)
            }
        });
    }
    let total = pairwise(&accs);
    let value = if st.scale != 1.0 {
        let s = elem_lit(st.scale, dtype);
        if k > 1 {
            quote!((#total) * #s)
        } else {
            quote!(#total * #s)
        }
    } else {
        total
    };
    stmts.extend(quote!(o[i] = #value;));
    (uses_madd, stmts)
}

/// `(a0 + a1) + (a2 + a3)`.
fn pairwise(accs: &[Ident]) -> TokenStream {
    match accs {
        [] => quote!(0.0),
        [a] => quote!(#a),
        [a, b] => quote!(#a + #b),
        _ => {
            let (l, r) = accs.split_at(accs.len().div_ceil(2));
            let group = |a: &[Ident]| {
                let t = pairwise(a);
                if a.len() > 1 { quote!((#t)) } else { t }
            };
            let (l, r) = (group(l), group(r));
            quote!(#l + #r)
        }
    }
}
