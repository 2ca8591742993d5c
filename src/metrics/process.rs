//! The standard `process_*` metrics of Prometheus' client libraries — CPU seconds,
//! resident and virtual memory, open and maximum file descriptors, start time — read from
//! `/proc/self` at scrape time. Elsewhere than Linux they are left out.

use std::fmt::Write as _;

use super::single;

/// Appends every `process_*` family this platform can tell.
pub fn render(out: &mut String) {
    let Some(stat) = Stat::read() else {
        return;
    };
    let ticks = rustix::param::clock_ticks_per_second() as f64;
    let page = rustix::param::page_size() as u64;
    single(
        out,
        "process_cpu_seconds_total",
        "counter",
        "Total user and system CPU time spent in seconds.",
        (stat.utime + stat.stime) as f64 / ticks,
    );
    single(
        out,
        "process_resident_memory_bytes",
        "gauge",
        "Resident memory size in bytes.",
        stat.rss_pages * page,
    );
    single(
        out,
        "process_virtual_memory_bytes",
        "gauge",
        "Virtual memory size in bytes.",
        stat.vsize,
    );
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        single(
            out,
            "process_open_fds",
            "gauge",
            "Number of open file descriptors.",
            fds.count(),
        );
    }
    if let Some(max) = rustix::process::getrlimit(rustix::process::Resource::Nofile).current {
        single(
            out,
            "process_max_fds",
            "gauge",
            "Maximum number of open file descriptors.",
            max,
        );
    }
    if let Some(boot) = boot_time() {
        let start = boot as f64 + stat.starttime as f64 / ticks;
        let mut value = String::new();
        let _ = write!(value, "{start:.2}");
        single(
            out,
            "process_start_time_seconds",
            "gauge",
            "Start time of the process since unix epoch in seconds.",
            value,
        );
    }
}

/// The fields of `/proc/self/stat` the metrics need.
struct Stat {
    utime: u64,
    stime: u64,
    starttime: u64,
    vsize: u64,
    rss_pages: u64,
}

impl Stat {
    fn read() -> Option<Stat> {
        let text = std::fs::read_to_string("/proc/self/stat").ok()?;
        Stat::parse(&text)
    }

    /// Fields are counted after the command name's closing parenthesis (the name may
    /// hold spaces and parentheses): the state is field 3, utime 14, stime 15, starttime
    /// 22, vsize 23, rss 24.
    fn parse(text: &str) -> Option<Stat> {
        let rest = &text[text.rfind(')')? + 1..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let field = |n: usize| fields.get(n - 3)?.parse::<u64>().ok();
        Some(Stat {
            utime: field(14)?,
            stime: field(15)?,
            starttime: field(22)?,
            vsize: field(23)?,
            rss_pages: field(24)?,
        })
    }
}

/// The boot time in seconds since the epoch (`btime` of `/proc/stat`).
fn boot_time() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_stat_line_whose_name_holds_spaces_and_parentheses() {
        let line = "4242 (fss (a) b) S 1 4242 4242 0 -1 4194560 500 0 0 0 \
                    25 7 0 0 20 0 17 0 123456 98765432 2048 18446744073709551615";
        let s = Stat::parse(line).expect("parses");
        assert_eq!((s.utime, s.stime), (25, 7));
        assert_eq!(s.starttime, 123456);
        assert_eq!(s.vsize, 98765432);
        assert_eq!(s.rss_pages, 2048);
    }

    #[test]
    fn renders_resident_memory_of_this_process() {
        let mut out = String::new();
        render(&mut out);
        if cfg!(target_os = "linux") {
            let line = out
                .lines()
                .find(|l| l.starts_with("process_resident_memory_bytes "))
                .expect("an RSS sample");
            let v: f64 = line.split(' ').nth(1).unwrap().parse().unwrap();
            assert!(v > 0.0, "{line}");
            assert!(out.contains("# TYPE process_cpu_seconds_total counter"));
        }
    }
}
