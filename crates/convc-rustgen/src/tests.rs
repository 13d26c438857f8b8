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
    /// `struct` names.
    structs: Vec<String>,
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

    fn visit_item_struct(&mut self, s: &'ast syn::ItemStruct) {
        self.structs.push(s.ident.to_string());
        visit::visit_item_struct(self, s);
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
    // Six taps, each a sub-slice of the block's width.
    assert_eq!(a.calls.iter().filter(|c| *c == "at").count(), 6, "{a:?}");
    assert!(a.impls.contains(&"DirectRows".to_string()), "{a:?}");
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
    assert!(a.structs.contains(&"ConvHorizontal".to_string()), "{a:?}");
    assert!(a.structs.contains(&"ConvVertical".to_string()), "{a:?}");
    // [1 4 6 4 1] per pass: 4 * (x1 + x3) and 6 * x2; 1/256 once, after the
    // vertical pass.
    assert_eq!(a.multiplies, vec![4.0, 6.0, 4.0, 6.0, 0.00390625], "{a:?}");
    let code = file(&s);
    let text = quote!(#code).to_string();
    assert!(text.contains("ConvHorizontal :: < FMA > ([src])"), "{text}");
    assert!(
        text.contains(
            "ConvVertical :: < FMA > ([rows [0] , rows [1] , rows [2] , rows [3] , rows [4]])"
        ),
        "{text}"
    );
}

#[test]
fn a_fixed_input_shape_makes_every_bound_a_constant() {
    let s = spec("box", Some((5, 5))).input_shape(1080, 1920);
    let text = items(&s, &Ident::new("Conv", Span::call_site()), &quote!())
        .unwrap()
        .to_string();
    for want in [
        "const IW : usize = 1920",
        "const OW : usize = 1920",
        "const X0 : usize = 2",
        "const X1 : usize = 1918",
        "(& mut dst [.. OW] , X0 .. X1 , & taps)",
        "(& mut dst [.. OW] , 0 .. OW , & taps)",
        "[& src [.. IW]]",
    ] {
        assert!(text.contains(want), "`{want}` missing from {text}");
    }
    // No bound is read from the arguments (`cols` only in the debug check).
    for unwanted in ["cols . clone ()", "dst . len ()", "0 .. n"] {
        assert!(!text.contains(unwanted), "`{unwanted}` in {text}");
    }
    let free = items(
        &spec("box", Some((5, 5))),
        &Ident::new("Conv", Span::call_site()),
        &quote!(),
    )
    .unwrap()
    .to_string();
    assert!(free.contains("dst . len ()") && !free.contains("const X0"));
}

#[test]
fn strides_read_strided_slices_and_dilations_step_the_taps() {
    let s = spec("[[1, 2, 3], [4, 5, 6], [7, 8, 10]]", None)
        .stride_yx(2, 3)
        .dilation(2)
        .border(convc_core::Border::Zero);
    let text = items(&s, &Ident::new("Conv", Span::call_site()), &quote!())
        .unwrap()
        .to_string();
    // Column stride 3, pad left 2: lane i of tap (2, 2) reads x * 3 - 2 + 4 + 3 i.
    assert!(text.contains("let b = x * 3 - 2 ;"), "{text}");
    assert!(
        text.contains("let t2_2 = strided :: < f32 , W > (r2 , b + 4 , 3) ;"),
        "{text}"
    );
    assert!(text.contains("t2_2 [i * 3]"), "{text}");
    // Row stride 2, dilation 2: output row j reads window rows 2j, 2j + 2, 2j + 4.
    assert!(text.contains("& window [j * 2 ..]"), "{text}");
    assert!(text.contains("[w [0] , w [2] , w [4]]"), "{text}");
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
    assert!(
        code.contains(
            "impl<const FMA: bool> ::convc::__private::Block<f32> for ConvDirect<'_, FMA>"
        ),
        "{code}"
    );
    // One lane loop per term: the -4 centre, then the four unit neighbours.
    assert!(
        code.contains("acc[i] = t0_1[i] + t1_0[i] + t1_2[i] + t2_1[i];"),
        "{code}"
    );
    assert!(
        code.contains("acc[i] = madd::<FMA, f32>(t1_1[i], -4.0, acc[i]);"),
        "{code}"
    );
    syn::parse_file(&code).unwrap();
}

#[test]
fn an_all_zero_kernel_yields_zeros() {
    let text = items(
        &spec("[[0, 0], [0, 0]]", None),
        &Ident::new("Conv", Span::call_site()),
        &quote!(),
    )
    .unwrap()
    .to_string();
    assert!(text.contains("[0.0 ; W]"), "{text}");
    assert!(!text.contains("for i in"), "{text}");
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
