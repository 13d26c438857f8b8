//! Expansion tests: what the generated code contains, read back with syn.

use super::*;
use convc_core::parse::parse_kernel;
use syn::visit::{self, Visit};
use syn::{BinOp, Expr, Lit};

fn spec(text: &str, size: Option<(usize, usize)>) -> ConvSpec {
    ConvSpec::new(parse_kernel(text, size).unwrap())
}

fn file(spec: &ConvSpec) -> syn::File {
    let ty = Ident::new("Conv", Span::call_site());
    syn::parse2(items(spec, &ty, &TokenStream::new()).unwrap()).unwrap()
}

/// Float literals in multiplications and `madd` calls, literal arrays, and the
/// helpers called.
#[derive(Default, Debug)]
struct Audit {
    /// The literal factor of every `a * literal` and `madd(a, literal, acc)`.
    multiplies: Vec<f64>,
    /// Arrays whose elements are all literals (a coefficient table).
    literal_arrays: usize,
    /// Names of called functions (last path segment).
    calls: Vec<String>,
    /// `impl Trait for` trait names (last segment).
    impls: Vec<String>,
}

fn float_value(e: &Expr) -> Option<f64> {
    match e {
        Expr::Lit(l) => match &l.lit {
            Lit::Float(f) => f.base10_parse().ok(),
            _ => None,
        },
        Expr::Unary(u) if matches!(u.op, syn::UnOp::Neg(_)) => float_value(&u.expr).map(|v| -v),
        Expr::Paren(p) => float_value(&p.expr),
        _ => None,
    }
}

impl<'ast> Visit<'ast> for Audit {
    fn visit_expr_binary(&mut self, e: &'ast syn::ExprBinary) {
        if matches!(e.op, BinOp::Mul(_) | BinOp::MulAssign(_)) {
            self.multiplies
                .extend([&*e.left, &*e.right].into_iter().filter_map(float_value));
        }
        visit::visit_expr_binary(self, e);
    }

    fn visit_expr_call(&mut self, e: &'ast syn::ExprCall) {
        if let Expr::Path(p) = &*e.func {
            let name = p.path.segments.last().unwrap().ident.to_string();
            if name == "madd" {
                self.multiplies.extend(float_value(&e.args[1]));
            }
            self.calls.push(name);
        }
        visit::visit_expr_call(self, e);
    }

    fn visit_expr_array(&mut self, e: &'ast syn::ExprArray) {
        let literal = |x: &Expr| float_value(x).is_some() || matches!(x, Expr::Lit(_));
        if !e.elems.is_empty() && e.elems.iter().all(literal) {
            self.literal_arrays += 1;
        }
        visit::visit_expr_array(self, e);
    }

    fn visit_item_impl(&mut self, i: &'ast syn::ItemImpl) {
        if let Some((_, path, _)) = &i.trait_ {
            self.impls
                .push(path.segments.last().unwrap().ident.to_string());
        }
        visit::visit_item_impl(self, i);
    }
}

fn audit(spec: &ConvSpec) -> Audit {
    let mut a = Audit::default();
    a.visit_file(&file(spec));
    a
}

#[test]
fn sobel_has_no_multiplication_by_zero_or_one_and_no_coefficient_array() {
    let a = audit(&spec("sobel_x", Some((3, 3))));
    assert!(
        a.multiplies.iter().all(|v| ![0.0, 1.0, -1.0].contains(v)),
        "{a:?}"
    );
    // The plan's one multiply: 2 * (x[1,2] - x[1,0]).
    assert_eq!(a.multiplies, vec![2.0], "{a:?}");
    assert_eq!(a.literal_arrays, 0, "{a:?}");
    assert!(a.impls.contains(&"DirectRows".to_string()), "{a:?}");
    // Six taps, each a sub-slice of the row's interior length, read at `[i]`.
    let s = spec("sobel_x", Some((3, 3)));
    let text = quote_items(&s);
    for tap in ["t0_0", "t0_2", "t1_0", "t1_2", "t2_0", "t2_2"] {
        let row = &tap[1..2];
        let col = &tap[3..];
        let start = if col == "0" {
            "b".to_string()
        } else {
            format!("b + {col}")
        };
        let want = format!("let {tap} = & r{row} [{start} ..] [.. n] ;");
        assert!(text.contains(&want), "`{want}` missing from {text}");
    }
    assert!(
        !text.contains("t0_1") && !text.contains("t1_1"),
        "zero taps are absent"
    );
    assert!(text.contains("for i in 0 .. n {"), "{text}");
}

fn quote_items(s: &ConvSpec) -> String {
    items(s, &Ident::new("Conv", Span::call_site()), &quote!())
        .unwrap()
        .to_string()
}

#[test]
fn a_literal_with_a_divisor_applies_the_scale_once() {
    let a = audit(&spec("[[1, 2, 1], [2, 4, 2], [1, 2, 1]] / 16", None));
    // Direct (a 3x3 split would not save taps): the corners added, the edges times
    // 2, the centre times 4, and 1/16 once at the end.
    assert_eq!(a.multiplies, vec![2.0, 4.0, 0.0625], "{a:?}");
    assert_eq!(a.literal_arrays, 0);
}

#[test]
fn gaussian_5x5_is_two_1d_passes() {
    let s = spec("gaussian", Some((5, 5)));
    let a = audit(&s);
    assert!(a.impls.contains(&"SeparableRows".to_string()), "{a:?}");
    assert!(!a.impls.contains(&"DirectRows".to_string()), "{a:?}");
    assert!(a.calls.contains(&"horizontal_row".to_string()), "{a:?}");
    assert!(a.calls.contains(&"vertical_row".to_string()), "{a:?}");
    assert!(!a.calls.contains(&"direct_row".to_string()), "{a:?}");
    // [1 4 6 4 1] per pass: 4 * (x1 + x3) and 6 * x2; 1/256 once, after the
    // vertical pass.
    assert_eq!(a.multiplies, vec![4.0, 6.0, 4.0, 6.0, 0.00390625], "{a:?}");
    let text = quote_items(&s);
    // One input row in; five rows of horizontal results in; three partial sums.
    assert!(
        text.contains("Self :: horizontal_row :: < FMA > (dst , src , cols)"),
        "{text}"
    );
    assert!(
        text.contains(
            "Self :: vertical_row :: < FMA > (dst , rows [0] , rows [1] , rows [2] , rows [3] , rows [4])"
        ),
        "{text}"
    );
    assert!(
        text.contains("o [i] = ((a0 + a1) + a2) * 0.00390625 ;"),
        "{text}"
    );
}

#[test]
fn a_fixed_input_shape_makes_every_bound_a_constant() {
    let s = spec("box", Some((5, 5))).input_shape(1080, 1920);
    let text = quote_items(&s);
    for want in [
        // Horizontal pass: interior columns 2..1918, taps from input column 0.
        "let o = & mut o [2 .. 1918] ;",
        "let t0 = & r0 [0 ..] [.. 1916] ;",
        "let t4 = & r0 [4 ..] [.. 1916] ;",
        "for i in 0 .. 1916 {",
        // Vertical pass: the whole output row.
        "let o = & mut o [.. 1920] ;",
        "let t4 = & r4 [.. 1920] ;",
        "for i in 0 .. 1920 {",
        "debug_assert_eq ! (cols , 2 .. 1918) ;",
    ] {
        assert!(text.contains(want), "`{want}` missing from {text}");
    }
    // No bound is read at run time (`cols` only in the debug check).
    for unwanted in ["cols . start", "cols . end", "o . len ()", " n "] {
        assert!(!text.contains(unwanted), "`{unwanted}` in {text}");
    }
    let free = quote_items(&spec("box", Some((5, 5))));
    assert!(free.contains("let n = o . len () ;") && free.contains("for i in 0 .. n {"));
}

#[test]
fn strides_read_strided_slices_and_dilations_step_the_taps() {
    let s = spec("[[1, 2, 3], [4, 5, 6], [7, 8, 10]]", None)
        .stride_yx(2, 3)
        .dilation(2)
        .border(convc_core::Border::Zero);
    let text = quote_items(&s);
    // Column stride 3, pad left 2: lane i of tap (2, 2) reads 3 x - 2 + 4 + 3 i.
    assert!(text.contains("let b = cols . start * 3 - 2 ;"), "{text}");
    assert!(
        text.contains("let t2_2 = & r2 [b + 4 ..] [.. (n - 1) * 3 + 1] ;"),
        "{text}"
    );
    assert!(text.contains("t2_2 [i * 3]"), "{text}");
    // Row stride 2, dilation 2: output row j reads window rows 2j, 2j + 2, 2j + 4.
    assert!(text.contains("let w = & window [j * 2 ..] ;"), "{text}");
    assert!(
        text.contains("(o , w [0] , w [2] , w [4] , cols . clone ())"),
        "{text}"
    );
}

#[test]
fn the_runtime_rebuilds_the_spec_and_checks_the_plan() {
    let s = spec("gaussian(sigma = 1.5)", Some((7, 7)))
        .border(convc_core::Border::Reflect)
        .dtype(convc_core::DType::F64);
    let text = items(&s, &Ident::new("Conv", Span::call_site()), &quote!())
        .unwrap()
        .to_string();
    assert!(
        text.contains(
            "__private :: kernel (\"gaussian(sigma=1.5)\" , :: core :: option :: Option :: Some ((7 , 7))"
        ),
        "{text}"
    );
    assert!(text.contains(". border (:: convc :: Border :: Reflect)"));
    assert!(text.contains("type Elem = f64"));
    let plan = Plan::new(&s).unwrap().to_string();
    let plan_lit = proc_macro2::Literal::string(&plan).to_string();
    assert!(
        text.contains(&plan_lit),
        "the plan text is passed for the debug check"
    );
}

#[test]
fn emit_rust_pretty_prints_a_file() {
    let code = emit_rust(&spec("laplacian", None)).unwrap();
    assert!(code.starts_with("// Generated by convc-rustgen"));
    assert!(code.contains("pub struct Conv;"), "{code}");
    assert!(code.contains("fn direct_row<const FMA: bool>("), "{code}");
    // Two terms, two partial sums: the four unit neighbours, the -4 centre.
    assert!(
        code.contains("let a0 = t0_1[i] + t1_0[i] + t1_2[i] + t2_1[i];"),
        "{code}"
    );
    assert!(code.contains("let a1 = t1_1[i] * -4.0;"), "{code}");
    assert!(code.contains("o[i] = a0 + a1;"), "{code}");
    syn::parse_file(&code).unwrap();
}

#[test]
fn an_all_zero_kernel_yields_zeros() {
    let text = quote_items(&spec("[[0, 0], [0, 0]]", None));
    assert!(text.contains("o . fill (0.0) ;"), "{text}");
    assert!(
        !text.contains("for i in") && !text.contains("let w"),
        "{text}"
    );
}

#[test]
fn function_form_names_op_and_border() {
    let s = spec("sobel_y", None).op(Op::Convolve);
    let t = function(
        &s,
        quote!(#[inline]),
        quote!(pub),
        &Ident::new("edges", Span::call_site()),
    )
    .unwrap();
    let f: syn::ItemFn = syn::parse2(t).unwrap();
    assert_eq!(f.sig.ident, "edges");
    let docs: String = f
        .attrs
        .iter()
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                Expr::Lit(l) => match &l.lit {
                    Lit::Str(s) => Some(s.value()),
                    _ => None,
                },
                _ => None,
            },
            _ => None,
        })
        .collect();
    assert!(
        docs.contains("Convolves `input` with the kernel `sobel_y 3x3`"),
        "{docs}"
    );
    assert!(docs.contains("border mirror"), "{docs}");
    assert!(f.attrs[0].path().is_ident("inline"));
}

#[test]
fn invalid_specs_are_errors() {
    let s = spec("box", None).stride(0);
    let e = items(&s, &Ident::new("Conv", Span::call_site()), &quote!()).unwrap_err();
    assert!(matches!(e, ConvError::ZeroSize { .. }), "{e}");
}
