//! Small `.npy` helpers: the golden fixtures and the CLI exchange images as `.npy`.
//!
//! Only what convc needs: little-endian `float32`/`float64`, C order, any shape.

use std::fs::File;
use std::io::{self, BufReader, BufWriter};
use std::path::Path;

use convc::{DType, Element, Image};
use npyz::WriterBuilder;

/// The elements of an array, in the type the file stores.
#[derive(Debug, Clone, PartialEq)]
pub enum NpyData {
    /// `<f4`
    F32(Vec<f32>),
    /// `<f8`
    F64(Vec<f64>),
}

/// A C-ordered array read from a `.npy` file.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyArray {
    /// The shape, outermost axis first.
    pub shape: Vec<usize>,
    /// The elements, row-major.
    pub data: NpyData,
}

fn invalid(path: &Path, what: impl std::fmt::Display) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{}: {what}", path.display()),
    )
}

/// Reads a `float32` or `float64` array stored in C order.
pub fn read(path: impl AsRef<Path>) -> io::Result<NpyArray> {
    let path = path.as_ref();
    let file = File::open(path).map_err(|e| invalid(path, e))?;
    let npy = npyz::NpyFile::new(BufReader::new(file))?;
    if npy.order() != npyz::Order::C {
        return Err(invalid(path, "Fortran order is not supported"));
    }
    let shape: Vec<usize> = npy.shape().iter().map(|&n| n as usize).collect();
    let data = match npy.try_data::<f32>() {
        Ok(r) => NpyData::F32(r.collect::<io::Result<_>>()?),
        Err(npy) => match npy.try_data::<f64>() {
            Ok(r) => NpyData::F64(r.collect::<io::Result<_>>()?),
            Err(npy) => {
                return Err(invalid(
                    path,
                    format!("dtype {} is neither <f4 nor <f8", npy.dtype().descr()),
                ));
            }
        },
    };
    let array = NpyArray { shape, data };
    if array.shape.iter().product::<usize>() != array.len() {
        return Err(invalid(path, "shape and element count disagree"));
    }
    Ok(array)
}

impl NpyArray {
    /// Number of elements.
    pub fn len(&self) -> usize {
        match &self.data {
            NpyData::F32(v) => v.len(),
            NpyData::F64(v) => v.len(),
        }
    }

    /// True when the array holds no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        match &self.data {
            NpyData::F32(_) => DType::F32,
            NpyData::F64(_) => DType::F64,
        }
    }

    /// The elements widened to `f64` (exact).
    pub fn to_f64(&self) -> Vec<f64> {
        match &self.data {
            NpyData::F32(v) => v.iter().map(|&x| x as f64).collect(),
            NpyData::F64(v) => v.clone(),
        }
    }

    /// `(height, width)` of a 2D array.
    pub fn shape_2d(&self) -> Option<(usize, usize)> {
        match self.shape[..] {
            [h, w] => Some((h, w)),
            _ => None,
        }
    }

    /// The array as an image of `T`: it must be 2D and hold exactly `T`'s dtype
    /// (no silent conversion).
    pub fn image<T: Element>(&self) -> Result<Image<T>, String> {
        let (h, w) = self
            .shape_2d()
            .ok_or_else(|| format!("shape {:?} is not 2D", self.shape))?;
        if self.dtype() != T::DTYPE {
            return Err(format!(
                "holds {} but {} was asked for",
                self.dtype(),
                T::DTYPE
            ));
        }
        // Same dtype, so the f64 round trip is exact.
        let data = self.to_f64().into_iter().map(T::from_f64).collect();
        Image::from_vec(data, w, h).map_err(|e| e.to_string())
    }
}

/// Element types `.npy` files can hold here: `f32` and `f64`.
pub trait NpyElement: Element + npyz::AutoSerialize {}
impl NpyElement for f32 {}
impl NpyElement for f64 {}

/// Writes `data` (row-major, `shape.iter().product()` elements) as a C-ordered array.
pub fn write<T: NpyElement>(path: impl AsRef<Path>, shape: &[usize], data: &[T]) -> io::Result<()> {
    let path = path.as_ref();
    if shape.iter().product::<usize>() != data.len() {
        return Err(invalid(path, "shape and element count disagree"));
    }
    let shape: Vec<u64> = shape.iter().map(|&n| n as u64).collect();
    let file = BufWriter::new(File::create(path)?);
    let mut writer = npyz::WriteOptions::new()
        .default_dtype()
        .shape(&shape)
        .writer(file)
        .begin_nd()?;
    writer.extend(data.iter().copied())?;
    writer.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let dir = std::env::temp_dir().join(format!("convc-npy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p32 = dir.join("a.npy");
        write(&p32, &[2, 3], &[1.0f32, 2.0, 3.0, 4.0, 5.0, -6.5]).unwrap();
        let a = read(&p32).unwrap();
        assert_eq!(a.shape, vec![2, 3]);
        assert_eq!(a.data, NpyData::F32(vec![1.0, 2.0, 3.0, 4.0, 5.0, -6.5]));
        let img = a.image::<f32>().unwrap();
        assert_eq!((img.height(), img.width()), (2, 3));
        assert!(a.image::<f64>().is_err());
        let p64 = dir.join("b.npy");
        write(&p64, &[3], &[0.1f64, 0.2, 0.3]).unwrap();
        let b = read(&p64).unwrap();
        assert_eq!(b.to_f64(), vec![0.1, 0.2, 0.3]);
        assert!(b.image::<f64>().is_err(), "1D is not an image");
        assert!(write(&p64, &[2, 2], &[1.0f64]).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
