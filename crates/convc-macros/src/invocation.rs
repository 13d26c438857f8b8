//! `conv!(...)` read with syn: the optional item head, the kernel tokens, the size
//! and the options, each kept with its tokens so errors can point at them.

use proc_macro2::{Delimiter, Ident, Span, TokenStream, TokenTree};
use quote::ToTokens;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::{Attribute, LitInt, Token, Visibility};

/// `#[attrs] vis fn name =` before the kernel: the item form.
pub(crate) struct ItemHead {
    pub(crate) attrs: Vec<Attribute>,
    pub(crate) vis: Visibility,
    pub(crate) name: Ident,
}

/// One token of the kernel expression as text: where it sits in
/// [`KernelTokens::text`] and which span it came from.
#[derive(Clone)]
pub(crate) struct Piece {
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) span: Span,
}

/// The kernel expression: the tokens before the first top-level comma.
pub(crate) struct KernelTokens {
    /// The tokens joined by spaces, what `parse_kernel_expr` reads.
    pub(crate) text: String,
    /// Every token (group delimiters included) with its place in `text`.
    pub(crate) pieces: Vec<Piece>,
}

impl KernelTokens {
    fn new(tokens: TokenStream) -> KernelTokens {
        let mut k = KernelTokens {
            text: String::new(),
            pieces: Vec::new(),
        };
        k.push_stream(tokens);
        k
    }

    fn push(&mut self, text: &str, span: Span) {
        if !self.text.is_empty() {
            self.text.push(' ');
        }
        let start = self.text.len();
        self.text.push_str(text);
        self.pieces.push(Piece {
            start,
            end: self.text.len(),
            span,
        });
    }

    fn push_stream(&mut self, tokens: TokenStream) {
        for tt in tokens {
            match tt {
                TokenTree::Group(g) => {
                    let (open, close) = match g.delimiter() {
                        Delimiter::Parenthesis => ("(", ")"),
                        Delimiter::Bracket => ("[", "]"),
                        Delimiter::Brace => ("{", "}"),
                        Delimiter::None => ("", ""),
                    };
                    if open.is_empty() {
                        self.push_stream(g.stream());
                    } else {
                        self.push(open, g.span_open());
                        self.push_stream(g.stream());
                        self.push(close, g.span_close());
                    }
                }
                TokenTree::Ident(i) => self.push(&i.to_string(), i.span()),
                TokenTree::Punct(p) => self.push(&p.as_char().to_string(), p.span()),
                TokenTree::Literal(l) => self.push(&l.to_string(), l.span()),
            }
        }
    }

    /// The spans of the tokens that overlap bytes `start .. end` of the text (the
    /// last token when the range lies past the end).
    pub(crate) fn spans(&self, start: usize, end: usize) -> (Span, Span) {
        let hit: Vec<&Piece> = self
            .pieces
            .iter()
            .filter(|p| p.start < end.max(start + 1) && start < p.end)
            .collect();
        match (hit.first(), hit.last()) {
            (Some(a), Some(b)) => (a.span, b.span),
            _ => {
                let last = self.pieces.last().map_or_else(Span::call_site, |p| p.span);
                (last, last)
            }
        }
    }

    /// The spans of the first and last token.
    pub(crate) fn whole(&self) -> (Span, Span) {
        let first = self.pieces.first().map_or_else(Span::call_site, |p| p.span);
        let last = self.pieces.last().map_or(first, |p| p.span);
        (first, last)
    }
}

/// `name = value`.
pub(crate) struct Opt {
    pub(crate) name: Ident,
    pub(crate) value: TokenStream,
}

impl Opt {
    /// `name = value`, as tokens for a span from the name to the end of the value.
    pub(crate) fn all(&self) -> TokenStream {
        let mut t = self.name.to_token_stream();
        t.extend(self.value.clone());
        t
    }
}

/// A whole `conv!` invocation.
pub(crate) struct Invocation {
    pub(crate) item: Option<ItemHead>,
    pub(crate) kernel: KernelTokens,
    pub(crate) size: Option<LitInt>,
    pub(crate) options: Vec<Opt>,
}

/// Tokens up to (not including) the next top-level `,`.
fn until_comma(input: ParseStream) -> syn::Result<TokenStream> {
    let mut out = TokenStream::new();
    while !input.is_empty() && !input.peek(Token![,]) {
        out.extend([input.parse::<TokenTree>()?]);
    }
    Ok(out)
}

impl Parse for Invocation {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let item = if input.peek(Token![#]) || input.peek(Token![pub]) || input.peek(Token![fn]) {
            let attrs = input.call(Attribute::parse_outer)?;
            let vis: Visibility = input.parse()?;
            input.parse::<Token![fn]>()?;
            let name: Ident = input.parse()?;
            input.parse::<Token![=]>()?;
            Some(ItemHead { attrs, vis, name })
        } else {
            None
        };
        let kernel = until_comma(input)?;
        if kernel.is_empty() {
            return Err(input.error(
                "expected a kernel: a name such as `sobel_x` or `gaussian(sigma = 1.5)`, \
                 or a literal such as `[[1, 2, 1], [2, 4, 2], [1, 2, 1]] / 16`",
            ));
        }
        let kernel = KernelTokens::new(kernel);
        let mut size = None;
        let mut options = Vec::new();
        while !input.is_empty() {
            input.parse::<Token![,]>()?;
            if input.is_empty() {
                break;
            }
            // The size, right after the kernel: `3x3` (an integer with suffix `x3`) or `5`.
            if options.is_empty()
                && size.is_none()
                && input.peek(LitInt)
                && (input.peek2(Token![,]) || {
                    let fork = input.fork();
                    fork.parse::<LitInt>()?;
                    fork.is_empty()
                })
            {
                size = Some(input.parse()?);
                continue;
            }
            let name = Ident::parse_any(input).map_err(|_| {
                input.error("expected an option `name = value`, such as `border = reflect`")
            })?;
            input.parse::<Token![=]>()?;
            let value = until_comma(input)?;
            if value.is_empty() {
                return Err(syn::Error::new_spanned(
                    &name,
                    format!("option `{name}` needs a value after `=`"),
                ));
            }
            options.push(Opt { name, value });
        }
        Ok(Invocation {
            item,
            kernel,
            size,
            options,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn parse(t: TokenStream) -> Invocation {
        syn::parse2(t).unwrap()
    }

    #[test]
    fn expression_form() {
        let i = parse(quote!(
            gaussian(sigma = 1.5),
            7x7,
            border = reflect,
            stride = (2, 1)
        ));
        assert!(i.item.is_none());
        assert_eq!(i.kernel.text, "gaussian ( sigma = 1.5 )");
        assert_eq!(i.size.unwrap().to_string(), "7x7");
        let names: Vec<String> = i.options.iter().map(|o| o.name.to_string()).collect();
        assert_eq!(names, ["border", "stride"]);
        assert_eq!(i.options[1].value.to_string(), "(2 , 1)");
    }

    #[test]
    fn keywords_literals_and_no_size() {
        let i = parse(quote!(box, 5x5, input = 1920x1080,));
        assert_eq!(i.kernel.text, "box");
        assert_eq!(i.options[0].value.to_string(), "1920x1080");
        let i = parse(quote!([[1, 2, 1], [2, 4, 2], [1, 2, 1]] / 16));
        assert_eq!(
            i.kernel.text,
            "[ [ 1 , 2 , 1 ] , [ 2 , 4 , 2 ] , [ 1 , 2 , 1 ] ] / 16"
        );
        assert!(i.size.is_none() && i.options.is_empty());
        let i = parse(quote!([-1, 0, 1], op = convolve));
        assert!(i.size.is_none());
        assert_eq!(i.options.len(), 1);
    }

    #[test]
    fn item_form() {
        let i = parse(quote!(#[inline] pub(crate) fn sobel3 = sobel_x, 3x3));
        let head = i.item.unwrap();
        assert_eq!(head.name, "sobel3");
        assert_eq!(head.attrs.len(), 1);
        assert!(matches!(head.vis, Visibility::Restricted(_)));
        assert_eq!(i.kernel.text, "sobel_x");
    }

    #[test]
    fn pieces_map_text_back_to_tokens() {
        let i = parse(quote!([[1, 2], [3]]));
        let k = &i.kernel;
        // `[ [ 1 , 2 ] , [ 3 ] ]`: the second row starts at byte 14.
        assert_eq!(&k.text[14..19], "[ 3 ]");
        let covered: Vec<&str> = k
            .pieces
            .iter()
            .filter(|p| p.start < 19 && 14 < p.end)
            .map(|p| &k.text[p.start..p.end])
            .collect();
        assert_eq!(covered, ["[", "3", "]"]);
    }

    #[test]
    fn malformed_invocations() {
        assert!(syn::parse2::<Invocation>(quote!()).is_err());
        assert!(syn::parse2::<Invocation>(quote!(sobel_x, 3x3, border)).is_err());
        assert!(syn::parse2::<Invocation>(quote!(sobel_x, border =)).is_err());
        assert!(syn::parse2::<Invocation>(quote!(pub fn = sobel_x)).is_err());
    }
}
