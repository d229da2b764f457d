//! What the figures were measured on: CPU, cores, memory, OS, load, and the versions of every tool
//! compared. Read from `/proc` and the tools themselves; anything unreadable is reported as unknown.

use std::path::Path;

use serde::Serialize;

use crate::procs::{Cmd, run};

/// The machine and the tools.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// `model name` of /proc/cpuinfo.
    pub cpu: String,
    /// CPUs this process may use.
    pub cores: usize,
    /// `MemTotal` of /proc/meminfo, in GiB.
    pub memory_gib: f64,
    /// `PRETTY_NAME` of /etc/os-release and the kernel release.
    pub os: String,
    /// The 1-minute load average when the suite started.
    pub load_at_start: String,
    /// Tool name and the version it reports.
    pub tools: Vec<(String, String)>,
}

/// Reads the machine's description; `tools` are (name, command printing its version).
pub fn describe(tools: &[(String, Cmd)]) -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = field(&cpuinfo, "model name").unwrap_or_else(|| "unknown".into());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory_kib: f64 =
        field(&meminfo, "MemTotal").and_then(|v| v.trim_end_matches("kB").trim().parse().ok()).unwrap_or(0.0);
    let os_release = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    let pretty = os_release
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_else(|| std::env::consts::OS.to_string());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let tools = tools.iter().map(|(name, cmd)| (name.clone(), version_of(cmd))).collect();
    Machine {
        cpu,
        cores: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        memory_gib: memory_kib / (1024.0 * 1024.0),
        os: format!("{pretty}, Linux {}", kernel.trim()),
        load_at_start: load_average(),
        tools,
    }
}

/// The 1-, 5- and 15-minute load averages.
pub fn load_average() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

/// The first line a version command prints (on stdout or stderr), or why there is none.
pub fn version_of(cmd: &Cmd) -> String {
    if cmd.program.is_absolute() && !Path::new(&cmd.program).exists() {
        return "not installed".into();
    }
    match run(cmd, &[]) {
        Ok(r) => {
            let text = if r.stdout.trim().is_empty() { r.stderr } else { r.stdout };
            text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("no output").to_string()
        }
        Err(_) => "not installed".into(),
    }
}

/// The value of `key: value` lines (`/proc/cpuinfo`, `/proc/meminfo`).
fn field(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == key).then(|| v.trim().to_string())
    })
}

/// Peak and current resident memory of this process, in KiB (`VmHWM`, `VmRSS` of /proc/self/status).
pub fn own_memory_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = |key: &str| field(&status, key).and_then(|v| v.trim_end_matches("kB").trim().parse().ok()).unwrap_or(0);
    (kib("VmHWM"), kib("VmRSS"))
}

/// Resets this process's peak resident memory to the current one (Linux: `5` to /proc/self/clear_refs),
/// so a later `VmHWM` is the peak of what runs in between. Returns whether the kernel allowed it.
pub fn reset_peak_memory() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_value_lines_are_found_by_their_trimmed_key() {
        let text = "processor\t: 0\nmodel name\t: AMD EPYC\nMemTotal:       24596736 kB\n";
        assert_eq!(field(text, "model name").as_deref(), Some("AMD EPYC"));
        assert_eq!(field(text, "MemTotal").as_deref(), Some("24596736 kB"));
        assert_eq!(field(text, "flags"), None);
    }
}
