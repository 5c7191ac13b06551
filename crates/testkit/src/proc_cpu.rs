//! CPU time of another process, from Linux's `/proc`: to measure what a request costs a server
//! running as a child (its threads' scheduler run time, in nanoseconds).

use std::time::Duration;

/// The id of the first process whose command line has an argument equal to `arg` (a unique
/// config path, say), if any.
#[must_use]
pub fn pid_with_arg(arg: &str) -> Option<u32> {
    let dir = std::fs::read_dir("/proc").ok()?;
    dir.filter_map(Result::ok).find_map(|e| {
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
        cmdline.split(|b| *b == 0).any(|a| a == arg.as_bytes()).then_some(pid)
    })
}

/// The CPU time `pid`'s live threads have run so far: the sum of the first field of
/// `/proc/<pid>/task/*/schedstat` (nanoseconds; `/proc/<pid>/stat` counts only 10 ms ticks).
///
/// # Errors
/// When the process is gone or `/proc` cannot be read.
pub fn cpu_time(pid: u32) -> anyhow::Result<Duration> {
    let mut total: u64 = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let Ok(text) = std::fs::read_to_string(task?.path().join("schedstat")) else { continue };
        total += text.split_whitespace().next().and_then(|n| n.parse::<u64>().ok()).unwrap_or(0);
    }
    Ok(Duration::from_nanos(total))
}

#[cfg(test)]
mod tests {
    #[test]
    fn this_process_is_found_and_its_cpu_time_grows() {
        let me = std::process::id();
        let before = super::cpu_time(me).unwrap();
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
        assert!(super::cpu_time(me).unwrap() > before, "{x}");
        let exe = std::env::args().next().unwrap();
        assert!(super::pid_with_arg(&exe).is_some());
    }
}
