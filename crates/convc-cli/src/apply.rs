//! `convc apply`: filter one file into another.

use std::str::FromStr;
use std::time::Instant;

use convc::{Backend, ConvSpec, Convolver, Element, Image};

use crate::ApplyArgs;
use crate::error::{Context, Result, bail};
use crate::io::{self, FileKind, Planes};

/// Runs `convc apply`.
pub fn run(args: &ApplyArgs) -> Result<()> {
    // Everything that needs no file is checked first, so a typo costs no I/O.
    let in_kind = FileKind::of(&args.input, "INPUT")?;
    let out_kind = FileKind::of(&args.output, "OUTPUT")?;
    let backend = Backend::from_str(&args.backend).context(|| "--backend".into())?;
    let spec = args.spec.to_spec(convc::DType::F32)?;

    let loaded = io::read_input(&args.input, in_kind)?;
    io::check_writable(&loaded, &args.output, out_kind)?;
    let spec = spec.dtype(loaded.planes.dtype());
    let start = Instant::now();
    let (out, used) = match &loaded.planes {
        Planes::F32(p) => {
            let (o, b) = filter(&spec, backend, p)?;
            (Planes::F32(o), b)
        }
        Planes::F64(p) => {
            let (o, b) = filter(&spec, backend, p)?;
            (Planes::F64(o), b)
        }
    };
    let elapsed = start.elapsed();
    io::write_output(&args.output, out_kind, &out, loaded.layout)?;
    if args.verbose {
        eprintln!(
            "convc: {} ({}) -> {} ({}): {} {} via {} in {:.2} ms",
            args.input.display(),
            loaded.describe(),
            args.output.display(),
            out.shape(),
            spec.op,
            spec.kernel
                .name()
                .map(str::to_string)
                .unwrap_or_else(|| format!(
                    "{}x{} kernel",
                    spec.kernel.height(),
                    spec.kernel.width()
                )),
            used,
            elapsed.as_secs_f64() * 1e3
        );
    }
    Ok(())
}

/// Filters every plane with one prepared convolver; errors if a result is not finite
/// (an overflow of the element type), so no silently wrong file is written.
fn filter<T: Element>(
    spec: &ConvSpec,
    backend: Backend,
    planes: &[Image<T>],
) -> Result<(Vec<Image<T>>, Backend)> {
    let conv = Convolver::<T>::new(spec, backend)?;
    let mut out = Vec::with_capacity(planes.len());
    for (ch, p) in planes.iter().enumerate() {
        let img = conv.apply_new(&p.view())?;
        if let Some(i) = img.data().iter().position(|v| !v.to_f64().is_finite()) {
            let w = img.width();
            bail!(
                "the result at row {}, column {}{} is {} (the values overflow {}); \
                 scale the input or kernel down, or use float64 data",
                i / w,
                i % w,
                if planes.len() > 1 {
                    format!(" of channel {ch}")
                } else {
                    String::new()
                },
                img.data()[i],
                T::DTYPE
            );
        }
        out.push(img);
    }
    Ok((out, conv.backend()))
}
