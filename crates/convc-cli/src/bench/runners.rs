//! What gets timed: a flat list of runners, one per (workload, backend) row.
//!
//! A runner is prepared (JIT compiled, Plan built) when it is made, so its
//! closure is exactly the timed region. Adding a row kind is one function that
//! returns more runners (see [`macro_runners`], the compile-time `conv!` rows).

use std::str::FromStr;

use convc::{Backend, ConvSpec, Convolution, Convolver, ImageView, ImageViewMut, conv};

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

/// What `--backends` selected: backends run through [`Convolver`], and whether
/// the compile-time `conv!` rows (label `macro`) run too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// Backends, in the order named.
    pub backends: Vec<Backend>,
    /// The `macro` rows ([`macro_runners`]).
    pub macro_rows: bool,
}

/// The backends `--backends` names (`None`: the default set).
///
/// Default: every backend of [`Backend::available`] except `reference` and
/// `naive` (minutes per row at 4096x4096), and `macro`. `all` takes every
/// available one and `macro`, `auto` the one `auto` resolves to, `macro` the
/// `conv!` rows; duplicates are dropped, order is kept.
pub fn select_backends(list: Option<&str>) -> Result<Selection> {
    let available = Backend::available();
    let Some(list) = list else {
        return Ok(Selection {
            backends: available
                .into_iter()
                .filter(|b| !matches!(b, Backend::Reference | Backend::Naive))
                .collect(),
            macro_rows: true,
        });
    };
    let mut chosen: Vec<Backend> = Vec::new();
    let mut macro_rows = false;
    for item in list.split(',').map(str::trim) {
        let add: Vec<Backend> = match item {
            "" => bail!("--backends: empty name in `{list}` (expected a comma-separated list)"),
            "all" => {
                macro_rows = true;
                available.clone()
            }
            "macro" => {
                macro_rows = true;
                Vec::new()
            }
            name => {
                let b = Backend::from_str(name)
                    .map_err(|e| CliError::new(format!("--backends: {e}, macro, or all")))?
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
    Ok(Selection {
        backends: chosen,
        macro_rows,
    })
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

/// A `conv!` value as the bench holds it.
pub type MacroConv = Box<dyn Convolution<Elem = f32>>;

/// The `conv!` instance of every bench workload, by workload name: the same
/// kernels (the dense ones are [`random_kernel`](crate::demo::workloads::random_kernel)'s
/// coefficients for [`DENSE7_SEED`](super::workloads::DENSE7_SEED) and
/// [`DENSE3_SEED`](super::workloads::DENSE3_SEED), written out exactly), 'same'
/// output, zero border, the workload's stride and dilation. Their specs equal the
/// workloads' but for the thread count, which the runners give at run time.
pub fn macro_instances() -> Vec<(&'static str, MacroConv)> {
    vec![
        (
            "sobel_x_3x3",
            Box::new(conv!(sobel_x, 3x3, mode = same, border = zero)),
        ),
        (
            "gaussian_5x5",
            Box::new(conv!(gaussian(sigma = 1), 5x5, mode = same, border = zero)),
        ),
        (
            "gaussian_15x15",
            Box::new(conv!(
                gaussian(sigma = 3),
                15x15,
                mode = same,
                border = zero
            )),
        ),
        (
            "dense_7x7",
            Box::new(conv!(
                [
                    [
                        0.17172225367346594,
                        0.7323844459750664,
                        0.20698011032529506,
                        0.32813320223991815,
                        -0.5086804701878456,
                        -0.4499837982515591,
                        0.8038722607651865
                    ],
                    [
                        0.6973997707621999,
                        0.5544410612262336,
                        -0.7057918293037984,
                        0.08414619461244999,
                        -0.18439967428327142,
                        0.9203329734313714,
                        -0.8524813531258146
                    ],
                    [
                        -0.39538781218544194,
                        -0.7230835986481547,
                        -0.6996655187449348,
                        -0.256100202819302,
                        0.5981718209425824,
                        -0.30224465559915936,
                        0.21240510637501187
                    ],
                    [
                        0.4005409305782204,
                        0.264191654982151,
                        -0.16791902823794413,
                        0.8241058730230302,
                        -0.92708604576649,
                        0.22053191802748273,
                        0.4132018196608078
                    ],
                    [
                        0.1684357180638003,
                        -0.4181907077909923,
                        -0.9757425537448932,
                        -0.7778438231799265,
                        -0.9638666659853485,
                        -0.7487035346482069,
                        0.14566530340575246
                    ],
                    [
                        -0.8382797961316741,
                        -0.4823530311235029,
                        0.26420128806415955,
                        0.02460230599475599,
                        0.031332950662762205,
                        0.18441403458811245,
                        -0.5328142025717271
                    ],
                    [
                        -0.23972275885480543,
                        0.32915975543269993,
                        -0.00484615711852987,
                        0.6153207380285171,
                        0.8901230345534776,
                        0.17362852784995964,
                        0.2993841331101381
                    ]
                ],
                mode = same,
                border = zero
            )),
        ),
        (
            "stride2_3x3",
            Box::new(conv!(gaussian, 3x3, stride = 2, mode = same, border = zero)),
        ),
        (
            "dilation2_3x3",
            Box::new(conv!(
                [
                    [
                        0.30671146975176655,
                        -0.47067215407768614,
                        -0.7984728685374078
                    ],
                    [
                        -0.6327982588330343,
                        -0.44171713619841757,
                        -0.3252323039610776
                    ],
                    [0.24624726715908452, 0.8310574762464296, -0.9418759785888375]
                ],
                dilation = 2,
                mode = same,
                border = zero
            )),
        ),
    ]
}

/// The spec a workload's `conv!` instance must have: the workload's, without a
/// thread count (the macro rows get theirs at run time).
pub fn macro_spec(workload: &Workload) -> ConvSpec {
    ConvSpec {
        threads: None,
        ..workload.spec.clone()
    }
}

/// The compile-time `conv!` rows, backend label `macro`: one runner per workload
/// (each a [`macro_instances`] value, checked to have the workload's spec), run on
/// `threads` threads through `Convolution::apply_with_threads`.
pub fn macro_runners(workloads: &[Workload], threads: usize) -> Result<Vec<Runner>> {
    let mut instances = macro_instances();
    let mut runners = Vec::new();
    for (i, wl) in workloads.iter().enumerate() {
        let Some(k) = instances.iter().position(|(name, _)| *name == wl.name) else {
            bail!(
                "the macro rows have no conv! instance for workload {}",
                wl.name
            );
        };
        let (_, conv) = instances.swap_remove(k);
        if conv.spec() != &macro_spec(wl) {
            bail!(
                "the conv! instance of workload {} has another spec than the workload",
                wl.name
            );
        }
        runners.push(Runner {
            workload: i,
            backend: "macro".to_string(),
            run: Box::new(move |input, output| {
                conv.apply_with_threads(input, output, Some(threads))
            }),
        });
    }
    Ok(runners)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_leaves_out_the_slow_backends_and_runs_macro() {
        let d = select_backends(None).unwrap();
        assert!(d.backends.contains(&Backend::Generic));
        assert!(!d.backends.contains(&Backend::Reference) && !d.backends.contains(&Backend::Naive));
        assert!(d.macro_rows);
    }

    #[test]
    fn macro_is_selectable_alone_or_with_others() {
        let m = select_backends(Some("macro")).unwrap();
        assert!(m.backends.is_empty() && m.macro_rows);
        let m = select_backends(Some("macro, generic")).unwrap();
        assert_eq!(m.backends, [Backend::Generic]);
        assert!(m.macro_rows);
        assert!(!select_backends(Some("generic")).unwrap().macro_rows);
        assert!(select_backends(Some("all")).unwrap().macro_rows);
    }

    #[test]
    fn every_workload_has_a_macro_instance_with_its_spec() {
        use super::super::workloads::workloads;
        let wls = workloads(3).unwrap();
        let instances = macro_instances();
        assert_eq!(instances.len(), wls.len());
        for wl in &wls {
            let (_, c) = instances
                .iter()
                .find(|(name, _)| *name == wl.name)
                .unwrap_or_else(|| panic!("no conv! for {}", wl.name));
            assert_eq!(c.spec(), &macro_spec(wl), "{}", wl.name);
            // The specs agree on everything but the thread count.
            assert_eq!(c.spec().clone().threads(3), wl.spec, "{}", wl.name);
        }
        let runners = macro_runners(&wls, 3).unwrap();
        assert_eq!(runners.len(), wls.len());
        assert!(runners.iter().all(|r| r.backend == "macro"));
    }

    #[test]
    fn macro_rows_compute_the_workloads() {
        use super::super::workloads::{input_image, workloads};
        use convc::accuracy::check_against_reference;
        let wls = workloads(2).unwrap();
        let input = input_image(40).unwrap();
        for r in macro_runners(&wls, 2).unwrap() {
            let spec = &wls[r.workload].spec;
            let out = spec.output_shape(input.shape()).unwrap();
            let mut dst = convc::Image::<f32>::zeros(out.width, out.height).unwrap();
            (r.run)(&input.view(), &mut dst.view_mut()).unwrap();
            let verdict = check_against_reference(spec, &input.view(), &dst.view()).unwrap();
            assert!(verdict.is_ok(), "{}: {verdict:?}", wls[r.workload].name);
        }
    }

    #[test]
    fn lists_are_parsed_deduplicated_and_checked() {
        assert_eq!(
            select_backends(Some("naive, generic,naive"))
                .unwrap()
                .backends,
            [Backend::Naive, Backend::Generic]
        );
        assert_eq!(
            select_backends(Some("all")).unwrap().backends,
            Backend::available()
        );
        assert_eq!(
            select_backends(Some("auto")).unwrap().backends,
            [Backend::Auto.resolve()]
        );
        let e = select_backends(Some("generic,fast"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--backends") && e.contains("`fast`") && e.contains("macro, or all"),
            "{e}"
        );
        let e = select_backends(Some("generic,,naive"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("empty"), "{e}");
    }
}
