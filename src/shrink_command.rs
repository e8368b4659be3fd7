//! `detsim shrink`: minimise a failing run to a small scenario that still fails the same way.
//!
//! Delta debugging (Zeller and Hildebrandt, "Simplifying and Isolating Failure-Inducing Input",
//! 2002) over the parts of a scenario a human has to read: the fault schedule, each fault's
//! duration, the run length, the clients and their rate. Every candidate is one ordinary run with
//! the artifact's seed; a change is kept only when the run still ends with the same verdict kind.
//! (A safety violation must also name the same property, and a liveness timeout must still have
//! client requests in its liveness window, or cutting the workload would "find" a liveness failure
//! that is only an absence of requests.) A kept change must also leave fewer client operations
//! than the original run had: faults hold clients back, so without that bound dropping faults
//! tends to buy a shorter schedule with a longer history, and a reader needs both short. The seed stays fixed, so every step, and the result, is deterministic; the search is bounded
//! by a number of runs (and optionally by wall time, which makes the result machine-dependent).
//!
//! Passes, repeated until a round changes nothing or the budget is spent:
//! 1. faults: drop all, then halves, quarters, ... down to single faults (ddmin's complements);
//! 2. run length: move the heal time earlier (shifting the liveness phase and later faults with
//!    it, so the liveness bound keeps its meaning), then cut the end of the run;
//! 3. each fault's duration, by bisection;
//! 4. the clients, then the request rate, by bisection.
//!
//! Then, with the faults 1-minimal, the client operations, by delta debugging over the list the
//! run keeps (`[workload] only_operations`): a skipped operation is still drawn, so no other
//! draw moves, and each kept one carries its invocation time, so it is invoked no earlier than
//! before — removing an operation moves none of the others, and the interleaving the failure
//! needs survives.
//!
//! Finally it tries rounding fault times, and the kept operations' times, to whole
//! milliseconds, so the file reads well.

use crate::artifact::Artifact;
use crate::campaign::invocations;
use crate::run_command::run_traced;
use crate::ExitStatus;
use clap::Args;
use sim::outcome::RunData;
use sim::scenario::{Arrivals, FaultSpec, NodeRef, OnlyOperation, Scenario};
use sim::time::SimDuration;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Arguments of `detsim shrink`.
#[derive(Args, Debug)]
pub struct ShrinkArgs {
    /// The artifact (`failures/seed-N.json` from `detsim fuzz`).
    pub artifact: PathBuf,
    /// The shrunk scenario (default: beside the artifact, `seed-N.shrunk.toml`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Most runs the search may spend.
    #[arg(long, default_value_t = 2000)]
    pub max_runs: u64,
    /// Also stop after this many seconds of wall time (the result then depends on the machine).
    #[arg(long)]
    pub max_seconds: Option<u64>,
}

/// Runs the command. Exit code 0 when the shrunk scenario is written, 8 when the artifact does
/// not fail the recorded way to begin with, 2 for a bad artifact or an unwritable output.
pub fn execute(args: &ShrinkArgs) -> ExitStatus {
    let input = match load_input(&args.artifact) {
        Ok(input) => input,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitStatus::InputError;
        }
    };
    let Some(target) = input.target else {
        eprintln!(
            "error: {}: `expect` names no failure to keep (it is {:?}); give a failure artifact \
             (`failures/seed-N.json`) or its `.toml`",
            args.artifact.display(),
            input.scenario.expect.as_deref().unwrap_or("absent")
        );
        return ExitStatus::InputError;
    };
    #[allow(clippy::disallowed_methods)] // An optional wall-time bound on the search, by request.
    let deadline = args
        .max_seconds
        .map(|seconds| Instant::now() + Duration::from_secs(seconds));
    let mut shrinker =
        match Shrinker::new(input.scenario, input.seed, target, args.max_runs, deadline) {
            Ok(shrinker) => shrinker,
            Err(error) => {
                eprintln!("error: {}: {error}", args.artifact.display());
                return ExitStatus::NotReproduced;
            }
        };
    // As `replay` does: the artifact must fail exactly as recorded before anything is cut.
    if let Some(recorded) = &input.recorded {
        if shrinker.last.fingerprint != recorded.fingerprint
            || shrinker.last.verdict != recorded.verdict
        {
            eprintln!(
                "error: {}: NOT reproduced: recorded fingerprint {} ({}), the run gives {} ({})",
                args.artifact.display(),
                recorded.fingerprint,
                recorded.verdict,
                shrinker.last.fingerprint,
                shrinker.last.verdict
            );
            return ExitStatus::NotReproduced;
        }
    }
    let before = Counts::of(&shrinker.current, &shrinker.last);
    shrinker.shrink();
    let after = Counts::of(&shrinker.current, &shrinker.last);
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| args.artifact.with_extension("shrunk.toml"));
    let text = shrunk_file_text(&shrinker, &args.artifact, &out);
    if let Err(error) = std::fs::write(&out, text) {
        eprintln!("error: cannot write {}: {error}", out.display());
        return ExitStatus::InputError;
    }
    println!(
        "shrunk seed {} ({target}) in {} runs{}",
        input.seed,
        shrinker.runs,
        if shrinker.exhausted() {
            " (budget spent)"
        } else {
            ""
        }
    );
    before.print_against(&after);
    println!("verdict: {}", shrinker.last.verdict);
    println!("fingerprint: {}", shrinker.last.fingerprint);
    println!("wrote {}", out.display());
    println!("reproduce: {} run {}", crate::program(), out.display());
    ExitStatus::Pass
}

/// What `shrink` starts from: an artifact (with the fingerprint and verdict it recorded), or a
/// plain scenario file such as the `failures/seed-N.toml` the fuzzer writes beside each
/// artifact (its `seed` and `expect` say which failure to keep).
pub(crate) struct Input {
    pub(crate) scenario: Scenario,
    pub(crate) seed: u64,
    target: Option<&'static str>,
    recorded: Option<Artifact>,
}

/// The verdict kinds a shrink can keep.
const FAILURE_KINDS: [&str; 5] = [
    "safety-violation",
    "liveness-timeout",
    "panic",
    "limit-reached",
    "unknown",
];

pub(crate) fn load_input(path: &Path) -> Result<Input, String> {
    if path.extension().is_some_and(|e| e == "toml") {
        let scenario = crate::load::load_scenario(path).map_err(|e| e.to_string())?;
        let seed = scenario.seed;
        let target = scenario
            .expect
            .as_deref()
            .and_then(|expect| FAILURE_KINDS.iter().copied().find(|k| *k == expect));
        // A swarm scenario is shrunk through its explicit schedule for this seed.
        let scenario = crate::registry::expanded_scenario(&scenario, seed)?;
        return Ok(Input {
            scenario,
            seed,
            target,
            recorded: None,
        });
    }
    let (artifact, scenario) = Artifact::load(path).map_err(|e| {
        let text = e.to_string();
        if text.contains("expected value at") || text.contains(":1:1:") {
            format!(
                "{text} (`shrink` takes a failure artifact, `failures/seed-N.json`, or a \
                 scenario file ending in `.toml`)"
            )
        } else {
            text
        }
    })?;
    let version = env!("CARGO_PKG_VERSION");
    if artifact.detsim_version != version {
        eprintln!(
            "warning: {}: recorded by detsim {}, shrinking with {version}; runs are exact only \
             within one version",
            path.display(),
            artifact.detsim_version
        );
    }
    Ok(Input {
        seed: artifact.seed,
        target: Some(artifact.verdict.kind()),
        scenario,
        recorded: Some(artifact),
    })
}

/// The sizes a shrink reports before and after.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Counts {
    /// Faults in the schedule.
    pub faults: usize,
    /// Client operations invoked.
    pub ops: u64,
    /// Clients.
    pub clients: u32,
    /// Run length.
    pub duration: SimDuration,
    /// Events applied.
    pub events: u64,
}

impl Counts {
    fn of(scenario: &Scenario, data: &RunData) -> Counts {
        Counts {
            faults: scenario.faults.len(),
            ops: invocations(data),
            clients: scenario.workload.clients,
            duration: scenario.run.duration,
            events: data.stats.events,
        }
    }

    fn print_against(&self, after: &Counts) {
        println!("faults: {} -> {}", self.faults, after.faults);
        println!("client operations: {} -> {}", self.ops, after.ops);
        println!("clients: {} -> {}", self.clients, after.clients);
        println!("duration: {} -> {}", self.duration, after.duration);
        println!("events: {} -> {}", self.events, after.events);
    }
}

/// The search state: the smallest failing scenario so far and its run.
struct Shrinker {
    current: Scenario,
    last: RunData,
    seed: u64,
    target: &'static str,
    runs: u64,
    runs_max: u64,
    deadline: Option<Instant>,
    /// Client operations of the original failing run: every kept change must stay below it.
    ops_original: u64,
}

/// Rounds of all passes at most; each round that changes nothing ends the search anyway.
const ROUNDS_MAX: usize = 8;

const MILLISECOND: u64 = 1_000_000;

impl Shrinker {
    /// Runs the scenario once to confirm it fails with `target`.
    fn new(
        scenario: Scenario,
        seed: u64,
        target: &'static str,
        runs_max: u64,
        deadline: Option<Instant>,
    ) -> Result<Shrinker, String> {
        let last = run_traced(&scenario, seed, None)?;
        if last.verdict.kind() != target {
            return Err(format!(
                "the recorded failure ({target}) does not occur: the run gives {}",
                last.verdict
            ));
        }
        Ok(Shrinker {
            current: scenario,
            ops_original: invocations(&last),
            last,
            seed,
            target,
            runs: 1,
            runs_max,
            deadline,
        })
    }

    fn exhausted(&self) -> bool {
        #[allow(clippy::disallowed_methods)] // The optional wall-time bound.
        let late = self.deadline.is_some_and(|d| Instant::now() >= d);
        self.runs >= self.runs_max || late
    }

    /// Runs `candidate`; keeps it when it still fails with the target verdict kind.
    fn attempt(&mut self, candidate: Scenario) -> bool {
        if self.exhausted() {
            return false;
        }
        // Through text, so that what is kept is exactly what the written file will say.
        let Ok(candidate) = Scenario::parse(&candidate.to_toml(), Path::new("candidate")) else {
            return false;
        };
        self.runs += 1;
        match run_traced(&candidate, self.seed, None) {
            Ok(data)
                if same_failure(&self.last, &data, &candidate)
                    && invocations(&data) < self.ops_original.max(1) =>
            {
                self.current = candidate;
                self.last = data;
                true
            }
            _ => false,
        }
    }

    fn shrink(&mut self) {
        self.cut_at_violation();
        for _ in 0..ROUNDS_MAX {
            let runs_before = self.runs;
            let size_before = self.size();
            self.remove_faults();
            self.reduce_workload();
            self.reduce_nodes();
            self.cut_at_violation();
            self.shorten_run();
            self.shorten_faults();
            if self.exhausted() || self.size() == size_before || self.runs == runs_before {
                break;
            }
        }
        self.remove_single_faults();
        // Operations last: fewer faults and a shorter run matter more than one request less,
        // and the operations a run needs depend on its faults.
        self.remove_operations();
        self.cut_at_violation();
        self.shorten_run();
        self.simplify_settings();
        self.round_fault_times();
        self.round_operation_times();
        self.remove_single_faults();
    }

    /// Ends the run shortly after the violation, where nothing later can matter: for an
    /// invariant, the event that broke it; for linearizability, the last completion among the
    /// stuck operation and the operations it conflicts with. The run then lasts one client
    /// timeout longer (clients stop invoking one timeout before the end, so every operation
    /// invoked up to the violation is still invoked), faults that start after the violation
    /// go, and a run that now ends before healing has no liveness phase. The candidate is run
    /// and checked again like any other.
    fn cut_at_violation(&mut self) {
        let Some(violation) = violation_time(&self.last) else {
            return;
        };
        let timeout = self.current.workload.timeout.as_nanos();
        let end = (violation + timeout + MILLISECOND).div_ceil(MILLISECOND) * MILLISECOND;
        let mut candidate = self.current.clone();
        let late = |fault: &FaultSpec| fault.at.as_nanos() >= violation;
        candidate.faults.retain(|fault| !late(fault));
        if end < candidate.run.duration.as_nanos() {
            candidate.run.duration = SimDuration::from_nanos(end);
            candidate.faults.retain(|fault| fault.at.as_nanos() < end);
        }
        if candidate
            .run
            .heal_at
            .is_some_and(|heal| heal >= candidate.run.duration)
        {
            candidate.run.heal_at = None;
        }
        if candidate.run.heal_at.is_none() {
            // A safety failure needs no liveness phase.
            candidate.run.liveness_bound = None;
        }
        if candidate.to_toml() == self.current.to_toml() {
            return;
        }
        let (before, dropped) = (
            self.current.run.duration,
            self.current.faults.len() - candidate.faults.len(),
        );
        if self.attempt(candidate) {
            let faults = match dropped {
                0 => String::new(),
                1 => " (1 later fault dropped)".to_string(),
                n => format!(" ({n} later faults dropped)"),
            };
            println!(
                "ended the run after the violation: {before} -> {}{faults}",
                self.current.run.duration
            );
            return;
        }
        // The shorter run changed the outcome; the faults after the violation still cannot
        // matter to it, unless their absence does.
        let mut candidate = self.current.clone();
        candidate.faults.retain(|fault| !late(fault));
        if candidate.faults.len() < self.current.faults.len() && self.attempt(candidate) {
            println!("dropped the faults that start after the violation");
        }
    }

    /// The operations the last run invoked, as `[client, n, at]` (see `[workload]
    /// only_operations`), in order of invocation. In a closed loop each carries its invocation
    /// time, so that a run keeping it invokes it no earlier than this one did.
    fn invoked_operations(&self) -> Vec<OnlyOperation> {
        let clients = u64::from(self.current.workload.clients.max(1));
        let only = self.current.workload.only_operations.as_ref();
        let timed = self.current.workload.arrivals == Arrivals::Closed;
        // With a list, a client's i-th invocation is its i-th listed operation.
        let listed: Vec<Vec<u64>> = (0..clients)
            .map(|client| {
                let mut listed: Vec<u64> = (only.into_iter().flatten())
                    .filter(|kept| kept.client == client)
                    .map(|kept| kept.n)
                    .collect();
                listed.sort_unstable();
                listed
            })
            .collect();
        let mut seen: Vec<usize> = vec![0; clients as usize];
        let mut invoked = Vec::new();
        for op in self.last.history.ops() {
            let sim::history::Process::Client(process) = op.process else {
                continue;
            };
            if op.kind != sim::history::OpType::Invoke {
                continue;
            }
            let client = process % clients;
            let count = &mut seen[client as usize];
            let n = match only {
                Some(_) => match listed[client as usize].get(*count) {
                    Some(n) => *n,
                    None => continue,
                },
                None => *count as u64,
            };
            *count += 1;
            let at = timed.then(|| SimDuration::from_nanos(op.time));
            invoked.push(OnlyOperation { client, n, at });
        }
        invoked
    }

    /// Delta debugging over the client operations: the run invokes only the operations kept
    /// (`[workload] only_operations`); the others are drawn and skipped, and each kept one is
    /// invoked no earlier than before, so removing an operation moves none of the others.
    /// Chunks of later operations are tried first: they are the likeliest not to matter.
    fn remove_operations(&mut self) {
        let invoked = self.invoked_operations();
        if invoked.len() <= 1 || self.exhausted() {
            return;
        }
        let set = |scenario: &mut Scenario, kept: &[OnlyOperation]| {
            let mut kept = kept.to_vec();
            kept.sort_unstable();
            scenario.workload.only_operations = Some(kept);
        };
        let mut current = invoked;
        let mut chunks = 2usize;
        let before = current.len();
        while !self.exhausted() && current.len() > 1 {
            let count = current.len();
            let chunks_now = chunks.min(count);
            let chunk_len = count.div_ceil(chunks_now);
            let mut removed = false;
            let starts: Vec<usize> = (0..count).step_by(chunk_len).collect();
            for &start in starts.iter().rev() {
                let end = (start + chunk_len).min(count);
                let mut kept = current.clone();
                kept.drain(start..end);
                let mut candidate = self.current.clone();
                set(&mut candidate, &kept);
                if self.attempt(candidate) {
                    current = self.invoked_operations();
                    removed = true;
                    break;
                }
            }
            if removed {
                chunks = (chunks_now - 1).max(2);
            } else if chunks_now >= count {
                break;
            } else {
                chunks = (chunks_now * 2).min(count);
            }
        }
        if current.len() < before {
            println!(
                "operations kept: {before} -> {} (listed in only_operations)",
                current.len()
            );
        }
    }

    /// Makes the fault list 1-minimal: no single remaining fault can be dropped.
    fn remove_single_faults(&mut self) {
        let mut index = 0;
        while index < self.current.faults.len() && !self.exhausted() {
            let mut candidate = self.current.clone();
            let dropped = candidate.faults.remove(index);
            if self.attempt(candidate) {
                println!("removed fault: {}", describe_fault(&dropped));
                index = 0;
            } else {
                index += 1;
            }
        }
    }

    /// Fewer nodes: the smallest cluster (from three up) that still fails. Faults, links and
    /// clocks of the nodes that go are dropped with them.
    fn reduce_nodes(&mut self) {
        let nodes = self.current.cluster.nodes;
        for fewer in 3..nodes {
            let mut candidate = self.current.clone();
            candidate.cluster.nodes = fewer;
            candidate
                .faults
                .retain(|fault| fault_nodes(fault).iter().all(|&n| n < fewer));
            candidate
                .network
                .links
                .retain(|l| l.from < fewer && l.to < fewer);
            candidate.clocks.nodes.retain(|c| c.node < fewer);
            if self.attempt(candidate) {
                println!("nodes: {nodes} -> {fewer}");
                return;
            }
        }
    }

    /// Settings that may not matter to the failure, each dropped if the failure stays without
    /// it: configured clocks, unsynced-write loss, network-wide loss, duplication and
    /// reordering, per-link overrides.
    fn simplify_settings(&mut self) {
        type Change = (&'static str, fn(&mut Scenario));
        let changes: [Change; 5] = [
            ("configured clocks", |s| {
                s.clocks.nodes.clear();
                s.clocks.clients.clear();
            }),
            ("loss of unsynced writes", |s| {
                s.storage.lose_unsynced = false
            }),
            ("network loss, duplication and reordering", |s| {
                s.network.loss = sim::rng::Ratio::ZERO;
                s.network.duplicate = sim::rng::Ratio::ZERO;
                s.network.reorder = sim::rng::Ratio::ZERO;
            }),
            ("per-link overrides", |s| s.network.links.clear()),
            ("the liveness bound", |s| {
                if s.run.heal_at.is_none() {
                    s.run.liveness_bound = None;
                }
            }),
        ];
        for (name, change) in changes {
            let mut candidate = self.current.clone();
            change(&mut candidate);
            if candidate.to_toml() != self.current.to_toml() && self.attempt(candidate) {
                println!("dropped {name}");
            }
        }
    }

    /// Rounds fault times to whole milliseconds, for a file a human reads: all faults at once,
    /// otherwise one at a time.
    fn round_fault_times(&mut self) {
        let round = |fault: &mut FaultSpec| {
            let at = fault.at.as_nanos();
            fault.at = SimDuration::from_nanos((at + MILLISECOND / 2) / MILLISECOND * MILLISECOND);
            if let Some(duration) = fault.duration {
                let rounded = duration.as_nanos().div_ceil(MILLISECOND).max(1) * MILLISECOND;
                fault.duration = Some(SimDuration::from_nanos(rounded));
            }
        };
        let mut candidate = self.current.clone();
        candidate.faults.iter_mut().for_each(round);
        if candidate.faults == self.current.faults {
            return;
        }
        if self.attempt(candidate) {
            println!("rounded fault times to whole milliseconds");
            return;
        }
        for index in 0..self.current.faults.len() {
            let mut candidate = self.current.clone();
            round(&mut candidate.faults[index]);
            if candidate.faults != self.current.faults && self.attempt(candidate) {
                println!(
                    "rounded to whole milliseconds: {}",
                    describe_fault(&self.current.faults[index])
                );
            }
        }
    }

    /// Rounds the invocation times of the kept operations (`[workload] only_operations`) to
    /// whole milliseconds, else to whole microseconds, for a file a human reads.
    fn round_operation_times(&mut self) {
        for (unit, name) in [
            (MILLISECOND, "milliseconds"),
            (MILLISECOND / 1000, "microseconds"),
        ] {
            let mut candidate = self.current.clone();
            let Some(only) = candidate.workload.only_operations.as_mut() else {
                return;
            };
            for kept in only.iter_mut() {
                // Up, so that a kept operation still comes no earlier than it did.
                kept.at = (kept.at)
                    .map(|at| SimDuration::from_nanos(at.as_nanos().div_ceil(unit) * unit));
            }
            if candidate.workload.only_operations == self.current.workload.only_operations {
                return;
            }
            if self.attempt(candidate) {
                println!("rounded the kept operations' times to whole {name}");
                return;
            }
        }
    }

    /// What the search makes smaller, for telling whether a round achieved anything.
    fn size(&self) -> (usize, u64, u64, u32, u32, u32, Option<toml::Value>) {
        let fault_time: u64 = self
            .current
            .faults
            .iter()
            .map(|f| f.duration.map_or(0, |d| d.as_nanos()))
            .sum();
        (
            self.current.faults.len(),
            self.current.run.duration.as_nanos(),
            fault_time,
            self.current.workload.clients,
            self.current.workload.rate,
            self.current.cluster.nodes,
            self.current.workload.options.get("keys").cloned(),
        )
    }

    /// ddmin over the fault list: try dropping everything, then chunks of shrinking size.
    fn remove_faults(&mut self) {
        if self.current.faults.is_empty() {
            return;
        }
        let mut candidate = self.current.clone();
        candidate.faults.clear();
        if self.attempt(candidate) {
            println!("removed all faults");
            return;
        }
        let mut chunks = 2usize;
        while !self.exhausted() && !self.current.faults.is_empty() {
            let count = self.current.faults.len();
            let chunks_now = chunks.min(count);
            let chunk_len = count.div_ceil(chunks_now);
            let mut removed = false;
            for start in (0..count).step_by(chunk_len) {
                let end = (start + chunk_len).min(count);
                let mut candidate = self.current.clone();
                let dropped: Vec<FaultSpec> = candidate.faults.drain(start..end).collect();
                if self.attempt(candidate) {
                    for fault in &dropped {
                        println!("removed fault: {}", describe_fault(fault));
                    }
                    removed = true;
                    break;
                }
            }
            if removed {
                chunks = (chunks_now - 1).max(2);
            } else if chunks_now >= count {
                break;
            } else {
                chunks = (chunks_now * 2).min(count);
            }
        }
    }

    /// Moves the heal time earlier, then cuts the end of the run.
    fn shorten_run(&mut self) {
        if let Some(heal) = self.current.run.heal_at {
            // The safety phase must still hold every fault that starts in it.
            let floor = self
                .current
                .faults
                .iter()
                .filter(|f| f.at < heal)
                .map(fault_end)
                .max()
                .unwrap_or(SimDuration::ZERO);
            let before = heal;
            let kept = self.bisect(floor.as_nanos(), heal.as_nanos(), |scenario, value| {
                let heal_now = scenario.run.heal_at.unwrap_or(heal);
                shift_heal(scenario, heal_now, SimDuration::from_nanos(value));
            });
            if kept < before.as_nanos() {
                println!(
                    "moved healing earlier: {before} -> {} (later faults and the end of the run \
                     moved with it)",
                    SimDuration::from_nanos(kept)
                );
            }
        }
        let run = &self.current.run;
        let mut floor = self
            .current
            .faults
            .iter()
            .map(fault_end)
            .max()
            .unwrap_or(SimDuration::ZERO);
        if let (Some(heal), Some(bound)) = (self.current.heal_time(), run.liveness_bound) {
            // Clients must still be invoking when the liveness phase begins (see
            // `sim::scenario::limits`).
            let invoking = heal + self.current.workload.timeout + SimDuration::from_nanos(1);
            floor = floor.max(heal + bound).max(invoking);
        } else if let Some(heal) = run.heal_at {
            floor = floor.max(heal);
        }
        let before = run.duration;
        let kept = self.bisect(
            floor.as_nanos().max(MILLISECOND),
            before.as_nanos(),
            |scenario, value| scenario.run.duration = SimDuration::from_nanos(value),
        );
        if kept < before.as_nanos() {
            println!(
                "shortened the run: {before} -> {}",
                SimDuration::from_nanos(kept)
            );
        }
    }

    /// Bisects each fault's duration towards one millisecond.
    fn shorten_faults(&mut self) {
        for index in 0..self.current.faults.len() {
            let Some(before) = self.current.faults[index].duration else {
                continue;
            };
            let kept = self.bisect(MILLISECOND, before.as_nanos(), |scenario, value| {
                scenario.faults[index].duration = Some(SimDuration::from_nanos(value));
            });
            if kept < before.as_nanos() {
                println!(
                    "shortened fault: {} -> for {}",
                    describe_fault(&FaultSpec {
                        duration: Some(before),
                        ..self.current.faults[index].clone()
                    }),
                    readable(SimDuration::from_nanos(kept))
                );
            }
        }
    }

    /// Fewer clients, then a lower rate: fewer client operations.
    fn reduce_workload(&mut self) {
        let clients = self.current.workload.clients;
        let kept = self.bisect(1, u64::from(clients), |scenario, value| {
            scenario.workload.clients = value as u32;
        });
        if kept < u64::from(clients) {
            println!("clients: {clients} -> {kept}");
        }
        let rate = self.current.workload.rate;
        let kept = self.bisect(1, u64::from(rate), |scenario, value| {
            scenario.workload.rate = value as u32;
        });
        if kept < u64::from(rate) {
            println!("rate: {rate} -> {kept} operations per second per client");
        }
        // Fewer keys, for workloads that have them (a candidate whose options the workload
        // rejects is never run).
        let keys = (self.current.workload.options.get("keys"))
            .and_then(toml::Value::as_integer)
            .unwrap_or(KEYS_DEFAULT);
        let kept = self.bisect(1, keys as u64, |scenario, value| {
            (scenario.workload.options).insert("keys".to_string(), (value as i64).into());
        });
        if kept < keys as u64 {
            println!("keys: {keys} -> {kept}");
        }
    }

    /// The smallest value in `floor..=current` found to keep the failure, by trying `floor` and
    /// then bisecting; `set` writes a value into a candidate. Values above a millisecond are
    /// rounded to whole milliseconds, and the search stops within a tenth of the value.
    fn bisect(&mut self, floor: u64, current: u64, set: impl Fn(&mut Scenario, u64)) -> u64 {
        // Whole milliseconds read better, and a millisecond more changes nothing that matters.
        let floor = if floor > MILLISECOND {
            floor.div_ceil(MILLISECOND) * MILLISECOND
        } else {
            floor
        };
        if floor >= current {
            return current;
        }
        let try_value = |shrinker: &mut Shrinker, value: u64| {
            let mut candidate = shrinker.current.clone();
            set(&mut candidate, value);
            shrinker.attempt(candidate)
        };
        if try_value(self, floor) {
            return floor;
        }
        // Invariant: `low` loses the failure, `high` keeps it.
        let (mut low, mut high) = (floor, current);
        while !self.exhausted() && high - low > (high / 10).max(1) {
            let mut middle = low + (high - low) / 2;
            if middle > MILLISECOND {
                middle = middle / MILLISECOND * MILLISECOND;
            }
            if middle <= low || middle >= high {
                break;
            }
            if try_value(self, middle) {
                high = middle;
            } else {
                low = middle;
            }
        }
        high
    }
}

/// Whether `candidate` (run of `scenario`) fails the way `original` did: the same verdict kind,
/// the same property for a safety violation, and for a liveness timeout at least one client
/// operation invoked inside the liveness window. Without that last condition, cutting the
/// workload "finds" a liveness failure that is only an absence of requests.
fn same_failure(original: &RunData, candidate: &RunData, scenario: &Scenario) -> bool {
    use sim::outcome::Verdict;
    match (&original.verdict, &candidate.verdict) {
        (
            Verdict::SafetyViolation { property, .. },
            Verdict::SafetyViolation {
                property: property_now,
                ..
            },
        ) => property == property_now,
        (Verdict::LivenessTimeout { .. }, Verdict::LivenessTimeout { .. }) => {
            let (Some(heal), Some(bound)) = (candidate.heal_time, scenario.run.liveness_bound)
            else {
                return false;
            };
            let window = heal.as_nanos()..heal.as_nanos().saturating_add(bound.as_nanos());
            candidate.history.ops().any(|op| {
                op.kind == sim::history::OpType::Invoke
                    && matches!(op.process, sim::history::Process::Client(_))
                    && window.contains(&op.time)
            })
        }
        (expected, found) => expected.kind() == found.kind(),
    }
}

/// The register and counter workloads' default number of keys.
const KEYS_DEFAULT: i64 = 3;

/// When the failure happened, in nanoseconds, for a safety violation: for linearizability, the
/// last completion among the stuck operation and the operations it conflicts with; for an
/// invariant, the event that broke it. `None` for other failures.
fn violation_time(data: &RunData) -> Option<u64> {
    let sim::outcome::Verdict::SafetyViolation { time, .. } = &data.verdict else {
        return None;
    };
    let Some(stuck) = data.stuck_operation else {
        return Some(time.0);
    };
    let spans = sim::conflict::spans(&data.history);
    let involved = std::iter::once(stuck).chain(data.conflicting_operations.iter().copied());
    involved
        .filter_map(|invoke| spans.iter().find(|s| s.invoke as u64 == invoke))
        .filter_map(|span| span.complete)
        .map(|complete| data.history.time(complete))
        .max()
        .or(Some(time.0))
}

/// The nodes a fault names explicitly.
fn fault_nodes(fault: &FaultSpec) -> Vec<u32> {
    let entry = sim::scenario::FaultEntry::from(fault);
    let mut nodes = Vec::new();
    for node in [entry.node, entry.from, entry.to].into_iter().flatten() {
        if let NodeRef::Id(n) = node {
            nodes.push(n);
        }
    }
    if let Some(trigger) = &fault.trigger {
        nodes.extend(trigger.node);
    }
    if let Some(groups) = &entry.groups {
        nodes.extend(groups.iter().flatten().copied());
    }
    nodes
}

/// When a fault stops mattering: its start plus its duration.
fn fault_end(fault: &FaultSpec) -> SimDuration {
    fault.at + fault.duration.unwrap_or(SimDuration::ZERO)
}

/// Moves healing from `heal` to `new_heal`, shifting the liveness phase with it: faults at or
/// after the old heal time and the end of the run move by the same amount.
fn shift_heal(scenario: &mut Scenario, heal: SimDuration, new_heal: SimDuration) {
    let shift = heal.as_nanos() - new_heal.as_nanos();
    scenario.run.heal_at = Some(new_heal);
    for fault in &mut scenario.faults {
        if fault.at >= heal {
            fault.at = SimDuration::from_nanos(fault.at.as_nanos() - shift);
        }
    }
    scenario.run.duration = SimDuration::from_nanos(scenario.run.duration.as_nanos() - shift);
}

/// `crash at 3s on node 0 for 500ms`.
pub fn describe_fault(spec: &FaultSpec) -> String {
    // The flat form names every field the way the scenario file does.
    let fault = &sim::scenario::FaultEntry::from(spec);
    let action = serde_json::to_value(fault.action)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{:?}", spec.fault.action()));
    let mut text = match &spec.trigger {
        Some(trigger) => format!(
            "{action} on moment {} #{}",
            trigger.moment, trigger.occurrence
        ),
        None => format!("{action} at {}", readable(spec.at)),
    };
    match fault.node {
        Some(NodeRef::Id(n)) => text.push_str(&format!(" on node {n}")),
        Some(NodeRef::Leader) => text.push_str(" on the leader"),
        Some(NodeRef::Random) => text.push_str(" on a random node"),
        None => {}
    }
    if let (Some(from), Some(to)) = (fault.from, fault.to) {
        text.push_str(&format!(" from node {from} to node {to}"));
    }
    if let Some(shape) = fault.shape {
        let shape = serde_json::to_value(shape)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        text.push_str(&format!(" ({shape})"));
    }
    if let Some(duration) = fault.duration {
        text.push_str(&format!(" for {}", readable(duration)));
    }
    text
}

/// A duration for a person: exact when it is whole milliseconds (`1500ms`), otherwise seconds to
/// the microsecond (`2.347993s`; the scenario file keeps the exact value).
fn readable(duration: SimDuration) -> String {
    let nanos = duration.as_nanos();
    if nanos.is_multiple_of(MILLISECOND) {
        duration.to_string()
    } else {
        format!(
            "{}.{:06}s",
            nanos / 1_000_000_000,
            nanos % 1_000_000_000 / 1_000
        )
    }
}

fn shrunk_file_text(shrinker: &Shrinker, artifact: &Path, out: &Path) -> String {
    let mut scenario = shrinker.current.clone();
    scenario.seed = shrinker.seed;
    scenario.expect = Some(shrinker.target.to_string());
    format!(
        "# Shrunk from {} (seed {}): still {}.\n# Reproduce: {} run {}\n{}",
        artifact.display(),
        shrinker.seed,
        shrinker.target,
        crate::program(),
        out.display(),
        scenario.to_toml()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario() -> Scenario {
        Scenario::parse(
            r#"
[protocol]
name = "unreplicated"
[cluster]
nodes = 3
[run]
duration = "6s"
heal_at = "4s"
liveness_bound = "1s"
[[faults]]
at = "1s"
action = "crash"
node = 0
for = "500ms"
[[faults]]
at = "4500ms"
action = "cut"
from = 1
to = 2
"#,
            Path::new("shrink.toml"),
        )
        .unwrap()
    }

    #[test]
    fn moving_heal_earlier_moves_the_liveness_phase_with_it() {
        let mut scenario = scenario();
        shift_heal(
            &mut scenario,
            SimDuration::from_secs(4),
            SimDuration::from_secs(2),
        );
        assert_eq!(scenario.run.heal_at, Some(SimDuration::from_secs(2)));
        assert_eq!(scenario.run.duration, SimDuration::from_secs(4));
        // The fault in the safety phase stays; the one after healing keeps its distance to it.
        assert_eq!(scenario.faults[0].at, SimDuration::from_secs(1));
        assert_eq!(scenario.faults[1].at, SimDuration::from_millis(2500));
        Scenario::parse(&scenario.to_toml(), Path::new("shifted.toml")).unwrap();
    }

    #[test]
    fn faults_are_described_in_scenario_words() {
        let scenario = scenario();
        assert_eq!(
            describe_fault(&scenario.faults[0]),
            "crash at 1s on node 0 for 500ms"
        );
        assert_eq!(
            describe_fault(&scenario.faults[1]),
            "cut at 4500ms from node 1 to node 2"
        );
        assert_eq!(
            readable(SimDuration::from_nanos(2_347_993_371)),
            "2.347993s"
        );
    }
}
