//! What the generated code looks like: the CLIF holds the specializations the
//! Plan asks for, and the machine code keeps vectors in registers.

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
fn sobel_has_no_multiply_for_unit_taps() {
    let jit = Jit::with_options(JitOptions::default().unroll(8)).unwrap();
    let spec = ConvSpec::new(named::build("sobel_x", &[], None).unwrap());
    let text = clif(&jit, &spec);
    assert!(text.contains("f32x4"));
    assert!(!text.contains("horizontal pass"));
    // x[0,2] + x[2,2] - x[0,0] - x[2,0] + 2*(x[1,2] - x[1,0]): the only multiply
    // is by 2, fused with the add where the host has FMA; 6 loads per vector of
    // each of the 4 rows a call computes.
    let wide_and_narrow_and_scalar = 4 * (8 + 1 + 1);
    if jit.fma() {
        assert_eq!(text.matches(" fmul ").count(), 0);
        assert_eq!(text.matches(" fma ").count(), wide_and_narrow_and_scalar);
    }
    assert_eq!(
        text.matches("load.f32x4").count() + text.matches("load.f32 ").count(),
        6 * wide_and_narrow_and_scalar
    );
    // The constant 2.0 once per row and loop (wide, narrow, scalar), not once per
    // vector.
    assert_eq!(text.matches("f32const 0x1.000000p1").count(), 4 * 3);
    let no_fma = Jit::with_options(JitOptions::default().fma(false)).unwrap();
    let text = clif(&no_fma, &spec);
    assert_eq!(text.matches(" fma ").count(), 0);
    assert_eq!(text.matches(" fmul ").count(), wide_and_narrow_and_scalar);
}

#[test]
fn zero_taps_vanish_and_the_scale_is_applied_once() {
    let jit = Jit::new();
    // Box 3x3: one unit term of 9 taps, scale 1/9: one multiply per vector (4
    // rows per call).
    let text = clif(
        &jit,
        &ConvSpec::new(named::build("box", &[], None).unwrap()),
    );
    assert_eq!(text.matches(" fmul ").count(), 4 * (8 + 1 + 1));
    assert_eq!(text.matches(" fma ").count(), 0);
    // [[1, 0, 2]]: two taps, the zero is never loaded.
    let k = Kernel::new(1, 3, vec![1.0, 0.0, 2.0]).unwrap();
    let text = clif(&jit, &ConvSpec::new(k).dtype(DType::F64));
    assert!(text.contains("f64x2"));
    assert_eq!(text.matches("load.f64x2").count(), 2 * (8 + 1));
}

#[test]
fn separable_plans_get_two_passes_with_grouped_terms() {
    let jit = Jit::new();
    let spec = ConvSpec::new(named::build("gaussian", &[], Some((5, 5))).unwrap());
    let text = clif(&jit, &spec);
    let (h, v) = (pass(&text, "horizontal"), pass(&text, "vertical"));
    // x[0] + x[4] + 4*(x[1] + x[3]) + 6*x[2]: constants 4 and 6, no scale.
    assert!(v.contains("0x1.000000p2") && v.contains("0x1.800000p2"));
    assert!(!v.contains("0x1.000000p-8"));
    // The whole 1/256 is applied once, in the horizontal (last) pass.
    assert!(h.contains("0x1.000000p-8"));
}

#[test]
fn fixed_shapes_get_constant_bounds_and_only_the_loop_they_need() {
    let jit = Jit::new();
    let spec = ConvSpec::new(named::build("sobel_x", &[], None).unwrap()).input_shape(10, 66);
    let text = clif(&jit, &spec);
    // Interior columns 1..65: 64 columns, two full blocks of 32, no tail.
    assert!(text.contains("iconst.i64 65"));
    assert!(!text.contains("isub"));
    assert!(!text.contains("umin"));
    assert!(!text.contains("load.f32 "), "no scalar loop");
    let free = clif(&jit, &spec.clone().input_shape(10, 67));
    assert!(
        free.contains("umin"),
        "a width of 65 needs the overlapping block"
    );
}

#[test]
fn strides_gather_lanes() {
    let jit = Jit::new();
    let k = named::build("box", &[], Some((1, 3))).unwrap();
    assert!(clif(&jit, &ConvSpec::new(k.clone()).stride_yx(1, 2)).contains("shuffle"));
    assert!(clif(&jit, &ConvSpec::new(k).stride_yx(1, 3)).contains("insertlane"));
}

/// No vector register is spilled to the stack in the hot loops (x86_64, where
/// the System V ABI saves no vector registers in the prologue).
#[test]
#[cfg(target_arch = "x86_64")]
fn vectors_stay_in_registers() {
    let jit = Jit::new();
    let dense: Vec<f64> = (0..49)
        .map(|i| ((i * 37 % 23) as f64 - 11.0) / 13.0)
        .collect();
    let specs = [
        ConvSpec::new(named::build("sobel_x", &[], None).unwrap()),
        ConvSpec::new(named::build("gaussian", &[], Some((15, 15))).unwrap()),
        ConvSpec::new(Kernel::new(7, 7, dense).unwrap()),
    ];
    for spec in specs {
        let asm = jit.emit_asm(&spec).unwrap();
        assert!(asm.contains("xmm"));
        if jit.fma() {
            assert!(asm.contains("vfmadd"));
        }
        for line in asm.lines() {
            assert!(
                !(line.contains("xmm") && line.contains("rsp")),
                "vector spill: {line}"
            );
        }
    }
}

/// Single-tap terms one vector width apart share loads: vector `i + 1` of a tap
/// is vector `i` of the next one, so each chained tap loads one new vector.
#[test]
fn chained_taps_reuse_loaded_vectors() {
    let jit = Jit::new();
    // Nine distinct coefficients without a common factor (so no unit term):
    // chains {0, 4, 8}, {1, 5}, {2, 6}, {3, 7}.
    let k = Kernel::new(1, 9, (2..=10).map(|i| (i as f64).sqrt() * 0.1).collect()).unwrap();
    let text = clif(&jit, &ConvSpec::new(k.clone()));
    // Wide loop (7 vectors, capped so nothing spills): 7 + 1 + 1 for the chain
    // of three, 7 + 1 for each chain of two; narrow loop: 9 (nothing to share).
    let wide = (7 + 1 + 1) + 3 * (7 + 1);
    assert_eq!(text.matches("load.f32x4").count(), wide + 9);
    // Strided taps are gathered, not chained.
    let strided = clif(&jit, &ConvSpec::new(k).stride_yx(1, 2));
    assert_eq!(strided.matches("shuffle").count(), 9 * (8 + 1));
}
