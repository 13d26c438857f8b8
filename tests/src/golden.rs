//! The golden fixtures: outputs computed by numpy and scipy
//! (`tests/fixtures/golden/make_golden.py`), and the convc specs that must
//! reproduce them.
//!
//! `manifest.json` lists every case: the call that produced the expected output,
//! its input and expected `.npy` files (expected outputs are `float64`, computed in
//! `float64` from the input values), and the spec in convc's terms.

use std::path::{Path, PathBuf};

use convc::{Border, ConvSpec, DType, Kernel, Mode, Op};
use serde_json::Value;

/// One golden case.
#[derive(Debug, Clone)]
pub struct GoldenCase {
    /// Unique name.
    pub name: String,
    /// The function that produced the expected output (`scipy.ndimage.correlate`, ...).
    pub source: String,
    /// The call, as Python source.
    pub call: String,
    /// Input `.npy`, absolute.
    pub input: PathBuf,
    /// Expected output `.npy` (float64), absolute.
    pub expected: PathBuf,
    /// Expected output (height, width).
    pub expected_shape: (usize, usize),
    /// Element type of the input and of the convolution.
    pub dtype: DType,
    /// Kernel rows, as written (not flipped).
    pub kernel: Vec<Vec<f64>>,
    /// Correlate or convolve.
    pub op: Op,
    /// Mode, with explicit pads.
    pub mode: Mode,
    /// Border (with its constant).
    pub border: Border,
    /// (y, x) stride.
    pub stride: (usize, usize),
    /// (y, x) dilation.
    pub dilation: (usize, usize),
    /// Anchor (row, column), when not the default k/2.
    pub anchor: Option<(usize, usize)>,
    /// Why the case is special, if it is.
    pub note: Option<String>,
}

/// The whole manifest.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// numpy version that produced it.
    pub numpy: String,
    /// scipy version that produced it.
    pub scipy: String,
    /// Facts about scipy measured by the generator (documented in docs/borders.md).
    pub observations: Vec<(String, bool)>,
    /// The cases.
    pub cases: Vec<GoldenCase>,
}

/// `tests/fixtures/golden`.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/golden")
}

fn field<'a>(v: &'a Value, key: &str, case: &str) -> Result<&'a Value, String> {
    v.get(key)
        .ok_or_else(|| format!("manifest case `{case}`: no field `{key}`"))
}

fn string(v: &Value, key: &str, case: &str) -> Result<String, String> {
    field(v, key, case)?
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("manifest case `{case}`: `{key}` is not a string"))
}

fn usize_pair(v: &Value, case: &str, key: &str) -> Result<(usize, usize), String> {
    let a = v
        .as_array()
        .filter(|a| a.len() == 2)
        .ok_or_else(|| format!("manifest case `{case}`: `{key}` is not a pair"))?;
    let n = |i: usize| {
        a[i].as_u64()
            .map(|n| n as usize)
            .ok_or_else(|| format!("manifest case `{case}`: `{key}` holds a non-integer"))
    };
    Ok((n(0)?, n(1)?))
}

fn parse_case(v: &Value, dir: &Path) -> Result<GoldenCase, String> {
    let name = v
        .get("name")
        .and_then(Value::as_str)
        .ok_or("manifest case without a name")?
        .to_string();
    let n = name.as_str();
    let kernel = field(v, "kernel", n)?
        .as_array()
        .ok_or_else(|| format!("case `{n}`: kernel is not a list of rows"))?
        .iter()
        .map(|row| {
            row.as_array()
                .and_then(|r| r.iter().map(Value::as_f64).collect::<Option<Vec<f64>>>())
                .ok_or_else(|| format!("case `{n}`: a kernel row is not a list of numbers"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let op = match string(v, "op", n)?.as_str() {
        "correlate" => Op::Correlate,
        "convolve" => Op::Convolve,
        other => return Err(format!("case `{n}`: unknown op `{other}`")),
    };
    let mode = match string(v, "mode", n)?.as_str() {
        "valid" => Mode::Valid,
        "same" => Mode::Same,
        "full" => Mode::Full,
        "explicit" => {
            let p: Vec<usize> = field(v, "pads", n)?
                .as_array()
                .and_then(|a| a.iter().map(|x| x.as_u64().map(|x| x as usize)).collect())
                .filter(|p: &Vec<usize>| p.len() == 4)
                .ok_or_else(|| format!("case `{n}`: pads are not [top, bottom, left, right]"))?;
            Mode::Explicit {
                top: p[0],
                bottom: p[1],
                left: p[2],
                right: p[3],
            }
        }
        other => return Err(format!("case `{n}`: unknown mode `{other}`")),
    };
    let border = match string(v, "border", n)?.as_str() {
        "zero" => Border::Zero,
        "constant" => Border::Constant(
            field(v, "constant", n)?
                .as_f64()
                .ok_or_else(|| format!("case `{n}`: constant border without a constant"))?,
        ),
        "replicate" => Border::Replicate,
        "reflect" => Border::Reflect,
        "mirror" => Border::Mirror,
        "wrap" => Border::Wrap,
        other => return Err(format!("case `{n}`: unknown border `{other}`")),
    };
    let dtype = match string(v, "dtype", n)?.as_str() {
        "f32" => DType::F32,
        "f64" => DType::F64,
        other => return Err(format!("case `{n}`: unknown dtype `{other}`")),
    };
    let anchor = match field(v, "anchor", n)? {
        Value::Null => None,
        a => Some(usize_pair(a, n, "anchor")?),
    };
    Ok(GoldenCase {
        source: string(v, "source", n)?,
        call: string(v, "call", n)?,
        input: dir.join(string(v, "input", n)?),
        expected: dir.join(string(v, "expected", n)?),
        expected_shape: usize_pair(field(v, "expected_shape", n)?, n, "expected_shape")?,
        dtype,
        kernel,
        op,
        mode,
        border,
        stride: usize_pair(field(v, "stride", n)?, n, "stride")?,
        dilation: usize_pair(field(v, "dilation", n)?, n, "dilation")?,
        anchor,
        note: v.get("note").and_then(Value::as_str).map(str::to_string),
        name,
    })
}

/// Reads `tests/fixtures/golden/manifest.json`.
pub fn load_manifest() -> Result<Manifest, String> {
    let dir = fixtures_dir();
    let path = dir.join("manifest.json");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let json: Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let version = |key: &str| {
        json.get(key)
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_string()
    };
    let observations = json
        .get("observations")
        .and_then(Value::as_object)
        .map(|o| {
            o.iter()
                .map(|(k, v)| (k.clone(), v.as_bool().unwrap_or(false)))
                .collect()
        })
        .unwrap_or_default();
    let cases = json
        .get("cases")
        .and_then(Value::as_array)
        .ok_or("manifest without a `cases` list")?
        .iter()
        .map(|c| parse_case(c, &dir))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Manifest {
        numpy: version("numpy"),
        scipy: version("scipy"),
        observations,
        cases,
    })
}

impl GoldenCase {
    /// The convc spec that must reproduce the expected output (threads unset).
    pub fn spec(&self) -> convc::Result<ConvSpec> {
        let mut spec = ConvSpec::new(Kernel::from_rows(&self.kernel)?)
            .op(self.op)
            .mode(self.mode)
            .border(self.border)
            .stride_yx(self.stride.0, self.stride.1)
            .dilation_yx(self.dilation.0, self.dilation.1)
            .dtype(self.dtype);
        if let Some((ay, ax)) = self.anchor {
            spec = spec.anchor(ay, ax);
        }
        Ok(spec)
    }
}
