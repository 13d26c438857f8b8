//! The kernel-expression language shared by the CLI and `conv!`.
//!
//! ```text
//! expr    := name [ "(" [ param { "," param } [","] ] ")" ]
//!          | matrix [ ("/" | "*") number ]
//! param   := ident "=" number
//! matrix  := "[" row { "," row } [","] "]"         2D: rows of equal length
//!          | "[" number { "," number } [","] "]"   1D: a single row
//! row     := "[" number { "," number } [","] "]"
//! number  := ["+" | "-"] decimal [ ("e" | "E") ["+" | "-"] digits ]
//! size    := H "x" W | N                           (N means NxN)
//! ```
//!
//! Whitespace may appear between any two tokens, so the text of a Rust token stream
//! (`gaussian (sigma = 1.5)`, `- 1`) parses as well as what a user types.
//!
//! ```
//! use convc_core::parse::{parse_kernel, parse_size};
//! let k = parse_kernel("[[1, 2, 1], [2, 4, 2], [1, 2, 1]] / 16", None)?;
//! assert_eq!(k.get(1, 1), 0.25);
//! let g = parse_kernel("gaussian(sigma=1.5)", Some(parse_size("7x7")?))?;
//! assert_eq!(g.width(), 7);
//! # Ok::<(), convc_core::ConvError>(())
//! ```

use crate::error::{ConvError, Result};
use crate::kernel::Kernel;
use crate::named;

/// A byte range in the parsed text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

/// A number as written: its value and whether it was written as an integer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Number {
    /// The value.
    pub value: f64,
    /// Written without a fraction or exponent (and fits in i64).
    pub integer: Option<i64>,
    /// Where it was written.
    pub span: Span,
}

/// A `name = value` parameter of a named kernel.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    /// Parameter name.
    pub name: String,
    /// Its value.
    pub value: Number,
    /// The whole `name = value`.
    pub span: Span,
}

/// How a literal's scale applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScaleOp {
    /// `matrix / d`
    Divide,
    /// `matrix * f`
    Multiply,
}

/// A parsed kernel expression, before its size is known.
#[derive(Debug, Clone, PartialEq)]
pub enum KernelExpr {
    /// `name` or `name(p = v, ...)`.
    Named {
        /// Kernel name.
        name: String,
        /// Where the name stands.
        name_span: Span,
        /// Its parameters.
        params: Vec<Param>,
    },
    /// `[[...], ...]` or `[...]`, optionally scaled.
    Literal {
        /// Rows of numbers (one row for a 1D literal).
        rows: Vec<Vec<Number>>,
        /// Span of each row (the whole literal for a 1D one).
        row_spans: Vec<Span>,
        /// `/ d` or `* f`.
        scale: Option<(ScaleOp, Number)>,
        /// The whole expression.
        span: Span,
    },
}

impl KernelExpr {
    /// Builds the kernel. A literal has its own size, so `size` must be `None` or
    /// equal to it; a named kernel takes its default size when `size` is `None`.
    pub fn build(&self, size: Option<(usize, usize)>) -> Result<Kernel> {
        match self {
            KernelExpr::Named { name, params, .. } => {
                let p: Vec<(String, f64)> = params
                    .iter()
                    .map(|p| (p.name.clone(), p.value.value))
                    .collect();
                named::build(name, &p, size)
            }
            KernelExpr::Literal { rows, scale, .. } => {
                let (h, w) = (rows.len(), rows[0].len());
                if let Some((sh, sw)) = size
                    && (sh, sw) != (h, w)
                {
                    return Err(ConvError::MalformedKernel(format!(
                        "the literal is {h}x{w} but the size says {sh}x{sw}"
                    )));
                }
                let flat: Vec<Number> = rows.iter().flatten().copied().collect();
                let ints: Option<Vec<i64>> = flat.iter().map(|n| n.integer).collect();
                match (ints, scale) {
                    (Some(n), None) => Kernel::from_integers(h, w, n, 1.0),
                    (Some(n), Some((ScaleOp::Divide, d))) => {
                        Kernel::from_integers(h, w, n, d.value)
                    }
                    (Some(n), Some((ScaleOp::Multiply, f))) => {
                        Kernel::from_integers_times(h, w, n, f.value)
                    }
                    (None, s) => {
                        let apply = |v: f64| match s {
                            None => v,
                            Some((ScaleOp::Divide, d)) => v / d.value,
                            Some((ScaleOp::Multiply, f)) => v * f.value,
                        };
                        if let Some((ScaleOp::Divide, d)) = s
                            && d.value == 0.0
                        {
                            return Err(ConvError::NotFinite {
                                what: "kernel divisor".into(),
                                value: f64::INFINITY,
                            });
                        }
                        Kernel::new(h, w, flat.iter().map(|n| apply(n.value)).collect())
                    }
                }
            }
        }
    }
}

/// Parses a kernel expression and builds it with an optional size (height, width).
pub fn parse_kernel(text: &str, size: Option<(usize, usize)>) -> Result<Kernel> {
    parse_kernel_expr(text)?.build(size)
}

/// Parses a kernel expression without building it (the macro uses the spans).
pub fn parse_kernel_expr(text: &str) -> Result<KernelExpr> {
    let mut p = Parser { text, pos: 0 };
    let expr = p.expr()?;
    p.skip_ws();
    if p.pos < text.len() {
        return Err(p.error_here("expected the end of the kernel expression"));
    }
    Ok(expr)
}

/// Parses `HxW` (or `N` for NxN) into (height, width); both must be at least 1.
pub fn parse_size(text: &str) -> Result<(usize, usize)> {
    parse_pair(text, "a size HxW such as 3x3")
}

/// Parses `N` (both axes) or `YxX` into (y, x), for strides and dilations.
pub fn parse_pair(text: &str, what: &str) -> Result<(usize, usize)> {
    let bad = |position: usize, len: usize, message: String| ConvError::Parse {
        input: text.to_string(),
        position,
        len: len.max(1),
        message,
    };
    let t = text.trim();
    let parts: Vec<&str> = t.split(['x', 'X']).collect();
    if parts.len() > 2 || t.is_empty() {
        return Err(bad(0, text.len(), format!("expected {what}")));
    }
    let mut vals = Vec::with_capacity(2);
    let mut offset = text.len() - text.trim_start().len();
    for part in &parts {
        let v: usize = part.trim().parse().map_err(|_| {
            bad(
                offset,
                part.len(),
                format!("expected {what}, found `{part}`"),
            )
        })?;
        if v == 0 {
            return Err(bad(
                offset,
                part.len(),
                format!("expected {what}, found `0` (values start at 1)"),
            ));
        }
        vals.push(v);
        offset += part.len() + 1;
    }
    Ok((vals[0], *vals.last().unwrap()))
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += self.peek().unwrap().len_utf8();
        }
    }

    fn error_here(&self, expected: &str) -> ConvError {
        let rest = &self.text[self.pos..];
        let found = match rest.chars().next() {
            None => "the end of the input".to_string(),
            Some(_) => {
                let tok: String = rest
                    .chars()
                    .take_while(|c| !c.is_whitespace())
                    .take(12)
                    .collect();
                format!("`{tok}`")
            }
        };
        ConvError::Parse {
            input: self.text.to_string(),
            position: self.pos,
            len: rest.chars().next().map_or(0, char::len_utf8),
            message: format!("{expected}, found {found}"),
        }
    }

    fn eat(&mut self, c: char) -> bool {
        self.skip_ws();
        if self.peek() == Some(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: char, what: &str) -> Result<()> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(self.error_here(what))
        }
    }

    fn expr(&mut self) -> Result<KernelExpr> {
        self.skip_ws();
        let start = self.pos;
        match self.peek() {
            Some('[') => {
                let (rows, row_spans) = self.matrix()?;
                self.skip_ws();
                let scale = match self.peek() {
                    Some('/') => {
                        self.pos += 1;
                        Some((ScaleOp::Divide, self.number()?))
                    }
                    Some('*') => {
                        self.pos += 1;
                        Some((ScaleOp::Multiply, self.number()?))
                    }
                    _ => None,
                };
                Ok(KernelExpr::Literal {
                    rows,
                    row_spans,
                    scale,
                    span: Span {
                        start,
                        end: self.pos,
                    },
                })
            }
            Some(c) if c.is_ascii_alphabetic() || c == '_' => {
                let (name, name_span) = self.ident();
                let mut params = Vec::new();
                if self.eat('(') {
                    loop {
                        self.skip_ws();
                        if self.eat(')') {
                            break;
                        }
                        let p_start = self.pos;
                        if !self
                            .peek()
                            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                        {
                            return Err(
                                self.error_here("expected a parameter name such as `sigma`")
                            );
                        }
                        let (pname, _) = self.ident();
                        self.expect('=', "expected `=` after the parameter name")?;
                        let value = self.number()?;
                        params.push(Param {
                            name: pname,
                            value,
                            span: Span {
                                start: p_start,
                                end: self.pos,
                            },
                        });
                        if !self.eat(',') {
                            self.expect(')', "expected `,` or `)` after a parameter")?;
                            break;
                        }
                    }
                }
                Ok(KernelExpr::Named {
                    name,
                    name_span,
                    params,
                })
            }
            _ => {
                Err(self.error_here("expected a kernel name (such as `sobel_x`) or a `[` literal"))
            }
        }
    }

    fn ident(&mut self) -> (String, Span) {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            self.pos += 1;
        }
        (
            self.text[start..self.pos].to_string(),
            Span {
                start,
                end: self.pos,
            },
        )
    }

    /// `[` already next. Returns rows and their spans.
    fn matrix(&mut self) -> Result<(Vec<Vec<Number>>, Vec<Span>)> {
        let start = self.pos;
        self.expect('[', "expected `[`")?;
        self.skip_ws();
        if self.peek() == Some('[') {
            let mut rows = Vec::new();
            let mut spans = Vec::new();
            loop {
                self.skip_ws();
                let row_start = self.pos;
                if self.peek() != Some('[') {
                    if self.peek() == Some(']') && !rows.is_empty() {
                        self.pos += 1;
                        break;
                    }
                    return Err(self.error_here("expected `[` starting a kernel row"));
                }
                self.pos += 1;
                self.skip_ws();
                if self.peek() == Some('[') {
                    return Err(ConvError::Unsupported(
                        "3D kernel literals; kernels are 2D for now".into(),
                    ));
                }
                let row = self.numbers()?;
                let span = Span {
                    start: row_start,
                    end: self.pos,
                };
                if let Some(first) = rows.first() {
                    let first: &Vec<Number> = first;
                    if row.len() != first.len() {
                        return Err(ConvError::Parse {
                            input: self.text.to_string(),
                            position: span.start,
                            len: span.end - span.start,
                            message: format!(
                                "row {} has {} values but row 0 has {} (kernel rows must have equal length)",
                                rows.len(),
                                row.len(),
                                first.len()
                            ),
                        });
                    }
                }
                rows.push(row);
                spans.push(span);
                if !self.eat(',') {
                    self.expect(']', "expected `,` or `]` after a kernel row")?;
                    break;
                }
            }
            Ok((rows, spans))
        } else {
            let row = self.numbers()?;
            Ok((
                vec![row],
                vec![Span {
                    start,
                    end: self.pos,
                }],
            ))
        }
    }

    /// After `[`: numbers separated by commas, then `]`.
    fn numbers(&mut self) -> Result<Vec<Number>> {
        let mut out = Vec::new();
        loop {
            self.skip_ws();
            if self.peek() == Some(']') && !out.is_empty() {
                self.pos += 1;
                return Ok(out);
            }
            out.push(self.number()?);
            if !self.eat(',') {
                self.expect(']', "expected `,` or `]` after a kernel value")?;
                return Ok(out);
            }
        }
    }

    fn number(&mut self) -> Result<Number> {
        self.skip_ws();
        let start = self.pos;
        let mut negative = false;
        if let Some(c @ ('+' | '-')) = self.peek() {
            negative = c == '-';
            self.pos += 1;
            self.skip_ws();
        }
        let digits_start = self.pos;
        let bytes = self.text.as_bytes();
        let mut integer = true;
        let mut seen_digit = false;
        while self.pos < bytes.len() {
            match bytes[self.pos] {
                b'0'..=b'9' | b'_' => seen_digit |= bytes[self.pos] != b'_',
                b'.' if integer => integer = false,
                b'e' | b'E' if seen_digit => {
                    integer = false;
                    if matches!(bytes.get(self.pos + 1), Some(b'+' | b'-')) {
                        self.pos += 1;
                    }
                }
                _ => break,
            }
            self.pos += 1;
        }
        let num_end = self.pos;
        // Rust literals may carry a type suffix (`1.5f64`, `2i64`); accept it.
        for suffix in ["f32", "f64", "i32", "i64"] {
            if self.text[self.pos..].starts_with(suffix) {
                integer &= suffix.starts_with('i');
                self.pos += suffix.len();
                break;
            }
        }
        let raw: String = self.text[digits_start..num_end]
            .chars()
            .filter(|&c| c != '_')
            .collect();
        let bad = |p: &Parser| ConvError::Parse {
            input: p.text.to_string(),
            position: start,
            len: (p.pos - start).max(1),
            message: if p.pos == digits_start {
                format!(
                    "expected a number, found {}",
                    describe(&p.text[digits_start..])
                )
            } else {
                format!("`{}` is not a number", &p.text[start..p.pos])
            },
        };
        if !seen_digit {
            self.pos = self.pos.max(digits_start);
            return Err(bad(self));
        }
        let magnitude: f64 = raw.parse().map_err(|_| bad(self))?;
        let value = if negative { -magnitude } else { magnitude };
        if !value.is_finite() {
            return Err(ConvError::NotFinite {
                what: format!("the number `{}`", &self.text[start..self.pos]),
                value,
            });
        }
        let integer = if integer {
            raw.parse::<i64>()
                .ok()
                .map(|v| if negative { -v } else { v })
        } else {
            None
        };
        Ok(Number {
            value,
            integer,
            span: Span {
                start,
                end: self.pos,
            },
        })
    }
}

fn describe(rest: &str) -> String {
    match rest.trim_start().chars().next() {
        None => "the end of the input".into(),
        Some(_) => {
            let tok: String = rest
                .trim_start()
                .chars()
                .take_while(|c| !c.is_whitespace() && !matches!(c, ',' | ']' | ')'))
                .take(12)
                .collect();
            if tok.is_empty() {
                format!("`{}`", rest.trim_start().chars().next().unwrap())
            } else {
                format!("`{tok}`")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_err(text: &str) -> (usize, String) {
        match parse_kernel(text, None).unwrap_err() {
            ConvError::Parse {
                position, message, ..
            } => (position, message),
            e => panic!("expected a parse error for {text:?}, got {e}"),
        }
    }

    #[test]
    fn literals() {
        let k = parse_kernel("[[1,2,1],[0,0,0],[-1,-2,-1]]", None).unwrap();
        assert_eq!(k.get(2, 1), -2.0);
        assert!(k.is_integral());
        let k = parse_kernel(" [ [ 1 , 2 ] , [ - 3 , 4 ] , ] ", None).unwrap();
        assert_eq!(k.get(1, 0), -3.0);
        let k = parse_kernel("[1, 2, 1] / 4", None).unwrap();
        assert_eq!((k.height(), k.width()), (1, 3));
        assert_eq!(k.exact_form().unwrap().scale, 0.25);
        let k = parse_kernel("[[0.5, 1e-1], [2.5E+1, -3.]] * 2", None).unwrap();
        assert_eq!(k.coeffs(), &[1.0, 0.2, 50.0, -6.0]);
        let k = parse_kernel("[1.5f64, 2f32]", None).unwrap();
        assert_eq!(k.coeffs(), &[1.5, 2.0]);
    }

    #[test]
    fn named_with_params() {
        match parse_kernel_expr("gaussian (sigma = 1.5, sigma_y=2)").unwrap() {
            KernelExpr::Named {
                name,
                params,
                name_span,
            } => {
                assert_eq!(name, "gaussian");
                assert_eq!(name_span, Span { start: 0, end: 8 });
                assert_eq!(params.len(), 2);
                assert_eq!(params[1].name, "sigma_y");
                assert_eq!(params[1].value.value, 2.0);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(parse_kernel("sobel_x", None).unwrap().width(), 3);
    }

    #[test]
    fn errors_point_at_the_problem() {
        let (pos, msg) = parse_err("[[1, 2], [3]]");
        assert_eq!(pos, 9);
        assert!(msg.contains("equal length"), "{msg}");
        let (pos, msg) = parse_err("[[1, x]]");
        assert_eq!(pos, 5);
        assert!(msg.contains("expected a number"), "{msg}");
        let (pos, msg) = parse_err("gaussian(sigma 1)");
        assert_eq!(pos, 15);
        assert!(msg.contains("`=`"), "{msg}");
        let (pos, _) = parse_err("sobel_x extra");
        assert_eq!(pos, 8);
        let (_, msg) = parse_err("");
        assert!(msg.contains("kernel name"), "{msg}");
        assert!(matches!(
            parse_kernel("[[1]] / 0", None),
            Err(ConvError::NotFinite { .. })
        ));
        assert!(matches!(
            parse_kernel("[1e999]", None),
            Err(ConvError::NotFinite { .. })
        ));
        assert!(matches!(
            parse_kernel("nope", None),
            Err(ConvError::UnknownKernel { .. })
        ));
    }

    #[test]
    fn sizes_and_pairs() {
        assert_eq!(parse_size("3x5").unwrap(), (3, 5));
        assert_eq!(parse_size("7").unwrap(), (7, 7));
        assert!(parse_size("0x3").is_err());
        assert!(parse_size("3x").is_err());
        assert!(parse_size("axb").is_err());
        assert!(parse_size("1x2x3").is_err());
        assert_eq!(parse_pair("2x1", "a stride").unwrap(), (2, 1));
    }

    #[test]
    fn literal_size_must_agree() {
        assert!(parse_kernel("[[1, 2]]", Some((1, 2))).is_ok());
        assert!(parse_kernel("[[1, 2]]", Some((3, 3))).is_err());
    }
}
