//! The planted bugs of the lock services: each breaks one rule, and a property must catch it.
//! The services' module essays say which property catches which.

/// A deliberate deviation from a lock service, enabled with `bug = "…"` in a scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Bug {
    /// The single server keeps its token counter only in memory: a restart issues old tokens
    /// again (caught by token monotonicity).
    TokenNotPersisted,
    /// The single server computes lease expiry on its wall clock: a jump forward ends a lease
    /// early and grants the lock again while its holder is inside its lease (caught by write
    /// safety, unfenced).
    LeaseOnWallClock,
    /// The Redlock client does not subtract the clock-drift allowance from the validity time
    /// (caught by write safety when clocks drift).
    NoDriftMargin,
    /// The Redlock client measures validity from the last answer instead of from the first
    /// request: the time spent acquiring is counted twice as valid (caught by write safety).
    ValidityFromReply,
    /// The Redlock client takes half the servers, rounded down, for a majority (caught by write
    /// safety).
    HalfIsMajority,
}

impl Bug {
    /// The single server's bugs.
    pub const SERVER: [Bug; 2] = [Bug::TokenNotPersisted, Bug::LeaseOnWallClock];
    /// The single server's bug names.
    pub const SERVER_NAMES: [&'static str; 2] = ["token-not-persisted", "lease-on-wall-clock"];
    /// Redlock's bugs.
    pub const REDLOCK: [Bug; 3] = [
        Bug::NoDriftMargin,
        Bug::ValidityFromReply,
        Bug::HalfIsMajority,
    ];
    /// Redlock's bug names.
    pub const REDLOCK_NAMES: [&'static str; 3] =
        ["no-drift-margin", "validity-from-reply", "half-is-majority"];

    /// The bug called `name`, if there is one.
    pub fn from_name(name: &str) -> Option<Bug> {
        let all = Bug::SERVER.iter().chain(Bug::REDLOCK.iter());
        let names = Bug::SERVER_NAMES.iter().chain(Bug::REDLOCK_NAMES.iter());
        all.zip(names)
            .find(|(_, known)| **known == name)
            .map(|(bug, _)| *bug)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_finds_its_bug() {
        for (bug, name) in Bug::SERVER.iter().zip(Bug::SERVER_NAMES) {
            assert_eq!(Bug::from_name(name), Some(*bug));
        }
        for (bug, name) in Bug::REDLOCK.iter().zip(Bug::REDLOCK_NAMES) {
            assert_eq!(Bug::from_name(name), Some(*bug));
        }
        assert_eq!(Bug::from_name("nope"), None);
    }
}
