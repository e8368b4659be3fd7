//! The bank workload: transfers between accounts, and reads of every balance at once.
//!
//! Accounts `0..accounts` each open with [`OPENING_BALANCE`], so the bank's total is fixed:
//! `accounts × OPENING_BALANCE`. A client either transfers or reads, by the weights of `mix`:
//!
//! - a **transfer** has one to `legs_max` legs, each moving `1..=amount_max` from one account to
//!   another, so its debits and credits sum to zero. It takes effect as a whole: if the net
//!   effect would leave any account negative, the whole transfer fails (a decided `fail`) and
//!   changes nothing. With several legs a transfer spans several accounts, and so, on a sharded
//!   bank, one to three (or more) shards;
//! - a **read** returns every balance, as a read-only transaction over the whole bank.
//!
//! With `contention = false`, client `c` only ever touches the accounts `a` with
//! `a mod clients = c`, so no two concurrent transfers share an account (this is how the
//! commit-rate experiment of two-phase commit removes lock conflicts). It needs at least two
//! accounts per client; a client with fewer only reads. With `transfers` set, transfers are
//! drawn from that fixed list instead (each a list of `[from, to, amount]` legs); a leg naming
//! an account outside `0..accounts` is a scenario error.
//!
//! The history is Jepsen's bank test: `:f :transfer` with the legs `[[from to amount] ...]` as
//! its value, `:f :read` with the number of accounts at invocation and the balances at `ok`.
//! Two checkers judge it, reported as separate properties so a user sees which one broke:
//!
//! - **`bank-total`** and **`bank-negative-balance`** (Jepsen's bank checker): every `ok` read
//!   has one balance per account, sums to the total, and has no negative balance;
//! - **`linearizability`** against [`BankModel`], the whole bank as one object: transfers apply
//!   their net effect atomically, and every `ok` read equals the state at its point. A
//!   transfer whose outcome is unknown may have happened at any point, or not at all.

use super::{linearizable, Entry, FieldError, HistoryCheck, Judgement, Setup, Workload, Written};
use crate::check::model::Model;
use crate::check::operation::{Completion as CheckCompletion, Operation as CheckOperation};
use crate::check::CheckOptions;
use crate::history::{Op, OpType, Value};
use crate::protocol::Key;
use crate::recorder::RecordedHistory;
use crate::rng::SimRng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What every account holds when the run begins.
pub const OPENING_BALANCE: i64 = 100;
/// Most accounts a bank may have (a read returns every balance, so reads grow with it).
pub const ACCOUNT_COUNT_MAX: u32 = 1_000;
/// Most legs one transfer may have.
pub const LEG_COUNT_MAX: u32 = 8;
/// Largest amount one leg may move.
pub const AMOUNT_MAX: u32 = 1_000_000;

/// One leg of a transfer: `amount` moves from `from` to `to`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Leg {
    /// The account debited.
    pub from: Key,
    /// The account credited.
    pub to: Key,
    /// How much moves (positive).
    pub amount: i64,
}

/// What a bank client asks.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Operation {
    /// Move money along every leg, atomically, or not at all.
    Transfer {
        /// The legs.
        legs: Vec<Leg>,
    },
    /// Read every balance: accounts `0..accounts`.
    Read {
        /// How many accounts the bank has.
        accounts: u32,
    },
}

impl Operation {
    /// The net change of each account a transfer touches, in account order (empty for a read).
    pub fn net_changes(&self) -> BTreeMap<Key, i64> {
        let mut net = BTreeMap::new();
        if let Operation::Transfer { legs } = self {
            for leg in legs {
                *net.entry(leg.from).or_insert(0) -= leg.amount;
                *net.entry(leg.to).or_insert(0) += leg.amount;
            }
        }
        net
    }
}

/// Relative weights of the operation kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mix {
    /// Weight of transfers.
    #[serde(default)]
    pub transfer: u32,
    /// Weight of whole-bank reads.
    #[serde(default)]
    pub read: u32,
}

impl Default for Mix {
    fn default() -> Self {
        Mix {
            transfer: 3,
            read: 1,
        }
    }
}

/// The bank workload's fields of `[workload]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// How many accounts.
    #[serde(default = "default_accounts")]
    pub accounts: u32,
    /// Relative weights of transfers and reads.
    #[serde(default)]
    pub mix: Mix,
    /// A transfer draws `1..=legs_max` legs.
    #[serde(default = "default_legs_max")]
    pub legs_max: u32,
    /// A leg draws its amount from `1..=amount_max`.
    #[serde(default = "default_amount_max")]
    pub amount_max: u32,
    /// Whether concurrent clients may touch the same accounts.
    #[serde(default = "default_contention")]
    pub contention: bool,
    /// A fixed list of transfers to draw from, each a list of `[from, to, amount]` legs.
    #[serde(default)]
    pub transfers: Vec<Vec<[i64; 3]>>,
}

fn default_accounts() -> u32 {
    8
}
fn default_legs_max() -> u32 {
    3
}
fn default_amount_max() -> u32 {
    5
}
fn default_contention() -> bool {
    true
}

impl Default for Options {
    fn default() -> Self {
        Options {
            accounts: default_accounts(),
            mix: Mix::default(),
            legs_max: default_legs_max(),
            amount_max: default_amount_max(),
            contention: default_contention(),
            transfers: Vec::new(),
        }
    }
}

impl Options {
    /// The bank's total: what every read must sum to.
    pub fn total(&self) -> i64 {
        i64::from(self.accounts) * OPENING_BALANCE
    }
}

/// Checks the fixed transfers: legs between distinct existing accounts, positive amounts.
fn check_transfers(options: &Options) -> Result<(), FieldError> {
    for (number, transfer) in options.transfers.iter().enumerate() {
        if transfer.is_empty() || transfer.len() > LEG_COUNT_MAX as usize {
            return Err(FieldError::new(
                "transfers",
                format!(
                    "transfer {number} has {} legs, not 1..={LEG_COUNT_MAX}",
                    transfer.len()
                ),
            ));
        }
        for (leg, [from, to, amount]) in transfer.iter().enumerate() {
            for account in [from, to] {
                if *account < 0 || *account >= i64::from(options.accounts) {
                    return Err(FieldError::new(
                        "transfers",
                        format!(
                            "transfer {number} leg {leg}: account {account} does not exist \
                             (accounts are 0..{})",
                            options.accounts
                        ),
                    ));
                }
            }
            if from == to {
                return Err(FieldError::new(
                    "transfers",
                    format!("transfer {number} leg {leg}: from and to are both {from}"),
                ));
            }
            if *amount < 1 || *amount > i64::from(AMOUNT_MAX) {
                return Err(FieldError::new(
                    "transfers",
                    format!(
                        "transfer {number} leg {leg}: amount {amount} is outside 1..={AMOUNT_MAX}"
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// One run's bank workload.
#[derive(Clone, Debug)]
pub struct Bank {
    options: Options,
    clients: u32,
}

impl Bank {
    /// The accounts client `client` may touch.
    fn pool(&self, client: u32) -> Vec<Key> {
        let accounts = u64::from(self.options.accounts);
        if self.options.contention {
            (0..accounts).collect()
        } else {
            let clients = u64::from(self.clients.max(1));
            (0..accounts)
                .filter(|account| account % clients == u64::from(client) % clients)
                .collect()
        }
    }

    fn draw_transfer(&self, client: u32, rng: &mut SimRng) -> Option<Operation> {
        if !self.options.transfers.is_empty() {
            let fixed = &self.options.transfers[rng.index(self.options.transfers.len())];
            let legs = fixed
                .iter()
                .map(|[from, to, amount]| Leg {
                    from: *from as Key,
                    to: *to as Key,
                    amount: *amount,
                })
                .collect();
            return Some(Operation::Transfer { legs });
        }
        let pool = self.pool(client);
        if pool.len() < 2 {
            return None;
        }
        let count = rng.between(1, u64::from(self.options.legs_max));
        let legs = (0..count)
            .map(|_| {
                let from = rng.index(pool.len());
                // A second account, distinct from the first.
                let to = (from + 1 + rng.index(pool.len() - 1)) % pool.len();
                Leg {
                    from: pool[from],
                    to: pool[to],
                    amount: rng.between(1, u64::from(self.options.amount_max)) as i64,
                }
            })
            .collect();
        Some(Operation::Transfer { legs })
    }
}

impl Workload for Bank {
    type Operation = Operation;
    type Output = Option<Vec<i64>>;
    type Options = Options;

    const KIND: &'static str = "bank";

    fn check_options(options: &Options) -> Result<(), FieldError> {
        if options.accounts < 2 || options.accounts > ACCOUNT_COUNT_MAX {
            return Err(FieldError::new(
                "accounts",
                format!("{} is outside 2..={ACCOUNT_COUNT_MAX}", options.accounts),
            ));
        }
        super::check_mix(&[options.mix.transfer, options.mix.read])?;
        if options.legs_max == 0 || options.legs_max > LEG_COUNT_MAX {
            return Err(FieldError::new(
                "legs_max",
                format!("{} is outside 1..={LEG_COUNT_MAX}", options.legs_max),
            ));
        }
        if options.amount_max == 0 || options.amount_max > AMOUNT_MAX {
            return Err(FieldError::new(
                "amount_max",
                format!("{} is outside 1..={AMOUNT_MAX}", options.amount_max),
            ));
        }
        check_transfers(options)
    }

    fn new(options: &Options, setup: Setup) -> Bank {
        Bank {
            options: options.clone(),
            clients: setup.clients,
        }
    }

    fn next_operation(&mut self, client: u32, rng: &mut SimRng) -> Operation {
        let mix = self.options.mix;
        let transfer = (rng.below(u64::from(mix.transfer + mix.read)) as u32) < mix.transfer;
        let read = Operation::Read {
            accounts: self.options.accounts,
        };
        if transfer {
            self.draw_transfer(client, rng).unwrap_or(read)
        } else {
            read
        }
    }

    fn write(operation: &Operation, output: Option<&Option<Vec<i64>>>) -> Entry {
        match operation {
            Operation::Transfer { legs } => Entry {
                function: "transfer",
                key: None,
                value: Written::Other(Box::new(legs_value(legs))),
            },
            Operation::Read { accounts } => Entry {
                function: "read",
                key: None,
                value: match output {
                    Some(Some(balances)) => Written::Other(Box::new(Value::List(
                        balances.iter().map(|b| Value::Int(*b)).collect(),
                    ))),
                    _ => Written::Int(i64::from(*accounts)),
                },
            },
        }
    }

    fn read(op: &Op) -> Result<(Operation, Option<Option<Vec<i64>>>), String> {
        let ok = op.kind == OpType::Ok;
        match (op.function.as_ref(), &op.value) {
            ("transfer", value) => Ok((
                Operation::Transfer {
                    legs: parse_legs(value)?,
                },
                ok.then_some(None),
            )),
            ("read", Value::Int(accounts)) if !ok => Ok((
                Operation::Read {
                    accounts: u32::try_from(*accounts).map_err(|e| e.to_string())?,
                },
                None,
            )),
            ("read", Value::List(_)) if ok => {
                let balances = parse_balances(&op.value)?;
                let accounts = u32::try_from(balances.len()).map_err(|e| e.to_string())?;
                Ok((Operation::Read { accounts }, Some(Some(balances))))
            }
            (function, value) => Err(format!("not a bank operation: {function} {value}")),
        }
    }

    fn check(
        &self,
        history: &RecordedHistory,
        options: &CheckOptions,
    ) -> Result<HistoryCheck, String> {
        if let Some(broken) = check_reads(history, self.options.accounts, self.options.total()) {
            return Ok(broken);
        }
        let model = BankModel {
            accounts: self.options.accounts,
        };
        let mut result = linearizable::judge(history, &model, options)?;
        result.explanation = format!(
            "bank: every ok read has {} balances summing to {}, none negative\n{}",
            self.options.accounts,
            self.options.total(),
            result.explanation
        );
        Ok(result)
    }
}

fn legs_value(legs: &[Leg]) -> Value {
    Value::List(
        legs.iter()
            .map(|leg| {
                Value::List(vec![
                    Value::Int(leg.from as i64),
                    Value::Int(leg.to as i64),
                    Value::Int(leg.amount),
                ])
            })
            .collect(),
    )
}

fn parse_legs(value: &Value) -> Result<Vec<Leg>, String> {
    let Value::List(items) = value else {
        return Err(format!(
            "a transfer expects [[from to amount] ...], found {value}"
        ));
    };
    items
        .iter()
        .map(|item| match item {
            Value::List(parts) => match parts.as_slice() {
                [Value::Int(from), Value::Int(to), Value::Int(amount)]
                    if *from >= 0 && *to >= 0 =>
                {
                    Ok(Leg {
                        from: *from as Key,
                        to: *to as Key,
                        amount: *amount,
                    })
                }
                _ => Err(format!("a leg expects [from to amount], found {item}")),
            },
            other => Err(format!("a leg expects [from to amount], found {other}")),
        })
        .collect()
}

fn parse_balances(value: &Value) -> Result<Vec<i64>, String> {
    match value {
        Value::List(items) => items
            .iter()
            .map(|item| match item {
                Value::Int(balance) => Ok(*balance),
                other => Err(format!("a balance expects an integer, found {other}")),
            })
            .collect(),
        other => Err(format!("a read expects a list of balances, found {other}")),
    }
}

/// Jepsen's bank checker: the first `ok` read with the wrong number of balances, the wrong
/// sum, or a negative balance.
fn check_reads(history: &RecordedHistory, accounts: u32, total: i64) -> Option<HistoryCheck> {
    for index in 0..history.len() {
        let op = history.op_for_check(index);
        if op.kind != OpType::Ok || op.function != "read" || !op.process.is_client() {
            continue;
        }
        let balances = match parse_balances(&op.value) {
            Ok(balances) => balances,
            Err(error) => {
                return Some(violation("bank-total", error, &op));
            }
        };
        let sum: i64 = balances.iter().sum();
        if balances.len() != accounts as usize || sum != total {
            let detail = format!(
                "read {index} saw {} balances summing to {sum}, not {accounts} summing to {total}: \
                 {balances:?}",
                balances.len()
            );
            return Some(violation("bank-total", detail, &op));
        }
        if let Some(account) = balances.iter().position(|b| *b < 0) {
            let detail = format!(
                "read {index} saw account {account} at {}: {balances:?}",
                balances[account]
            );
            return Some(violation("bank-negative-balance", detail, &op));
        }
    }
    None
}

fn violation(property: &str, detail: String, op: &Op) -> HistoryCheck {
    HistoryCheck {
        explanation: format!("{property}: {detail}\n"),
        judgement: Judgement::Violation {
            property: property.to_string(),
            detail,
            stuck_entry: Some(op.index),
            time: Some(op.time),
        },
    }
}

/// The whole bank as one object, for the linearizability checker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BankModel {
    /// How many accounts.
    pub accounts: u32,
}

/// A bank operation, prepared for [`BankModel`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BankOp {
    /// A transfer's net changes; `known` when it is known to have happened (`ok`).
    Transfer {
        /// Net change per account.
        net: Vec<(usize, i64)>,
        /// Whether it completed `ok` (an unknown one that would overdraw simply failed).
        known: bool,
    },
    /// A read that saw these balances (`None`: unknown result).
    Read(Option<Vec<i64>>),
}

impl Model for BankModel {
    type State = Vec<i64>;
    type Op = BankOp;

    fn name(&self) -> &str {
        "bank"
    }

    fn init(&self) -> Vec<i64> {
        vec![OPENING_BALANCE; self.accounts as usize]
    }

    fn prepare(&self, operation: &CheckOperation) -> Result<BankOp, String> {
        let known = operation.completion == CheckCompletion::Ok;
        match operation.function.as_ref() {
            "transfer" => {
                let transfer = Operation::Transfer {
                    legs: parse_legs(&operation.input)?,
                };
                let mut net = Vec::new();
                for (account, change) in transfer.net_changes() {
                    if account >= u64::from(self.accounts) {
                        return Err(format!("transfer names account {account}"));
                    }
                    net.push((account as usize, change));
                }
                Ok(BankOp::Transfer { net, known })
            }
            "read" => match (&operation.output, known) {
                (Some(output), true) => Ok(BankOp::Read(Some(parse_balances(output)?))),
                _ => Ok(BankOp::Read(None)),
            },
            other => Err(format!(
                "unknown function `{other}` (expected transfer or read)"
            )),
        }
    }

    fn step(&self, state: &Vec<i64>, op: &BankOp) -> Option<Vec<i64>> {
        match op {
            BankOp::Transfer { net, known } => {
                let mut next = state.clone();
                for (account, change) in net {
                    next[*account] = next[*account].checked_add(*change)?;
                }
                if next.iter().any(|balance| *balance < 0) {
                    // An overdraft fails as a whole: an ok transfer cannot have done this, an
                    // unknown one failed without effect.
                    return (!known).then(|| state.clone());
                }
                Some(next)
            }
            BankOp::Read(None) => Some(state.clone()),
            BankOp::Read(Some(seen)) => (seen == state).then(|| state.clone()),
        }
    }

    fn is_read_only(&self, op: &BankOp) -> bool {
        matches!(op, BankOp::Read(_))
    }

    fn partition_key(&self, _operation: &CheckOperation) -> Option<Value> {
        // The whole bank is one object: a transfer relates several accounts.
        None
    }

    fn describe_state(&self, state: &Vec<i64>) -> String {
        format!("{state:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Process;

    fn op(kind: OpType, entry: &Entry) -> Op {
        Op {
            index: 0,
            kind,
            process: Process::Client(1),
            function: entry.function.into(),
            key: entry.key.map(Value::Int),
            value: entry.value.to_value(),
            time: 0,
            error: None,
        }
    }

    #[test]
    fn operations_round_trip_through_the_history() {
        let transfer = Operation::Transfer {
            legs: vec![
                Leg {
                    from: 0,
                    to: 3,
                    amount: 4,
                },
                Leg {
                    from: 2,
                    to: 1,
                    amount: 1,
                },
            ],
        };
        let written = Bank::write(&transfer, Some(&None));
        assert_eq!(
            Bank::read(&op(OpType::Ok, &written)).unwrap(),
            (transfer, Some(None))
        );
        let read = Operation::Read { accounts: 2 };
        let written = Bank::write(&read, Some(&Some(vec![150, 50])));
        assert_eq!(
            Bank::read(&op(OpType::Ok, &written)).unwrap(),
            (read.clone(), Some(Some(vec![150, 50])))
        );
        let written = Bank::write(&read, None);
        assert_eq!(
            Bank::read(&op(OpType::Invoke, &written)).unwrap(),
            (read, None)
        );
    }

    #[test]
    fn transfers_sum_to_zero_and_stay_in_the_clients_accounts_without_contention() {
        let options = Options {
            accounts: 12,
            contention: false,
            ..Options::default()
        };
        let setup = Setup {
            clients: 3,
            reply_independent: false,
        };
        let mut bank = Bank::new(&options, setup);
        let mut rng = SimRng::new(4);
        let mut legs_seen = [false; 3];
        for _ in 0..500 {
            for client in 0..3 {
                let operation = bank.next_operation(client, &mut rng);
                if let Operation::Transfer { legs } = &operation {
                    legs_seen[legs.len() - 1] = true;
                    assert_eq!(operation.net_changes().values().sum::<i64>(), 0);
                    for leg in legs {
                        assert_ne!(leg.from, leg.to);
                        assert_eq!(leg.from % 3, u64::from(client));
                        assert_eq!(leg.to % 3, u64::from(client));
                        assert!((1..=5).contains(&leg.amount));
                    }
                }
            }
        }
        assert_eq!(legs_seen, [true; 3], "one to three legs are drawn");
    }

    #[test]
    fn a_fixed_transfer_naming_a_missing_account_is_rejected() {
        let options = Options {
            accounts: 4,
            transfers: vec![vec![[0, 1, 5]], vec![[2, 9, 1]]],
            ..Options::default()
        };
        let error = Bank::check_options(&options).unwrap_err();
        assert_eq!(error.field, "transfers");
        assert!(
            error.message.contains("account 9 does not exist"),
            "{error}"
        );
    }

    #[test]
    fn the_model_applies_transfers_whole_and_refuses_overdrafts() {
        let model = BankModel { accounts: 2 };
        let state = model.init();
        let move_all = BankOp::Transfer {
            net: vec![(0, -100), (1, 100)],
            known: true,
        };
        let after = model.step(&state, &move_all).unwrap();
        assert_eq!(after, vec![0, 200]);
        assert_eq!(
            model.step(&after, &move_all),
            None,
            "an ok overdraft is illegal"
        );
        let unknown = BankOp::Transfer {
            net: vec![(0, -100), (1, 100)],
            known: false,
        };
        assert_eq!(model.step(&after, &unknown), Some(after.clone()));
        assert!(model
            .step(&after, &BankOp::Read(Some(vec![0, 200])))
            .is_some());
        assert!(model
            .step(&after, &BankOp::Read(Some(vec![100, 100])))
            .is_none());
    }

    type Line = (OpType, u64, Operation, Option<Option<Vec<i64>>>);

    fn history(entries: &[Line]) -> RecordedHistory {
        let mut recorded = RecordedHistory::with_capacity(entries.len());
        for (time, (kind, process, operation, output)) in entries.iter().enumerate() {
            let entry = Bank::write(operation, output.as_ref());
            let mut op = op(*kind, &entry);
            op.process = Process::Client(*process);
            op.time = time as u64;
            recorded.push_op(op);
        }
        recorded
    }

    fn judge(entries: &[Line]) -> Judgement {
        let bank = Bank::new(
            &Options {
                accounts: 2,
                ..Options::default()
            },
            Setup {
                clients: 2,
                reply_independent: false,
            },
        );
        bank.check(&history(entries), &CheckOptions::default())
            .unwrap()
            .judgement
    }

    fn property(judgement: &Judgement) -> &str {
        match judgement {
            Judgement::Violation { property, .. } => property,
            Judgement::Valid => "valid",
            Judgement::Unknown { .. } => "unknown",
        }
    }

    #[test]
    fn the_checker_names_the_property_that_broke() {
        let transfer = Operation::Transfer {
            legs: vec![Leg {
                from: 0,
                to: 1,
                amount: 30,
            }],
        };
        let read = Operation::Read { accounts: 2 };
        let good = [
            (OpType::Invoke, 0, transfer.clone(), None),
            (OpType::Ok, 0, transfer.clone(), Some(None)),
            (OpType::Invoke, 1, read.clone(), None),
            (OpType::Ok, 1, read.clone(), Some(Some(vec![70, 130]))),
        ];
        assert_eq!(judge(&good), Judgement::Valid);
        let stale = [
            (OpType::Invoke, 0, transfer.clone(), None),
            (OpType::Ok, 0, transfer.clone(), Some(None)),
            (OpType::Invoke, 1, read.clone(), None),
            (OpType::Ok, 1, read.clone(), Some(Some(vec![100, 100]))),
        ];
        assert_eq!(property(&judge(&stale)), "linearizability");
        let lost = [
            (OpType::Invoke, 1, read.clone(), None),
            (OpType::Ok, 1, read.clone(), Some(Some(vec![70, 100]))),
        ];
        assert_eq!(property(&judge(&lost)), "bank-total");
        let negative = [
            (OpType::Invoke, 1, read.clone(), None),
            (OpType::Ok, 1, read, Some(Some(vec![-10, 210]))),
        ];
        assert_eq!(property(&judge(&negative)), "bank-negative-balance");
    }
}
