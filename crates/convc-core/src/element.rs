//! Element types an image may hold.

use std::fmt;
use std::ops::{Add, Mul, Sub};

/// The element type of images and of the arithmetic a convolution runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DType {
    /// 32-bit float (the default everywhere).
    #[default]
    F32,
    /// 64-bit float.
    F64,
}

impl DType {
    /// Machine epsilon of the type, the unit of DESIGN.md's error bound.
    pub fn epsilon(self) -> f64 {
        match self {
            DType::F32 => f32::EPSILON as f64,
            DType::F64 => f64::EPSILON,
        }
    }

    /// Size of one element in bytes.
    pub fn size_bytes(self) -> usize {
        match self {
            DType::F32 => 4,
            DType::F64 => 8,
        }
    }

    /// Whether `v` rounds to a finite value of the type: `1e39` is finite as
    /// an `f64` but infinite as an `f32`.
    ///
    /// ```
    /// use convc_core::DType;
    /// assert!(DType::F32.holds(3.0e38) && !DType::F32.holds(1.0e39));
    /// assert!(DType::F64.holds(1.0e39) && !DType::F64.holds(f64::NAN));
    /// ```
    pub fn holds(self, v: f64) -> bool {
        match self {
            DType::F32 => (v as f32).is_finite(),
            DType::F64 => v.is_finite(),
        }
    }

    /// The lower-case name used by the CLI and `conv!` (`f32`, `f64`).
    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "f32",
            DType::F64 => "f64",
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// A scalar type convc can filter: `f32` or `f64`.
///
/// Sealed: backends generate code for exactly these types.
pub trait Element:
    sealed::Sealed
    + Copy
    + Default
    + PartialEq
    + PartialOrd
    + fmt::Debug
    + fmt::Display
    + Send
    + Sync
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + 'static
{
    /// The matching [`DType`].
    const DTYPE: DType;
    /// Additive identity.
    const ZERO: Self;
    /// Rounds an `f64` to this type.
    fn from_f64(v: f64) -> Self;
    /// Widens to `f64` (exact).
    fn to_f64(self) -> f64;
}

impl Element for f32 {
    const DTYPE: DType = DType::F32;
    const ZERO: Self = 0.0;
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self as f64
    }
}

impl Element for f64 {
    const DTYPE: DType = DType::F64;
    const ZERO: Self = 0.0;
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
}
