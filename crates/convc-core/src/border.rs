//! Border rules: which input value a padded position reads.
//!
//! | convc | pattern | OpenCV | scipy.ndimage | numpy.pad | PyTorch |
//! | --- | --- | --- | --- | --- | --- |
//! | `Zero` | `000|abcd|000` | `BORDER_CONSTANT` (0) | `constant` (cval 0) | `constant` | `zeros` |
//! | `Constant(c)` | `ccc|abcd|ccc` | `BORDER_CONSTANT` | `constant` | `constant` | - |
//! | `Replicate` | `aaa|abcd|ddd` | `BORDER_REPLICATE` | `nearest` | `edge` | `replicate` |
//! | `Reflect` | `dcba|abcd|dcba` | `BORDER_REFLECT` | `reflect` | `symmetric` | - |
//! | `Mirror` | `dcb|abcd|cba` | `BORDER_REFLECT_101` (default) | `mirror` | `reflect` | `reflect` |
//! | `Wrap` | `bcd|abcd|abc` | `BORDER_WRAP` | `wrap`/`grid-wrap` | `wrap` | `circular` |
//!
//! Reflection and wrapping repeat when the padding is wider than the image, as
//! `numpy.pad` does: the padded signal is periodic.

use std::fmt;
use std::hash::{Hash, Hasher};

/// Values read from the padding around the input.
#[derive(Debug, Clone, Copy, Default)]
pub enum Border {
    /// Zeros.
    Zero,
    /// A constant.
    Constant(f64),
    /// The nearest edge pixel: `aaa|abcd|ddd`.
    Replicate,
    /// Reflection including the edge pixel: `dcba|abcd|dcba`.
    Reflect,
    /// Reflection about the edge pixel: `dcb|abcd|cba` (the default, as in OpenCV).
    #[default]
    Mirror,
    /// Circular: `bcd|abcd|abc`.
    Wrap,
}

/// Where a (possibly out-of-range) index reads from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// An index inside the input.
    Index(usize),
    /// The border constant.
    Constant,
}

impl Border {
    /// Maps index `i` of the padded signal (relative to the input's first element)
    /// onto an input of length `n` (n >= 1).
    ///
    /// ```
    /// use convc_core::{Border, border::Source};
    /// assert_eq!(Border::Mirror.map(-2, 4), Source::Index(2));
    /// assert_eq!(Border::Reflect.map(-2, 4), Source::Index(1));
    /// assert_eq!(Border::Replicate.map(9, 4), Source::Index(3));
    /// assert_eq!(Border::Wrap.map(-1, 4), Source::Index(3));
    /// assert_eq!(Border::Zero.map(4, 4), Source::Constant);
    /// ```
    #[inline]
    pub fn map(self, i: isize, n: usize) -> Source {
        debug_assert!(n >= 1);
        if i >= 0 && (i as usize) < n {
            return Source::Index(i as usize);
        }
        let n_i = n as isize;
        Source::Index(match self {
            Border::Zero | Border::Constant(_) => return Source::Constant,
            Border::Replicate => i.clamp(0, n_i - 1) as usize,
            Border::Reflect => {
                let m = i.rem_euclid(2 * n_i);
                (if m >= n_i { 2 * n_i - 1 - m } else { m }) as usize
            }
            Border::Mirror => {
                if n == 1 {
                    0
                } else {
                    let p = 2 * n_i - 2;
                    let m = i.rem_euclid(p);
                    (if m >= n_i { p - m } else { m }) as usize
                }
            }
            Border::Wrap => i.rem_euclid(n_i) as usize,
        })
    }

    /// The padding value for `Zero` and `Constant`, 0 for the others.
    pub fn constant(self) -> f64 {
        match self {
            Border::Constant(c) => c,
            _ => 0.0,
        }
    }

    /// True for the borders that read a constant rather than input pixels.
    pub fn is_constant(self) -> bool {
        matches!(self, Border::Zero | Border::Constant(_))
    }

    /// Every border name the CLI and `conv!` accept, with the one it means.
    pub const NAMES: &'static [&'static str] = &[
        "zero",
        "constant:C",
        "replicate",
        "reflect",
        "mirror",
        "wrap",
    ];

    /// Parses `zero`, `constant:C` (or `constant(C)`), `replicate`, `reflect`,
    /// `mirror`, `wrap`, and the aliases other libraries use (`nearest`, `edge`,
    /// `symmetric`, `reflect_101`, `reflect101`, `circular`, `grid-wrap`).
    pub fn parse(text: &str) -> Option<Border> {
        let t = text.trim().to_ascii_lowercase();
        let constant = t.strip_prefix("constant:").or_else(|| {
            t.strip_prefix("constant(")
                .and_then(|r| r.strip_suffix(')'))
        });
        if let Some(c) = constant {
            return c.trim().parse::<f64>().ok().map(Border::Constant);
        }
        Some(match t.as_str() {
            "zero" | "zeros" | "constant" => Border::Zero,
            "replicate" | "nearest" | "edge" => Border::Replicate,
            "reflect" | "symmetric" => Border::Reflect,
            "mirror" | "reflect_101" | "reflect101" => Border::Mirror,
            "wrap" | "circular" | "grid-wrap" => Border::Wrap,
            _ => return None,
        })
    }
}

impl PartialEq for Border {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Border::Constant(a), Border::Constant(b)) => a.to_bits() == b.to_bits(),
            _ => std::mem::discriminant(self) == std::mem::discriminant(other),
        }
    }
}

impl Eq for Border {}

impl Hash for Border {
    fn hash<H: Hasher>(&self, state: &mut H) {
        std::mem::discriminant(self).hash(state);
        if let Border::Constant(c) = self {
            c.to_bits().hash(state);
        }
    }
}

impl fmt::Display for Border {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Border::Zero => f.write_str("zero"),
            Border::Constant(c) => write!(f, "constant:{c}"),
            Border::Replicate => f.write_str("replicate"),
            Border::Reflect => f.write_str("reflect"),
            Border::Mirror => f.write_str("mirror"),
            Border::Wrap => f.write_str("wrap"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(b: Border, n: usize, from: isize, to: isize) -> String {
        (from..to)
            .map(|i| match b.map(i, n) {
                Source::Index(j) => (b'a' + j as u8) as char,
                Source::Constant => '0',
            })
            .collect()
    }

    #[test]
    fn patterns_match_the_table() {
        assert_eq!(row(Border::Zero, 4, -3, 7), "000abcd000");
        assert_eq!(row(Border::Replicate, 4, -3, 7), "aaaabcdddd");
        assert_eq!(row(Border::Reflect, 4, -4, 8), "dcbaabcddcba");
        assert_eq!(row(Border::Mirror, 4, -3, 7), "dcbabcdcba");
        assert_eq!(row(Border::Wrap, 4, -3, 7), "bcdabcdabc");
    }

    #[test]
    fn wide_padding_repeats_like_numpy_pad() {
        // numpy.pad([a,b,c], 7, 'reflect') -> b c b a b c b | a b c | b a b c b a b
        assert_eq!(row(Border::Mirror, 3, -7, 10), "bcbabcbabcbabcbab");
        // numpy.pad([a,b,c], 7, 'symmetric') -> a a b c c b a | a b c | c b a a b c c
        assert_eq!(row(Border::Reflect, 3, -7, 10), "aabccbaabccbaabcc");
        assert_eq!(row(Border::Mirror, 1, -3, 4), "aaaaaaa");
        assert_eq!(row(Border::Reflect, 1, -3, 4), "aaaaaaa");
        assert_eq!(row(Border::Wrap, 2, -5, 5), "bababababa");
    }

    #[test]
    fn names_and_aliases() {
        assert_eq!(Border::parse("constant:2.5"), Some(Border::Constant(2.5)));
        assert_eq!(Border::parse("constant(1)"), Some(Border::Constant(1.0)));
        assert_eq!(Border::parse("symmetric"), Some(Border::Reflect));
        assert_eq!(Border::parse("reflect_101"), Some(Border::Mirror));
        assert_eq!(Border::parse("nearest"), Some(Border::Replicate));
        assert_eq!(Border::parse("circular"), Some(Border::Wrap));
        assert_eq!(Border::parse("bogus"), None);
        assert_eq!(Border::parse("constant:x"), None);
        for b in [
            Border::Zero,
            Border::Constant(-3.0),
            Border::Replicate,
            Border::Mirror,
        ] {
            assert_eq!(Border::parse(&b.to_string()), Some(b));
        }
    }
}
