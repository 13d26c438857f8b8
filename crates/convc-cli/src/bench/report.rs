//! The results: rows, the printed table, `--json`, and reading `--opencv`.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::{Map, Value, json};

use super::machine::Machine;
use crate::error::{CliError, Context, Result, bail};

/// Backend label of the rows read from `--opencv`.
pub const OPENCV: &str = "opencv";

/// One measured (or merged) row.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Workload name.
    pub workload: String,
    /// Backend label.
    pub backend: String,
    /// Threads it ran on.
    pub threads: usize,
    /// Median milliseconds.
    pub median_ms: f64,
    /// Output megapixels per second at the median.
    pub mpx_s: f64,
    /// Median over the copy floor of the same process.
    pub ratio_to_floor: f64,
    /// Read from `--opencv` (its ms and floor come from another process).
    pub external: bool,
}

/// JIT compile times: (kernel size label such as `7x7`, median ms).
pub type CompileTimes = Vec<(String, f64)>;

/// Everything one run measured.
#[derive(Debug, Clone)]
pub struct Report {
    /// Where it ran.
    pub machine: Machine,
    /// Median ms of the copy floor.
    pub floor_ms: f64,
    /// Our rows, then the merged OpenCV rows.
    pub rows: Vec<Row>,
    /// JIT compile times (empty when the JIT is not available).
    pub compile_ms: CompileTimes,
}

impl Report {
    /// The `--json` document: exactly `machine`, `floor_ms`, `rows` and
    /// `compile_ms` (docs/cli.md has the schema).
    pub fn to_json(&self) -> Value {
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|r| {
                json!({
                    "workload": r.workload,
                    "backend": r.backend,
                    "threads": r.threads,
                    "median_ms": r.median_ms,
                    "mpx_s": r.mpx_s,
                    "ratio_to_floor": r.ratio_to_floor,
                })
            })
            .collect();
        let compile: Map<String, Value> = self
            .compile_ms
            .iter()
            .map(|(k, ms)| (k.clone(), json!(ms)))
            .collect();
        json!({
            "machine": self.machine.to_json(),
            "floor_ms": self.floor_ms,
            "rows": rows,
            "compile_ms": compile,
        })
    }

    /// Writes [`Report::to_json`] to `path`, pretty-printed.
    pub fn write_json(&self, path: &Path) -> Result<()> {
        let mut text = serde_json::to_string_pretty(&self.to_json())
            .context(|| "encoding the --json report".into())?;
        text.push('\n');
        std::fs::write(path, text).context(|| format!("--json: writing `{}`", path.display()))
    }

    /// The table, grouped by workload in `order`: ours, then OpenCV's.
    pub fn table(&self, order: &[&str]) -> String {
        let mut t = String::new();
        let _ = writeln!(
            t,
            "{:<16} {:<10} {:>7} {:>10} {:>9} {:>9}",
            "workload", "backend", "threads", "median ms", "Mpx/s", "x floor"
        );
        for name in order {
            for r in self.rows.iter().filter(|r| r.workload == *name) {
                let _ = writeln!(
                    t,
                    "{:<16} {:<10} {:>7} {:>10} {:>9.1} {:>8.2}{}",
                    r.workload,
                    r.backend,
                    r.threads,
                    sig3(r.median_ms),
                    r.mpx_s,
                    r.ratio_to_floor,
                    if r.external { "*" } else { "x" },
                );
            }
        }
        t
    }
}

/// `x` with three significant digits (at least two decimals below 100), for
/// milliseconds that range from microseconds to seconds.
pub fn sig3(x: f64) -> String {
    if !x.is_finite() || x <= 0.0 {
        return format!("{x}");
    }
    let decimals = (2 - x.log10().floor() as i32).clamp(0, 9);
    format!("{x:.*}", decimals as usize)
}

/// Rows read from the JSON `../shared/bench/opencv_anchor.py --json` writes.
#[derive(Debug, Clone, PartialEq)]
pub struct External {
    /// Its own copy floor, ms.
    pub floor_ms: f64,
    /// Its rows (`external` set), ratios to its own floor.
    pub rows: Vec<Row>,
}

/// Reads `--opencv FILE`: `{"floor_ms": F, "rows": [{"workload", "median_ms", ...}]}`.
///
/// Each row keeps its own `ratio_to_floor` (computed from `median_ms / floor_ms`
/// when absent); `backend` defaults to `opencv`, `threads` to `default_threads`,
/// `mpx_s` to `pixels / median_ms / 1000`.
pub fn read_external(path: &Path, default_threads: usize, pixels: usize) -> Result<External> {
    let what = || format!("--opencv `{}`", path.display());
    let text = std::fs::read_to_string(path).context(what)?;
    let doc: Value = serde_json::from_str(&text).context(what)?;
    parse_external(&doc, default_threads, pixels).context(what)
}

fn parse_external(doc: &Value, default_threads: usize, pixels: usize) -> Result<External> {
    let positive = |v: &Value, key: &str, at: &str| -> Result<f64> {
        match v.get(key).map(|x| (x, x.as_f64())) {
            Some((_, Some(x))) if x.is_finite() && x > 0.0 => Ok(x),
            Some((x, _)) => bail!("{at}`{key}` must be a positive number, got {x}"),
            None => bail!("{at}`{key}` is missing"),
        }
    };
    if !doc.is_object() {
        bail!("expected a JSON object with `floor_ms` and `rows`");
    }
    let floor_ms = positive(doc, "floor_ms", "")?;
    let Some(rows) = doc.get("rows").and_then(Value::as_array) else {
        bail!("`rows` must be a list of rows");
    };
    let mut out = Vec::with_capacity(rows.len());
    for (i, r) in rows.iter().enumerate() {
        let at = format!("rows[{i}]: ");
        let text = |key: &str| -> Result<Option<String>> {
            match r.get(key) {
                None => Ok(None),
                Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
                Some(x) => bail!("{at}`{key}` must be a non-empty string, got {x}"),
            }
        };
        let Some(workload) = text("workload")? else {
            bail!("{at}`workload` is missing");
        };
        let backend = text("backend")?.unwrap_or_else(|| OPENCV.to_string());
        let median_ms = positive(r, "median_ms", &at)?;
        let threads = match r.get("threads") {
            None => default_threads,
            Some(t) => t
                .as_u64()
                .and_then(|t| usize::try_from(t).ok())
                .filter(|&t| t > 0)
                .ok_or_else(|| {
                    CliError::new(format!("{at}`threads` must be a positive integer, got {t}"))
                })?,
        };
        let ratio_to_floor = match r.get("ratio_to_floor") {
            None => median_ms / floor_ms,
            Some(_) => positive(r, "ratio_to_floor", &at)?,
        };
        let mpx_s = match r.get("mpx_s") {
            None => pixels as f64 / median_ms / 1e3,
            Some(_) => positive(r, "mpx_s", &at)?,
        };
        out.push(Row {
            workload,
            backend,
            threads,
            median_ms,
            mpx_s,
            ratio_to_floor,
            external: true,
        });
    }
    Ok(External {
        floor_ms,
        rows: out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(w: &str, b: &str, ratio: f64, external: bool) -> Row {
        Row {
            workload: w.into(),
            backend: b.into(),
            threads: 1,
            median_ms: 2.0 * ratio,
            mpx_s: 100.0,
            ratio_to_floor: ratio,
            external,
        }
    }

    #[test]
    fn the_json_has_exactly_the_schema() {
        let r = Report {
            machine: Machine {
                cpu: "cpu".into(),
                cores: 2,
                arch: "x86_64",
                features: vec!["avx2"],
            },
            floor_ms: 2.0,
            rows: vec![row("a", "jit", 1.5, false), row("a", "opencv", 2.5, true)],
            compile_ms: vec![("3x3".into(), 1.25)],
        };
        let j = r.to_json();
        let keys: Vec<&String> = j.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["compile_ms", "floor_ms", "machine", "rows"]);
        assert_eq!(j["rows"][1]["backend"], "opencv");
        assert_eq!(j["rows"][0]["ratio_to_floor"], 1.5);
        assert_eq!(j["rows"][0].as_object().unwrap().len(), 6);
        assert_eq!(j["compile_ms"]["3x3"], 1.25);
        assert_eq!(j["machine"]["cpu"], "cpu");
        let t = r.table(&["a"]);
        assert!(t.contains("1.50x") && t.contains("2.50*"), "{t}");
    }

    #[test]
    fn sig3_keeps_three_digits() {
        assert_eq!(sig3(12.345), "12.3");
        assert_eq!(sig3(1.2345), "1.23");
        assert_eq!(sig3(0.000_123_4), "0.000123");
        assert_eq!(sig3(1234.6), "1235");
        assert_eq!(sig3(0.0), "0");
    }

    #[test]
    fn anchor_json_is_read_with_its_own_ratios() {
        let doc = json!({"floor_ms": 4.0, "rows": [
            {"workload": "sobel_x_3x3", "backend": "opencv", "threads": 1,
             "median_ms": 6.0, "mpx_s": 2796.2, "ratio_to_floor": 1.5},
            {"workload": "dense_7x7", "median_ms": 12.0}
        ]});
        let e = parse_external(&doc, 2, 1_000_000).unwrap();
        assert_eq!(e.floor_ms, 4.0);
        assert_eq!(e.rows[0].ratio_to_floor, 1.5);
        assert_eq!(e.rows[0].mpx_s, 2796.2);
        assert_eq!(e.rows[1].backend, "opencv");
        assert_eq!(e.rows[1].threads, 2);
        assert_eq!(e.rows[1].ratio_to_floor, 3.0);
        assert!((e.rows[1].mpx_s - 1e6 / 12.0 / 1e3).abs() < 1e-9);
        assert!(e.rows.iter().all(|r| r.external));
    }

    #[test]
    fn bad_anchor_json_is_an_error_naming_the_field() {
        let bad = |doc: Value| parse_external(&doc, 1, 1).unwrap_err().to_string();
        assert!(bad(json!([])).contains("floor_ms"));
        assert!(bad(json!({"rows": []})).contains("`floor_ms` is missing"));
        assert!(bad(json!({"floor_ms": 0, "rows": []})).contains("positive"));
        assert!(bad(json!({"floor_ms": 1})).contains("`rows`"));
        assert!(bad(json!({"floor_ms": 1, "rows": [{"median_ms": 1}]})).contains("rows[0]"));
        let e = bad(json!({"floor_ms": 1, "rows": [{"workload": "a", "median_ms": "x"}]}));
        assert!(e.contains("rows[0]") && e.contains("median_ms"), "{e}");
        let e =
            bad(json!({"floor_ms": 1, "rows": [{"workload": "a", "median_ms": 1, "threads": 0}]}));
        assert!(e.contains("threads"), "{e}");
    }
}
