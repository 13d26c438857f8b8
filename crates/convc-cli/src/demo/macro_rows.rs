//! The demo's `macro` rows: each workload whose spec is known at compile time,
//! written as `conv!` invocations (the dense kernel's coefficients are
//! [`random_kernel`](super::workloads::random_kernel)'s for
//! [`DENSE_SEED`](super::workloads::DENSE_SEED), written out exactly).

use convc::{Convolution, conv};

/// A `conv!` value as the demo holds it.
pub type MacroConv = Box<dyn Convolution<Elem = f32>>;

/// The `conv!` stages of the workload called `name` (one per stage, in order),
/// or `None` when its spec is only known at run time.
pub fn macro_stages(name: &str) -> Option<Vec<MacroConv>> {
    let stages: Vec<MacroConv> = match name {
        "sobel magnitude 3x3" => vec![
            Box::new(conv!(sobel_x, 3x3, threads = 1)),
            Box::new(conv!(sobel_y, 3x3, threads = 1)),
        ],
        "gaussian 7x7 sigma 2" => vec![Box::new(conv!(gaussian(sigma = 2), 7x7, threads = 1))],
        "laplacian 3x3" => vec![Box::new(conv!(laplacian, 3x3, threads = 1))],
        "sharpen 3x3" => vec![Box::new(conv!(sharpen, 3x3, threads = 1))],
        "dense 7x7 random (2x size)" => vec![Box::new(conv!(
            [
                [
                    -0.022655936235331575,
                    0.17961855906231583,
                    -0.7329962006465054,
                    -0.8936562538145485,
                    -0.41300874907386076,
                    -0.8741843311373485,
                    -0.5908690317853467
                ],
                [
                    -0.6576985198352474,
                    -0.7166149785762042,
                    0.41318361294115324,
                    -0.7377995242050361,
                    0.8287801729630677,
                    -0.03975046514613534,
                    0.18145123481337433
                ],
                [
                    0.6097399354003437,
                    0.6582380341232874,
                    0.14891658219133364,
                    0.5946619972820495,
                    0.864629495448181,
                    0.3537802449487022,
                    -0.37185236331666194
                ],
                [
                    0.24913853109759998,
                    -0.18782227132540075,
                    0.2244802807394528,
                    0.11873196146176568,
                    -0.43966935537731566,
                    -0.27384615196635065,
                    -0.4072763635754024
                ],
                [
                    -0.3720143794493156,
                    -0.2579101311813077,
                    -0.7095784157887779,
                    0.8729439391191609,
                    0.48179167554997293,
                    -0.28525517182579474,
                    0.9202700309841696
                ],
                [
                    0.14188936591485346,
                    0.5973186499444898,
                    0.6506946330090113,
                    0.9076113868890268,
                    0.21172726771815475,
                    0.045536488313703716,
                    -0.9870862785317409
                ],
                [
                    0.4400583605107977,
                    -0.5221173227309235,
                    0.6514496052726781,
                    -0.40858985087814403,
                    0.6250930949153266,
                    0.40784952876515246,
                    0.30667523486452475
                ]
            ],
            threads = 1
        ))],
        _ => return None,
    };
    Some(stages)
}

#[cfg(test)]
mod tests {
    use super::super::workloads::workloads;
    use super::*;

    #[test]
    fn every_static_workload_has_macro_stages_with_its_specs() {
        let mut with = 0;
        for wl in workloads().unwrap() {
            let Some(stages) = macro_stages(&wl.name) else {
                continue;
            };
            with += 1;
            assert_eq!(stages.len(), wl.stages.len(), "{}", wl.name);
            for (c, spec) in stages.iter().zip(&wl.stages) {
                assert_eq!(c.spec(), spec, "{}", wl.name);
            }
        }
        // Every workload of the demo has a spec fixed at compile time.
        assert_eq!(with, workloads().unwrap().len());
        assert!(macro_stages("no such workload").is_none());
    }
}
