//! Literal tokens: exact, readable numbers.

use std::str::FromStr;

use convc_core::DType;
use proc_macro2::{Literal, TokenStream};
use quote::quote;

/// An unsuffixed integer literal.
pub fn usize_lit(n: usize) -> Literal {
    Literal::usize_unsuffixed(n)
}

/// An `f64` as an unsuffixed literal that parses back to the same value (Rust's
/// shortest round-trip form, `2.0`, `0.0625`, `1e-7`), with a separate `-` token
/// for negative values (and `-0.0`).
pub fn f64_lit(v: f64) -> TokenStream {
    float(v, format!("{:?}", v.abs()), DType::F64)
}

/// A coefficient in the element type: rounded to `f32` for `f32` code, exactly
/// as `T::from_f64` rounds it in the other executors.
pub fn elem_lit(v: f64, dtype: DType) -> TokenStream {
    match dtype {
        DType::F32 => {
            let f = v as f32;
            float(f as f64, format!("{:?}", f.abs()), dtype)
        }
        DType::F64 => f64_lit(v),
    }
}

fn float(v: f64, abs_text: String, dtype: DType) -> TokenStream {
    let sign = v.is_sign_negative().then(|| quote!(-));
    if v.is_finite() {
        let lit = Literal::from_str(&abs_text).expect("a finite float prints as a literal");
        quote!(#sign #lit)
    } else {
        // Only an f32 rounding of a huge f64 coefficient gets here.
        let ty = proc_macro2::Ident::new(dtype.name(), proc_macro2::Span::call_site());
        quote!(#sign ::core::primitive::#ty::INFINITY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_exactly() {
        assert_eq!(f64_lit(2.0).to_string(), "2.0");
        assert_eq!(f64_lit(-0.0625).to_string(), "- 0.0625");
        assert_eq!(f64_lit(-0.0).to_string(), "- 0.0");
        assert_eq!(f64_lit(1e-300).to_string(), "1e-300");
        let third = 1.0f64 / 3.0;
        let text = f64_lit(third).to_string();
        assert_eq!(text.parse::<f64>().unwrap(), third);
        assert_eq!(elem_lit(third, DType::F32).to_string(), "0.33333334");
        assert_eq!(
            elem_lit(-1e39, DType::F32).to_string(),
            "- :: core :: primitive :: f32 :: INFINITY"
        );
    }
}
