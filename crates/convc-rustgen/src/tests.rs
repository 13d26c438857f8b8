//! Expansion tests: what the generated code contains, read back with syn.

use super::*;
use convc_core::parse::parse_kernel;
use quote::ToTokens;
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
/// functions and methods called.
#[derive(Default, Debug)]
struct Audit {
    /// The literal factor of every `a * splat(literal)` and `madd(a, splat(literal),
    /// acc)`.
    multiplies: Vec<f64>,
    /// Arrays whose elements are all literals (a coefficient table).
    literal_arrays: usize,
    /// Names of called functions and methods (last path segment).
    calls: Vec<String>,
    /// `impl Trait for` trait names (last segment).
    impls: Vec<String>,
    /// Names of the functions defined.
    fns: Vec<String>,
}

fn float_value(e: &Expr) -> Option<f64> {
    match e {
        Expr::Lit(l) => match &l.lit {
            Lit::Float(f) => f.base10_parse().ok(),
            _ => None,
        },
        Expr::Unary(u) if matches!(u.op, syn::UnOp::Neg(_)) => float_value(&u.expr).map(|v| -v),
        Expr::Paren(p) => float_value(&p.expr),
        // `simd.splat(c)`: the vector of a literal.
        Expr::MethodCall(m) if m.method == "splat" => float_value(&m.args[0]),
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
            self.calls.push(name);
        }
        visit::visit_expr_call(self, e);
    }

    fn visit_expr_method_call(&mut self, e: &'ast syn::ExprMethodCall) {
        if e.method == "madd" {
            self.multiplies.extend(float_value(&e.args[1]));
        }
        self.calls.push(e.method.to_string());
        visit::visit_expr_method_call(self, e);
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

    fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
        self.fns.push(f.sig.ident.to_string());
        visit::visit_impl_item_fn(self, f);
    }
}

fn audit(spec: &ConvSpec) -> Audit {
    let mut a = Audit::default();
    a.visit_file(&file(spec));
    a
}

fn quote_items(s: &ConvSpec) -> String {
    items(s, &Ident::new("Conv", Span::call_site()), &quote!())
        .unwrap()
        .to_string()
}

/// The source of one generated function, by name.
fn function_text(s: &ConvSpec, name: &str) -> String {
    let f = file(s);
    for item in &f.items {
        if let syn::Item::Impl(i) = item {
            for it in &i.items {
                if let syn::ImplItem::Fn(func) = it
                    && func.sig.ident == name
                {
                    return func.to_token_stream().to_string();
                }
            }
        }
    }
    panic!("no function `{name}`")
}

#[test]
fn sobel_has_no_multiplication_by_zero_or_one_and_no_coefficient_array() {
    let s = spec("sobel_x", Some((3, 3)));
    let a = audit(&s);
    assert!(
        a.multiplies.iter().all(|v| ![0.0, 1.0, -1.0].contains(v)),
        "{a:?}"
    );
    // The plan's one multiply, 2 * (x[1,2] - x[1,0]), once per output row of the
    // two-row form and once in the one-row form, in the plain step and in the
    // streaming one, and in the two-row form's step for rows aligned
    // differently.
    assert_eq!(a.multiplies, vec![2.0; 8], "{a:?}");
    assert_eq!(a.literal_arrays, 0, "{a:?}");
    assert!(a.impls.contains(&"DirectRows".to_string()), "{a:?}");
    // Two output rows from a window of four input rows; one sub-slice of the
    // row's interior length per (input row, column offset), read at `i`.
    let rows = function_text(&s, "direct_rows");
    for o in ["o0", "o1"] {
        assert!(rows.contains(&format!("{o} : & mut [f32]")), "{rows}");
    }
    assert!(!rows.contains("o2 :"), "{rows}");
    for t in 0..4 {
        for (c, start) in [(0, "b".to_string()), (2, "b + 2".to_string())] {
            let want = format!("let s{t}_{c} = & r{t} [{start} ..] [.. n] ;");
            assert!(rows.contains(&want), "`{want}` missing from {rows}");
        }
    }
    assert!(
        !rows.contains("s0_1") && !rows.contains("s1_1"),
        "zero taps are absent"
    );
    // Each input vector is loaded once for the two output rows that read it.
    let cols = function_text(&s, "direct_cols");
    assert_eq!(cols.matches("simd . load (s2_2 , i)").count(), 1, "{cols}");
    assert_eq!(
        cols.matches("x2_2").count(),
        3,
        "declared once, read by both rows: {cols}"
    );
    assert_eq!(cols.matches("simd . store").count(), 2, "{cols}");
}

#[test]
fn a_literal_with_a_divisor_applies_the_scale_once() {
    let a = audit(&spec("[[1, 2, 1], [2, 4, 2], [1, 2, 1]] / 16", None));
    // Direct (a 3x3 split would not save taps): the corners added, the edges times
    // 2, the centre times 4, and 1/16 once at the end, for each output row of the
    // two-row form and the one-row form.
    let mut want = Vec::new();
    // (Plain and streaming steps, and the two-row form's step for rows aligned
    // differently.)
    for _ in 0..8 {
        want.extend([2.0, 4.0, 0.0625]);
    }
    let mut got = a.multiplies.clone();
    got.sort_by(f64::total_cmp);
    want.sort_by(f64::total_cmp);
    assert_eq!(got, want, "{a:?}");
    assert_eq!(a.literal_arrays, 0);
}

#[test]
fn gaussian_5x5_is_a_vertical_pass_then_a_horizontal_pass() {
    let s = spec("gaussian", Some((5, 5)));
    let a = audit(&s);
    assert!(a.impls.contains(&"SeparableRows".to_string()), "{a:?}");
    assert!(!a.impls.contains(&"DirectRows".to_string()), "{a:?}");
    for f in ["vertical_rows", "vertical_row", "horizontal_row"] {
        assert!(a.calls.contains(&f.to_string()), "{f}: {a:?}");
    }
    assert!(!a.fns.iter().any(|f| f.starts_with("direct")), "{a:?}");
    // The vertical pass: four temporary rows from a window of eight input rows,
    // [1 4 6 4 1] each (symmetric pairs summed before one multiply), no scale.
    let v = function_text(&s, "vertical_cols");
    assert_eq!(v.matches("simd . load").count(), 8, "{v}");
    assert_eq!(v.matches("simd . store").count(), 4, "{v}");
    assert!(v.contains("(x1_0 + x3_0) * simd . splat (4.0)"), "{v}");
    assert!(!v.contains("0.00390625"), "{v}");
    // The horizontal pass over a padded row (no `- left`: `src[0]` is padded
    // column 0), the whole 1/256 once.
    let h = function_text(&s, "horizontal_row");
    assert!(h.contains("let b = cols . start ;"), "{h}");
    assert!(h.contains("let s0_4 = & r0 [b + 4 ..] [.. n] ;"), "{h}");
    let hc = function_text(&s, "horizontal_col");
    assert!(hc.contains("simd . splat (0.00390625)"), "{hc}");
    let text = quote_items(&s);
    assert!(
        text.contains("Self :: horizontal_row (simd , out , src , cols . clone ())"),
        "{text}"
    );
    // Separable passes prefetch 384 bytes ahead (96 f32), direct ones 1 KiB.
    // Run horizontal pass first (any input shape), the horizontal pass
    // prefetches the image row it reads, 2 KiB ahead, not the ring row it
    // writes; vertical pass first (a fixed shape), its output row.
    assert!(
        text.contains("simd . prefetch (s4_0 , at + 96) ;"),
        "{text}"
    );
    assert!(h.contains("simd . prefetch (s0_0 , at + 512) ;"), "{h}");
    assert!(!h.contains("simd . prefetch (o0"), "{h}");
    let fixed = spec("gaussian", Some((5, 5))).input_shape(64, 64);
    let h = function_text(&fixed, "horizontal_row");
    assert!(h.contains("simd . prefetch (o0 , at + 96) ;"), "{h}");
    assert!(!h.contains("simd . prefetch (s0_0"), "{h}");
    let direct = quote_items(&spec("sobel_x", None));
    assert!(
        direct.contains("simd . prefetch (s3_0 , at + 256) ;"),
        "{direct}"
    );
}

#[test]
fn vertical_passes_of_free_shapes_stream_and_horizontal_passes_never() {
    // The driver runs free-shape separable plans horizontal pass first: the
    // vertical pass writes the output rows and may stream them.
    let s = spec("gaussian", Some((5, 5)));
    let a = audit(&s);
    for f in ["vertical_cols_stream", "vertical_col_stream"] {
        assert!(a.fns.contains(&f.to_string()), "{f}: {a:?}");
    }
    assert!(
        !a.fns
            .iter()
            .any(|f| f.starts_with("horizontal") && f.ends_with("_stream")),
        "{a:?}"
    );
    // Its rows form sums in another order than one row at a time, so rows
    // aligned differently stay in the rows form (storing plainly).
    let v = function_text(&s, "vertical");
    assert!(!v.contains("stream_head"), "{v}");
    // A fixed shape runs vertical pass first into temporary rows: no streaming.
    let fixed = audit(&s.clone().input_shape(64, 64));
    assert!(
        !fixed.fns.iter().any(|f| f.ends_with("_stream")),
        "{fixed:?}"
    );
}

#[test]
fn light_direct_streaming_steps_store_the_previous_steps_vectors_after_their_loads() {
    let s = spec("sobel_x", Some((3, 3)));
    let step = function_text(&s, "direct_cols_stream");
    // Every load, then the barrier, then the previous step's vectors, then the
    // new ones kept for the next step.
    let barrier = step.find("simd . barrier ()").expect("a barrier");
    let last_load = step.rfind("simd . load").expect("loads");
    assert!(last_load < barrier, "{step}");
    for j in 0..2 {
        let store = format!("simd . store_stream_vector (& mut m{j} [0] , p [{j}]) ;");
        let keep = format!("p [{j}] = y{j} ;");
        let (st, kp) = (step.find(&store), step.find(&keep));
        assert!(st.is_some_and(|st| barrier < st && Some(st) < kp), "{step}");
    }
    // The loop passes the previous step's slot and streams the last step's
    // vectors after it.
    let rows = function_text(&s, "direct_rows");
    assert!(rows.contains("late = k ;"), "{rows}");
    assert!(
        rows.contains("if k > 0 { simd . store_stream_vector (& mut m0 [late] , p [0]) ;"),
        "{rows}"
    );
    // Other passes store right away (their inputs are rows of the driver's).
    let g = spec("gaussian", Some((5, 5)));
    let v = function_text(&g, "vertical_cols_stream");
    assert!(!v.contains("barrier") && !v.contains("p ["), "{v}");
}

#[test]
fn light_separable_plans_of_free_shapes_sweep_both_passes_at_once() {
    let g5 = spec("gaussian", Some((5, 5)));
    let a = audit(&g5);
    for f in [
        "fused",
        "fused_rows",
        "fused_cols",
        "fused_cols_late",
        "fused_cols_shifted",
        "vertical_cols_late",
        "vertical_cols_shifted",
    ] {
        assert!(a.fns.contains(&f.to_string()), "{f}: {a:?}");
    }
    // Rows aligned differently: the shifted step streams into them through
    // the vertical pass's own shifted step.
    let shifted = function_text(&g5, "fused_cols_shifted");
    assert!(
        shifted
            .contains("Self :: vertical_cols_shifted (simd , i , k , m0 , m1 , m2 , m3 , p , z0"),
        "{shifted}"
    );
    let join = function_text(&g5, "vertical_cols_shifted");
    assert!(join.contains("simd . join (p [3] , y3 , d3)"), "{join}");
    // A step: the horizontal pass of the four new rows into the ring, then the
    // vertical pass over the four old ring rows and those four.
    let step = function_text(&g5, "fused_cols");
    assert_eq!(
        step.matches("Self :: horizontal_col (simd , i , d").count(),
        4,
        "{step}"
    );
    assert!(
        step.contains(
            "Self :: vertical_cols (simd , i , o0 , o1 , o2 , o3 , s0_0 , s1_0 , s2_0 , s3_0 , \
             & * d0 , & * d1 , & * d2 , & * d3 ,)"
        ),
        "{step}"
    );
    let late = function_text(&g5, "vertical_cols_late");
    assert!(late.contains("simd . barrier ()"), "{late}");
    // Heavy plans, fixed shapes and strides keep the passes apart.
    for s in [
        spec("gaussian", Some((15, 15))),
        g5.clone().input_shape(64, 64),
        g5.clone().stride(2),
    ] {
        let a = audit(&s);
        assert!(!a.fns.iter().any(|f| f.starts_with("fused")), "{a:?}");
    }
}

#[test]
fn rows_per_call_sets_the_outputs_of_the_wide_form() {
    let count = |s: &ConvSpec, f: &str, prefix: &str| {
        let t = function_text(s, f);
        (0..20)
            .filter(|k| t.contains(&format!("{prefix}{k} :")))
            .count()
    };
    // 2 rows per call (light stencil): two outputs, window of kh + 1 rows.
    let sobel = spec("sobel_x", Some((3, 3)));
    assert_eq!(Plan::new(&sobel).unwrap().rows_per_call, 2);
    assert_eq!(count(&sobel, "direct_rows", "o"), 2);
    assert_eq!(count(&sobel, "direct_rows", "r"), 4);
    // 4 rows per call for heavy stencils too (49 taps): window of kh + 3 rows.
    let dense = spec(
        "[[1, 2, 3, 4, 5, 6, 7], [8, 9, 10, 11, 12, 13, 14], [15, 16, 17, 18, 19, 20, 21], \
         [22, 23, 24, 25, 26, 27, 28], [29, 30, 31, 32, 33, 34, 35], \
         [36, 37, 38, 39, 40, 41, 42], [43, 44, 45, 46, 47, 48, 50]]",
        None,
    );
    assert_eq!(Plan::new(&dense).unwrap().rows_per_call, 4);
    assert_eq!(count(&dense, "direct_rows", "o"), 4);
    assert_eq!(count(&dense, "direct_rows", "r"), 10);
    // 1 row per call (the stride skips past the kernel): only the one-row form.
    let skip = spec("sobel_x", Some((3, 3))).stride(3);
    assert_eq!(Plan::new(&skip).unwrap().rows_per_call, 1);
    let a = audit(&skip);
    assert!(!a.fns.contains(&"direct_rows".to_string()), "{a:?}");
    assert!(a.fns.contains(&"direct_row".to_string()), "{a:?}");
    // A row stride of 2 with 2 rows per call: output row 1 reads window rows 2..5.
    let s2 = spec("box", Some((3, 3))).stride(2);
    assert_eq!(Plan::new(&s2).unwrap().rows_per_call, 2);
    let cols = function_text(&s2, "direct_cols");
    assert!(cols.contains("x2_0") && cols.contains("x4_2"), "{cols}");
    assert!(!cols.contains("x5_"), "{cols}");
    assert_eq!(count(&s2, "direct_rows", "r"), 5);
}

#[test]
fn the_isa_rule_caps_light_plans_with_gathered_columns_at_avx2() {
    let plan = |s: &ConvSpec| Plan::new(s).unwrap();
    let strided = |text, size, sx| {
        let mut s = spec(text, size);
        s.stride.x = sx;
        s
    };
    assert_eq!(
        widest(&plan(&spec("sobel_x", Some((3, 3))))),
        Widest::Avx512
    );
    assert_eq!(widest(&plan(&spec("box", Some((5, 5))))), Widest::Avx512);
    // A column stride of 2 loads two vectors and shuffles them: AVX-512. A
    // wider one on a light plan (3 + 3 taps, or 9) gathers lanes: AVX2.
    assert_eq!(
        widest(&plan(&strided("gaussian", Some((3, 3)), 2))),
        Widest::Avx512
    );
    assert_eq!(
        widest(&plan(&strided("sobel_x", Some((3, 3)), 3))),
        Widest::Avx2Fma
    );
    // A row stride does not count; a heavy plan is AVX-512 whatever its stride
    // (separable: 13 + 13 taps per pixel is heavy, 12 + 13 light).
    let mut rows = spec("sobel_x", Some((3, 3)));
    rows.stride.y = 2;
    assert_eq!(widest(&plan(&rows)), Widest::Avx512);
    assert_eq!(
        widest(&plan(&strided("box", Some((13, 13)), 2))),
        Widest::Avx512
    );
    assert_eq!(
        widest(&plan(&strided("box", Some((12, 13)), 3))),
        Widest::Avx2Fma
    );
    let dense = spec(
        "[[1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11, 12], [1, 3, 5, 7, 9, 11], \
         [2, 4, 6, 8, 10, 13], [5, 1, 4, 2, 3, 6], [9, 7, 8, 6, 5, 3]]",
        None,
    );
    assert_eq!(widest(&plan(&dense)), Widest::Avx512);
    assert!(quote_items(&dense).contains(":: convc :: __private :: UpToAvx512"));
    assert!(quote_items(&strided("box", None, 3)).contains(":: convc :: __private :: UpToAvx2Fma"));
    assert!(quote_items(&strided("box", None, 2)).contains(":: convc :: __private :: UpToAvx512"));
}

#[test]
fn a_fixed_input_shape_makes_every_bound_a_constant() {
    let s = spec("box", Some((5, 5))).input_shape(1080, 1920);
    let text = quote_items(&s);
    for want in [
        // Vertical pass: every input column of four temporary rows.
        "let o3 = & mut o3 [0 .. 1920] ;",
        "let s7_0 = & r7 [.. 1920] ;",
        "let last = 1920 - S :: LANES ;",
        // Horizontal pass: every output column, from padded column 0.
        "let s0_4 = & r0 [4 ..] [.. 1920] ;",
        "debug_assert_eq ! (cols , 0 .. 1920) ;",
    ] {
        assert!(text.contains(want), "`{want}` missing from {text}");
    }
    // No bound is read at run time (`cols` only in the debug check), and no row
    // can be narrower than a vector.
    for unwanted in ["cols . start", "cols . end", "o . len ()", " n ", "narrow"] {
        assert!(!text.contains(unwanted), "`{unwanted}` in {text}");
    }
    let direct = quote_items(&spec("sobel_x", None).input_shape(40, 300));
    assert!(
        direct.contains("let o0 = & mut o0 [1 .. 299] ;"),
        "{direct}"
    );
    assert!(
        direct.contains("let s3_2 = & r3 [2 ..] [.. 298] ;"),
        "{direct}"
    );
    // A fixed shape narrower than a vector keeps the scalar path.
    let narrow = quote_items(&spec("sobel_x", None).input_shape(40, 9));
    assert!(narrow.contains("fn direct_narrow"), "{narrow}");
    // Without a fixed shape, the columns come from `cols` and rows may be narrow.
    let free = quote_items(&spec("box", Some((5, 5))));
    assert!(
        free.contains("let n = cols . end - cols . start ;"),
        "{free}"
    );
    assert!(free.contains("fn vertical_narrow"), "{free}");
}

#[test]
fn strides_read_strided_slices_and_dilations_step_the_taps() {
    let s = spec("[[1, 2, 3], [4, 5, 6], [7, 8, 10]]", None)
        .stride_yx(2, 3)
        .dilation(2)
        .border(convc_core::Border::Zero);
    let text = function_text(&s, "direct_row");
    // Column stride 3, pad left 2: lane i of tap (2, 2) reads 3 x - 2 + 4 + 3 i.
    assert!(text.contains("let b = cols . start * 3 - 2 ;"), "{text}");
    assert!(
        text.contains("let s4_4 = & r4 [b + 4 ..] [.. (n - 1) * 3 + 1] ;"),
        "{text}"
    );
    let cols = function_text(&s, "direct_col");
    assert!(
        cols.contains("simd . load_strided (s4_4 , i , 3)"),
        "{cols}"
    );
    // Row stride 2, dilation 2: one output row reads window rows 0, 2, 4; the
    // window of the next starts two rows lower.
    let call = quote_items(&s);
    assert!(call.contains("let w = & window [j * 2 ..] ;"), "{call}");
    assert!(
        call.contains("(simd , o , w [0] , w [2] , w [4] , cols . clone ())"),
        "{call}"
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
    assert!(text.contains("Simd < f64 >"));
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
        code.contains("fn direct_rows<S: ::convc::__private::Simd<f32>>("),
        "{code}"
    );
    // Per output row: the four unit neighbours in one partial sum, the -4 centre
    // in the other.
    assert!(
        code.contains("let a0_1 = x0_1 + x1_0 + x1_2 + x2_1;"),
        "{code}"
    );
    assert!(
        code.contains("let a0_0 = x1_1 * simd.splat(-4.0);"),
        "{code}"
    );
    // A direct pass's stores may stream: plain stores in `direct_cols`, and a
    // second step that streams into the rows' aligned vectors (the previous
    // step's, kept in `p`), run from the first aligned vector after the rows'
    // common aligned column on.
    assert!(code.contains("simd.store(o0, i, a0_0 + a0_1);"), "{code}");
    assert!(code.contains("let y0 = a0_0 + a0_1;"), "{code}");
    assert!(
        code.contains("simd.store_stream_vector(&mut m0[0], p[0]);"),
        "{code}"
    );
    assert!(code.contains("let h0 = simd.stream_head(o0);"), "{code}");
    assert!(
        code.contains("if h <= last && simd.stream_head(o1) == h0"),
        "{code}"
    );
    assert!(code.contains("i = h + S::LANES;"), "{code}");
    // Rows of a call aligned differently stay together (they share input
    // rows) and stream through a third step, each row's aligned vector joined
    // from the previous step's vector and its own.
    let one_at_a_time = "out.iter().all(|o| simd.stream_head(o) == h)";
    assert!(!code.contains(one_at_a_time), "{code}");
    assert!(code.contains("fn direct_cols_shifted<"), "{code}");
    assert!(
        code.contains("simd.store_stream_vector(&mut m1[0], simd.join(p[1], y1, d1));"),
        "{code}"
    );
    assert!(
        code.contains("if !(e1 == e0) && n >= 4 * S::LANES"),
        "{code}"
    );
    syn::parse_file(&code).unwrap();
    // Rows two apart share none (window rows 0, 2, 4 and 1, 3, 5): aligned
    // differently, they go one at a time, each streaming.
    let dilated = emit_rust(&spec("laplacian", None).dilation_yx(2, 1)).unwrap();
    assert!(dilated.contains(one_at_a_time), "{dilated}");
    assert!(dilated.contains("fn direct_rows<"), "{dilated}");
    syn::parse_file(&dilated).unwrap();
}

#[test]
fn an_all_zero_kernel_yields_zeros() {
    let text = quote_items(&spec("[[0, 0], [0, 0]]", None));
    assert!(text.contains("o0 . fill (0.0) ;"), "{text}");
    assert!(
        !text.contains("simd . load") && !text.contains("let w"),
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

#[test]
fn heavy_passes_compute_blocks_of_two_vectors_per_row() {
    let dense = spec(
        "[[1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11, 12], [1, 3, 5, 7, 9, 11], \
         [2, 4, 6, 8, 10, 13], [5, 1, 4, 2, 3, 6], [9, 7, 8, 6, 5, 3]]",
        None,
    );
    let block = function_text(&dense, "direct_block");
    // Four output rows, two vectors each, one partial sum per vector.
    for j in 0..4 {
        for v in 0..2 {
            assert!(block.contains(&format!("a{j}_0_v{v}")), "{block}");
        }
        assert!(!block.contains(&format!("a{j}_0_v2")), "{block}");
        assert!(!block.contains(&format!("a{j}_1_v0")), "{block}");
    }
    // Each of the window's rows is read through one window slice, at constant
    // offsets, after a barrier that keeps its loads after the previous row's.
    for t in 0..9 {
        assert!(
            block.contains(&format!("let w{t} = & q{t} [i ..]")),
            "{block}"
        );
    }
    // (At most one barrier per row: terms that merge taps of several rows wait
    // for the last one.)
    let barriers = block.matches("simd . barrier ()").count();
    assert!((2..=9).contains(&barriers), "{barriers}: {block}");
    assert!(
        block.contains("simd . load (w3 , 5 + 1 * S :: LANES)"),
        "{block}"
    );
    assert!(!block.contains("s3_5"), "{block}");
    assert!(function_text(&dense, "direct_rows").contains("direct_block"));
    // The single-vector step keeps the block's partial sums.
    let single = function_text(&dense, "direct_cols");
    assert!(
        single.contains("a0_0") && !single.contains("a0_1"),
        "{single}"
    );
    // Light passes have no block. Heavy ones have two: plain stores, and
    // streaming stores into the aligned vectors of the rows, run where every
    // output row of the call is aligned at the same column.
    assert!(!quote_items(&spec("sobel_x", Some((3, 3)))).contains("direct_block"));
    assert!(block.contains("simd . store (o0"), "{block}");
    assert!(!block.contains("stream"), "{block}");
    let stream = function_text(&dense, "direct_block_stream");
    for j in 0..4 {
        for v in 0..2 {
            let store = format!("simd . store_stream_vector (& mut m{j} [{v}]");
            assert!(stream.contains(&store), "{stream}");
        }
    }
    assert!(!stream.contains("simd . store ("), "{stream}");
    let rows = function_text(&dense, "direct_rows");
    assert!(rows.contains("simd . stream_head (o3) == h0"), "{rows}");
    // Heavy passes keep the rows of a call together however they are aligned.
    assert!(!quote_items(&dense).contains("out . iter () . all"));
    assert!(rows.contains("split_aligned (& mut o3 [i ..])"), "{rows}");
    // Rows aligned differently stream through a third block function: each
    // vector completes an aligned vector with the one before it (the previous
    // block's last for the first), which it carries to the next block.
    let shifted = function_text(&dense, "direct_block_shifted");
    for j in 0..4 {
        for want in [
            format!("simd . join (* c{j} , y{j}_0 , d{j})"),
            format!("simd . join (y{j}_0 , y{j}_1 , d{j})"),
            format!("* c{j} = y{j}_1"),
        ] {
            assert!(shifted.contains(&want), "{want}: {shifted}");
        }
    }
    assert!(rows.contains("Self :: direct_block_shifted"), "{rows}");
    // Light passes join single vectors, one step late (rows/shifted.rs).
    let sobel = quote_items(&spec("sobel_x", Some((3, 3))));
    assert!(sobel.contains("fn direct_cols_shifted"), "{sobel}");
    assert!(!sobel.contains("block_shifted"), "{sobel}");
    // The plain blocks prefetch the lines they store even where the token
    // streams (rows aligned differently); the streaming steps never do.
    let call = rows
        .find("Self :: direct_block (simd")
        .expect("a plain block loop");
    let start = rows[..call].rfind("while").expect("its loop");
    let (streaming, plain) = (&rows[..start], &rows[start..call]);
    assert!(plain.contains("simd . prefetch (o3"), "{rows}");
    assert!(!plain.contains("prefetch_out"), "{rows}");
    assert!(!streaming.contains("prefetch (o"), "{rows}");
}

#[test]
fn heavy_horizontal_passes_shift_odd_offsets_in_registers() {
    let g15 = spec("gaussian(sigma=3)", Some((15, 15)));
    let step = function_text(&g15, "horizontal_col_joined");
    assert!(step.contains("let ja = simd . load (s0_0 , i) ;"), "{step}");
    assert!(
        step.contains("let jb = simd . load (s0_0 , i + S :: LANES) ;"),
        "{step}"
    );
    assert!(step.contains("let x0_0 = ja ;"), "{step}");
    for d in (1..15).step_by(2) {
        assert!(
            step.contains(&format!("let x0_{d} = simd . join (ja , jb , {d}) ;")),
            "{d}: {step}"
        );
    }
    for d in (2..15).step_by(2) {
        assert!(
            step.contains(&format!("let x0_{d} = simd . load (s0_{d} , i) ;")),
            "{d}: {step}"
        );
    }
    // Only with 512-bit tokens, and while `jb` lies inside the row.
    let row = function_text(&g15, "horizontal_row");
    assert!(
        row.contains("if S :: CHEAP_JOIN && S :: LANES == 16 {"),
        "{row}"
    );
    assert!(row.contains("while i + 2 * S :: LANES <= n {"), "{row}");
    // f64: 8 lanes, offset 8 is `jb` itself, offsets past it are loads.
    let g13 = spec("gaussian(sigma=2)", Some((13, 13))).dtype(convc_core::DType::F64);
    let step = function_text(&g13, "horizontal_col_joined");
    assert!(step.contains("let x0_8 = jb ;"), "{step}");
    assert!(step.contains("simd . join (ja , jb , 7)"), "{step}");
    assert!(
        step.contains("let x0_9 = simd . load (s0_9 , i) ;"),
        "{step}"
    );
    assert!(
        function_text(&g13, "horizontal_row").contains("S :: LANES == 8"),
        "{g13:?}"
    );
    // Light plans and vertical passes load every vector.
    let g5 = quote_items(&spec("gaussian", Some((5, 5))));
    assert!(!g5.contains("joined") && !g5.contains("CHEAP_JOIN"), "{g5}");
    assert!(!function_text(&g15, "vertical_cols").contains("join"));
}

#[test]
fn heavy_vertical_passes_split_symmetric_pairs_for_the_tokens_that_ask() {
    let g15 = spec("gaussian(sigma=3)", Some((15, 15)));
    let cols = function_text(&g15, "vertical_cols");
    let (split, folded) = cols
        .split_once("if S :: SPLITS_PAIRS {")
        .and_then(|(_, both)| both.split_once("} else {"))
        .expect("both forms");
    // Rows 0 and 14 of output row 0 share a coefficient: one multiply of
    // their sum, or one each.
    assert!(
        folded.contains("a0_0 = simd . madd (x0_0 + x14_0 , simd . splat ("),
        "{folded}"
    );
    assert!(
        split.contains("let mut a0_0 = x0_0 * simd . splat ("),
        "{split}"
    );
    assert!(
        split.contains("a0_0 = simd . madd (x14_0 , simd . splat ("),
        "{split}"
    );
    assert!(!split.contains(" + x"), "{split}");
    // 15 taps for each of the call's 8 output rows: 8 multiplies, 112 multiply-adds.
    assert_eq!(split.matches("simd . madd (").count(), 8 * 14, "{split}");
    // Light plans and horizontal passes keep their pairs for every token.
    let g5 = quote_items(&spec("gaussian", Some((5, 5))));
    assert!(!g5.contains("SPLITS_PAIRS"), "{g5}");
    let horizontal = function_text(&g15, "horizontal_col");
    assert!(!horizontal.contains("SPLITS_PAIRS"), "{horizontal}");
}

#[test]
fn avx2_heavy_horizontal_passes_join_the_vectors_that_straddle_cache_lines() {
    let g15 = spec("gaussian(sigma=3)", Some((15, 15)));
    let step = function_text(&g15, "horizontal_col_line_joined");
    // Two vectors per step from a line's start: offsets 0..=22 from the first
    // tap; 9..=15 straddle two lines and are made from `j1` (offset 8), `j2`
    // (16) and their middle; 8 and 16 are those vectors; the rest are loads.
    assert!(
        step.contains("let j1 = simd . load (s0_0 , i + 8) ;"),
        "{step}"
    );
    assert!(
        step.contains("let j2 = simd . load (s0_0 , i + 16) ;"),
        "{step}"
    );
    assert!(
        !step.contains("let j0 ") && !step.contains("let j3 "),
        "{step}"
    );
    for c in 9..15 {
        let r = c - 8;
        assert!(
            step.contains(&format!(
                "let x0_{c}_v0 = simd . join_const :: < {r} > (j1 , j2) ;"
            )),
            "{c}: {step}"
        );
    }
    assert!(step.contains("let x0_8_v0 = j1 ;"), "{step}");
    assert!(
        step.contains("let x0_7_v0 = simd . load (s0_7 , i) ;"),
        "{step}"
    );
    // Vector 1 reads offsets 8..=22: 9..=15 straddle, 8 and 16 are `j1` and
    // `j2`, and 17..=22 lie inside the next line: loads.
    for c in 1..8 {
        assert!(
            step.contains(&format!(
                "let x0_{c}_v1 = simd . join_const :: < {c} > (j1 , j2) ;"
            )),
            "{c}: {step}"
        );
    }
    assert!(step.contains("let x0_0_v1 = j1 ;"), "{step}");
    assert!(step.contains("let x0_8_v1 = j2 ;"), "{step}");
    assert!(
        step.contains("let x0_9_v1 = simd . load (s0_9 , i + 8) ;"),
        "{step}"
    );
    // The loop: AVX2 f32 only, from the first column whose input starts a line,
    // while `j2` and the second vector's loads lie inside the row.
    let row = function_text(&g15, "horizontal_row");
    assert!(
        row.contains("if S :: JOINS_LINES && S :: LANES == 8 {"),
        "{row}"
    );
    assert!(row.contains("while i + 24 <= n {"), "{row}");
    // One prefetch per step, although `i` need not be a multiple of a line.
    assert!(row.contains("let at = i - i % 16 ;"), "{row}");
    assert!(row.contains("s0_0 . as_ptr () . addr ()"), "{row}");
    // Light plans and vertical passes never join.
    let g5 = quote_items(&spec("gaussian", Some((5, 5))));
    assert!(
        !g5.contains("join_const") && !g5.contains("JOINS_LINES"),
        "{g5}"
    );
    assert!(!function_text(&g15, "vertical_cols").contains("join"));
}

#[test]
fn avx2_heavy_horizontal_passes_of_f64_join_by_half_lines() {
    let g13 = spec("gaussian(sigma=2)", Some((13, 13))).dtype(convc_core::DType::F64);
    let step = function_text(&g13, "horizontal_col_line_joined");
    // Lines of 8 f64, vectors of 4: offsets 0..=12 and 4..=16 from the first
    // tap. 5..=7 straddle the first line's end (`j1`, `j2`, their middle) and
    // 13..=15 the second's (`j3`, `j4`); 4, 8, 12 and 16 are those vectors.
    for m in 1..=4 {
        let at = 4 * m;
        assert!(
            step.contains(&format!("let j{m} = simd . load (s0_0 , i + {at}) ;")),
            "{m}: {step}"
        );
    }
    assert!(
        !step.contains("let j0 ") && !step.contains("let j5 "),
        "{step}"
    );
    for c in 5..8 {
        let r = c - 4;
        assert!(
            step.contains(&format!(
                "let x0_{c}_v0 = simd . join_const :: < {r} > (j1 , j2) ;"
            )),
            "{c}: {step}"
        );
        assert!(
            step.contains(&format!("let x0_{c}_v1 = simd . load (s0_{c} , i + 4) ;")),
            "{c}: {step}"
        );
    }
    assert!(step.contains("let x0_12_v0 = j3 ;"), "{step}");
    assert!(step.contains("let x0_0_v1 = j1 ;"), "{step}");
    assert!(
        step.contains("let x0_9_v1 = simd . join_const :: < 1 > (j3 , j4) ;"),
        "{step}"
    );
    assert!(step.contains("let x0_12_v1 = j4 ;"), "{step}");
    // Offsets inside one line are loads.
    assert!(
        step.contains("let x0_1_v0 = simd . load (s0_1 , i) ;"),
        "{step}"
    );
    let row = function_text(&g13, "horizontal_row");
    assert!(
        row.contains("if S :: JOINS_LINES && S :: LANES == 4 {"),
        "{row}"
    );
    assert!(row.contains("let at = i - i % 8 ;"), "{row}");
}

#[test]
fn heavy_horizontal_passes_share_loads_in_blocks_where_joins_are_dear() {
    let g15 = spec("gaussian(sigma=3)", Some((15, 15)));
    let block = function_text(&g15, "horizontal_block");
    // Two vectors of output columns per step, each 7 symmetric pairs and the
    // centre in 2 partial sums: 2 multiplies and 6 multiply-adds.
    assert_eq!(block.matches("simd . madd (").count(), 2 * 6, "{block}");
    // The loop over blocks runs for tokens without a cheap join only; the
    // joined steps (AVX-512, then AVX2's line-joined step for f32) come after
    // it, and every token ends with single vectors.
    let rows = function_text(&g15, "horizontal_row");
    let guarded = rows
        .find("if ! S :: CHEAP_JOIN && ! S :: JOINS_LINES {")
        .expect("a guarded loop over blocks");
    let blocks = rows.find("Self :: horizontal_block (simd").expect("blocks");
    let joined = rows
        .find("Self :: horizontal_col_joined (simd")
        .expect("joined steps");
    let lines = rows
        .find("Self :: horizontal_col_line_joined (simd")
        .expect("line-joined steps");
    assert!(
        guarded < blocks && blocks < joined && joined < lines,
        "{rows}"
    );
    // f64 has the line-joined step too (4 lanes), so its blocks are guarded alike.
    let g13 = spec("gaussian(sigma=2)", Some((13, 13))).dtype(convc_core::DType::F64);
    let rows = function_text(&g13, "horizontal_row");
    assert!(
        rows.contains("if ! S :: CHEAP_JOIN && ! S :: JOINS_LINES {"),
        "{rows}"
    );
    // Light plans and strided rows keep one vector per step.
    for light in [
        spec("gaussian", Some((5, 5))),
        spec("gaussian(sigma=3)", Some((15, 15))).stride(2),
    ] {
        assert!(!quote_items(&light).contains("horizontal_block"));
    }
}
