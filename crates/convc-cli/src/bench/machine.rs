//! What the numbers were measured on: CPU model, cores, vector features.

use serde_json::{Value, json};

/// The machine line of the report (`machine` in the JSON).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Machine {
    /// CPU model (`model name` of /proc/cpuinfo), or `unknown CPU`.
    pub cpu: String,
    /// Logical cores this process may use.
    pub cores: usize,
    /// CPU architecture (`x86_64`, `aarch64`, ...).
    pub arch: &'static str,
    /// Which of avx2, avx512f, fma the CPU has (x86_64 only; empty elsewhere).
    pub features: Vec<&'static str>,
}

impl Machine {
    /// This machine.
    pub fn detect() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        Machine {
            cpu: cpu_model(&cpuinfo).unwrap_or_else(|| "unknown CPU".to_string()),
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            arch: std::env::consts::ARCH,
            features: features(),
        }
    }

    /// The JSON object: `{"cpu", "cores", "arch", "features": [...]}`.
    pub fn to_json(&self) -> Value {
        json!({
            "cpu": self.cpu,
            "cores": self.cores,
            "arch": self.arch,
            "features": self.features,
        })
    }
}

impl std::fmt::Display for Machine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}, {} cores, {}", self.cpu, self.cores, self.arch)?;
        if self.arch == "x86_64" {
            let has = |n| {
                if self.features.contains(&n) {
                    "yes"
                } else {
                    "no"
                }
            };
            write!(
                f,
                " (avx2 {}, avx512f {}, fma {})",
                has("avx2"),
                has("avx512f"),
                has("fma")
            )?;
        }
        Ok(())
    }
}

/// The first `model name` (x86) or `Model`/`Hardware` line of /proc/cpuinfo text.
fn cpu_model(cpuinfo: &str) -> Option<String> {
    ["model name", "Model", "Hardware"].iter().find_map(|key| {
        cpuinfo.lines().find_map(|line| {
            let (k, v) = line.split_once(':')?;
            let v = v.trim();
            (k.trim() == *key && !v.is_empty())
                .then(|| v.split_whitespace().collect::<Vec<_>>().join(" "))
        })
    })
}

#[cfg(target_arch = "x86_64")]
fn features() -> Vec<&'static str> {
    let mut f = Vec::new();
    if std::is_x86_feature_detected!("avx2") {
        f.push("avx2");
    }
    if std::is_x86_feature_detected!("avx512f") {
        f.push("avx512f");
    }
    if std::is_x86_feature_detected!("fma") {
        f.push("fma");
    }
    f
}

#[cfg(not(target_arch = "x86_64"))]
fn features() -> Vec<&'static str> {
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_name_is_read_from_cpuinfo() {
        let text = "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R)  Xeon(R) CPU @ 2.20GHz\nflags\t: fpu\n\nprocessor\t: 1\nmodel name\t: other\n";
        assert_eq!(
            cpu_model(text).as_deref(),
            Some("Intel(R) Xeon(R) CPU @ 2.20GHz")
        );
        assert_eq!(
            cpu_model("Hardware\t: BCM2835\n").as_deref(),
            Some("BCM2835")
        );
        assert_eq!(cpu_model("processor: 0\n"), None);
        assert_eq!(cpu_model(""), None);
    }

    #[test]
    fn this_machine_is_described() {
        let m = Machine::detect();
        assert!(m.cores >= 1 && !m.cpu.is_empty());
        let j = m.to_json();
        assert_eq!(j["cores"], m.cores);
        assert!(j["features"].is_array());
        assert!(m.to_string().contains("cores"));
    }
}
