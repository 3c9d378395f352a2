//! Who used the machine's CPU while a server's cells ran: the server, the load generator (this
//! process), and everything else — so a run disturbed by other work on the machine says so.

/// Cumulative CPU time in clock ticks (`/proc/stat` and `/proc/<pid>/stat` share the unit).
#[derive(Clone, Copy)]
pub struct Sample {
    total: u64,
    busy: u64,
    generator: u64,
    server: u64,
}

/// Shares of the whole machine (all cores together = 1.0) between two samples.
#[derive(Clone, Copy, Debug)]
pub struct Shares {
    pub server: f64,
    pub generator: f64,
    pub other: f64,
}

fn machine() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is inside user already)
    let at = |i: usize| v.get(i).copied().unwrap_or(0);
    let busy = at(0) + at(1) + at(2) + at(5) + at(6) + at(7);
    Some((busy + at(3) + at(4), busy))
}

/// utime + stime of a process.
fn process(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces; the fields after it start with the state.
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

pub fn sample(server_pid: Option<u32>) -> Option<Sample> {
    let (total, busy) = machine()?;
    Some(Sample {
        total,
        busy,
        generator: process("self")?,
        server: process(&server_pid?.to_string())?,
    })
}

pub fn shares(a: Sample, b: Sample) -> Option<Shares> {
    let total = b.total.checked_sub(a.total)? as f64;
    if total <= 0.0 {
        return None;
    }
    let busy = b.busy.saturating_sub(a.busy);
    let server = b.server.saturating_sub(a.server);
    let generator = b.generator.saturating_sub(a.generator);
    let other = busy.saturating_sub(server + generator);
    Some(Shares {
        server: server as f64 / total,
        generator: generator as f64 / total,
        other: other as f64 / total,
    })
}
