//! How generated code rebuilds its spec at run time: the kernel as a kernel
//! expression (checked to rebuild the same [`Kernel`]) and the options as
//! [`ConvSpec`] builder calls.

use convc_core::parse::parse_kernel;
use convc_core::{Border, ConvError, ConvSpec, DType, Kernel, Mode, Op, Result, Strategy};
use proc_macro2::TokenStream;
use quote::quote;

use crate::lit::{f64_lit, usize_lit};

/// A kernel written so that [`parse_kernel`] rebuilds it exactly.
#[derive(Debug, Clone, PartialEq)]
pub struct KernelSource {
    /// The kernel expression.
    pub text: String,
    /// Its size (height, width).
    pub size: (usize, usize),
    /// A name to give the rebuilt kernel, when parsing does not give it that name.
    pub name: Option<String>,
}

/// Finds a kernel expression that rebuilds `kernel`: its name (named kernels
/// remember `gaussian(sigma=1.5) 7x7`), else a literal (integers over a divisor,
/// integers times a factor, or the coefficients written exactly). Each candidate is
/// parsed back and compared with `kernel`, so the rebuilt kernel is equal (same
/// coefficients, exact form and factors) by construction.
///
/// Errors when no candidate rebuilds it: only kernels built through the API as an
/// outer product of float factors ([`Kernel::outer`]) without a name are such.
pub fn kernel_source(kernel: &Kernel) -> Result<KernelSource> {
    let size = (kernel.height(), kernel.width());
    let mut candidates: Vec<String> = Vec::new();
    if let Some((expr, _size)) = kernel.name().and_then(|n| n.rsplit_once(' ')) {
        candidates.push(expr.to_string());
    }
    if let Some(e) = kernel.exact_form() {
        let ints = matrix(size.1, e.numerators.iter().map(i64::to_string));
        if e.scale == 1.0 {
            candidates.push(ints);
        } else {
            // `/ d` made the scale `1.0 / d`; `1.0 / scale` may be off by an ulp.
            let divisor = (1.0 / e.scale).round();
            if divisor != 0.0 && 1.0 / divisor == e.scale {
                candidates.push(format!("{ints} / {divisor:?}"));
            }
            candidates.push(format!("{ints} * {:?}", e.scale));
        }
    }
    candidates.push(matrix(
        size.1,
        kernel.coeffs().iter().map(|c| format!("{c:?}")),
    ));
    for text in candidates {
        let Ok(rebuilt) = parse_kernel(&text, Some(size)) else {
            continue;
        };
        if rebuilt == *kernel {
            let name = (rebuilt.name() != kernel.name())
                .then(|| kernel.name().map(str::to_string))
                .flatten();
            return Ok(KernelSource { text, size, name });
        }
    }
    Err(ConvError::Codegen(format!(
        "no kernel expression rebuilds this {}x{} kernel exactly (a float outer product \
         built with Kernel::outer has no written form: give it a name or use a literal); \
         please report it",
        size.0, size.1
    )))
}

/// `[[a, b], [c, d]]` from row-major cells.
fn matrix(width: usize, cells: impl Iterator<Item = String>) -> String {
    let cells: Vec<String> = cells.collect();
    let rows: Vec<String> = cells
        .chunks(width)
        .map(|r| format!("[{}]", r.join(", ")))
        .collect();
    format!("[{}]", rows.join(", "))
}

/// `::convc::ConvSpec::new(kernel).op(...)...`: only options that differ from
/// [`ConvSpec::new`]'s defaults are set.
pub fn spec_tokens(spec: &ConvSpec, source: &KernelSource) -> TokenStream {
    let text = &source.text;
    let (h, w) = (usize_lit(source.size.0), usize_lit(source.size.1));
    let name = match &source.name {
        Some(n) => quote!(::core::option::Option::Some(#n)),
        None => quote!(::core::option::Option::None),
    };
    let mut t = quote! {
        ::convc::ConvSpec::new(::convc::__private::kernel(
            #text,
            ::core::option::Option::Some((#h, #w)),
            #name,
        ))
    };
    let default = ConvSpec::new(spec.kernel.clone());
    if spec.op != default.op {
        let op = match spec.op {
            Op::Correlate => quote!(Correlate),
            Op::Convolve => quote!(Convolve),
        };
        t.extend(quote!(.op(::convc::Op::#op)));
    }
    if spec.stride != default.stride {
        let (y, x) = (usize_lit(spec.stride.y), usize_lit(spec.stride.x));
        t.extend(quote!(.stride_yx(#y, #x)));
    }
    if spec.dilation != default.dilation {
        let (y, x) = (usize_lit(spec.dilation.y), usize_lit(spec.dilation.x));
        t.extend(quote!(.dilation_yx(#y, #x)));
    }
    if spec.mode != default.mode {
        let mode = match spec.mode {
            Mode::Valid => quote!(Valid),
            Mode::Same => quote!(Same),
            Mode::Full => quote!(Full),
            Mode::Explicit {
                top,
                bottom,
                left,
                right,
            } => {
                let [top, bottom, left, right] = [top, bottom, left, right].map(usize_lit);
                quote!(Explicit { top: #top, bottom: #bottom, left: #left, right: #right })
            }
        };
        t.extend(quote!(.mode(::convc::Mode::#mode)));
    }
    if let Some(a) = spec.anchor {
        let (y, x) = (usize_lit(a.y), usize_lit(a.x));
        t.extend(quote!(.anchor(#y, #x)));
    }
    if spec.border != default.border {
        let border = match spec.border {
            Border::Zero => quote!(Zero),
            Border::Constant(c) => {
                let c = f64_lit(c);
                quote!(Constant(#c))
            }
            Border::Replicate => quote!(Replicate),
            Border::Reflect => quote!(Reflect),
            Border::Mirror => quote!(Mirror),
            Border::Wrap => quote!(Wrap),
        };
        t.extend(quote!(.border(::convc::Border::#border)));
    }
    if spec.dtype != default.dtype {
        let dtype = match spec.dtype {
            DType::F32 => quote!(F32),
            DType::F64 => quote!(F64),
        };
        t.extend(quote!(.dtype(::convc::DType::#dtype)));
    }
    if let Some(s) = spec.input {
        let (h, w) = (usize_lit(s.height), usize_lit(s.width));
        t.extend(quote!(.input_shape(#h, #w)));
    }
    if let Some(n) = spec.threads {
        let n = usize_lit(n);
        t.extend(quote!(.threads(#n)));
    }
    if spec.strategy != default.strategy {
        let s = match spec.strategy {
            Strategy::Auto => quote!(Auto),
            Strategy::Direct => quote!(Direct),
            Strategy::Separable => quote!(Separable),
        };
        t.extend(quote!(.strategy(::convc::Strategy::#s)));
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use convc_core::named;

    fn roundtrip(k: &Kernel) -> KernelSource {
        let s = kernel_source(k).unwrap();
        let mut rebuilt = parse_kernel(&s.text, Some(s.size)).unwrap();
        if let Some(n) = &s.name {
            rebuilt = rebuilt.named(n.clone());
        }
        assert_eq!(&rebuilt, k, "{s:?}");
        assert_eq!(rebuilt.name(), k.name(), "{s:?}");
        s
    }

    #[test]
    fn named_kernels_are_rebuilt_from_their_name() {
        let g = named::build("gaussian", &[("sigma".into(), 1.3)], Some((7, 5))).unwrap();
        assert_eq!(roundtrip(&g).text, "gaussian(sigma=1.3)");
        let s = named::build("sobel_x", &[], None).unwrap();
        assert_eq!(roundtrip(&s).text, "sobel_x");
        let l = named::build("log", &[], Some((9, 9))).unwrap();
        assert_eq!(roundtrip(&l).text, "log");
    }

    #[test]
    fn literals_are_rebuilt_exactly() {
        for text in [
            "[[1, 2, 1], [2, 4, 2], [1, 2, 1]] / 16",
            "[[1, 2], [3, 4]] / 49",
            "[[-3, 4, -1, 0, 1, 3, 4, -3]] / 197",
            "[[2, 2], [-2, -1]] / 103",
            "[[3, 4], [1, -4]] / 206",
            "[[1, -2, 3]] * 0.1",
            "[[0.1, -0.25e-3], [3.3333333333333335, 1e-300]]",
            "[[-1, 0, 1]]",
            "[[1.5, 2.5]] * 2",
        ] {
            let k = parse_kernel(text, None).unwrap();
            roundtrip(&k);
        }
        let k = Kernel::from_integers(2, 2, vec![1, 2, 3, 4], 7.0).unwrap();
        roundtrip(&k);
        let k = Kernel::new(1, 3, vec![0.1, 0.2, 0.30000000000000004]).unwrap();
        roundtrip(&k);
        // A name the parser does not know is given back.
        let k = Kernel::new(1, 2, vec![1.0, 3.0]).unwrap().named("mine");
        assert_eq!(roundtrip(&k).name.as_deref(), Some("mine"));
    }

    #[test]
    fn an_unnamed_float_outer_product_has_no_written_form() {
        let k = Kernel::outer(&[0.1, 0.7], &[0.3, 0.9]).unwrap();
        assert!(matches!(kernel_source(&k), Err(ConvError::Codegen(_))));
    }

    #[test]
    fn only_options_that_differ_from_the_defaults_are_set() {
        let k = named::build("box", &[], None).unwrap();
        let src = kernel_source(&k).unwrap();
        let plain = spec_tokens(&ConvSpec::new(k.clone()), &src).to_string();
        assert!(!plain.contains(". op"), "{plain}");
        let spec = ConvSpec::new(k)
            .border(Border::Constant(-2.5))
            .mode(Mode::Explicit {
                top: 1,
                bottom: 2,
                left: 3,
                right: 4,
            })
            .stride_yx(2, 1)
            .dtype(DType::F64)
            .input_shape(10, 20)
            .threads(2);
        let t = spec_tokens(&spec, &src).to_string();
        for want in [
            "Constant (- 2.5)",
            "stride_yx (2 , 1)",
            "top : 1 , bottom : 2 , left : 3 , right : 4",
            "DType :: F64",
            "input_shape (10 , 20)",
            "threads (2)",
        ] {
            assert!(t.contains(want), "{want} in {t}");
        }
    }
}
