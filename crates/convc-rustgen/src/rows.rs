//! The row loops: each pass of the Plan as functions over the rows of one driver
//! call, and the `DirectRows` / `SeparableRows` implementation that calls them.
//!
//! A pass becomes two `#[inline(always)]` associated functions of the convolution
//! type, generic over the instruction-set token `S: ::convc::__private::Simd<T>`:
//!
//! - `{pass}_rows` takes every output row and every input row it reads as
//!   separate slices, cuts one sub-slice of equal length per distinct (input row,
//!   column offset) the taps read, and runs a loop over the columns, `S::LANES` at a
//!   time, then one at a time through the token's scalar twin (same rounding) for
//!   the last few;
//! - `{pass}_cols` computes one vector of columns of every output row of the call:
//!   each tap unrolled, each coefficient a literal, each input vector loaded once
//!   just before its first use and shared by every output row that reads it.
//!
//! Where the Plan computes several output rows per call (`rows_per_call`), their
//! windows overlap, so an input vector loaded once serves every output row that
//! reads it. The work of the output rows is interleaved in the order of the input
//! rows it waits for, so that few loaded vectors are live at once; each output's
//! terms go round robin into a few partial sums ([`ACCUMULATORS`] per call in all)
//! so that enough independent multiply-add chains hide the FMA latency.
//!
//! The vectors are explicit (the token's `load`, `splat`, `madd`, and operators)
//! rather than left to LLVM's loop vectorizer: with every tap of a large kernel in
//! one loop body, the vectorizer's schedule spilled loaded rows and broadcast
//! constants to the stack (a dense 7x7 ran 1.45x slower).

use std::collections::BTreeSet;
use std::ops::Range;

use convc_core::plan::{HEAVY_TAPS, Method, Stencil, Tap, Term};
use convc_core::{DType, Plan, Result};
use proc_macro2::{Ident, Span, TokenStream};
use quote::{ToTokens, format_ident, quote};

use crate::lit::{elem_lit, usize_lit};

mod fused;
mod joined;
mod shifted;

use joined::Joined;

/// Partial sums per call, shared out among its output rows: enough independent
/// multiply-add chains to cover the latency of two FMA units (4 cycles each).
pub(crate) const ACCUMULATORS: usize = 8;

/// Vectors of columns per output row of a heavy pass's step: with the four output
/// rows of a call, eight independent multiply-add chains, each broadcast
/// constant used twice and each load up to four times (dense 7x7 on a Xeon: 17.4
/// ms with two vectors, 17.2 with four, which need twice the code).
const VECTORS_HEAVY: usize = 2;

/// Partial sums of a horizontal pass's output vector. Its consecutive vectors
/// are independent, so the out-of-order core overlaps their chains: two partial
/// sums hide the latency, and fewer than one per term save the multiplies and
/// adds of combining them (gaussian 15x15 on a Xeon: 8 partial sums 18.3 ms, 2
/// 17.5, 1 17.8).
const HORIZONTAL_ACCUMULATORS: usize = 2;

/// How far ahead of the current column the row loops of direct passes
/// prefetch, in bytes (sobel on the Xeon: 6.1-6.8 ms at 1024, 6.3-6.8 at 640,
/// 6.7-7.4 at 384).
const PREFETCH_AHEAD: usize = 1024;

/// The same for separable passes, whose rows of a call share L1 sets with
/// fewer streams in flight: on the Xeon at 4096 x 4096, gaussian 5x5 10.8-11.2
/// ms at 1024 bytes, 10.2-10.5 at 384; gaussian 15x15 15.6-15.8 -> 14.7; at
/// 4099 and 1024 columns 3-5% faster too.
const SEPARABLE_PREFETCH_AHEAD: usize = 384;

/// How far ahead a horizontal pass run first prefetches the image row it
/// reads, in bytes; it prefetches nothing else (the ring row it writes stays in
/// cache). Gaussian 15x15 at 4096 x 4096 on the AMD EPYC, five alternating
/// runs: 15.6-18.9 ms without, 14.3-18.0 at 1 KiB, 13.7-16.4 at 2 KiB,
/// 13.9-14.1 at 4 KiB; 4099 wide 15.3-16.3 -> 13.5-17.8. The JIT measured the
/// same (its `HORIZONTAL_FIRST_DISTANCE`).
const HORIZONTAL_FIRST_AHEAD: usize = 2048;

/// The most lanes a token has (16 x `f32` with AVX-512).
const MAX_LANES: usize = 16;

/// What a fixed input shape makes constant: the columns the driver hands to each
/// pass (convc-core's driver always asks for exactly these for one input shape).
#[derive(Debug, Clone)]
pub(crate) struct Fixed {
    /// Direct plans: the interior output columns.
    direct: Range<usize>,
    /// Separable plans, vertical pass: every input column.
    vertical: Range<usize>,
    /// Separable plans, horizontal pass: every output column.
    horizontal: Range<usize>,
}

impl Fixed {
    pub(crate) fn of(plan: &Plan) -> Result<Option<Fixed>> {
        let Some(shape) = plan.input else {
            return Ok(None);
        };
        let g = plan.geometry(shape)?;
        Ok(Some(Fixed {
            direct: g.interior_x,
            vertical: 0..g.input.width,
            horizontal: 0..g.output.width,
        }))
    }

    fn cols(&self, kind: Kind) -> Range<usize> {
        match kind {
            Kind::Direct => self.direct.clone(),
            Kind::Vertical => self.vertical.clone(),
            Kind::Horizontal => self.horizontal.clone(),
        }
    }
}

/// How a step stores its output vectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stores {
    /// `simd.store(o, i, v)`.
    Plain,
    /// `simd.store_stream_vector(&mut m[v], y)`, into the aligned vectors of
    /// the output rows (blocks of streaming passes).
    Vectors,
    /// Into the aligned vectors of the output rows one step late: the step
    /// loads and computes its vectors, then (after a `simd.barrier()`) streams
    /// the previous step's, kept in `p` (`p[j] = y{j}`), into `m{j}[0]`
    /// (single-vector streaming steps; see [`Pass::streamed`]).
    Deferred,
    /// [`Stores::Deferred`] into rows aligned `d{j}` columns past the step's:
    /// after the step's loads, streams the aligned vector that starts `d{j}`
    /// columns into the previous step's (`p[j]`), completed by this step's
    /// (`simd.join(p[j], y{j}, d{j})`), into `m{j}[0]` (single-vector passes
    /// whose rows are aligned differently: rows/shifted.rs).
    DeferredShifted,
    /// Into the aligned vectors of rows aligned `d{j}` columns past the
    /// block's: vector `v` of row `j` completes aligned vector `v` with the
    /// one before it (`*c{j}`, the previous block's last, for `v = 0`):
    /// `simd.store_stream_vector(&mut m{j}[v], simd.join(prev, y, d{j}))`.
    Shifted,
}

/// Where a step's input vectors come from.
#[derive(Clone, Copy)]
enum Loads<'a> {
    /// `simd.load(s{t}_{c}, i)`, one source slice per row and column offset.
    Slices,
    /// From each row's window slice `w{t}` (blocks of several vectors; the
    /// map gives each row's first and last column offset).
    Windows(&'a std::collections::BTreeMap<usize, (usize, usize)>),
    /// Part of them shifted in registers out of two loaded vectors
    /// ([`Joined`]).
    Joined(&'a Joined),
}

/// Whether a loop prefetches its output rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OutputPrefetch {
    /// Not at all (streaming steps: a fetched line would only be evicted by
    /// the streaming store).
    Skip,
    /// `simd.prefetch`: the loop stores plainly.
    Plain,
    /// `simd.prefetch_out`: nothing when the token streams.
    UnlessStreaming,
}

/// Which pass a stencil is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Direct,
    Vertical,
    Horizontal,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Direct => "direct",
            Kind::Vertical => "vertical",
            Kind::Horizontal => "horizontal",
        }
    }
}

/// One pass of a Plan as the generated function sees it: output row `j` of a call
/// reads, for tap `(m, n)`, the row parameter `r{j * sy + m * dy}` at column
/// `x * sx + n * dx - left` for output column `x`.
#[derive(Debug, Clone)]
struct Pass<'a> {
    kind: Kind,
    st: &'a Stencil,
    /// Output rows per call.
    outputs: usize,
    sy: usize,
    dy: usize,
    sx: usize,
    dx: usize,
    left: usize,
    /// The columns, when the input shape fixes them.
    fixed: Option<Range<usize>>,
    /// Whether the pass writes the output image with streaming stores where the
    /// run time asks for them: direct passes (the runtime streams only for
    /// those).
    streams: bool,
    /// Separable plans the run time drives horizontal pass first (any input
    /// shape, [`convc_core::exec::runs_horizontal_first`]): the horizontal
    /// pass then reads an image row and writes a cache-resident ring row.
    horizontal_first: bool,
    /// The plan is bound by its arithmetic ([`Plan::is_heavy`]).
    heavy: bool,
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

    fn pass<'s>(&self, kind: Kind, st: &'s Stencil) -> Pass<'s> {
        let p = self.plan;
        let r = p.rows_per_call;
        let (outputs, sy, dy, sx, dx, left) = match kind {
            Kind::Direct => (
                r,
                p.stride.y,
                p.dilation.y,
                p.stride.x,
                p.dilation.x,
                p.pads.left,
            ),
            Kind::Vertical => (r, p.stride.y, p.dilation.y, 1, 0, 0),
            Kind::Horizontal => (1, 0, 0, p.stride.x, p.dilation.x, 0),
        };
        Pass {
            kind,
            st,
            outputs,
            sy,
            dy,
            sx,
            dx,
            left,
            fixed: self.fixed.as_ref().map(|f| f.cols(kind)),
            streams: kind == Kind::Direct || (kind == Kind::Vertical && self.fixed.is_none()),
            horizontal_first: self.fixed.is_none()
                && convc_core::exec::runs_horizontal_first(self.plan),
            heavy: p.is_heavy(),
        }
    }

    /// The row functions (an inherent impl of the convolution type) and its
    /// `DirectRows` or `SeparableRows` impl.
    pub(crate) fn lower(&self) -> TokenStream {
        let ty = self.ty;
        let elem = self.elem();
        let dtype = self.plan.dtype;
        let (functions, rows) = match &self.plan.method {
            Method::Direct(st) => {
                let d = self.pass(Kind::Direct, st);
                (d.all_functions(&elem, dtype), self.direct_impl(&d))
            }
            Method::Separable {
                vertical,
                horizontal,
            } => {
                let v = self.pass(Kind::Vertical, vertical);
                let h = self.pass(Kind::Horizontal, horizontal);
                let (fv, fh) = (v.all_functions(&elem, dtype), h.all_functions(&elem, dtype));
                let (ff, fused) = self.fused(&v, &h).unzip();
                (quote!(#fv #fh #ff), self.separable_impl(&v, &h, fused))
            }
        };
        quote! {
            #[allow(clippy::all, clippy::pedantic, clippy::nursery, clippy::restriction)]
            impl #ty {
                #functions
            }

            #rows
        }
    }

    /// `DirectRows`: the call's window rows and output rows into `direct_rows`.
    fn direct_impl(&self, d: &Pass<'_>) -> TokenStream {
        let elem = self.elem();
        let ty = self.ty;
        let call = d.call(quote!(window), quote!(out));
        quote! {
            #[allow(clippy::all, clippy::pedantic, clippy::nursery, clippy::restriction)]
            impl ::convc::__private::DirectRows<#elem> for #ty {
                #[inline(always)]
                fn direct<S: ::convc::__private::Simd<#elem>>(
                    simd: S,
                    window: &[&[#elem]],
                    out: &mut [&mut [#elem]],
                    cols: ::core::ops::Range<usize>,
                ) {
                    #call
                }
            }
        }
    }

    /// `SeparableRows`: the vertical pass over the call's window into its
    /// temporary rows, the horizontal pass over one padded row.
    fn separable_impl(
        &self,
        v: &Pass<'_>,
        h: &Pass<'_>,
        fused: Option<TokenStream>,
    ) -> TokenStream {
        let elem = self.elem();
        let ty = self.ty;
        let vcall = v.call(quote!(window), quote!(tmp));
        let hcall = h.call(quote!(src), quote!(out));
        quote! {
            #[allow(clippy::all, clippy::pedantic, clippy::nursery, clippy::restriction)]
            impl ::convc::__private::SeparableRows<#elem> for #ty {
                #[inline(always)]
                fn vertical<S: ::convc::__private::Simd<#elem>>(
                    simd: S,
                    window: &[&[#elem]],
                    tmp: &mut [&mut [#elem]],
                    cols: ::core::ops::Range<usize>,
                ) {
                    #vcall
                }

                #[inline(always)]
                fn horizontal<S: ::convc::__private::Simd<#elem>>(
                    simd: S,
                    src: &[#elem],
                    out: &mut [#elem],
                    cols: ::core::ops::Range<usize>,
                ) {
                    #hcall
                }

                #fused
            }
        }
    }
}

impl Pass<'_> {
    /// Every tap of the stencil, in term order.
    fn taps(&self) -> impl Iterator<Item = &Tap> {
        self.st
            .terms
            .iter()
            .flat_map(|t| t.plus.iter().chain(&t.minus))
    }

    /// The row parameter and column offset output row `j` reads for `tap`.
    fn source(&self, j: usize, tap: &Tap) -> (usize, usize) {
        (j * self.sy + tap.row * self.dy, tap.col * self.dx)
    }

    /// The first and last column offset each row parameter is read at.
    fn row_spans(&self) -> std::collections::BTreeMap<usize, (usize, usize)> {
        let mut spans = std::collections::BTreeMap::new();
        for (t, c) in self.sources() {
            spans
                .entry(t)
                .and_modify(|s: &mut (usize, usize)| s.1 = c)
                .or_insert((c, c));
        }
        spans
    }

    /// Every (row, column offset) some output row reads, sorted.
    fn sources(&self) -> BTreeSet<(usize, usize)> {
        (0..self.outputs)
            .flat_map(|j| self.taps().map(move |t| self.source(j, t)))
            .collect()
    }

    /// The row parameters, sorted.
    fn rows(&self) -> BTreeSet<usize> {
        self.sources().into_iter().map(|(t, _)| t).collect()
    }

    fn outs(&self) -> Vec<Ident> {
        self.per_row("o")
    }

    /// `{prefix}{j}` for every output row `j` of a call.
    fn per_row(&self, prefix: &str) -> Vec<Ident> {
        (0..self.outputs)
            .map(|j| format_ident!("{prefix}{j}"))
            .collect()
    }

    fn row_var(&self, t: usize) -> Ident {
        format_ident!("r{t}")
    }

    /// The same pass computing one output row per call: the form of the
    /// instruction sets that are not `WIDE`.
    fn single(&self) -> Self {
        Pass {
            outputs: 1,
            ..self.clone()
        }
    }

    /// `{pass}_rows` (every output row of a call) or `{pass}_row` (one).
    fn rows_fn(&self) -> Ident {
        match self.outputs {
            1 => format_ident!("{}_row", self.kind.name()),
            _ => format_ident!("{}_rows", self.kind.name()),
        }
    }

    /// One vector of columns of `rows_fn`.
    fn cols_fn(&self) -> Ident {
        match self.outputs {
            1 => format_ident!("{}_col", self.kind.name()),
            _ => format_ident!("{}_cols", self.kind.name()),
        }
    }

    /// [`Pass::vectors`] vectors of columns of `rows_fn`.
    fn block_fn(&self) -> Ident {
        format_ident!("{}_block", self.kind.name())
    }

    /// Vectors of columns per output row that one step of the wide form computes:
    /// more than one for heavy passes, whose constants (one broadcast per tap)
    /// and loads would otherwise cost as much as the multiply-adds; and for the
    /// horizontal pass of a heavy plan without a column stride, whose two
    /// vectors' shifted loads overlap (a 15-tap row filter loads 23 vectors for
    /// two 8-lane vectors instead of 30; its step is bound by those loads
    /// where they are not joined in registers: see [`Pass::horizontal_blocks`]).
    fn vectors(&self) -> usize {
        let heavy_row = self.kind == Kind::Horizontal && self.heavy && self.sx == 1;
        if (self.outputs > 1 && self.st.taps() > HEAVY_TAPS) || heavy_row {
            VECTORS_HEAVY
        } else {
            1
        }
    }

    /// `blocks` (the loop [`Pass::blocks`] returns) as a horizontal pass runs it:
    /// only for tokens without a cheap `join` (and, for a pass with a
    /// line-joined step, without `JOINS_LINES`), since the others take a
    /// [`Joined`] step, which makes some of its shifted vectors in registers,
    /// and would find no columns left.
    ///
    /// Gaussian 15x15 on the AMD EPYC (Zen 3, AVX2), two builds alternating
    /// (minima of each run): at 4096 x 4096, six rounds, 16.8-17.9 ms against
    /// 17.6-20.6; at 4096 x 256, where the image stays in cache, ten rounds,
    /// 0.96-1.33 against 1.00-1.42, lower at every rank.
    fn horizontal_blocks(&self, dtype: DType, blocks: TokenStream) -> TokenStream {
        if self.kind == Kind::Horizontal && self.joins_lines(dtype) {
            quote! {
                if !S::CHEAP_JOIN && !S::JOINS_LINES {
                    #blocks
                }
            }
        } else if self.kind == Kind::Horizontal {
            quote! {
                if !S::CHEAP_JOIN {
                    #blocks
                }
            }
        } else {
            blocks
        }
    }

    /// The number of columns: a literal with a fixed input shape.
    fn n(&self) -> TokenStream {
        match &self.fixed {
            Some(c) => usize_lit(c.len()).into_token_stream(),
            None => quote!((cols.end - cols.start)),
        }
    }

    /// `{pass}_narrow`: rows narrower than a vector.
    fn narrow_fn(&self) -> Ident {
        format_ident!("{}_narrow", self.kind.name())
    }

    /// The rows `self` reads from `window` (the one source row of a horizontal
    /// pass, if it reads any).
    fn rows_of(&self, window: &TokenStream) -> Vec<TokenStream> {
        match self.kind {
            Kind::Horizontal => {
                if self.st.terms.is_empty() {
                    vec![]
                } else {
                    vec![window.clone()]
                }
            }
            _ => self
                .rows()
                .into_iter()
                .map(|t| {
                    let t = usize_lit(t);
                    quote!(#window[#t])
                })
                .collect(),
        }
    }

    /// Statements running the one-row form of the pass (with `token`) on every
    /// output row of the call, each reading the window from row `j * sy`.
    fn each_row(&self, token: TokenStream, window: &TokenStream, out: &TokenStream) -> TokenStream {
        let single = self.single();
        let row_fn = single.rows_fn();
        let cols = self.fixed.is_none().then(|| quote!(cols.clone()));
        if self.kind == Kind::Horizontal {
            let rows = single.rows_of(window);
            return quote!(Self::#row_fn(#token, #out, #(#rows,)* #cols););
        }
        let rows = single.rows_of(&quote!(w));
        if rows.is_empty() {
            return quote! {
                for o in #out.iter_mut() {
                    Self::#row_fn(#token, o, #cols);
                }
            };
        }
        let window_j = if self.sy == 1 {
            quote!(&#window[j..])
        } else {
            let sy = usize_lit(self.sy);
            quote!(&#window[j * #sy..])
        };
        quote! {
            for (j, o) in #out.iter_mut().enumerate() {
                let w = #window_j;
                Self::#row_fn(#token, o, #(#rows,)* #cols);
            }
        }
    }

    /// The trait method body: checks the columns of a fixed shape (debug builds)
    /// and picks the form: rows narrower than a vector go to `{pass}_narrow`
    /// (the token's scalar, in the token's form, not inlined); `WIDE` tokens
    /// compute all output rows of the call in one loop; the others one output row
    /// at a time. `window`: the input rows (direct, vertical) or the one source
    /// row (horizontal); `out`: the output rows (or the one output row).
    fn call(&self, window: TokenStream, out: TokenStream) -> TokenStream {
        let check = self.fixed.as_ref().map(|c| {
            let (x0, x1) = (usize_lit(c.start), usize_lit(c.end));
            quote!(debug_assert_eq!(cols, #x0..#x1);)
        });
        let narrow = self.narrow_fn();
        let n = self.n();
        let each = self.each_row(quote!(simd), &window, &out);
        let wide = self
            .rows_form(&window, &out)
            .unwrap_or_else(|| each.clone());
        // Light direct passes that stream run rows aligned differently (widths
        // that are not a multiple of a vector) one at a time, each streaming on
        // its own, where the rows of a call read no input row in common (a
        // dilation in y): their cost is memory traffic. Where they share rows
        // (sobel), the rows together with plain stores ran faster on a Zen 4
        // (sobel at 4099: 8.3-10.3 ms one at a time, 7.5-7.9 together; why
        // was not found, docs/performance.md). Not vertical
        // passes: one row at a time they sum in another order (the rows form
        // shares a multiply-add across rows), and an output's values must not
        // depend on its rows' alignment.
        let wide_ok = if self.streams
            && self.kind == Kind::Direct
            && self.outputs > 1
            && self.vectors() == 1
            && self.sx == 1
            && self.rows().len() == self.outputs * self.single().rows().len()
        {
            quote! {
                S::WIDE && {
                    let h = simd.stream_head(&#out[0]);
                    #out.iter().all(|o| simd.stream_head(o) == h)
                }
            }
        } else {
            quote!(S::WIDE)
        };
        if !self.needs_narrow() {
            return quote! {
                #check
                if #wide_ok {
                    #wide
                } else {
                    #each
                }
            };
        }
        quote! {
            #check
            if #n < S::LANES {
                Self::#narrow(simd.scalar(), S::WIDE, #window, #out, cols);
            } else if #wide_ok {
                #wide
            } else {
                #each
            }
        }
    }

    /// Whether rows can be narrower than a vector: always, unless a fixed input
    /// shape gives at least [`MAX_LANES`] columns.
    fn needs_narrow(&self) -> bool {
        self.fixed.as_ref().is_none_or(|c| c.len() < MAX_LANES)
    }

    /// `Self::{pass}_rows(simd, o.., r.., [cols])` over the call's rows, `None`
    /// for a pass of one output row (its single form is the only one).
    fn rows_form(&self, window: &TokenStream, out: &TokenStream) -> Option<TokenStream> {
        if self.outputs == 1 {
            return None;
        }
        let outs = self.outs();
        let r = usize_lit(self.outputs);
        let name = self.rows_fn();
        let rows = self.rows_of(window);
        let cols = self.fixed.is_none().then(|| quote!(cols));
        Some(quote! {
            let [#(#outs),*] = #out else {
                ::convc::__private::wrong_rows(#r)
            };
            Self::#name(simd, #(#outs,)* #(#rows,)* #cols);
        })
    }

    /// `fn {pass}_narrow(simd, wide, window, out, cols)`: the pass one column at
    /// a time, with the vector token's scalar (its lanes' multiply-add, fused or
    /// not) in the form the token computes (`wide`: the call's rows together,
    /// whose sums run in another order than one row's), so that a column gets
    /// the same bits here as from a vector. The driver runs a vertical pass
    /// over each edge's few columns on its own where it sweeps the interior;
    /// were those bits other than a whole row's, they would depend on where a
    /// band starts, that is on the thread count.
    fn narrow_function(&self, elem: &Ident) -> TokenStream {
        let narrow = self.narrow_fn();
        let window = quote!(window);
        let out = quote!(out);
        let each = self.each_row(quote!(simd), &window, &out);
        let body = match self.rows_form(&window, &out) {
            Some(rows) => quote! {
                if wide {
                    #rows
                } else {
                    #each
                }
            },
            None => quote! {
                let _ = wide;
                #each
            },
        };
        let params = match self.kind {
            Kind::Horizontal => quote!(window: &[#elem], out: &mut [#elem]),
            _ => quote!(window: &[&[#elem]], out: &mut [&mut [#elem]]),
        };
        let unused = self.fixed.is_some().then(|| quote!(let _ = &cols;));
        quote! {
            /// Rows narrower than a vector, one column at a time with the
            /// token's scalar, in the token's form (not inlined).
            #[inline(never)]
            fn #narrow<Q: ::convc::__private::Simd<#elem>>(
                simd: Q,
                wide: bool,
                #params,
                cols: ::core::ops::Range<usize>,
            ) {
                #unused
                #body
            }
        }
    }

    /// Both forms of the pass (just one when it computes one row per call).
    fn all_functions(&self, elem: &Ident, dtype: DType) -> TokenStream {
        let single = self.single().functions(elem, dtype);
        let narrow = self.needs_narrow().then(|| self.narrow_function(elem));
        if self.outputs == 1 {
            quote!(#single #narrow)
        } else {
            let wide = self.functions(elem, dtype);
            quote!(#wide #single #narrow)
        }
    }

    /// `fn {pass}_rows<S>(simd, o.., r.., [cols])`, the pass over the rows of one
    /// call, and `fn {pass}_cols<S>(simd, i, o.., s..)`, one vector of its columns
    /// (`_row` and `_col` for the form with one output row).
    fn functions(&self, elem: &Ident, dtype: DType) -> TokenStream {
        let name = self.rows_fn();
        let cols_fn = self.cols_fn();
        let simd = quote!(S: ::convc::__private::Simd<#elem>);
        let outs = self.outs();
        let rows: Vec<Ident> = self.rows().into_iter().map(|t| self.row_var(t)).collect();
        let (sx, left) = (self.sx, self.left);
        let cols_param = self
            .fixed
            .is_none()
            .then(|| quote!(cols: ::core::ops::Range<usize>,));

        // The output columns and the first input column, as constants when the
        // input shape is fixed.
        let mut prelude = TokenStream::new();
        let (n, base): (TokenStream, TokenStream) = match &self.fixed {
            Some(c) => {
                let (x0, x1) = (usize_lit(c.start), usize_lit(c.end));
                for o in &outs {
                    prelude.extend(quote!(let #o = &mut #o[#x0..#x1];));
                }
                // The driver calls this only when the columns are not empty.
                let b = (c.start * sx).saturating_sub(left);
                (
                    usize_lit(c.len()).into_token_stream(),
                    usize_lit(b).into_token_stream(),
                )
            }
            None => {
                for o in &outs {
                    prelude.extend(quote!(let #o = &mut #o[cols.start..cols.end];));
                }
                let (s, l) = (usize_lit(sx), usize_lit(left));
                let b = match (sx, left) {
                    (1, 0) => quote!(cols.start),
                    (1, _) => quote!(cols.start - #l),
                    (_, 0) => quote!(cols.start * #s),
                    _ => quote!(cols.start * #s - #l),
                };
                if !self.st.terms.is_empty() {
                    prelude.extend(quote! {
                        let b = #b;
                        let n = cols.end - cols.start;
                    });
                }
                (quote!(n), quote!(b))
            }
        };

        if self.st.terms.is_empty() {
            let fills = outs.iter().map(|o| quote!(#o.fill(0.0);));
            return quote! {
                #[inline(always)]
                fn #name<#simd>(_simd: S, #(#outs: &mut [#elem],)* #cols_param) {
                    #prelude
                    #(#fills)*
                }
            };
        }

        // Each source: the sub-slice it reads, of the same length for every one.
        let fixed_n = self.fixed.as_ref().map(Range::len);
        let len = match (sx, fixed_n) {
            (1, _) => n.clone(),
            (s, Some(n)) => usize_lit((n.max(1) - 1) * s + 1).into_token_stream(),
            (s, None) => {
                let s = usize_lit(s);
                quote!((n - 1) * #s + 1)
            }
        };
        let fixed_base = self
            .fixed
            .as_ref()
            .map(|c| (c.start * sx).saturating_sub(left));
        let mut decls = TokenStream::new();
        let mut slices = Vec::new();
        for (t, c) in self.sources() {
            let s = format_ident!("s{t}_{c}");
            let row = self.row_var(t);
            let start = column_start(fixed_base, &base, c);
            decls.extend(if fixed_base.is_some_and(|b| b + c == 0) {
                quote!(let #s = &#row[..#len];)
            } else {
                quote!(let #s = &#row[#start..][..#len];)
            });
            slices.push(s);
        }
        let body = self.body(dtype, 1, Loads::Slices, Stores::Plain);
        // With a column stride, `n - 1` needs a non-empty row.
        let guard = (sx > 1 && self.fixed.is_none()).then(|| {
            quote! {
                if n == 0 {
                    return;
                }
            }
        });
        let prefetch = self.prefetch(dtype, &quote!(at));
        let mut fns = TokenStream::new();
        let blocks = if self.vectors() > 1 {
            let blocks = self.blocks(elem, dtype, &mut decls, [&n, &base, &len], &mut fns);
            self.horizontal_blocks(dtype, blocks)
        } else {
            TokenStream::new()
        };
        let streamed = if self.streams {
            self.streamed(elem, dtype, &n, &slices, &mut fns)
        } else {
            TokenStream::new()
        };
        let joined = self.joined_steps(elem, dtype, &n, &slices, prefetch.as_ref(), &mut fns);
        // The last vector overlaps the one before it rather than leaving a tail:
        // its columns get the same values again (the same sums in the same order
        // as a block computes them, so every column's value is the same).
        let vectors = quote! {
            let last = #n - S::LANES;
            let mut i = 0;
            #streamed
            #blocks
            #joined
            loop {
                let at = if i < last { i } else { last };
                #prefetch
                Self::#cols_fn(simd, at, #(#outs,)* #(#slices,)*);
                if at == last {
                    break;
                }
                i += S::LANES;
            }
        };
        // Called only when the row holds a vector (`{pass}_narrow` otherwise).
        let columns = vectors;
        quote! {
            #[inline(always)]
            fn #name<#simd>(
                simd: S,
                #(#outs: &mut [#elem],)*
                #(#rows: &[#elem],)*
                #cols_param
            ) {
                #prelude
                #guard
                #decls
                #columns
            }

            #[inline(always)]
            fn #cols_fn<#simd>(
                simd: S,
                i: usize,
                #(#outs: &mut [#elem],)*
                #(#slices: &[#elem],)*
            ) {
                #body
            }

            #fns
        }
    }

    /// Passes that stream: where the token streams and every output row of the
    /// call is vector-aligned at the same column `h`, plain stores up to the
    /// first aligned vector after `h`, then streaming stores into the rows'
    /// aligned vectors ([`Simd::split_aligned`]; aligned by their type, so no
    /// store tests anything), blocks of them for heavy passes, up to the last
    /// whole vector that leaves the rest to plain stores without overlapping
    /// it. No cache line gets both kinds of store: a plain store into a line
    /// being streamed waits for the stream and reads the line (gaussian 5x5 in
    /// strips ran 3x slower), and a test in each store costs a heavy step its
    /// schedule (60-100% slower). Elsewhere every store is plain. Adds the step
    /// function to `fns`; heavy passes read the `q{t}` slices [`Pass::blocks`]
    /// declares.
    fn streamed(
        &self,
        elem: &Ident,
        dtype: DType,
        n: &TokenStream,
        slices: &[Ident],
        fns: &mut TokenStream,
    ) -> TokenStream {
        let simd = quote!(S: ::convc::__private::Simd<#elem>);
        let outs = self.outs();
        let cols_fn = self.cols_fn();
        let vecs = self.per_row("m");
        let u = self.vectors();
        let ul = usize_lit(u);
        let stream_fn = if u > 1 {
            format_ident!("{}_stream", self.block_fn())
        } else {
            format_ident!("{}_stream", cols_fn)
        };
        let (params, args, windows) = if u > 1 {
            let w = self.windows(elem);
            (w.params, w.args, w.decls)
        } else {
            let params = slices.iter().map(|s| quote!(#s: &[#elem])).collect();
            (params, slices.to_vec(), TokenStream::new())
        };
        let spans = self.row_spans();
        let deferred = u == 1 && self.kind == Kind::Direct;
        let stores = if deferred {
            Stores::Deferred
        } else {
            Stores::Vectors
        };
        let loads = if u > 1 {
            Loads::Windows(&spans)
        } else {
            Loads::Slices
        };
        let body = self.body(dtype, u, loads, stores);
        let pending = usize_lit(self.outputs);
        let pending_param = deferred.then(|| quote!(p: &mut [S::V; #pending],));
        fns.extend(quote! {
            #[inline(always)]
            fn #stream_fn<#simd>(
                simd: S,
                i: usize,
                k: usize,
                #(#vecs: &mut [S::V],)*
                #pending_param
                #(#params,)*
            ) {
                #(let #vecs = &mut #vecs[k..][..#ul];)*
                #windows
                #body
            }
        });
        let prefetches = self.step_prefetches(dtype, OutputPrefetch::Skip);
        // A single-vector step streams the previous step's vectors after its own
        // loads (`Stores::Deferred`): the first step streams placeholders into
        // the slots the second overwrites, and the last step's vectors go after
        // the loop. Stored right away, a vector shares the low 12 address bits
        // with the loads of the next step whenever the output rows sit at the
        // input rows' offset modulo 4 KiB (images from the same allocator do),
        // and those loads wait for the store (sobel at 4096 x 4096 on an AMD
        // Zen 4, in C: 6.4-6.6 ms, 4.7-4.8 with the late stores, the same as
        // with the output 1 or 2 KiB further on).
        let main_loop = if deferred {
            let js = (0..self.outputs).map(usize_lit);
            quote! {
                let mut p = [simd.splat(0.0); #pending];
                let mut late = 0;
                while i + S::LANES <= end {
                    #(#prefetches)*
                    Self::#stream_fn(simd, i, late, #(#vecs,)* &mut p, #(#args,)*);
                    late = k;
                    i += S::LANES;
                    k += 1;
                }
                if k > 0 {
                    #(simd.store_stream_vector(&mut #vecs[late], p[#js]);)*
                }
            }
        } else {
            quote! {
                while i + #ul * S::LANES <= end {
                    #(#prefetches)*
                    Self::#stream_fn(simd, i, k, #(#vecs,)* #(#args,)*);
                    i += #ul * S::LANES;
                    k += #ul;
                }
            }
        };
        // Single-vector passes try rows aligned alike first (the sweep for
        // rows aligned differently placed before it cost sobel at 4096 x 4096,
        // where it never runs, about 5%).
        let (shifted, single_shifted) = if self.streams_single_shifted() {
            let sweep = self.single_shifted(elem, dtype, n, slices, &prefetches, fns);
            (None, Some(sweep))
        } else {
            let heavy = (u > 1 && self.outputs > 1 && self.sx == 1)
                .then(|| self.shifted(elem, dtype, n, slices, &prefetches, fns));
            (heavy, None)
        };
        let (o0, rest) = outs.split_first().expect("a pass has an output row");
        quote! {
            #shifted
            let h0 = simd.stream_head(#o0);
            match h0 {
                Some(h) if h <= last #(&& simd.stream_head(#rest) == h0)* => {
                if h != 0 {
                    Self::#cols_fn(simd, 0, #(#outs,)* #(#slices,)*);
                    Self::#cols_fn(simd, h, #(#outs,)* #(#slices,)*);
                    i = h + S::LANES;
                }
                let end = if (#n - i) % S::LANES == 0 { #n } else { last };
                // Vector `k` of `m{j}` is columns `i + k * LANES..` of row `j`.
                #(let (_, #vecs, _) = simd.split_aligned(&mut #outs[i..]);)*
                let mut k = 0;
                #main_loop
                if i == #n {
                    return;
                }
                }
                _ => {
                    #single_shifted
                }
            }
        }
    }

    /// Heavy passes whose output rows all stream but start their aligned
    /// vectors at different columns (`h{j}`; widths that are not a multiple of
    /// a vector): columns `0..LANES` of every row into scratch rows, each row's
    /// columns before its first aligned one copied from there; then blocks from
    /// column `LANES` on, each vector of row `j` completing the aligned vector
    /// that starts `h{j}` columns into the vector before it
    /// ([`Stores::Shifted`], the first one from the scratch columns); the rest
    /// of each row, from its first column no block completed, computed into
    /// the scratch rows and copied. No cache line gets both kinds of store.
    /// Adds the step function to `fns`.
    fn shifted(
        &self,
        elem: &Ident,
        dtype: DType,
        n: &TokenStream,
        slices: &[Ident],
        prefetches: &[TokenStream],
        fns: &mut TokenStream,
    ) -> TokenStream {
        let simd = quote!(S: ::convc::__private::Simd<#elem>);
        let outs = self.outs();
        let cols_fn = self.cols_fn();
        let [heads, vecs, carries, shifts, scratch] =
            ["h", "m", "c", "d", "t"].map(|p| self.per_row(p));
        let u = self.vectors();
        let ul = usize_lit(u);
        // The tail: fewer than `u + 1` vectors of columns.
        let width = usize_lit((u + 1) * MAX_LANES);
        let min = usize_lit(u + 4);
        let step_fn = format_ident!("{}_shifted", self.block_fn());
        let Windows {
            params,
            args,
            decls: windows,
        } = self.windows(elem);
        let spans = self.row_spans();
        let body = self.body(dtype, u, Loads::Windows(&spans), Stores::Shifted);
        fns.extend(quote! {
            #[inline(always)]
            fn #step_fn<#simd>(
                simd: S,
                i: usize,
                k: usize,
                #(#vecs: &mut [S::V],)*
                #(#carries: &mut S::V,)*
                #(#shifts: usize,)*
                #(#params,)*
            ) {
                #(let #vecs = &mut #vecs[k..][..#ul];)*
                #windows
                #body
            }
        });
        let (h0, rest) = heads.split_first().expect("several output rows");
        quote! {
            if let [#(Some(#heads)),*] = [#(simd.stream_head(#outs)),*] {
                if !(#(#rest == #h0)&&*) && #n >= #min * S::LANES {
                    #(let mut #scratch = [0.0 as #elem; #width];)*
                    Self::#cols_fn(simd, 0, #(&mut #scratch,)* #(#slices,)*);
                    #(#outs[..#heads].copy_from_slice(&#scratch[..#heads]);)*
                    #(let mut #carries = simd.load(&#scratch, 0);)*
                    i = S::LANES;
                    {
                        #(let (_, #vecs, _) = simd.split_aligned(&mut #outs[..]);)*
                        let mut k = 0;
                        while i + #ul * S::LANES <= #n {
                            #(#prefetches)*
                            Self::#step_fn(
                                simd, i, k, #(#vecs,)* #(&mut #carries,)* #(#heads,)* #(#args,)*
                            );
                            i += #ul * S::LANES;
                            k += #ul;
                        }
                    }
                    let base = i - S::LANES;
                    let mut at = base;
                    loop {
                        let a = if at + S::LANES <= #n { at } else { #n - S::LANES };
                        Self::#cols_fn(simd, a - base, #(&mut #scratch,)* #(&#slices[base..],)*);
                        if a + S::LANES >= #n {
                            break;
                        }
                        at += S::LANES;
                    }
                    #(#outs[base + #heads..].copy_from_slice(&#scratch[#heads..#n - base]);)*
                    return;
                }
            }
        }
    }

    /// The prefetches of a step of [`Pass::vectors`] vectors at column `i`.
    fn step_prefetches(&self, dtype: DType, outputs: OutputPrefetch) -> Vec<TokenStream> {
        (0..self.vectors())
            .filter_map(|v| {
                let at = if v == 0 {
                    quote!(i)
                } else {
                    let off = usize_lit(v);
                    quote!(i + #off * S::LANES)
                };
                self.prefetch_with(dtype, &at, outputs)
            })
            .collect()
    }

    /// The window slices of a block: parameters `q{t}` (input row `t` from the
    /// first column any tap reads in it), the same names as arguments, and the
    /// block's `w{t}`: the columns of `q{t}` one block reads, of constant
    /// length (one pointer per row, and loads at constant offsets in it need no
    /// bounds check).
    fn windows(&self, elem: &Ident) -> Windows {
        let ul = usize_lit(self.vectors());
        let mut w = Windows {
            params: Vec::new(),
            args: Vec::new(),
            decls: TokenStream::new(),
        };
        for (&t, &(c0, c1)) in &self.row_spans() {
            let q = format_ident!("q{t}");
            let win = format_ident!("w{t}");
            let span = usize_lit(c1 - c0);
            w.decls.extend(if self.sx == 1 {
                quote!(let #win = &#q[i..][..#ul * S::LANES + #span];)
            } else {
                let s = usize_lit(self.sx);
                quote!(let #win = &#q[i * #s..][..(#ul * S::LANES - 1) * #s + 1 + #span];)
            });
            w.params.push(quote!(#q: &[#elem]));
            w.args.push(q);
        }
        w
    }

    /// Heavy passes: the loop over blocks of [`Pass::vectors`] vectors that
    /// starts their rows (after [`Pass::streamed`]'s, if any), with plain
    /// stores. Adds the block function to `fns`, and to `decls` the row slices
    /// the blocks read (`q{t}`); `n` is the number of output columns, `base`
    /// the first input column, `len` the input columns each tap column reads.
    fn blocks(
        &self,
        elem: &Ident,
        dtype: DType,
        decls: &mut TokenStream,
        [n, base, len]: [&TokenStream; 3],
        fns: &mut TokenStream,
    ) -> TokenStream {
        let simd = quote!(S: ::convc::__private::Simd<#elem>);
        let outs = self.outs();
        let ul = usize_lit(self.vectors());
        let fixed_base = self
            .fixed
            .as_ref()
            .map(|c| (c.start * self.sx).saturating_sub(self.left));
        let spans = self.row_spans();
        for (&t, &(c0, c1)) in &spans {
            let q = format_ident!("q{t}");
            let row = self.row_var(t);
            let span = usize_lit(c1 - c0);
            let start = column_start(fixed_base, base, c0);
            decls.extend(quote!(let #q = &#row[#start..][..#len + #span];));
        }
        let Windows {
            params,
            args,
            decls: windows,
        } = self.windows(elem);
        let block_fn = self.block_fn();
        let body = self.body(dtype, self.vectors(), Loads::Windows(&spans), Stores::Plain);
        fns.extend(quote! {
            #[inline(always)]
            fn #block_fn<#simd>(
                simd: S,
                i: usize,
                #(#outs: &mut [#elem],)*
                #(#params,)*
            ) {
                #windows
                #body
            }
        });
        // These blocks store plainly, also where the token streams (rows of a
        // call aligned differently: dense 7x7 at width 4099, 17.4 -> 16.6 ms).
        let prefetches = self.step_prefetches(dtype, OutputPrefetch::Plain);
        quote! {
            while i + #ul * S::LANES <= #n {
                #(#prefetches)*
                Self::#block_fn(simd, i, #(#outs,)* #(#args,)*);
                i += #ul * S::LANES;
            }
            if i == #n {
                return;
            }
        }
    }
}

/// A block's window slices ([`Pass::windows`]).
struct Windows {
    params: Vec<TokenStream>,
    args: Vec<Ident>,
    decls: TokenStream,
}

impl Pass<'_> {
    /// A software prefetch, one cache line per iteration that starts a line,
    /// [`PREFETCH_AHEAD`] bytes ahead ([`SEPARABLE_PREFETCH_AHEAD`] in separable
    /// passes), of every input row new to this call (the
    /// rows the previous call did not read) and of the output rows of direct and
    /// horizontal passes; nothing for a column stride, nor for a direct or
    /// vertical pass with one output row per call. Several output rows per call
    /// interleave that many read and write streams, and the hardware prefetchers
    /// do not run far enough ahead of them (the JIT measured the same:
    /// docs/jit.md, "Prefetching"). Measured
    /// on 4096x4096 f32 (AMD EPYC): sobel 5.6 -> 4.0 ms, gaussian 5x5 7.8 -> 5.8
    /// ms. Direct passes prefetch their output rows too (a Xeon waits for the
    /// lines it writes: sobel 12.4 -> 11.2 ms, dilation 2 3x3 13.7 -> 12.2 ms, the
    /// EPYC neither gained nor lost), and so does the horizontal pass run second,
    /// whose input is a cache-resident row (gaussian 5x5 15.4 -> 13.6 ms, 15x15
    /// 19.7 -> 18.3 on the Xeon); the vertical pass does not, since its output
    /// rows are cache-resident (slower on the EPYC). A horizontal pass run first
    /// reads an image row and writes a ring row: it prefetches the image row
    /// only, further ahead ([`HORIZONTAL_FIRST_AHEAD`]).
    fn prefetch(&self, dtype: DType, at: &TokenStream) -> Option<TokenStream> {
        self.prefetch_with(dtype, at, OutputPrefetch::UnlessStreaming)
    }

    /// [`Pass::prefetch`], with the output rows' prefetch `outputs`.
    fn prefetch_with(
        &self,
        dtype: DType,
        at: &TokenStream,
        outputs: OutputPrefetch,
    ) -> Option<TokenStream> {
        if self.sx != 1 || (self.outputs < 2 && self.kind != Kind::Horizontal) {
            return None;
        }
        let size = dtype.size_bytes();
        if self.kind == Kind::Horizontal && self.horizontal_first {
            let (t, c) = *self.sources().first()?;
            let s = format_ident!("s{t}_{c}");
            let (line, ahead) = (
                usize_lit(64 / size),
                usize_lit(HORIZONTAL_FIRST_AHEAD / size),
            );
            return Some(quote! {
                if (#at) % #line == 0 {
                    simd.prefetch(#s, #at + #ahead);
                }
            });
        }
        let ahead = match self.kind {
            Kind::Direct => PREFETCH_AHEAD,
            Kind::Vertical | Kind::Horizontal => SEPARABLE_PREFETCH_AHEAD,
        };
        let (line, ahead) = (usize_lit(64 / size), usize_lit(ahead / size));
        let sources = self.sources();
        let end = sources.iter().map(|&(t, _)| t + 1).max()?;
        let fresh = end.saturating_sub(self.outputs * self.sy);
        let mut firsts: Vec<(usize, usize)> = Vec::new();
        for &(t, c) in &sources {
            if t >= fresh && firsts.last().is_none_or(|&(u, _)| u != t) {
                firsts.push((t, c));
            }
        }
        let inputs = firsts.iter().map(|&(t, c)| {
            let s = format_ident!("s{t}_{c}");
            quote!(simd.prefetch(#s, #at + #ahead);)
        });
        let outs = if outputs != OutputPrefetch::Skip && self.kind != Kind::Vertical {
            self.outs()
        } else {
            Vec::new()
        };
        let outputs = outs.iter().map(|o| {
            if self.streams && outputs == OutputPrefetch::UnlessStreaming {
                quote!(simd.prefetch_out(#o, #at + #ahead);)
            } else {
                quote!(simd.prefetch(#o, #at + #ahead);)
            }
        });
        Some(quote! {
            if (#at) % #line == 0 {
                #(#inputs)*
                #(#outputs)*
            }
        })
    }

    /// Partial sums per output row and vector: [`ACCUMULATORS`] in all, at least
    /// one ([`HORIZONTAL_ACCUMULATORS`] for a horizontal pass). The same for one vector as for a block, so that every column's value
    /// is the same whichever computed it.
    fn accumulators(&self) -> usize {
        if self.kind == Kind::Horizontal {
            return HORIZONTAL_ACCUMULATORS;
        }
        (ACCUMULATORS / (self.outputs * self.vectors())).max(1)
    }

    /// One vector of columns starting at `i`, for every output row of the call:
    /// `o{j}[i..] = scale * sum over terms of coeff * (plus taps - minus taps)`.
    ///
    /// A ±1 term is adds and subtracts, any other term one multiply (fused with the
    /// accumulation by the FMA tokens); the terms go round robin into the output's
    /// partial sums, added pairwise at the end; the scale is one multiply. Every
    /// output row takes its terms in one canonical order (by the last kernel row
    /// they read, then as the Plan lists them), so its value does not depend on
    /// which row of the call it is. The work of all output rows is interleaved by
    /// the input row it waits for, and each input vector is loaded just before its
    /// first use (`let x{t}_{c} = simd.load(s{t}_{c}, i);`) and shared by every
    /// output row that reads it, so that few loaded vectors are live at once.
    /// Heavy vertical passes get a second form, each tap its own term, for the
    /// tokens that split symmetric pairs ([`Pass::split_pairs`]).
    fn body(&self, dtype: DType, vectors: usize, loads: Loads<'_>, stores: Stores) -> TokenStream {
        match self.split_pairs() {
            Some(st) => {
                let split = Pass {
                    st: &st,
                    ..self.clone()
                }
                .terms_body(dtype, vectors, loads, stores);
                let folded = self.terms_body(dtype, vectors, loads, stores);
                quote! {
                    if S::SPLITS_PAIRS {
                        #split
                    } else {
                        #folded
                    }
                }
            }
            None => self.terms_body(dtype, vectors, loads, stores),
        }
    }

    /// The stencil of a heavy plan's vertical pass with every tap its own term,
    /// for the tokens that split symmetric pairs (`Simd::SPLITS_PAIRS`); `None`
    /// for other passes and where no term has two taps. On the AMD EPYC (Zen
    /// 3), AVX2, gaussian 15x15's vertical pass loaded about 110 vectors and
    /// pointers per step of 8 output vectors with the pairs (rows spilled, 44
    /// coefficient broadcasts) and 48 split (the coefficients stay in
    /// registers); the filter ran faster in every round at 1024 x 1024 and in
    /// five of six at 4096 x 4096 (docs/performance-history.md).
    fn split_pairs(&self) -> Option<Stencil> {
        let pairs = self
            .st
            .terms
            .iter()
            .any(|t| t.plus.len() + t.minus.len() > 1);
        if self.kind != Kind::Vertical || !self.heavy || !pairs {
            return None;
        }
        let single = |coeff: f64, plus: &[Tap], minus: &[Tap]| Term {
            coeff,
            plus: plus.to_vec(),
            minus: minus.to_vec(),
        };
        let terms = self
            .st
            .terms
            .iter()
            .flat_map(|t| {
                let plus = t.plus.iter().map(|tap| single(t.coeff, &[*tap], &[]));
                let minus = t.minus.iter().map(|tap| single(t.coeff, &[], &[*tap]));
                plus.chain(minus).collect::<Vec<_>>()
            })
            .collect();
        Some(Stencil {
            terms,
            ..self.st.clone()
        })
    }

    /// [`Pass::body`] with the pass's own terms.
    fn terms_body(
        &self,
        dtype: DType,
        vectors: usize,
        loads: Loads<'_>,
        stores: Stores,
    ) -> TokenStream {
        let terms = &self.st.terms;
        let last_row = |term: &Term| {
            term.plus
                .iter()
                .chain(&term.minus)
                .map(|t| t.row)
                .max()
                .unwrap_or(0)
        };
        let mut order: Vec<usize> = (0..terms.len()).collect();
        order.sort_by_key(|&i| (last_row(&terms[i]), i));
        let k = terms.len().min(self.accumulators());
        // How many terms each partial sum takes (a `mut` binding needs more than one).
        let count = |a: usize| (terms.len() + k - 1 - a) / k;
        // (input row it waits for, output row, canonical position).
        // (input row it waits for, rank among the output row's terms that wait
        // for it, output row, canonical position): the output rows take turns,
        // so that the vectors one loads are used by the others soon after.
        let mut units: Vec<(usize, usize, usize, usize)> = Vec::new();
        for j in 0..self.outputs {
            let mut rank = (usize::MAX, 0);
            for (p, &ti) in order.iter().enumerate() {
                let t = j * self.sy + last_row(&terms[ti]) * self.dy;
                rank = if rank.0 == t { (t, rank.1 + 1) } else { (t, 0) };
                units.push((t, rank.1, j, p));
            }
        }
        units.sort_unstable();
        // Vector `v` of a block: its names and its first column.
        let suffix = |v: usize| {
            if vectors == 1 {
                String::new()
            } else {
                format!("_v{v}")
            }
        };
        let column = |v: usize| {
            if v == 0 {
                quote!(i)
            } else {
                let v = usize_lit(v);
                quote!(i + #v * S::LANES)
            }
        };
        let mut remaining: Vec<usize> = vec![terms.len(); self.outputs];
        let mut loaded = BTreeSet::new();
        let mut stmts = TokenStream::new();
        if let Loads::Joined(joined) = loads {
            stmts.extend(joined.pair());
        }
        let mut row = None;
        for (t, _, j, p) in units {
            if matches!(loads, Loads::Windows(_)) && row != Some(t) {
                // Pin the schedule: this row's loads stay after the previous
                // row's (LLVM would hoist every load of the step to its top).
                stmts.extend(quote!(simd.barrier();));
                row = Some(t);
            }
            let term = &terms[order[p]];
            for v in 0..vectors {
                let sfx = suffix(v);
                let at = column(v);
                let var = |tap: &Tap| {
                    let (t, c) = self.source(j, tap);
                    format_ident!("x{t}_{c}{sfx}")
                };
                for tap in term.plus.iter().chain(&term.minus) {
                    let (t, c) = self.source(j, tap);
                    if loaded.insert((t, c, v)) {
                        let x = var(tap);
                        let sx = usize_lit(self.sx);
                        stmts.extend(match loads {
                            Loads::Joined(joined) => joined.load(&x, t, c, v),
                            Loads::Slices => {
                                let s = format_ident!("s{t}_{c}");
                                if self.sx == 1 {
                                    quote!(let #x = simd.load(#s, #at);)
                                } else {
                                    quote!(let #x = simd.load_strided(#s, #at, #sx);)
                                }
                            }
                            Loads::Windows(spans) => {
                                let w = format_ident!("w{t}");
                                let off = usize_lit(c - spans[&t].0);
                                let v = usize_lit(v);
                                if self.sx == 1 {
                                    quote!(let #x = simd.load(#w, #off + #v * S::LANES);)
                                } else {
                                    quote!(let #x = simd.load_strided(&#w[#off..], #v * S::LANES, #sx);)
                                }
                            }
                        });
                    }
                }
                let a = format_ident!("a{j}_{}{sfx}", p % k);
                let plus: Vec<Ident> = term.plus.iter().map(var).collect();
                let minus: Vec<Ident> = term.minus.iter().map(var).collect();
                let binding = if count(p % k) > 1 {
                    quote!(let mut #a)
                } else {
                    quote!(let #a)
                };
                stmts.extend(self.accumulate(term, &a, binding, p < k, &plus, &minus, dtype));
            }
            remaining[j] -= 1;
            if remaining[j] == 0 {
                // The output row is complete: store it.
                for v in 0..vectors {
                    let sfx = suffix(v);
                    let accs: Vec<Ident> = (0..k).map(|a| format_ident!("a{j}_{a}{sfx}")).collect();
                    let total = pairwise(&accs);
                    let value = if self.st.scale != 1.0 {
                        let s = elem_lit(self.st.scale, dtype);
                        if k > 1 {
                            quote!((#total) * simd.splat(#s))
                        } else {
                            quote!(#total * simd.splat(#s))
                        }
                    } else {
                        total
                    };
                    let o = format_ident!("o{j}");
                    let at = column(v);
                    stmts.extend(match stores {
                        Stores::Deferred | Stores::DeferredShifted => {
                            let y = format_ident!("y{j}");
                            quote!(let #y = #value;)
                        }
                        Stores::Vectors => {
                            let m = format_ident!("m{j}");
                            let v = usize_lit(v);
                            quote!(simd.store_stream_vector(&mut #m[#v], #value);)
                        }
                        Stores::Shifted => {
                            let (m, c, d) = (
                                format_ident!("m{j}"),
                                format_ident!("c{j}"),
                                format_ident!("d{j}"),
                            );
                            let y = format_ident!("y{j}_{v}");
                            let prev = if v == 0 {
                                quote!(*#c)
                            } else {
                                format_ident!("y{j}_{}", v - 1).into_token_stream()
                            };
                            let carry = (v + 1 == vectors).then(|| quote!(*#c = #y;));
                            let vl = usize_lit(v);
                            quote! {
                                let #y = #value;
                                simd.store_stream_vector(&mut #m[#vl], simd.join(#prev, #y, #d));
                                #carry
                            }
                        }
                        Stores::Plain => quote!(simd.store(#o, #at, #value);),
                    });
                }
            }
        }
        if matches!(stores, Stores::Deferred | Stores::DeferredShifted) {
            let (ms, ys): (Vec<Ident>, Vec<Ident>) = (0..self.outputs)
                .map(|j| (format_ident!("m{j}"), format_ident!("y{j}")))
                .unzip();
            let values: Vec<TokenStream> = (0..self.outputs)
                .map(|j| {
                    let jl = usize_lit(j);
                    if stores == Stores::Deferred {
                        quote!(p[#jl])
                    } else {
                        let (y, d) = (format_ident!("y{j}"), format_ident!("d{j}"));
                        quote!(simd.join(p[#jl], #y, #d))
                    }
                })
                .collect();
            let js = (0..self.outputs).map(usize_lit);
            stmts.extend(quote! {
                simd.barrier();
                #(simd.store_stream_vector(&mut #ms[0], #values);)*
                #(p[#js] = #ys;)*
            });
        }
        stmts
    }

    /// One term into partial sum `a`: `a = a + coeff * (plus - minus)` (started
    /// with `binding` when `first`), adds and subtracts for a ±1 term, the
    /// multiply fused with the accumulation by the FMA tokens.
    #[allow(clippy::too_many_arguments)]
    fn accumulate(
        &self,
        term: &Term,
        a: &Ident,
        binding: TokenStream,
        first: bool,
        plus: &[Ident],
        minus: &[Ident],
        dtype: DType,
    ) -> TokenStream {
        if term.is_unit() {
            return match (first, plus.split_first()) {
                (true, Some((p0, rest))) => quote!(#binding = #p0 #(+ #rest)* #(- #minus)*;),
                (true, None) => {
                    let (m0, rest) = minus.split_first().expect("a term has taps");
                    quote!(#binding = -#m0 #(- #rest)*;)
                }
                (false, Some((p0, rest))) => {
                    if rest.is_empty() && minus.is_empty() {
                        quote!(#a = #a + #p0;)
                    } else {
                        quote!(#a = #a + (#p0 #(+ #rest)* #(- #minus)*);)
                    }
                }
                (false, None) => {
                    let (m0, rest) = minus.split_first().expect("a term has taps");
                    if rest.is_empty() {
                        quote!(#a = #a - #m0;)
                    } else {
                        quote!(#a = #a - (#m0 #(+ #rest)*);)
                    }
                }
            };
        }
        // coeff * (p0 + p1 - m0 - m1), or -coeff * (m0 + m1) when nothing is added.
        let (sum, coeff) = match plus.split_first() {
            Some((p0, rest)) => (quote!(#p0 #(+ #rest)* #(- #minus)*), term.coeff),
            None => {
                let (m0, rest) = minus.split_first().expect("a term has taps");
                (quote!(#m0 #(+ #rest)*), -term.coeff)
            }
        };
        let c = elem_lit(coeff, dtype);
        let single = term.plus.len() + term.minus.len() == 1;
        if first {
            if single {
                quote!(#binding = #sum * simd.splat(#c);)
            } else {
                quote!(#binding = (#sum) * simd.splat(#c);)
            }
        } else {
            quote!(#a = simd.madd(#sum, simd.splat(#c), #a);)
        }
    }
}

/// The input column a source `c` columns right of the first one starts at: a
/// literal with a fixed shape (`fixed_base`), `base + c` otherwise.
fn column_start(fixed_base: Option<usize>, base: &TokenStream, c: usize) -> TokenStream {
    match (fixed_base, c) {
        (Some(b), c) => usize_lit(b + c).into_token_stream(),
        (None, 0) => base.clone(),
        (None, c) => {
            let c = usize_lit(c);
            quote!(#base + #c)
        }
    }
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
