//! Choosing a backend at run time.

use std::fmt;
use std::str::FromStr;

use convc_core::exec::{Generic, naive, reference};
use convc_core::{ConvError, ConvSpec, Element, Image, ImageView, ImageViewMut, Result, Shape};

/// Which executor runs a convolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Backend {
    /// The fastest one available here.
    #[default]
    Auto,
    /// The definition in `f64` (slow; the oracle).
    Reference,
    /// The textbook four loops (slow; the baseline of baselines).
    Naive,
    /// The Plan interpreted with the kernel in memory.
    Generic,
    /// The Plan compiled to machine code at run time with Cranelift (interior
    /// row loops; the generic path for the thin border frame). Compiled kernels
    /// are cached by spec in [`convc_jit::Jit::global`].
    #[cfg(feature = "jit")]
    Jit,
}

impl Backend {
    /// Every concrete backend available in this build and on this host, fastest
    /// last.
    pub fn available() -> Vec<Backend> {
        #[allow(unused_mut)]
        let mut all = vec![Backend::Reference, Backend::Naive, Backend::Generic];
        #[cfg(feature = "jit")]
        if convc_jit::host_supported() {
            all.push(Backend::Jit);
        }
        all
    }

    /// The concrete backend `Auto` stands for: the JIT where this build has it
    /// and the host is supported, else the generic executor. (A
    /// [`Convolver`] built with `Auto` also runs a kernel whose passes are too
    /// long for the JIT to unroll, over `convc_jit::MAX_UNROLLED_TAPS` taps, on
    /// the generic executor.)
    pub fn resolve(self) -> Backend {
        match self {
            Backend::Auto => *Backend::available()
                .last()
                .expect("the generic backend is always available"),
            b => b,
        }
    }

    /// The name the CLI uses.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Auto => "auto",
            Backend::Reference => "reference",
            Backend::Naive => "naive",
            Backend::Generic => "generic",
            #[cfg(feature = "jit")]
            Backend::Jit => "jit",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Backend {
    type Err = ConvError;
    fn from_str(s: &str) -> Result<Backend> {
        let all = [
            Backend::Auto,
            Backend::Reference,
            Backend::Naive,
            Backend::Generic,
            #[cfg(feature = "jit")]
            Backend::Jit,
        ];
        all.into_iter().find(|b| b.name() == s).ok_or_else(|| {
            let names: Vec<&str> = all.iter().map(|b| b.name()).collect();
            ConvError::InvalidOption(format!(
                "unknown backend `{s}`; expected one of {}",
                names.join(", ")
            ))
        })
    }
}

enum Inner<T> {
    Reference(ConvSpec),
    Naive(ConvSpec),
    Generic(Generic<T>),
    #[cfg(feature = "jit")]
    Jit(convc_jit::CompiledConv),
}

/// A convolution prepared for one backend; reusable across images.
///
/// ```
/// use convc::{Backend, ConvSpec, Convolver, Image, Kernel};
/// let spec = ConvSpec::new(Kernel::from_rows(&[[1.0, 2.0, 1.0]])?);
/// let c = Convolver::<f32>::new(&spec, Backend::Generic)?;
/// let src = Image::<f32>::from_fn(5, 1, |_, x| x as f32)?;
/// let mut dst = Image::<f32>::zeros(5, 1)?;
/// c.apply(&src.view(), &mut dst.view_mut())?;
/// assert_eq!(dst.data()[2], 8.0); // 1*1 + 2*2 + 1*3
/// # Ok::<(), convc::ConvError>(())
/// ```
pub struct Convolver<T> {
    spec: ConvSpec,
    backend: Backend,
    inner: Inner<T>,
}

impl<T: Element> Convolver<T> {
    /// Validates `spec` and prepares it for `backend` (`Auto` picks the fastest).
    /// The spec's element type must be `T`.
    pub fn new(spec: &ConvSpec, backend: Backend) -> Result<Self> {
        // Planning validates everything every backend agrees on (including a
        // separable strategy on a kernel that is not rank 1), even for the
        // backends that do not run the Plan.
        #[cfg_attr(not(feature = "jit"), allow(unused_variables))]
        let plan = convc_core::Plan::new(spec)?;
        if spec.dtype != T::DTYPE {
            return Err(ConvError::DTypeMismatch {
                expected: spec.dtype,
                got: T::DTYPE,
            });
        }
        let backend = match backend.resolve() {
            // Too long to unroll: the fastest backend that runs it at all.
            #[cfg(feature = "jit")]
            Backend::Jit if backend == Backend::Auto && !convc_jit::unrolls(&plan) => {
                Backend::Generic
            }
            b => b,
        };
        let inner = match backend {
            Backend::Reference => Inner::Reference(spec.clone()),
            Backend::Naive => Inner::Naive(spec.clone()),
            Backend::Generic | Backend::Auto => Inner::Generic(Generic::new(spec)?),
            #[cfg(feature = "jit")]
            Backend::Jit => Inner::Jit(convc_jit::Jit::global().compile(spec)?),
        };
        Ok(Convolver {
            spec: spec.clone(),
            backend,
            inner,
        })
    }

    /// The concrete backend in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The spec it was built from.
    pub fn spec(&self) -> &ConvSpec {
        &self.spec
    }

    /// Output shape for an input shape.
    pub fn output_shape(&self, input: Shape) -> Result<Shape> {
        self.spec.check_input(input)?;
        self.spec.output_shape(input)
    }

    /// Filters `input` into `output`, whose shape must be [`Self::output_shape`].
    pub fn apply(&self, input: &ImageView<'_, T>, output: &mut ImageViewMut<'_, T>) -> Result<()> {
        match &self.inner {
            Inner::Reference(spec) => reference(spec, input, output),
            Inner::Naive(spec) => naive(spec, input, output),
            Inner::Generic(g) => g.apply(input, output),
            #[cfg(feature = "jit")]
            Inner::Jit(c) => c.apply(input, output),
        }
    }

    /// Filters `input` into a new image.
    pub fn apply_new(&self, input: &ImageView<'_, T>) -> Result<Image<T>> {
        let out = self.output_shape(input.shape())?;
        let mut img = Image::zeros(out.width, out.height)?;
        self.apply(input, &mut img.view_mut())?;
        Ok(img)
    }
}

#[cfg(all(test, feature = "jit"))]
mod jit_tests {
    use super::*;
    use convc_core::{Border, named};

    #[test]
    fn jit_is_named_listed_and_chosen_by_auto() {
        assert_eq!("jit".parse::<Backend>().unwrap(), Backend::Jit);
        assert_eq!(Backend::Jit.to_string(), "jit");
        let err = "jitt".parse::<Backend>().unwrap_err().to_string();
        assert!(err.contains("jit"), "{err}");
        if convc_jit::host_supported() {
            assert_eq!(Backend::available().last(), Some(&Backend::Jit));
            assert_eq!(Backend::Auto.resolve(), Backend::Jit);
        } else {
            assert!(!Backend::available().contains(&Backend::Jit));
            assert_eq!(Backend::Auto.resolve(), Backend::Generic);
        }
    }

    #[test]
    fn auto_runs_kernels_too_long_to_unroll_on_the_generic_executor() {
        if !convc_jit::host_supported() {
            return;
        }
        // 129 x 129 = 16641 taps in one direct pass, over the JIT's 16384.
        let n = 129;
        let coeffs = (0..n * n).map(|i| ((i * 7) % 5) as f64 + 1.0).collect();
        let spec = ConvSpec::new(convc_core::Kernel::new(n, n, coeffs).unwrap());
        let err = Convolver::<f32>::new(&spec, Backend::Jit).err().unwrap();
        assert!(
            matches!(&err, ConvError::Unsupported(m) if m.contains("16641 taps")),
            "{err}"
        );
        let auto = Convolver::<f32>::new(&spec, Backend::Auto).unwrap();
        assert_eq!(auto.backend(), Backend::Generic);
        let src = Image::<f32>::from_fn(7, 5, |y, x| (x + 2 * y) as f32).unwrap();
        let generic = Convolver::<f32>::new(&spec, Backend::Generic).unwrap();
        assert_eq!(
            auto.apply_new(&src.view()).unwrap(),
            generic.apply_new(&src.view()).unwrap()
        );
        // Exactly at the limit: still the JIT's.
        let k = convc_core::Kernel::new(1, 16384, vec![1.0; 16384]).unwrap();
        let plan = convc_core::Plan::new(&ConvSpec::new(k)).unwrap();
        assert!(convc_jit::unrolls(&plan));
    }

    #[test]
    fn jit_convolver_matches_generic() {
        if !convc_jit::host_supported() {
            return;
        }
        let spec = ConvSpec::new(named::build("sobel_x", &[], None).unwrap()).border(Border::Zero);
        let src = Image::<f32>::from_fn(37, 11, |y, x| ((x * 3 + y * 5) % 7) as f32).unwrap();
        let jit = Convolver::<f32>::new(&spec, Backend::Jit).unwrap();
        assert_eq!(jit.backend(), Backend::Jit);
        let auto = Convolver::<f32>::new(&spec, Backend::Auto).unwrap();
        assert_eq!(auto.backend(), Backend::Jit);
        let generic = Convolver::<f32>::new(&spec, Backend::Generic).unwrap();
        // Integer kernel, integer pixels: every backend is exact.
        assert_eq!(
            jit.apply_new(&src.view()).unwrap(),
            generic.apply_new(&src.view()).unwrap()
        );
        // The element type is checked before compiling.
        assert!(matches!(
            Convolver::<f64>::new(&spec, Backend::Jit),
            Err(ConvError::DTypeMismatch { .. })
        ));
    }
}
