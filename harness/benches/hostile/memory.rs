//! The served process's memory, from `/proc/<pid>/status`: `VmRSS` (now) and `VmHWM` (the kernel's
//! own peak, which catches a spike between two samples).

/// One reading, in KiB.
#[derive(Debug, Clone, Copy, Default)]
pub struct Reading {
    /// Resident now.
    pub rss_kib: u64,
    /// The peak resident so far.
    pub hwm_kib: u64,
}

/// Reads the process's status; `None` once it is gone.
pub fn read(pid: u32) -> Option<Reading> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
    };
    Some(Reading { rss_kib: field("VmRSS:")?, hwm_kib: field("VmHWM:")? })
}

/// KiB as MiB with one decimal.
pub fn mib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}
