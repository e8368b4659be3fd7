//! Textbook histories, by hand, and the canary: a store that loses acknowledged writes in a
//! crash must be caught, with an explanation a reader can follow.

use check::edn::read_edn;
use check::history::{History, Value};
use check::{
    check, explain, CasRegister, CheckOptions, CheckResult, Counter, EtcdRegister, KeyValue, Model,
    Mutex, Verdict,
};

fn history(text: &str) -> History {
    read_edn(text).expect("test history reads").0
}

fn run<M: Model>(text: &str, model: &M) -> CheckResult {
    check(&history(text), model, &CheckOptions::default()).expect("well-formed history")
}

fn register() -> CasRegister {
    CasRegister::strict(Value::Int(0))
}

#[test]
fn sequential_write_then_read_is_linearizable() {
    let result = run(
        "{:process 0 :type :invoke :f :write :value 1}
         {:process 0 :type :ok     :f :write :value 1}
         {:process 1 :type :invoke :f :read  :value nil}
         {:process 1 :type :ok     :f :read  :value 1}",
        &register(),
    );
    assert_eq!(result.verdict, Verdict::Linearizable);
    assert_eq!(result.witness.len(), 1);
    assert_eq!(result.witness[0].order, vec![0, 1]);
}

#[test]
fn rejects_stale_read_after_completed_write() {
    let result = run(
        "{:process 0 :type :invoke :f :write :value 1}
         {:process 0 :type :ok     :f :write :value 1}
         {:process 1 :type :invoke :f :read  :value nil}
         {:process 1 :type :ok     :f :read  :value 0}",
        &register(),
    );
    assert_eq!(result.verdict, Verdict::NotLinearizable);
    assert_eq!(result.stuck_entry(), Some(2));
    insta::assert_snapshot!(explain(&result));
}

#[test]
fn a_read_concurrent_with_a_write_may_see_either_value() {
    for seen in [0, 1] {
        let result = run(
            &format!(
                "{{:process 0 :type :invoke :f :write :value 1}}
                 {{:process 1 :type :invoke :f :read  :value nil}}
                 {{:process 1 :type :ok     :f :read  :value {seen}}}
                 {{:process 0 :type :ok     :f :write :value 1}}"
            ),
            &register(),
        );
        assert_eq!(result.verdict, Verdict::Linearizable, "read {seen}");
    }
}

#[test]
fn rejects_two_readers_that_disagree_on_the_order_of_writes() {
    // Both writes complete before both reads begin, so every reader must see the same last
    // write.
    let result = run(
        "{:process 0 :type :invoke :f :write :value 1}
         {:process 1 :type :invoke :f :write :value 2}
         {:process 0 :type :ok     :f :write :value 1}
         {:process 1 :type :ok     :f :write :value 2}
         {:process 2 :type :invoke :f :read  :value nil}
         {:process 2 :type :ok     :f :read  :value 2}
         {:process 3 :type :invoke :f :read  :value nil}
         {:process 3 :type :ok     :f :read  :value 1}",
        &register(),
    );
    assert_eq!(result.verdict, Verdict::NotLinearizable);
    assert_eq!(result.stuck_entry(), Some(6));
    insta::assert_snapshot!(explain(&result));
}

#[test]
fn an_indeterminate_write_may_take_effect_late_but_only_once() {
    let late = "{:process 0 :type :invoke :f :write :value 1}
                {:process 0 :type :info   :f :write :value 1}
                {:process 1 :type :invoke :f :read  :value nil}
                {:process 1 :type :ok     :f :read  :value 0}
                {:process 1 :type :invoke :f :read  :value nil}
                {:process 1 :type :ok     :f :read  :value 1}";
    assert_eq!(run(late, &register()).verdict, Verdict::Linearizable);
    let never = "{:process 0 :type :invoke :f :write :value 1}
                 {:process 0 :type :info   :f :write :value 1}
                 {:process 1 :type :invoke :f :read  :value nil}
                 {:process 1 :type :ok     :f :read  :value 0}";
    assert_eq!(run(never, &register()).verdict, Verdict::Linearizable);
    let undone = "{:process 0 :type :invoke :f :write :value 1}
                  {:process 1 :type :invoke :f :read  :value nil}
                  {:process 1 :type :ok     :f :read  :value 1}
                  {:process 1 :type :invoke :f :read  :value nil}
                  {:process 1 :type :ok     :f :read  :value 0}";
    // The write never completes: open to the end, it may happen once, not be undone.
    assert_eq!(run(undone, &register()).verdict, Verdict::NotLinearizable);
}

#[test]
fn a_failed_write_never_happened() {
    let result = run(
        "{:process 0 :type :invoke :f :write :value 1}
         {:process 0 :type :fail   :f :write :value 1}
         {:process 1 :type :invoke :f :read  :value nil}
         {:process 1 :type :ok     :f :read  :value 1}",
        &register(),
    );
    assert_eq!(result.verdict, Verdict::NotLinearizable);
    assert_eq!(result.checked_count, 1, "the failed write is dropped");
}

#[test]
fn cas_succeeds_only_from_its_expected_value() {
    let ok = "{:process 0 :type :invoke :f :cas :value [0 5]}
              {:process 0 :type :ok     :f :cas :value [0 5]}
              {:process 0 :type :invoke :f :read :value nil}
              {:process 0 :type :ok     :f :read :value 5}";
    assert_eq!(run(ok, &register()).verdict, Verdict::Linearizable);
    let wrong = ok.replace("[0 5]", "[1 5]");
    assert_eq!(run(&wrong, &register()).verdict, Verdict::NotLinearizable);
}

#[test]
fn knossos_cas_register_lets_a_nil_read_match_anything() {
    let text = "{:process 0 :type :invoke :f :write :value 3}
                {:process 0 :type :ok     :f :write :value 3}
                {:process 0 :type :invoke :f :read :value nil}
                {:process 0 :type :ok     :f :read :value nil}";
    assert_eq!(
        run(text, &CasRegister::new(Value::Nil)).verdict,
        Verdict::Linearizable
    );
    assert_eq!(
        run(text, &CasRegister::strict(Value::Nil)).verdict,
        Verdict::NotLinearizable
    );
    assert_eq!(run(text, &EtcdRegister).verdict, Verdict::NotLinearizable);
}

#[test]
fn etcd_model_reads_a_failed_cas_as_a_mismatch() {
    // The register holds 1 throughout; a cas from 1 that fails cannot be explained.
    let text = "{:process 0 :type :invoke :f :write :value 1}
                {:process 0 :type :ok     :f :write :value 1}
                {:process 1 :type :invoke :f :cas :value [1 2]}
                {:process 1 :type :fail   :f :cas :value [1 2]}";
    assert_eq!(run(text, &EtcdRegister).verdict, Verdict::NotLinearizable);
    assert_eq!(run(text, &register()).verdict, Verdict::Linearizable);
}

#[test]
fn nemesis_entries_are_kept_as_annotations_not_checked() {
    let result = run(
        "{:process 0 :type :invoke :f :write :value 1}
         {:process :nemesis :type :info :f :start :value nil}
         {:process 0 :type :ok :f :write :value 1}
         {:process :nemesis :type :info :f :stop :value nil}",
        &register(),
    );
    assert_eq!(result.verdict, Verdict::Linearizable);
    assert_eq!(result.annotations, vec![1, 3]);
    assert_eq!(result.operations.len(), 1);
}

#[test]
fn mutex_rejects_two_holders() {
    let text = "{:process 0 :type :invoke :f :acquire :value nil}
                {:process 0 :type :ok     :f :acquire :value nil}
                {:process 1 :type :invoke :f :acquire :value nil}
                {:process 1 :type :ok     :f :acquire :value nil}";
    assert_eq!(run(text, &Mutex).verdict, Verdict::NotLinearizable);
    let handed_over = "{:process 0 :type :invoke :f :acquire :value nil}
                       {:process 0 :type :ok     :f :acquire :value nil}
                       {:process 1 :type :invoke :f :acquire :value nil}
                       {:process 0 :type :invoke :f :release :value nil}
                       {:process 0 :type :ok     :f :release :value nil}
                       {:process 1 :type :ok     :f :acquire :value nil}";
    assert_eq!(run(handed_over, &Mutex).verdict, Verdict::Linearizable);
}

#[test]
fn counter_reads_must_add_up() {
    let text = |seen: i64| {
        format!(
            "{{:process 0 :type :invoke :f :add :value 1}}
             {{:process 1 :type :invoke :f :add :value 2}}
             {{:process 0 :type :ok     :f :add :value 1}}
             {{:process 1 :type :ok     :f :add :value 2}}
             {{:process 2 :type :invoke :f :read :value nil}}
             {{:process 2 :type :ok     :f :read :value {seen}}}"
        )
    };
    assert_eq!(run(&text(3), &Counter).verdict, Verdict::Linearizable);
    assert_eq!(run(&text(1), &Counter).verdict, Verdict::NotLinearizable);
}

#[test]
fn keys_are_independent_objects() {
    let text = r#"{:process 0 :type :invoke :f :put :key "a" :value "x"}
                  {:process 0 :type :ok     :f :put :key "a" :value "x"}
                  {:process 1 :type :invoke :f :append :key "b" :value "y"}
                  {:process 1 :type :ok     :f :append :key "b" :value "y"}
                  {:process 1 :type :invoke :f :get :key "b" :value nil}
                  {:process 1 :type :ok     :f :get :key "b" :value "x"}"#;
    let result = run(text, &KeyValue);
    assert_eq!(result.verdict, Verdict::NotLinearizable);
    assert_eq!(result.partition_count, 2);
    insta::assert_snapshot!(explain(&result));
}

#[test]
fn a_tiny_budget_gives_unknown_not_a_guess() {
    let text = "{:process 0 :type :invoke :f :write :value 1}
                {:process 1 :type :invoke :f :write :value 2}
                {:process 0 :type :ok     :f :write :value 1}
                {:process 1 :type :ok     :f :write :value 2}
                {:process 2 :type :invoke :f :read  :value nil}
                {:process 2 :type :ok     :f :read  :value 1}";
    let result = check(
        &history(text),
        &register(),
        &CheckOptions {
            budget: 1,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(result.verdict, Verdict::Unknown);
    assert_eq!(result.steps, 1);
    assert_eq!(result.unknown, vec![None]);
}

/// The canary: an unreplicated key-value store acknowledges writes, crashes without having
/// persisted them, restarts empty and answers reads with nil. Knossos's lenient reading of nil
/// would let this pass; the strict register (nil means nil) must not.
const CANARY: &str = r#"[
 {:process 0, :type :invoke, :f :write, :key "x", :value 1, :time 1000}
 {:process 0, :type :ok,     :f :write, :key "x", :value 1, :time 2000}
 {:process 1, :type :invoke, :f :write, :key "y", :value 7, :time 2500}
 {:process 1, :type :ok,     :f :write, :key "y", :value 7, :time 3000}
 {:process 0, :type :invoke, :f :cas,   :key "x", :value [1 2], :time 3500}
 {:process 0, :type :ok,     :f :cas,   :key "x", :value [1 2], :time 4000}
 {:process :nemesis, :type :info, :f :crash, :value "n1", :time 5000}
 {:process :nemesis, :type :info, :f :restart, :value "n1", :time 6000}
 {:process 1, :type :invoke, :f :read,  :key "y", :value nil, :time 7000}
 {:process 1, :type :ok,     :f :read,  :key "y", :value nil, :time 7500}
 {:process 0, :type :invoke, :f :read,  :key "x", :value nil, :time 8000}
 {:process 0, :type :ok,     :f :read,  :key "x", :value nil, :time 8500}
]"#;

#[test]
fn canary_lost_writes_after_crash_are_rejected() {
    let result = run(CANARY, &CasRegister::strict(Value::Nil));
    assert_eq!(result.verdict, Verdict::NotLinearizable);
    // Both keys lost their writes; the violation reported is the one that completes first:
    // the read of "y", which should have seen the acknowledged 7.
    assert_eq!(result.stuck_entry(), Some(8));
    assert_eq!(result.annotations, vec![6, 7]);
    insta::assert_snapshot!(explain(&result));
    assert_eq!(
        run(CANARY, &CasRegister::new(Value::Nil)).verdict,
        Verdict::Linearizable,
        "Knossos's cas-register reads nil as no information"
    );
}

#[test]
fn operations_the_model_cannot_read_are_errors_naming_the_entry() {
    let unknown = "{:process 0 :type :invoke :f :frobnicate :value 1}
                   {:process 0 :type :ok     :f :frobnicate :value 1}";
    let error = check(&history(unknown), &register(), &CheckOptions::default()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "entry 0: model `cas-register-strict`: unknown function `frobnicate` (expected read, write or cas)"
    );
    let bad_cas = "{:process 0 :type :invoke :f :cas :value 1}
                   {:process 0 :type :ok     :f :cas :value 1}";
    let error = check(&history(bad_cas), &register(), &CheckOptions::default()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "entry 0: model `cas-register-strict`: cas expects [from to], found 1"
    );
}
