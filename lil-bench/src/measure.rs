//! Timing: medians of batched runs, with the systems compared interleaved.
//!
//! A measurement runs its closure `batch` times between two clock reads
//! (so the clock's own cost, ~20 ns, is spread over the batch) and records
//! the time per iteration; the result is the median over many such
//! batches. Systems that are compared with each other are measured
//! round-robin ([`Interleaved`]): one batch of each, then again, so that
//! load from other processes on a shared machine hits every system alike.
//! Ratios from one run are the numbers to trust; absolute times are
//! indicative only.
//!
//! Invariant: every closure is warmed up (run for at least
//! [`Config::warmup`]) before its first recorded batch, and its batch size
//! is calibrated so that one batch takes about [`Config::batch_target`].

use std::hint::black_box;
use std::time::{Duration, Instant};

/// How long and how often to measure.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// Time to run each closure before recording.
    pub warmup: Duration,
    /// Target duration of one batch.
    pub batch_target: Duration,
    /// Number of batches recorded per closure (the median is over these).
    pub rounds: usize,
}

impl Config {
    /// The settings of a full run: 101 batches of ~100 µs after 20 ms of
    /// warm-up per closure.
    pub fn full() -> Config {
        Config {
            warmup: Duration::from_millis(20),
            batch_target: Duration::from_micros(100),
            rounds: 101,
        }
    }

    /// A quick run (for tests and `--quick`): numbers are noisier.
    pub fn quick() -> Config {
        Config {
            warmup: Duration::from_millis(2),
            batch_target: Duration::from_micros(50),
            rounds: 11,
        }
    }
}

/// The summary of one measured closure: nanoseconds per iteration.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Timing {
    /// Median over the batches.
    pub median_ns: f64,
    /// Smallest batch.
    pub min_ns: f64,
    /// Iterations per batch.
    pub batch: usize,
}

/// A closure under measurement: `run(n)` performs `n` iterations and
/// returns the time they took (so a closure can exclude set-up and
/// clean-up from its batch).
pub type Runner<'a> = Box<dyn FnMut(usize) -> Duration + 'a>;

/// Wrap a per-iteration closure as a [`Runner`] that times the whole batch.
pub fn simple<'a, T>(mut f: impl FnMut() -> T + 'a) -> Runner<'a> {
    Box::new(move |n| {
        let start = Instant::now();
        for _ in 0..n {
            black_box(f());
        }
        start.elapsed()
    })
}

/// Several closures measured round-robin.
pub struct Interleaved<'a> {
    config: Config,
    entries: Vec<(Runner<'a>, usize, Vec<f64>)>,
}

impl<'a> Interleaved<'a> {
    /// An empty set.
    pub fn new(config: Config) -> Interleaved<'a> {
        Interleaved {
            config,
            entries: Vec::new(),
        }
    }

    /// Add a closure; returns its index in [`Interleaved::run`]'s result.
    pub fn add(&mut self, runner: Runner<'a>) -> usize {
        self.entries.push((runner, 1, Vec::new()));
        self.entries.len() - 1
    }

    /// Warm every closure up, calibrate its batch, then record
    /// [`Config::rounds`] batches of each, interleaved.
    pub fn run(mut self) -> Vec<Timing> {
        let config = self.config;
        for (runner, batch, _) in &mut self.entries {
            *batch = calibrate(runner, config);
        }
        for _ in 0..config.rounds {
            for (runner, batch, samples) in &mut self.entries {
                let elapsed = runner(*batch);
                samples.push(elapsed.as_nanos() as f64 / *batch as f64);
            }
        }
        self.entries
            .into_iter()
            .map(|(_, batch, samples)| summarize(samples, batch))
            .collect()
    }
}

/// Measure one closure alone.
pub fn measure(config: Config, runner: Runner<'_>) -> Timing {
    let mut set = Interleaved::new(config);
    set.add(runner);
    set.run().pop().unwrap_or(Timing {
        median_ns: f64::NAN,
        min_ns: f64::NAN,
        batch: 0,
    })
}

/// Run for the warm-up time, doubling the batch until one batch lasts
/// [`Config::batch_target`]; returns that batch size.
fn calibrate(runner: &mut Runner<'_>, config: Config) -> usize {
    let start = Instant::now();
    let mut batch = 1usize;
    loop {
        let elapsed = runner(batch);
        let warm = start.elapsed() >= config.warmup;
        if elapsed >= config.batch_target {
            if warm {
                return batch;
            }
        } else {
            batch = batch.saturating_mul(2);
        }
        if batch >= 1 << 24 {
            return batch;
        }
    }
}

fn summarize(mut samples: Vec<f64>, batch: usize) -> Timing {
    samples.sort_by(f64::total_cmp);
    Timing {
        median_ns: median_sorted(&samples),
        min_ns: samples.first().copied().unwrap_or(f64::NAN),
        batch,
    }
}

/// The median of sorted values (NaN for none).
pub fn median_sorted(sorted: &[f64]) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// The median of unsorted values.
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    median_sorted(&sorted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn interleaved_runs_every_closure_every_round() {
        let config = Config {
            warmup: Duration::ZERO,
            batch_target: Duration::from_micros(1),
            rounds: 5,
        };
        let mut set = Interleaved::new(config);
        let mut calls = [0usize; 2];
        let (a, b) = calls.split_at_mut(1);
        set.add(simple(|| a[0] += 1));
        set.add(simple(|| b[0] += 1));
        let timings = set.run();
        assert_eq!(timings.len(), 2);
        assert!(calls.iter().all(|&c| c >= 5));
        assert!(timings.iter().all(|t| t.batch >= 1));
    }
}
