//! `convc kernels`: the named-kernel catalog.

use std::fmt::Write;

use convc::named::{self, NAMED_KERNELS};

use crate::error::Result;

/// The catalog text: for each entry of [`NAMED_KERNELS`], its name, parameters,
/// sizes, summary and its matrix at the default size.
pub fn catalog() -> Result<String> {
    let mut out = String::new();
    for (i, k) in NAMED_KERNELS.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let params = if k.params.is_empty() {
            "none".to_string()
        } else {
            k.params
                .iter()
                .map(|p| format!("{p}=<number>"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let (h, w) = k.default_size;
        let matrix = named::build(k.name, &[], None)?;
        // `fmt::Write` for `String` cannot fail.
        let _ = writeln!(out, "{}", k.name);
        let _ = writeln!(out, "  parameters: {params}");
        let _ = writeln!(out, "  sizes: {} (default {h}x{w})", k.sizes);
        let _ = writeln!(out, "  {}", k.summary);
        for line in matrix.to_string().lines() {
            let _ = writeln!(out, "    {line}");
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kernel_is_listed_with_its_matrix() {
        let text = catalog().unwrap();
        for k in NAMED_KERNELS {
            assert!(text.lines().any(|l| l == k.name), "{} missing", k.name);
        }
        // Each matrix at its default size, indented under its entry.
        for k in NAMED_KERNELS {
            let m = named::build(k.name, &[], None).unwrap().to_string();
            let indented: Vec<String> = m.lines().map(|l| format!("    {l}")).collect();
            assert!(
                text.contains(&indented.join("\n")),
                "{} matrix missing",
                k.name
            );
        }
        assert!(text.contains("sobel_x\n"), "{text}");
        assert!(text.contains("[-2  0  2]"), "{text}");
    }
}
