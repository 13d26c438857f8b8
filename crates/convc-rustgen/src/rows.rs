//! The row loops: each pass of the Plan as a block of unrolled taps, and the
//! `DirectRows` / `SeparableRows` implementation that runs the blocks along a row.
//!
//! A pass becomes a `Block` implementation: a struct holding the input rows the pass
//! reads and a `block::<W>(x)` that computes outputs `x .. x + W`. Every tap reads a
//! sub-slice of length `W` (`at(row, start)`, a `&[T; W]`) and each term of the
//! Plan is one loop over the `W` lanes, so the lane loops carry no bounds checks and
//! vectorize, the taps are fully unrolled with their coefficients as literals, and
//! the `W / lanes` accumulator vectors stay in registers across all taps (register
//! blocking). The runtime instantiates `W` per instruction set (for example
//! 128 `f32`, eight AVX-512 vectors) and with `W = 1` for the last few outputs.

use std::ops::Range;

use convc_core::plan::{Method, Stencil, Tap};
use convc_core::{DType, Plan, Result};
use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote};

use crate::lit::{elem_lit, usize_lit};

/// What a fixed input shape makes constant.
#[derive(Debug, Clone)]
pub(crate) struct Fixed {
    /// Input row length.
    in_w: usize,
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
            in_w: shape.width,
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
    /// The convolution type; pass structs are named after it.
    pub(crate) ty: &'a Ident,
    pub(crate) fixed: Option<Fixed>,
}

impl Rows<'_> {
    fn elem(&self) -> Ident {
        Ident::new(self.plan.dtype.name(), Span::call_site())
    }

    /// The pass structs, their `Block` impls, and the `DirectRows` or
    /// `SeparableRows` impl of the convolution type.
    pub(crate) fn lower(&self) -> TokenStream {
        match &self.plan.method {
            Method::Direct(st) => {
                let pass = self.pass(Kind::Direct, st);
                let rows = self.direct_rows(st);
                quote!(#pass #rows)
            }
            Method::Separable {
                horizontal,
                vertical,
            } => {
                let h = self.pass(Kind::Horizontal, horizontal);
                let v = self.pass(Kind::Vertical, vertical);
                let rows = self.separable_rows(vertical);
                quote!(#h #v #rows)
            }
        }
    }

    fn pass_name(&self, kind: Kind) -> Ident {
        format_ident!("{}{}", self.ty, format!("{kind:?}"))
    }

    /// Kernel rows (direct, vertical) that have taps, in order; `[0]` for a
    /// horizontal pass.
    fn used_rows(kind: Kind, st: &Stencil) -> Vec<usize> {
        if kind == Kind::Horizontal {
            return vec![0];
        }
        let mut rows: Vec<usize> = st
            .terms
            .iter()
            .flat_map(|t| t.plus.iter().chain(&t.minus))
            .map(|t| t.row)
            .collect();
        rows.sort_unstable();
        rows.dedup();
        rows
    }

    /// The struct of one pass and its `Block` implementation.
    fn pass(&self, kind: Kind, st: &Stencil) -> TokenStream {
        let elem = self.elem();
        let name = self.pass_name(kind);
        let rows = Self::used_rows(kind, st);
        let n_rows = usize_lit(rows.len());
        let row_vars: Vec<Ident> = rows.iter().map(|m| format_ident!("r{m}")).collect();
        let p = self.plan;
        // Lanes read input columns `x * sx + n * dx - left` (direct, horizontal) or
        // `x` (vertical: the rows are already horizontal results).
        let (sx, dx, left) = match kind {
            Kind::Vertical => (1, 0, 0),
            _ => (p.stride.x, p.dilation.x, p.pads.left),
        };
        let (s, l) = (usize_lit(sx), usize_lit(left));
        let base = match (sx, left) {
            (1, 0) => None,
            (1, _) => Some(quote!(x - #l)),
            (_, 0) => Some(quote!(x * #s)),
            _ => Some(quote!(x * #s - #l)),
        };
        let b = if base.is_some() { quote!(b) } else { quote!(x) };
        let let_base = base.map(|e| quote!(let b = #e;));

        let var = |t: &Tap| match kind {
            Kind::Direct => format_ident!("t{}_{}", t.row, t.col),
            Kind::Horizontal => format_ident!("t{}", t.col),
            Kind::Vertical => format_ident!("t{}", t.row),
        };
        let mut uses = Uses::default();
        let mut decls = TokenStream::new();
        for tap in st.terms.iter().flat_map(|t| t.plus.iter().chain(&t.minus)) {
            let v = var(tap);
            let row = format_ident!("r{}", if kind == Kind::Horizontal { 0 } else { tap.row });
            let off = tap.col * dx;
            let start = if off == 0 {
                quote!(#b)
            } else {
                let off = usize_lit(off);
                quote!(#b + #off)
            };
            decls.extend(if sx == 1 {
                uses.at = true;
                quote!(let #v: &[#elem; W] = at(#row, #start);)
            } else {
                uses.strided = true;
                let s = usize_lit(sx);
                quote!(let #v = strided::<#elem, W>(#row, #start, #s);)
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
        let body = terms_code(st, p.dtype, &elem, &lane, &mut uses);
        let imports = uses.imports();
        quote! {
            struct #name<'a, const FMA: bool>([&'a [#elem]; #n_rows]);

            impl<const FMA: bool> ::convc::__private::Block<#elem> for #name<'_, FMA> {
                #[inline(always)]
                fn block<const W: usize>(&self, x: usize) -> [#elem; W] {
                    #imports
                    let [#(#row_vars),*] = self.0;
                    #let_base
                    #decls
                    #body
                }
            }
        }
    }

    /// `DirectRows`: each output row of the call runs the direct pass over the
    /// interior columns.
    fn direct_rows(&self, st: &Stencil) -> TokenStream {
        let elem = self.elem();
        let ty = self.ty;
        let pass = self.pass_name(Kind::Direct);
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
                match &self.fixed {
                    Some(_) => quote!(&w[#t][..IW]),
                    None => quote!(w[#t]),
                }
            })
            .collect();
        let (consts, out, cols) = match &self.fixed {
            Some(f) => {
                let [iw, ow, x0, x1] =
                    [f.in_w, f.out_w, f.interior.start, f.interior.end].map(usize_lit);
                (
                    quote! {
                        const IW: usize = #iw;
                        const OW: usize = #ow;
                        const X0: usize = #x0;
                        const X1: usize = #x1;
                        debug_assert_eq!(cols, X0..X1);
                    },
                    quote!(&mut o[..OW]),
                    quote!(X0..X1),
                )
            }
            None => (TokenStream::new(), quote!(o), quote!(cols.clone())),
        };
        quote! {
            impl ::convc::__private::DirectRows<#elem> for #ty {
                #[inline(always)]
                fn direct<const FMA: bool, const B: usize>(
                    window: &[&[#elem]],
                    out: &mut [&mut [#elem]],
                    cols: ::core::ops::Range<usize>,
                ) {
                    #consts
                    for (j, o) in out.iter_mut().enumerate() {
                        let w = #window;
                        let taps = #pass::<FMA>([#(#rows),*]);
                        ::convc::__private::blocks::<#elem, _, B>(#out, #cols, &taps);
                    }
                }
            }
        }
    }

    /// `SeparableRows`: the horizontal pass over one input row, the vertical pass
    /// over the rows of horizontal results.
    fn separable_rows(&self, vertical: &Stencil) -> TokenStream {
        let elem = self.elem();
        let ty = self.ty;
        let h = self.pass_name(Kind::Horizontal);
        let v = self.pass_name(Kind::Vertical);
        let vrows = Self::used_rows(Kind::Vertical, vertical);
        let (consts_h, consts_v, src, dst, cols, vrow, vdst, vcols) = match &self.fixed {
            Some(f) => {
                let [iw, ow, x0, x1] =
                    [f.in_w, f.out_w, f.interior.start, f.interior.end].map(usize_lit);
                (
                    quote! {
                        const IW: usize = #iw;
                        const OW: usize = #ow;
                        const X0: usize = #x0;
                        const X1: usize = #x1;
                        debug_assert_eq!(cols, X0..X1);
                    },
                    quote!(const OW: usize = #ow;),
                    quote!(&src[..IW]),
                    quote!(&mut dst[..OW]),
                    quote!(X0..X1),
                    Box::new(|m: usize| {
                        let m = usize_lit(m);
                        quote!(&rows[#m][..OW])
                    }) as Box<dyn Fn(usize) -> TokenStream>,
                    quote!(&mut dst[..OW]),
                    quote!(0..OW),
                )
            }
            None => (
                TokenStream::new(),
                quote!(let n = dst.len();),
                quote!(src),
                quote!(dst),
                quote!(cols),
                Box::new(|m: usize| {
                    let m = usize_lit(m);
                    quote!(rows[#m])
                }) as Box<dyn Fn(usize) -> TokenStream>,
                quote!(dst),
                quote!(0..n),
            ),
        };
        let vrows: Vec<TokenStream> = vrows.into_iter().map(vrow).collect();
        quote! {
            impl ::convc::__private::SeparableRows<#elem> for #ty {
                #[inline(always)]
                fn horizontal<const FMA: bool, const B: usize>(
                    src: &[#elem],
                    dst: &mut [#elem],
                    cols: ::core::ops::Range<usize>,
                ) {
                    #consts_h
                    let taps = #h::<FMA>([#src]);
                    ::convc::__private::blocks::<#elem, _, B>(#dst, #cols, &taps);
                }

                #[inline(always)]
                fn vertical<const FMA: bool, const B: usize>(
                    rows: &[&[#elem]],
                    dst: &mut [#elem],
                ) {
                    #consts_v
                    let taps = #v::<FMA>([#(#vrows),*]);
                    ::convc::__private::blocks::<#elem, _, B>(#vdst, #vcols, &taps);
                }
            }
        }
    }
}

/// Which runtime helpers a block uses (imported only then, so that user crates
/// see no unused-import warnings).
#[derive(Default)]
struct Uses {
    at: bool,
    strided: bool,
    madd: bool,
}

impl Uses {
    fn imports(&self) -> TokenStream {
        let names: Vec<Ident> = [
            ("at", self.at),
            ("strided", self.strided),
            ("madd", self.madd),
        ]
        .into_iter()
        .filter(|(_, used)| *used)
        .map(|(n, _)| Ident::new(n, Span::call_site()))
        .collect();
        if names.is_empty() {
            TokenStream::new()
        } else {
            quote!(use ::convc::__private::{#(#names),*};)
        }
    }
}

/// `acc = scale * sum over terms of coeff * (plus taps - minus taps)`, one lane loop
/// per term: a ±1 term is adds and subtracts (summed, then added to `acc`), any
/// other term one multiply (fused with the accumulation in the FMA variants), the
/// scale one multiply at the end.
fn terms_code(
    st: &Stencil,
    dtype: DType,
    elem: &Ident,
    lane: &dyn Fn(&Tap) -> TokenStream,
    uses: &mut Uses,
) -> TokenStream {
    if st.terms.is_empty() {
        return quote!([0.0; W]);
    }
    let mut loops = TokenStream::new();
    for (k, term) in st.terms.iter().enumerate() {
        let plus: Vec<TokenStream> = term.plus.iter().map(lane).collect();
        let minus: Vec<TokenStream> = term.minus.iter().map(lane).collect();
        let first = k == 0;
        // The statement for lane `i`.
        let stmt = if term.is_unit() {
            match (first, plus.split_first()) {
                // acc = p0 + p1 - m0 - m1
                (true, Some((p0, rest))) => quote!(acc[i] = #p0 #(+ #rest)* #(- #minus)*;),
                (true, None) => {
                    let (m0, rest) = minus.split_first().expect("a term has taps");
                    quote!(acc[i] = -#m0 #(- #rest)*;)
                }
                // acc += p0 + p1 - m0 - m1
                (false, Some((p0, rest))) => quote!(acc[i] += #p0 #(+ #rest)* #(- #minus)*;),
                (false, None) => {
                    let (m0, rest) = minus.split_first().expect("a term has taps");
                    quote!(acc[i] -= #m0 #(+ #rest)*;)
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
                let taps = term.plus.len() + term.minus.len();
                if taps == 1 {
                    quote!(acc[i] = #sum * #c;)
                } else {
                    quote!(acc[i] = (#sum) * #c;)
                }
            } else {
                uses.madd = true;
                quote!(acc[i] = madd::<FMA, #elem>(#sum, #c, acc[i]);)
            }
        };
        loops.extend(quote! {
            for i in 0..W {
                #stmt
            }
        });
    }
    if st.scale != 1.0 {
        let s = elem_lit(st.scale, dtype);
        loops.extend(quote! {
            for i in 0..W {
                acc[i] *= #s;
            }
        });
    }
    quote! {
        let mut acc: [#elem; W] = [0.0; W];
        #loops
        acc
    }
}
