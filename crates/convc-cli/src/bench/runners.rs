//! What gets timed: a flat list of runners, one per (workload, backend) row.
//!
//! A runner is prepared (JIT compiled, Plan built) when it is made, so its
//! closure is exactly the timed region. Adding a row kind is one function that
//! returns more runners (see [`macro_runners`]).

use std::str::FromStr;

use convc::{Backend, Convolver, ImageView, ImageViewMut};

use super::workloads::Workload;
use crate::error::{CliError, Context, Result, bail};

/// The timed call: filter the input into the preallocated output.
pub type RunFn = Box<dyn Fn(&ImageView<'_, f32>, &mut ImageViewMut<'_, f32>) -> convc::Result<()>>;

/// One row of the table: a workload run by one backend.
pub struct Runner {
    /// Index into the workload list (its name, spec and output buffer).
    pub workload: usize,
    /// Backend label in the table, the JSON and the plot.
    pub backend: String,
    /// The prepared convolution.
    pub run: RunFn,
}

/// The backends `--backends` names (`None`: the default set).
///
/// Default: every backend of [`Backend::available`] except `reference` and
/// `naive` (minutes per row at 4096x4096). `all` takes every available one, `auto`
/// the one `auto` resolves to; duplicates are dropped, order is kept.
pub fn select_backends(list: Option<&str>) -> Result<Vec<Backend>> {
    let available = Backend::available();
    let Some(list) = list else {
        return Ok(available
            .into_iter()
            .filter(|b| !matches!(b, Backend::Reference | Backend::Naive))
            .collect());
    };
    let mut chosen: Vec<Backend> = Vec::new();
    for item in list.split(',').map(str::trim) {
        let add: Vec<Backend> = match item {
            "" => bail!("--backends: empty name in `{list}` (expected a comma-separated list)"),
            "all" => available.clone(),
            // `macro` rows arrive with `macro_runners`; name it here then.
            name => {
                let b = Backend::from_str(name)
                    .map_err(|e| CliError::new(format!("--backends: {e}, or all")))?
                    .resolve();
                if !available.contains(&b) {
                    bail!("--backends: backend `{name}` is not available on this machine");
                }
                vec![b]
            }
        };
        for b in add {
            if !chosen.contains(&b) {
                chosen.push(b);
            }
        }
    }
    Ok(chosen)
}

/// One runner per workload and backend, prepared outside the timed region.
pub fn backend_runners(workloads: &[Workload], backends: &[Backend]) -> Result<Vec<Runner>> {
    let mut runners = Vec::new();
    for (i, wl) in workloads.iter().enumerate() {
        for &backend in backends {
            let conv = Convolver::<f32>::new(&wl.spec, backend)
                .context(|| format!("preparing {} for {}", wl.name, backend.name()))?;
            runners.push(Runner {
                workload: i,
                backend: backend.name().to_string(),
                run: Box::new(move |input, output| conv.apply(input, output)),
            });
        }
    }
    Ok(runners)
}

/// The compile-time `conv!` rows, backend label `macro`: one runner per workload
/// whose kernel is written out in a `conv!(...)` invocation here, with
/// `border = zero` and the workload's stride/dilation, so that its spec equals
/// `workload.spec` (check that with `Convolution::spec` when adding them). The
/// thread count must follow `--threads` too.
///
/// Empty for now: the `conv!` backend is not finished. When it is, return its
/// runners here (and accept `macro` in [`select_backends`]); nothing else in
/// `convc bench` changes.
pub fn macro_runners(_workloads: &[Workload], _threads: usize) -> Vec<Runner> {
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_leaves_out_the_slow_backends() {
        let d = select_backends(None).unwrap();
        assert!(d.contains(&Backend::Generic));
        assert!(!d.contains(&Backend::Reference) && !d.contains(&Backend::Naive));
    }

    #[test]
    fn lists_are_parsed_deduplicated_and_checked() {
        assert_eq!(
            select_backends(Some("naive, generic,naive")).unwrap(),
            [Backend::Naive, Backend::Generic]
        );
        assert_eq!(select_backends(Some("all")).unwrap(), Backend::available());
        assert_eq!(
            select_backends(Some("auto")).unwrap(),
            [Backend::Auto.resolve()]
        );
        let e = select_backends(Some("generic,fast"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--backends") && e.contains("`fast`") && e.contains("all"),
            "{e}"
        );
        let e = select_backends(Some("generic,,naive"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("empty"), "{e}");
    }
}
