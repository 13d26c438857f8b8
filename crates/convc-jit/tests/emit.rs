//! What the generated code looks like: the CLIF holds the specializations the
//! Plan asks for, input vectors are loaded once per block for every output row
//! and vector that reads them, and the machine code keeps vectors in registers.
//!
//! Vector counts per block depend on how many fit in the registers, so the
//! counts below are relations (loads per stored vector), not absolute numbers.

use convc_core::{ConvSpec, DType, Kernel, named};
use convc_jit::{Jit, JitOptions};

fn clif(jit: &Jit, spec: &ConvSpec) -> String {
    jit.emit_clif(spec).unwrap()
}

/// The text of one pass.
fn pass<'a>(text: &'a str, name: &str) -> &'a str {
    let start = text
        .find(&format!("; convc {name} pass"))
        .expect("pass present");
    let rest = &text[start + 1..];
    &text[start..start + 1 + rest.find("; convc ").unwrap_or(rest.len())]
}

#[test]
fn sobel_shares_one_difference_per_input_row() {
    let jit = Jit::new();
    let spec = ConvSpec::new(named::build("sobel_x", &[], None).unwrap());
    let text = clif(&jit, &spec);
    assert!(text.contains("f32x4"));
    assert!(!text.contains("horizontal pass"));
    // Two rows per call from four input rows: x[t][2] - x[t][0] is loaded and
    // subtracted once per input row and vector, then added to (or multiplied by
    // 2 into) the rows reading it: 8 loads and 2 multiplies per column vector,
    // 4 loads per output vector instead of 6.
    let loads = text.matches("load.f32x4").count() + text.matches("load.f32 ").count();
    let fmas = text.matches(" fma ").count();
    if jit.fma() {
        assert_eq!(
            text.matches(" fmul ").count(),
            0,
            "no multiply for unit taps"
        );
        assert_eq!(loads, 4 * fmas);
        assert_eq!(text.matches(" fsub ").count() * 2, loads);
    }
    // The constant 2 once per group (or block) and loop, never per vector.
    assert!(text.matches("f32const 0x1.000000p1").count() <= 4 * 3);
    let no_fma = Jit::with_options(JitOptions::default().fma(false)).unwrap();
    let text = clif(&no_fma, &spec);
    assert_eq!(text.matches(" fma ").count(), 0);
    if jit.fma() {
        assert_eq!(text.matches(" fmul ").count(), fmas);
    }
}

#[test]
fn zero_taps_vanish_and_the_scale_is_applied_once() {
    let jit = Jit::new();
    // Box 3x3: one unit term of 9 taps, scale 1/9. Per column vector: each of
    // the 4 input rows summed once (3 loads), 2 rows scaled once each.
    let text = clif(
        &jit,
        &ConvSpec::new(named::build("box", &[], None).unwrap()),
    );
    let loads = text.matches("load.f32x4").count() + text.matches("load.f32 ").count();
    let fmuls = text.matches(" fmul ").count();
    assert_eq!(loads, fmuls * 6);
    assert_eq!(text.matches(" fma ").count(), 0);
    // [[1, 0, 2]]: two taps two columns apart, the zero is never loaded.
    let k = Kernel::new(1, 3, vec![1.0, 0.0, 2.0]).unwrap();
    let text = clif(&jit, &ConvSpec::new(k.clone()));
    let vloads = text.matches("load.f32x4").count();
    let vfmas = text.matches(" fma ").count();
    // One multiply-add per output vector (x[0] + 2 * x[2]), two loads each.
    if jit.fma() {
        assert_eq!(vloads, 2 * (vfmas - 1), "{text}");
    }
    let text = clif(&jit, &ConvSpec::new(k).dtype(DType::F64));
    assert!(text.contains("f64x2") && !text.contains("f32x4"));
}

#[test]
fn separable_plans_get_two_passes_with_grouped_terms() {
    let jit = Jit::new();
    let spec = ConvSpec::new(named::build("gaussian", &[], Some((5, 5))).unwrap());
    let text = clif(&jit, &spec);
    let (v, h) = (pass(&text, "vertical"), pass(&text, "horizontal"));
    assert!(text.find("vertical pass") < text.find("horizontal pass"));
    // x[0] + x[4] + 4*(x[1] + x[3]) + 6*x[2]: constants 4 and 6, no scale.
    assert!(v.contains("0x1.000000p2") && v.contains("0x1.800000p2"));
    assert!(!v.contains("0x1.000000p-8"));
    // The whole 1/256 is applied once, in the horizontal (last) pass, which
    // sums each symmetric pair before its multiply.
    assert!(h.contains("0x1.000000p-8"));
    assert!(h.contains("0x1.000000p2") && h.contains("0x1.800000p2"));
    assert!(h.matches(" fadd ").count() >= 2 * h.matches("store notrap").count());
}

#[test]
fn fixed_shapes_get_constant_bounds_and_only_the_loop_they_need() {
    // Two vectors per row and block: 8 columns.
    let jit = Jit::with_options(JitOptions::default().unroll(2)).unwrap();
    let spec = ConvSpec::new(named::build("sobel_x", &[], None).unwrap()).input_shape(10, 66);
    let text = clif(&jit, &spec);
    // Interior columns 1..65: 64 columns, eight full blocks, no tail.
    assert!(text.contains("iconst.i64 65"));
    assert!(!text.contains("isub"));
    assert!(!text.contains("umin"));
    assert!(!text.contains("load.f32 "), "no scalar loop");
    let free = clif(&jit, &spec.clone().input_shape(10, 67));
    assert!(
        free.contains("umin"),
        "a width of 65 needs the overlapping block"
    );
    // Separable: the vertical pass over every input column, the horizontal
    // over every output column, both constant.
    let g = ConvSpec::new(named::build("gaussian", &[], Some((5, 5))).unwrap())
        .input_shape(9, 40)
        .stride_yx(1, 2);
    let text = clif(&jit, &g);
    let (v, h) = (pass(&text, "vertical"), pass(&text, "horizontal"));
    assert!(v.contains("iconst.i64 40") && !v.contains("isub"));
    assert!(h.contains("iconst.i64 20") && !h.contains("isub"));
}

#[test]
fn strides_gather_lanes() {
    let jit = Jit::new();
    let k = named::build("box", &[], Some((1, 3))).unwrap();
    assert!(clif(&jit, &ConvSpec::new(k.clone()).stride_yx(1, 2)).contains("shuffle"));
    assert!(clif(&jit, &ConvSpec::new(k).stride_yx(1, 3)).contains("insertlane"));
}

/// Vector registers are not spilled to the stack in the hot loops (x86_64,
/// where the System V ABI saves no vector registers in the prologue): none for
/// light stencils; in long dense blocks regalloc2 moves a value through the
/// stack now and then (see `VECTOR_BUDGET` in program.rs: planning one register
/// fewer to avoid it costs dense 7x7 a vector per row and 9%), at most one
/// instruction in 100.
#[test]
#[cfg(target_arch = "x86_64")]
fn vectors_stay_in_registers() {
    let jit = Jit::new();
    let dense: Vec<f64> = (0..49)
        .map(|i| ((i * 37 % 23) as f64 - 11.0) / 13.0)
        .collect();
    let mut s = 7u64;
    let random: Vec<f64> = (0..225)
        .map(|_| {
            s = s.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        })
        .collect();
    let specs = [
        (
            ConvSpec::new(named::build("sobel_x", &[], None).unwrap()),
            0,
        ),
        (
            ConvSpec::new(named::build("gaussian", &[], Some((5, 5))).unwrap()),
            0,
        ),
        (
            ConvSpec::new(named::build("gaussian", &[], Some((15, 15))).unwrap()),
            0,
        ),
        (ConvSpec::new(Kernel::new(7, 7, dense).unwrap()), 100),
        (ConvSpec::new(Kernel::new(15, 15, random).unwrap()), 100),
    ];
    for (spec, per) in specs {
        let asm = jit.emit_asm(&spec).unwrap();
        assert!(asm.contains("xmm"));
        if jit.fma() {
            assert!(asm.contains("vfmadd"));
        }
        let vector = asm.lines().filter(|l| l.contains("xmm")).count();
        let spills: Vec<&str> = asm
            .lines()
            .filter(|l| l.contains("xmm") && l.contains("rsp"))
            .collect();
        let allowed = vector.checked_div(per).unwrap_or(0);
        assert!(
            spills.len() <= allowed,
            "{} vector spills in {vector} vector instructions: {spills:?}",
            spills.len()
        );
    }
}

/// A vector loaded for one tap is reused by every tap of its column class one
/// vector further: with distinct coefficients 9 wide (no unit term) and four
/// vectors per block, each class's taps load the block's vectors once.
#[test]
fn loaded_vectors_are_reused_across_the_block() {
    let jit = Jit::with_options(JitOptions::default().unroll(4)).unwrap();
    let k = Kernel::new(1, 9, (2..=10).map(|i| (i as f64).sqrt() * 0.1).collect()).unwrap();
    let text = clif(&jit, &ConvSpec::new(k.clone()));
    // Stores: 4 vectors in the wide loop (a light direct pass: the last one
    // stored by the next block, or on leaving the loop), 1 narrow, 1 scalar.
    let stores = text.matches("store notrap").count() + text.matches("store.f32x4 notrap").count();
    assert_eq!(stores, 3 + 2 + 1 + 1);
    // Wide: classes {0, 4, 8}, {1, 5}, {2, 6}, {3, 7} load 4 + 2, then
    // 3 x (4 + 1) vectors; narrow: 9 loads.
    assert_eq!(
        text.matches("load.f32x4").count(),
        (4 + 2) + 3 * (4 + 1) + 9
    );
    // Strided taps are gathered (shuffled) once per distinct vector too:
    // classes modulo 8 columns, {0, 8} sharing one.
    let strided = clif(&jit, &ConvSpec::new(k).stride_yx(1, 2));
    assert_eq!(strided.matches("shuffle").count(), (8 * 4 + 1) + 9);
}

/// The blocks of a function's CLIF, each from its header line on.
fn blocks(text: &str) -> Vec<Vec<&str>> {
    let mut blocks: Vec<Vec<&str>> = Vec::new();
    for line in text.lines() {
        if line.starts_with("block") {
            blocks.push(Vec::new());
        }
        if let Some(b) = blocks.last_mut() {
            b.push(line);
        }
    }
    blocks
}

/// Light direct passes defer their stores: in the wide loop's body every store
/// follows every load, and each row's last vector travels to the next block
/// in a vector parameter of the loop header. Heavy direct passes store each
/// row as soon as its sum is complete.
#[test]
fn light_direct_passes_store_after_all_their_loads() {
    let jit = Jit::new();
    let dense: Vec<f64> = (0..49)
        .map(|i| ((i * 37 % 23) as f64 - 11.0) / 7.0)
        .collect();
    let cases = [
        (named::build("sobel_x", &[], None).unwrap(), true),
        (named::build("laplacian", &[], None).unwrap(), true),
        (Kernel::new(7, 7, dense).unwrap(), false),
    ];
    for (kernel, light) in cases {
        let text = clif(&jit, &ConvSpec::new(kernel.clone()));
        let blocks = blocks(&text);
        let body = blocks
            .iter()
            .max_by_key(|b| b.iter().filter(|l| l.contains("load.f32x4")).count())
            .unwrap();
        let last_load = body.iter().rposition(|l| l.contains("load.f32x4")).unwrap();
        let first_store = body.iter().position(|l| l.contains("store")).unwrap();
        let carries = blocks.iter().any(|b| b[0].contains("f32x4"));
        assert_eq!(first_store > last_load, light, "{kernel:?}");
        assert_eq!(carries, light, "{kernel:?}");
    }
}
