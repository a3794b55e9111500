//! What a run produces: flat measurements (one JSON object each), markdown
//! tables built from them, and the goals with pass or fail.
//!
//! Invariant: every number in a table or a goal is also a [`Measurement`],
//! so the JSON lines carry everything the markdown shows.

use std::fmt::Write as _;

use serde_json::json;

/// One measured number.
#[derive(Clone, Debug, PartialEq)]
pub struct Measurement {
    /// What was measured: a stub (`fig1_alloc`), a workload (`scaling`,
    /// `corpus`), …
    pub bench: String,
    /// Who was measured: `lil-text`, `lil-template`, `dynasm-hand`,
    /// `cranelift-speed`, `cranelift-none`, `rustc`, with the target
    /// appended where it matters (`lil-text/arm64`).
    pub system: String,
    /// Which quantity: `generate`, `parse`, `code_size`, `fast_path_insns`, …
    pub metric: String,
    /// The value, in `unit`.
    pub value: f64,
    /// `ns`, `bytes`, `insns`, `stubs/s`, `MB/s`, `B/stub`, `ratio`, …
    pub unit: String,
}

impl Measurement {
    /// A measurement.
    pub fn new(bench: &str, system: &str, metric: &str, value: f64, unit: &str) -> Measurement {
        Measurement {
            bench: bench.to_owned(),
            system: system.to_owned(),
            metric: metric.to_owned(),
            value,
            unit: unit.to_owned(),
        }
    }

    /// The JSON object of this measurement.
    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "bench": self.bench,
            "system": self.system,
            "metric": self.metric,
            "value": finite_or_null(self.value),
            "unit": self.unit,
        })
    }
}

fn finite_or_null(v: f64) -> serde_json::Value {
    if v.is_finite() {
        json!(v)
    } else {
        serde_json::Value::Null
    }
}

/// Which way a goal goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Passes when the measured value is at most the target.
    AtMost,
    /// Passes when the measured value is at least the target.
    AtLeast,
}

/// A goal and how the run did against it.
#[derive(Clone, Debug, PartialEq)]
pub struct Goal {
    /// What is promised, in words (`text → code ≤ 5× hand dynasm`).
    pub name: String,
    /// Which stub or workload.
    pub bench: String,
    /// The measured value.
    pub measured: f64,
    /// The target value.
    pub target: f64,
    /// `≤` or `≥`.
    pub direction: Direction,
    /// The unit of `measured` and `target`.
    pub unit: String,
    /// For a miss: by how much and what would close it. For a pass: any
    /// caveat.
    pub note: String,
}

impl Goal {
    /// Whether the goal is met (a measurement that could not be taken fails).
    pub fn pass(&self) -> bool {
        match self.direction {
            Direction::AtMost => self.measured <= self.target,
            Direction::AtLeast => self.measured >= self.target,
        }
    }

    /// The margin in words: how far inside or outside the target.
    pub fn margin(&self) -> String {
        if !self.measured.is_finite() || self.target == 0.0 {
            return "not measured".to_owned();
        }
        let ratio = self.measured / self.target;
        match (self.direction, self.pass()) {
            (Direction::AtMost, true) => format!("{:.0}% under", (1.0 - ratio) * 100.0),
            (Direction::AtMost, false) => format!("{:.2}× over", ratio),
            (Direction::AtLeast, true) => format!("{:.2}× above", ratio),
            (Direction::AtLeast, false) => format!("{:.0}% short", (1.0 - ratio) * 100.0),
        }
    }

    /// The JSON object of this goal.
    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "bench": self.bench,
            "system": "goal",
            "metric": self.name,
            "value": finite_or_null(self.measured),
            "unit": self.unit,
            "target": self.target,
            "direction": match self.direction { Direction::AtMost => "<=", Direction::AtLeast => ">=" },
            "pass": self.pass(),
            "note": self.note,
        })
    }
}

/// A markdown table.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Table {
    /// Column headers.
    pub headers: Vec<String>,
    /// Rows of cells.
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these headers.
    pub fn new(headers: &[&str]) -> Table {
        Table {
            headers: headers.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    /// Append a row.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The table as GitHub-flavoured markdown.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let line = |cells: &[String]| format!("| {} |\n", cells.join(" | "));
        out.push_str(&line(&self.headers));
        let rule: Vec<String> = self
            .headers
            .iter()
            .enumerate()
            .map(|(i, _)| if i == 0 { "---" } else { "---:" }.to_owned())
            .collect();
        out.push_str(&line(&rule));
        for row in &self.rows {
            out.push_str(&line(row));
        }
        out
    }
}

/// A titled table with an explanation.
#[derive(Clone, Debug, PartialEq)]
pub struct Section {
    /// The heading.
    pub title: String,
    /// What the table shows and how it was measured.
    pub intro: String,
    /// The table.
    pub table: Table,
}

/// The machine a run was on.
#[derive(Clone, Debug, PartialEq)]
pub struct Machine {
    /// CPU model, from `/proc/cpuinfo`.
    pub cpu: String,
    /// Logical CPUs (`nproc`).
    pub cpus: usize,
    /// `x86_64`, `aarch64`.
    pub arch: String,
    /// Kernel release.
    pub kernel: String,
    /// Load averages (1, 5, 15 minutes) when the run started, from
    /// `/proc/loadavg`: how busy the shared machine was.
    pub load: String,
}

impl Machine {
    /// The machine this process runs on.
    pub fn detect() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| {
                let (key, value) = l.split_once(':')?;
                matches!(key.trim(), "model name" | "Model" | "CPU part").then(|| value.trim())
            })
            .unwrap_or("unknown CPU")
            .to_owned();
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_owned())
            .unwrap_or_else(|_| "unknown".to_owned());
        Machine {
            cpu,
            cpus,
            arch: std::env::consts::ARCH.to_owned(),
            kernel,
            load: load_average(),
        }
    }

    /// One line: `AMD EPYC, 2 CPUs (nproc), x86_64, Linux 6.18, load 1.2 0.9 0.8`.
    pub fn describe(&self) -> String {
        format!(
            "{}, {} CPUs (nproc), {}, Linux {}, load average {} at the start",
            self.cpu, self.cpus, self.arch, self.kernel, self.load
        )
    }
}

/// The three load averages of `/proc/loadavg`, or `unknown`.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Everything a run measured.
#[derive(Clone, Debug)]
pub struct Report {
    /// Where it ran.
    pub machine: Machine,
    /// The command that reproduces it.
    pub command: String,
    /// Every number.
    pub measurements: Vec<Measurement>,
    /// Tables for people.
    pub sections: Vec<Section>,
    /// Goals with pass/fail.
    pub goals: Vec<Goal>,
    /// Free text after the tables: caveats, instruction listings.
    pub notes: Vec<String>,
    /// A compact markdown summary (one table per topic, goals without
    /// notes), for the README.
    pub summary: String,
}

impl Report {
    /// An empty report for this machine.
    pub fn new(command: &str) -> Report {
        Report {
            machine: Machine::detect(),
            command: command.to_owned(),
            measurements: Vec::new(),
            sections: Vec::new(),
            goals: Vec::new(),
            notes: Vec::new(),
            summary: String::new(),
        }
    }

    /// Record a measurement.
    pub fn push(&mut self, m: Measurement) {
        self.measurements.push(m);
    }

    /// Look a measurement up.
    pub fn get(&self, bench: &str, system: &str, metric: &str) -> Option<f64> {
        self.measurements
            .iter()
            .find(|m| m.bench == bench && m.system == system && m.metric == metric)
            .map(|m| m.value)
    }

    /// The whole report as markdown: header, tables, goals, notes.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# LIL-rs benchmarks\n");
        let _ = writeln!(out, "Machine: {}.  ", self.machine.describe());
        let _ = writeln!(out, "Command: `{}`.  ", self.command);
        let _ = writeln!(
            out,
            "Medians over interleaved batches; ratios are from one run on one machine, \
             absolute times are indicative only (the machine is shared).\n"
        );
        if !self.goals.is_empty() {
            let _ = writeln!(out, "## Goals\n");
            let mut t = Table::new(&[
                "goal", "stub", "measured", "target", "margin", "result", "note",
            ]);
            for g in &self.goals {
                let op = match g.direction {
                    Direction::AtMost => "≤",
                    Direction::AtLeast => "≥",
                };
                t.row(vec![
                    g.name.clone(),
                    g.bench.clone(),
                    format!("{} {}", fmt_num(g.measured), g.unit),
                    format!("{op} {} {}", fmt_num(g.target), g.unit),
                    g.margin(),
                    if g.pass() { "pass" } else { "**FAIL**" }.to_owned(),
                    g.note.clone(),
                ]);
            }
            out.push_str(&t.markdown());
            let passed = self.goals.iter().filter(|g| g.pass()).count();
            let _ = writeln!(out, "\n{passed} of {} goals met.\n", self.goals.len());
        }
        for s in &self.sections {
            let _ = writeln!(out, "## {}\n", s.title);
            if !s.intro.is_empty() {
                let _ = writeln!(out, "{}\n", s.intro);
            }
            out.push_str(&s.table.markdown());
            out.push('\n');
        }
        for n in &self.notes {
            out.push_str(n);
            if !n.ends_with('\n') {
                out.push('\n');
            }
            out.push('\n');
        }
        out
    }

    /// One JSON object per line: the machine, every measurement, every goal.
    pub fn json_lines(&self) -> String {
        let mut out = String::new();
        let load1 = self
            .machine
            .load
            .split_whitespace()
            .next()
            .and_then(|l| l.parse::<f64>().ok())
            .unwrap_or(f64::NAN);
        let machine = [
            ("nproc", self.machine.cpus as f64, "cpus"),
            ("load_average_1min", load1, "runnable"),
        ];
        for (metric, value, unit) in machine {
            let obj = json!({
                "bench": "machine",
                "system": format!("{} ({}, Linux {})", self.machine.cpu, self.machine.arch, self.machine.kernel),
                "metric": metric,
                "value": finite_or_null(value),
                "unit": unit,
            });
            let _ = writeln!(out, "{obj}");
        }
        for m in &self.measurements {
            let _ = writeln!(out, "{}", m.to_json());
        }
        for g in &self.goals {
            let _ = writeln!(out, "{}", g.to_json());
        }
        out
    }
}

/// A number with a sensible precision for a table.
pub fn fmt_num(v: f64) -> String {
    if !v.is_finite() {
        return "–".to_owned();
    }
    let a = v.abs();
    if a == 0.0 {
        "0".to_owned()
    } else if a >= 100_000.0 {
        group_thousands(v.round() as i64)
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// A duration in nanoseconds, as ns or µs.
pub fn fmt_ns(ns: f64) -> String {
    if !ns.is_finite() {
        "–".to_owned()
    } else if ns >= 10_000.0 {
        format!("{:.1} µs", ns / 1000.0)
    } else if ns >= 1000.0 {
        format!("{:.2} µs", ns / 1000.0)
    } else {
        format!("{ns:.0} ns")
    }
}

fn group_thousands(v: i64) -> String {
    let digits = v.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if v < 0 { format!("-{out}") } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn goal_margins() {
        let mut g = Goal {
            name: "x".into(),
            bench: "b".into(),
            measured: 2.0,
            target: 4.0,
            direction: Direction::AtMost,
            unit: "×".into(),
            note: String::new(),
        };
        assert!(g.pass());
        assert_eq!(g.margin(), "50% under");
        g.measured = 6.0;
        assert!(!g.pass());
        assert_eq!(g.margin(), "1.50× over");
        g.direction = Direction::AtLeast;
        assert!(g.pass());
        g.measured = f64::NAN;
        assert!(!g.pass());
    }

    #[test]
    fn json_line_has_the_five_fields() {
        let m = Measurement::new("fig1_alloc", "lil-text", "generate", 1234.5, "ns");
        let v = m.to_json();
        for key in ["bench", "system", "metric", "value", "unit"] {
            assert!(v.get(key).is_some(), "{key}");
        }
    }

    #[test]
    fn numbers_format() {
        assert_eq!(fmt_num(1_234_567.0), "1,234,567");
        assert_eq!(fmt_num(12.345), "12.3");
        assert_eq!(fmt_ns(1500.0), "1.50 µs");
        let mut t = Table::new(&["a", "b"]);
        t.row(vec!["1".into(), "2".into()]);
        assert_eq!(t.markdown(), "| a | b |\n| --- | ---: |\n| 1 | 2 |\n");
    }
}
