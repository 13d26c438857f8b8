//! The `conv!` procedural macro of convc. Depend on `convc` and use `convc::conv`;
//! this crate is its thin shell: the invocation is read with syn, the kernel
//! expression by convc-core's parser, the code comes from convc-rustgen, and every
//! error becomes a `compile_error!` on the tokens it is about.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod expand;
mod invocation;

use proc_macro::TokenStream;

/// Compiles a convolution with a fixed kernel into specialized Rust code.
///
/// ```text
/// conv!(KERNEL [, SIZE] [, OPTION = VALUE]...)                    // a value
/// conv!([#[attr]] [pub] fn NAME = KERNEL [, SIZE] [, OPTION = VALUE]...)  // a function
/// ```
///
/// `KERNEL` is a kernel expression as convc-core's parser reads it: a name with
/// optional parameters (`sobel_x`, `box`, `gaussian(sigma = 1.5)`, ... — `convc
/// kernels` lists them) or a literal (`[[1, 2, 1], [2, 4, 2], [1, 2, 1]] / 16`,
/// `[-1, 0, 1]`). `SIZE` is `HxW` or `N` (a named kernel's default size otherwise).
///
/// Options (defaults as everywhere in convc):
///
/// | option | values | default |
/// | --- | --- | --- |
/// | `stride` | `N`, `YxX`, `(Y, X)` | 1 |
/// | `dilation` | `N`, `YxX`, `(Y, X)` | 1 |
/// | `mode` | `valid`, `same`, `full`, `pad(n)`, `pad(top, bottom, left, right)` | `same` |
/// | `border` | `zero`, `constant(c)`, `replicate`, `reflect`, `mirror`, `wrap` | `mirror` |
/// | `op` | `correlate`, `convolve` | `correlate` |
/// | `anchor` | `(row, column)` | kernel centre |
/// | `dtype` | `f32`, `f64` | `f32` |
/// | `input` | `HxW` or `(H, W)`: a fixed input shape, every loop bound a constant | any |
/// | `threads` | `N` | all cores |
/// | `strategy` | `auto`, `direct`, `separable` | `auto` |
///
/// The expression form evaluates to a value of a new zero-sized type implementing
/// `convc::Convolution` (`apply`, `apply_new`, `output_shape`, `spec`). The item
/// form defines `fn NAME(input: &ImageView<'_, T>, output: &mut ImageViewMut<'_, T>)
/// -> convc::Result<()>` with `T` the `dtype`. Every mistake (unknown kernel, a size
/// the kernel does not come in, a stride of 0, ragged literal rows, a non-finite
/// number, an unknown or repeated option, a bad option value) is a compile error
/// on the offending tokens.
///
/// See docs/macro.md for what the generated code looks like.
#[proc_macro]
pub fn conv(input: TokenStream) -> TokenStream {
    let inv = syn::parse_macro_input!(input as invocation::Invocation);
    expand::expand(&inv)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
