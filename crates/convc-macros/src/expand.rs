//! From an [`Invocation`] to generated code: the kernel through convc-core's
//! parser, the options into a [`ConvSpec`], the code from convc-rustgen; every
//! error a `syn::Error` on the tokens it is about.

use convc_core::parse::{KernelExpr, ScaleOp, parse_kernel_expr};
use convc_core::{Border, ConvError, ConvSpec, DType, Mode, Op, Strategy};
use proc_macro2::{Punct, Spacing, Span, TokenStream};
use quote::{ToTokens, quote};
use syn::ext::IdentExt;
use syn::parse::{ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::{Ident, LitInt, Token};

use crate::invocation::{Invocation, Opt};

/// Every option `conv!` takes, in the order the docs list them.
pub(crate) const OPTIONS: &[&str] = &[
    "stride", "dilation", "mode", "border", "op", "anchor", "dtype", "input", "threads", "strategy",
];

/// Expands one invocation.
pub(crate) fn expand(inv: &Invocation) -> syn::Result<TokenStream> {
    let spec = spec(inv)?;
    let code = match &inv.item {
        None => convc_rustgen::expression(&spec),
        Some(head) => {
            let attrs = &head.attrs;
            convc_rustgen::function(
                &spec,
                quote!(#(#attrs)*),
                head.vis.to_token_stream(),
                &head.name,
            )
        }
    };
    code.map_err(|e| spec_error(inv, &e))
}

/// The spec the invocation describes, validated and plannable.
pub(crate) fn spec(inv: &Invocation) -> syn::Result<ConvSpec> {
    let size = inv.size.as_ref().map(kernel_size).transpose()?;
    let expr = parse_kernel_expr(&inv.kernel.text).map_err(|e| kernel_error(inv, None, &e))?;
    let kernel = expr
        .build(size)
        .map_err(|e| kernel_error(inv, Some(&expr), &e))?;
    let mut spec = ConvSpec::new(kernel);
    for (i, opt) in inv.options.iter().enumerate() {
        if inv.options[..i].iter().any(|o| o.name == opt.name) {
            return Err(syn::Error::new_spanned(
                opt.all(),
                format!("option `{}` is given twice", opt.name),
            ));
        }
        spec = option(spec, opt)?;
    }
    // Planning validates the spec and checks what only the planner knows (a
    // `separable` strategy needs a rank-1 kernel).
    convc_core::Plan::new(&spec).map_err(|e| spec_error(inv, &e))?;
    Ok(spec)
}

/// A `syn::Error` covering `start ..= end` (two tokens carrying the spans, as
/// `new_spanned` reads a token range on stable Rust).
fn error_between(start: Span, end: Span, message: impl std::fmt::Display) -> syn::Error {
    let mut a = Punct::new('#', Spacing::Alone);
    a.set_span(start);
    let mut b = Punct::new('#', Spacing::Alone);
    b.set_span(end);
    syn::Error::new_spanned(quote!(#a #b), message)
}

fn kernel_size(lit: &LitInt) -> syn::Result<(usize, usize)> {
    dims(lit, "a kernel size such as `3x3` or `5`").map(|(h, w)| (h, w.unwrap_or(h)))
}

/// `N` or `AxB` written as one integer literal (`3x3` is `3` with suffix `x3`).
fn dims(lit: &LitInt, what: &str) -> syn::Result<(usize, Option<usize>)> {
    let text = lit.to_string().replace('_', "");
    let bad = || syn::Error::new_spanned(lit, format!("expected {what}, found `{lit}`"));
    if text.len() > 1 && text.starts_with('0') && text[1..].starts_with(['x', 'o', 'b']) {
        return Err(bad());
    }
    let (a, b) = match text.split_once(['x', 'X']) {
        Some((a, b)) => (a, Some(b)),
        None => (text.as_str(), None),
    };
    let a: usize = a.parse().map_err(|_| bad())?;
    let b = b
        .map(|b| b.parse::<usize>().map_err(|_| bad()))
        .transpose()?;
    Ok((a, b))
}

/// One option applied to the spec. Values are read leniently here (a stride of 0
/// parses); [`ConvSpec::validate`] judges them, and [`spec_error`] points at them.
fn option(spec: ConvSpec, opt: &Opt) -> syn::Result<ConvSpec> {
    let v = opt.value.clone();
    let name = opt.name.to_string();
    Ok(match name.as_str() {
        "stride" => {
            let (y, x) = pair.parse2(v)?;
            spec.stride_yx(y, x)
        }
        "dilation" => {
            let (y, x) = pair.parse2(v)?;
            spec.dilation_yx(y, x)
        }
        "mode" => spec.mode(mode.parse2(v)?),
        "border" => spec.border(border.parse2(v)?),
        "op" => spec.op(word(
            v,
            &[("correlate", Op::Correlate), ("convolve", Op::Convolve)],
        )?),
        "anchor" => {
            let (y, x) = tuple2
                .parse2(v)
                .map_err(|e| with_hint(e, "expected `(row, column)`, such as `(1, 1)`"))?;
            spec.anchor(y, x)
        }
        "dtype" => spec.dtype(word(v, &[("f32", DType::F32), ("f64", DType::F64)])?),
        "input" => {
            let (h, w) = shape.parse2(v)?;
            spec.input_shape(h, w)
        }
        "threads" => spec.threads(
            (|input: ParseStream| input.parse::<LitInt>()?.base10_parse::<usize>())
                .parse2(v)
                .map_err(|e| with_hint(e, "expected a thread count such as `4`"))?,
        ),
        "strategy" => spec.strategy(word(
            v,
            &[
                ("auto", Strategy::Auto),
                ("direct", Strategy::Direct),
                ("separable", Strategy::Separable),
            ],
        )?),
        _ => {
            return Err(syn::Error::new_spanned(
                &opt.name,
                format!(
                    "unknown option `{name}`; the options are {}",
                    OPTIONS.join(", ")
                ),
            ));
        }
    })
}

/// Replaces syn's generic message with what the option expects, keeping the span.
fn with_hint(e: syn::Error, hint: &str) -> syn::Error {
    syn::Error::new(e.span(), hint)
}

/// One of `words`, as an identifier (keywords allowed).
fn word<T: Copy>(v: TokenStream, words: &[(&str, T)]) -> syn::Result<T> {
    let names: Vec<String> = words.iter().map(|(w, _)| format!("`{w}`")).collect();
    let expected = format!("expected {}", or_list(&names));
    let ident = (|input: ParseStream| Ident::parse_any(input))
        .parse2(v.clone())
        .map_err(|_| syn::Error::new_spanned(&v, &expected))?;
    words
        .iter()
        .find(|(w, _)| ident == w)
        .map(|(_, t)| *t)
        .ok_or_else(|| syn::Error::new_spanned(&ident, format!("{expected}, found `{ident}`")))
}

fn or_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// `N`, `YxX` or `(Y, X)`.
fn pair(input: ParseStream) -> syn::Result<(usize, usize)> {
    const WHAT: &str = "`N`, `YxX` or `(Y, X)`, such as `2` or `(2, 1)`";
    if input.peek(syn::token::Paren) {
        return tuple2(input).map_err(|e| with_hint(e, &format!("expected {WHAT}")));
    }
    let lit: LitInt = input
        .parse()
        .map_err(|e| with_hint(e, &format!("expected {WHAT}")))?;
    let (y, x) = dims(&lit, WHAT)?;
    Ok((y, x.unwrap_or(y)))
}

/// `(a, b)` of integers.
fn tuple2(input: ParseStream) -> syn::Result<(usize, usize)> {
    let v = int_tuple(input, 2)?;
    Ok((v[0], v[1]))
}

/// `(a, b, ...)` of exactly `n` integers.
fn int_tuple(input: ParseStream, n: usize) -> syn::Result<Vec<usize>> {
    let content;
    let parens = syn::parenthesized!(content in input);
    let items: Punctuated<LitInt, Token![,]> =
        content.parse_terminated(|i| i.parse::<LitInt>(), Token![,])?;
    if items.len() != n {
        return Err(syn::Error::new(
            parens.span.join(),
            format!("expected {n} integers, found {}", items.len()),
        ));
    }
    items.iter().map(|l| l.base10_parse::<usize>()).collect()
}

/// `HxW` or `(H, W)`.
fn shape(input: ParseStream) -> syn::Result<(usize, usize)> {
    const WHAT: &str = "an input shape `HxW` (rows x columns), such as `1080x1920`";
    if input.peek(syn::token::Paren) {
        return tuple2(input);
    }
    let lit: LitInt = input
        .parse()
        .map_err(|e| with_hint(e, &format!("expected {WHAT}")))?;
    match dims(&lit, WHAT)? {
        (h, Some(w)) => Ok((h, w)),
        (_, None) => Err(syn::Error::new_spanned(
            &lit,
            format!("expected {WHAT}, found `{lit}`"),
        )),
    }
}

/// `valid`, `same`, `full`, `pad(n)` or `pad(top, bottom, left, right)`.
fn mode(input: ParseStream) -> syn::Result<Mode> {
    const WHAT: &str =
        "expected `valid`, `same`, `full`, `pad(n)` or `pad(top, bottom, left, right)`";
    let ident = Ident::parse_any(input).map_err(|e| with_hint(e, WHAT))?;
    let m = match ident.to_string().as_str() {
        "valid" => Mode::Valid,
        "same" => Mode::Same,
        "full" => Mode::Full,
        "pad" => {
            let content;
            let parens = syn::parenthesized!(content in input);
            let v: Punctuated<LitInt, Token![,]> =
                content.parse_terminated(|i| i.parse::<LitInt>(), Token![,])?;
            let v: Vec<usize> = v
                .iter()
                .map(|l| l.base10_parse::<usize>())
                .collect::<syn::Result<_>>()?;
            match v[..] {
                [n] => Mode::Explicit {
                    top: n,
                    bottom: n,
                    left: n,
                    right: n,
                },
                [top, bottom, left, right] => Mode::Explicit {
                    top,
                    bottom,
                    left,
                    right,
                },
                _ => return Err(syn::Error::new(parens.span.join(), WHAT)),
            }
        }
        other => {
            return Err(syn::Error::new_spanned(
                &ident,
                format!("{WHAT}, found `{other}`"),
            ));
        }
    };
    if !input.is_empty() {
        return Err(input.error(WHAT));
    }
    Ok(m)
}

/// `zero`, `constant(c)`, `replicate`, `reflect`, `mirror`, `wrap` (and the aliases
/// [`Border::parse`] knows: `nearest`, `symmetric`, `reflect_101`, `circular`, ...).
fn border(input: ParseStream) -> syn::Result<Border> {
    const WHAT: &str = "expected `zero`, `constant(c)`, `replicate`, `reflect`, `mirror` or `wrap`";
    let ident = Ident::parse_any(input).map_err(|e| with_hint(e, WHAT))?;
    if ident == "constant" && input.peek(syn::token::Paren) {
        let content;
        syn::parenthesized!(content in input);
        let c = signed_number(&content)?;
        if !content.is_empty() {
            return Err(content.error("expected one number, such as `constant(0.5)`"));
        }
        return Ok(Border::Constant(c));
    }
    let b = Border::parse(&ident.to_string())
        .ok_or_else(|| syn::Error::new_spanned(&ident, format!("{WHAT}, found `{ident}`")))?;
    if !input.is_empty() {
        return Err(input.error(WHAT));
    }
    Ok(b)
}

/// An optionally negative integer or float literal.
fn signed_number(input: ParseStream) -> syn::Result<f64> {
    let negative = input.parse::<Option<Token![-]>>()?.is_some();
    let lit: syn::Lit = input.parse()?;
    let v = match &lit {
        syn::Lit::Int(i) => i.base10_parse::<f64>()?,
        syn::Lit::Float(f) => f.base10_parse::<f64>()?,
        _ => return Err(syn::Error::new_spanned(&lit, "expected a number")),
    };
    Ok(if negative { -v } else { v })
}

/// A kernel error on the kernel tokens it is about.
fn kernel_error(inv: &Invocation, expr: Option<&KernelExpr>, e: &ConvError) -> syn::Error {
    let k = &inv.kernel;
    let whole = || {
        let (a, b) = k.whole();
        error_between(a, b, e)
    };
    let on_size = || match &inv.size {
        Some(lit) => syn::Error::new_spanned(lit, e),
        None => whole(),
    };
    let text_span = |s: convc_core::parse::Span| k.spans(s.start, s.end);
    match e {
        ConvError::Parse {
            position,
            len,
            message,
            ..
        } => {
            let (a, b) = k.spans(*position, position + len);
            error_between(a, b, message)
        }
        ConvError::UnknownKernel { .. } => match expr {
            Some(KernelExpr::Named { name_span, .. }) => {
                let (a, b) = text_span(*name_span);
                error_between(a, b, e)
            }
            _ => whole(),
        },
        ConvError::InvalidKernelSize { .. } | ConvError::Overflow { .. } => on_size(),
        ConvError::Unsupported(m) if m.contains("coefficients; convc supports") => on_size(),
        ConvError::MalformedKernel(_) if inv.size.is_some() => on_size(),
        ConvError::InvalidParameter { message, .. } => {
            let Some(KernelExpr::Named { params, .. }) = expr else {
                return whole();
            };
            // The message names the parameter in backticks; a duplicate is the
            // second one.
            let named = message.split('`').nth(1).unwrap_or_default();
            let hits: Vec<_> = params.iter().filter(|p| p.name == named).collect();
            let p = if message.contains("twice") {
                hits.last()
            } else {
                hits.first()
            };
            match p {
                Some(p) => {
                    let (a, b) = text_span(p.span);
                    error_between(a, b, e)
                }
                None => whole(),
            }
        }
        ConvError::NotFinite { what, .. } => {
            if let Some(KernelExpr::Literal {
                scale: Some((ScaleOp::Divide, d)),
                ..
            }) = expr
                && what == "kernel divisor"
            {
                let (a, b) = text_span(d.span);
                return error_between(a, b, e);
            }
            // "the number `1e999`": the token with that text.
            let number = what.split('`').nth(1).unwrap_or_default();
            match k.pieces.iter().find(|p| &k.text[p.start..p.end] == number) {
                Some(p) => syn::Error::new(p.span, e),
                None => whole(),
            }
        }
        _ => whole(),
    }
}

/// A spec error on the option it is about (the whole invocation otherwise).
fn spec_error(inv: &Invocation, e: &ConvError) -> syn::Error {
    let opt = |name: &str| inv.options.iter().find(|o| o.name == name);
    let target = match e {
        ConvError::ZeroSize { what } => {
            let name = what.split(' ').next().unwrap_or_default();
            opt(if name == "thread" { "threads" } else { name })
        }
        ConvError::AnchorOutOfRange { .. } => opt("anchor"),
        ConvError::NotFinite { what, .. } if what.starts_with("border constant") => opt("border"),
        ConvError::KernelLargerThanInput { .. } | ConvError::Overflow { .. } => opt("input"),
        ConvError::InvalidOption(_) => opt("strategy"),
        ConvError::Unsupported(m) if m.contains("with dilation") => opt("dilation"),
        _ => None,
    };
    if let Some(o) = target {
        return syn::Error::new_spanned(&o.value, e);
    }
    // Too many taps to unroll: the size asked for, where one was.
    if let (ConvError::Unsupported(m), Some(size)) = (e, &inv.size)
        && m.starts_with("conv! unrolls")
    {
        return syn::Error::new_spanned(size, e);
    }
    let k = &inv.kernel;
    // A literal coefficient the element type cannot hold: the number written
    // (none where a scale made it too large: then the whole kernel).
    if let ConvError::NotFinite { what, value } = e
        && what.starts_with("kernel coefficient")
        && let Some(p) = k
            .pieces
            .iter()
            .find(|p| k.text[p.start..p.end].parse::<f64>() == Ok(value.abs()))
    {
        return syn::Error::new(p.span, e);
    }
    let (a, b) = k.whole();
    error_between(a, b, e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn spec_of(t: TokenStream) -> syn::Result<ConvSpec> {
        spec(&syn::parse2(t).unwrap())
    }

    fn err(t: TokenStream) -> String {
        match spec_of(t) {
            Ok(s) => panic!("expected an error, got {s:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn passes_too_long_to_unroll_are_refused() {
        let expand_err = |t: TokenStream| match expand(&syn::parse2(t).unwrap()) {
            Ok(_) => panic!("expected an error"),
            Err(e) => e.to_string(),
        };
        let e = expand_err(quote!(log, 17x17));
        assert!(e.contains("17x17 kernel's widest pass has 289 taps"), "{e}");
        assert!(e.contains("JIT or the generic backend"), "{e}");
        // A separable plan's passes count one by one.
        assert!(expand(&syn::parse2(quote!(box, 255x255)).unwrap()).is_ok());
        let e = expand_err(quote!(box, 257x3));
        assert!(e.contains("has 257 taps"), "{e}");
    }

    #[test]
    fn options_set_the_spec() {
        let s = spec_of(quote!(
            sobel_x,
            3x3,
            stride = 2,
            dilation = (2, 1),
            mode = valid,
            op = convolve,
            border = constant(-1.5),
            anchor = (0, 2),
            dtype = f64,
            input = 100x200,
            threads = 3,
            strategy = direct
        ))
        .unwrap();
        let want = ConvSpec::new(convc_core::named::build("sobel_x", &[], Some((3, 3))).unwrap())
            .stride(2)
            .dilation_yx(2, 1)
            .mode(Mode::Valid)
            .op(Op::Convolve)
            .border(Border::Constant(-1.5))
            .anchor(0, 2)
            .dtype(DType::F64)
            .input_shape(100, 200)
            .threads(3)
            .strategy(Strategy::Direct);
        assert_eq!(s, want);
        let s = spec_of(quote!(
            box,
            5x3,
            stride = 2x1,
            mode = pad(1, 2, 3, 4),
            border = nearest
        ))
        .unwrap();
        assert_eq!((s.kernel.height(), s.kernel.width()), (5, 3));
        assert_eq!(s.stride, convc_core::Axes::new(2, 1));
        assert_eq!(
            s.mode,
            Mode::Explicit {
                top: 1,
                bottom: 2,
                left: 3,
                right: 4
            }
        );
        assert_eq!(s.border, Border::Replicate);
        let s = spec_of(quote!(box, 5, mode = pad(2))).unwrap();
        assert_eq!(s.kernel.width(), 5);
        assert_eq!(
            s.mode,
            Mode::Explicit {
                top: 2,
                bottom: 2,
                left: 2,
                right: 2
            }
        );
    }

    #[test]
    fn literal_kernels_keep_their_exact_form() {
        let s = spec_of(quote!([[1, 2, 1], [2, 4, 2], [1, 2, 1]] / 16)).unwrap();
        assert_eq!(s.kernel.exact_form().unwrap().scale, 1.0 / 16.0);
        let s = spec_of(quote!([-1.5e-1, 2.0f32, 3_0])).unwrap();
        assert_eq!(s.kernel.coeffs(), &[-0.15, 2.0, 30.0]);
    }

    #[test]
    fn messages() {
        assert!(err(quote!(sobel_z)).contains("unknown kernel `sobel_z`; known kernels:"));
        assert!(err(quote!(scharr_x, 5x5)).contains("cannot be 5x5: it comes in 3x3"));
        assert!(err(quote!(gaussian, 4x4)).contains("odd"));
        assert!(err(quote!(box, 3x3, stride = 0)).contains("stride (y) must be at least 1"));
        assert!(err(quote!(box, 3x3, dilation = (1, 0))).contains("dilation (x)"));
        assert!(err(quote!([[1, 2], [3]])).contains("equal length"));
        assert!(err(quote!([[1e999, 2]])).contains("not finite"));
        assert!(err(quote!([[1, 2]] / 0)).contains("kernel divisor is not finite"));
        assert!(err(quote!(box, colour = red)).contains("unknown option `colour`"));
        assert!(err(quote!(box, op = convolve, op = correlate)).contains("given twice"));
        assert!(err(quote!(box, border = sideways)).contains("found `sideways`"));
        assert!(err(quote!(box, mode = pad(1, 2))).contains("pad(top, bottom, left, right)"));
        assert!(err(quote!(box, 3x3, anchor = (3, 0))).contains("lies outside"));
        assert!(err(quote!(box, 9x9, input = 4x4, mode = valid)).contains("output would be empty"));
        assert!(err(quote!(box, threads = 0)).contains("thread count"));
        assert!(err(quote!(box, 0x3)).contains("expected a kernel size"));
        assert!(err(quote!(gaussian(sigma = 1, sigma = 2), 5x5)).contains("given twice"));
        assert!(err(quote!(box(sigma = 1))).contains("no parameters"));
        assert!(err(quote!(laplacian, strategy = separable)).contains("rank-1"));
        assert!(err(quote!(box, dtype = f16)).contains("expected `f32` or `f64`, found `f16`"));
        assert!(err(quote!(box, border = constant(1e999))).contains("border constant"));
        // More coefficients than a kernel may have (nothing is allocated).
        let e = err(quote!(box, 100000x100000));
        assert!(
            e.contains("100000x100000 kernel has 10000000000 coefficients"),
            "{e}"
        );
        // Finite in f64 but not in f32: refused for f32 code only.
        assert!(err(quote!(box, border = constant(1e39))).contains("border constant as f32"));
        assert!(spec_of(quote!(box, border = constant(1e39), dtype = f64)).is_ok());
        assert!(err(quote!([[1e39, 1]])).contains("kernel coefficient [0, 0] as f32"));
        assert!(spec_of(quote!([[1e39, 1]], dtype = f64)).is_ok());
    }
}
