//! Tests of `[tables.T.limits]`: its defaults, its check, and its conversion to a session's limits.

use super::*;

const MIB: usize = 1024 * 1024;

#[test]
fn an_empty_limits_table_gives_the_defaults() {
    let parsed: Limits = toml::from_str("").unwrap();
    for limits in [&parsed, &Limits::default()] {
        let got = (
            limits.call_timeout_secs,
            limits.fuel_per_call,
            limits.memory_mib,
            limits.output_mib_per_call,
        );
        assert_eq!((got, limits.log_lines), ((60, None, 1024, 512), 1000));
        assert_eq!(limits.check(), Ok(()));
    }
    let err = toml::from_str::<Limits>("memory = 5")
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown field `memory`"), "{err}");
}

#[test]
fn session_limits_convert_mebibytes_and_seconds() {
    let limits = Limits {
        call_timeout_secs: 7,
        fuel_per_call: Some(1000),
        memory_mib: 3,
        output_mib_per_call: 2,
        log_lines: 5,
    };
    let session = SessionLimits::from(&limits);
    assert_eq!(session.call_timeout, Duration::from_secs(7));
    assert_eq!(session.fuel_per_call, Some(1000));
    assert_eq!(
        (session.memory_bytes, session.output_bytes_per_call),
        (3 * MIB, 2 * MIB)
    );
    assert_eq!(session.log_lines, 5);
    // The seed is fixed, whatever the limits, so runs are reproducible.
    assert_eq!(session.random_seed, RANDOM_SEED);
    assert_eq!(
        SessionLimits::from(&Limits::default()).random_seed,
        session.random_seed
    );
}

#[test]
fn default_session_limits_are_the_converted_default_limits() {
    let session = SessionLimits::default();
    assert_eq!(session.call_timeout, Duration::from_secs(60));
    assert_eq!(session.fuel_per_call, None);
    assert_eq!(
        (session.memory_bytes, session.output_bytes_per_call),
        (1024 * MIB, 512 * MIB)
    );
    assert_eq!(
        (session.log_lines, session.random_seed),
        (1000, RANDOM_SEED)
    );
    let converted = SessionLimits::from(&Limits::default());
    let fields = |s: &SessionLimits| {
        (
            s.call_timeout,
            s.fuel_per_call,
            s.memory_bytes,
            s.output_bytes_per_call,
            s.log_lines,
            s.random_seed,
        )
    };
    assert_eq!(fields(&session), fields(&converted));
}

#[test]
fn check_refuses_each_zero_limit_by_name() {
    type Zeroing = (&'static str, fn(&mut Limits));
    let zeroed: [Zeroing; 4] = [
        ("call_timeout_secs", |l: &mut Limits| {
            l.call_timeout_secs = 0
        }),
        ("memory_mib", |l: &mut Limits| l.memory_mib = 0),
        ("output_mib_per_call", |l: &mut Limits| {
            l.output_mib_per_call = 0
        }),
        ("fuel_per_call", |l: &mut Limits| l.fuel_per_call = Some(0)),
    ];
    for (name, zero) in zeroed {
        let mut limits = Limits::default();
        zero(&mut limits);
        assert_eq!(limits.check(), Err(format!("{name} must be at least 1")));
    }
    let smallest = Limits {
        call_timeout_secs: 1,
        fuel_per_call: Some(1),
        memory_mib: 1,
        output_mib_per_call: 1,
        log_lines: 1,
    };
    assert_eq!(smallest.check(), Ok(()));
}
