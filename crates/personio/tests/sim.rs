//! Integration tests over real HTTP against the Personio simulator (`psync-personio-sim`).
#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a panic is a failed test with a message"
)]

use psync_model::Employee;
use psync_personio::{
    AccountConfig, ApiVersion, ErrorKind, Limits, PersonioClient, ReadOptions, ReadOutcome,
    whitelist_report,
};
use psync_personio_sim::{Credential, Faults, SimApi, SimConfig, SimHandle};
use std::time::{Duration, Instant};

async fn start(config: SimConfig) -> SimHandle {
    psync_personio_sim::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

fn fast(employees: usize) -> SimConfig {
    SimConfig {
        employees,
        rate_limits: false,
        ..SimConfig::default()
    }
}

fn account(base_url: String, api: ApiVersion, limits: Limits) -> AccountConfig {
    AccountConfig {
        name: "acme".into(),
        base_url,
        client_id: "sim-client".into(),
        client_secret: "sim-secret".to_string().into(),
        api,
        app_id: None,
        limits,
    }
}

fn client(sim: &SimHandle, api: ApiVersion, limits: Limits) -> PersonioClient {
    PersonioClient::new(account(sim.base_url(), api, limits)).unwrap()
}

fn sim_api(api: ApiVersion) -> SimApi {
    match api {
        ApiVersion::V1 => SimApi::V1,
        ApiVersion::V2 => SimApi::V2,
    }
}

/// Compares field by field; on mismatch prints the first differing employee clearly.
fn assert_same(got: &[Employee], want: &[Employee], context: &str) {
    for (g, w) in got.iter().zip(want) {
        if g != w {
            let g = serde_json::to_string_pretty(g).unwrap();
            let w = serde_json::to_string_pretty(w).unwrap();
            let diff: Vec<String> = g
                .lines()
                .zip(w.lines())
                .filter(|(a, b)| a != b)
                .take(10)
                .map(|(a, b)| format!("  got:  {a}\n  want: {b}"))
                .collect();
            panic!(
                "{context}: first differing employee\n{}\n--- got ---\n{g}\n--- want ---\n{w}",
                diff.join("\n")
            );
        }
    }
    assert_eq!(got.len(), want.len(), "{context}: employee count");
}

async fn read(client: &PersonioClient) -> ReadOutcome {
    client.read_all(&ReadOptions::default()).await.unwrap()
}

async fn full_read_matches(api: ApiVersion, n: usize) {
    let sim = start(fast(n)).await;
    let c = client(&sim, api, Limits::unthrottled());
    let outcome = read(&c).await;
    let want = sim.expected_employees(sim_api(api));
    assert!(outcome.complete, "{api:?} {n}: {:?}", outcome.warnings);
    assert!(outcome.skipped.is_empty(), "{:?}", outcome.skipped);
    assert_same(
        &outcome.employees,
        &want,
        &format!("{api:?} with {n} employees"),
    );
    println!("{api:?} {n}: {:?}", outcome.stats);
    if api == ApiVersion::V1 {
        assert_eq!(
            outcome.stats.requests,
            n.div_ceil(100).max(1) as u64 + 1,
            "{n}"
        );
    }
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn v1_full_reads_match_the_ground_truth() {
    for n in [1, 99, 100, 101] {
        full_read_matches(ApiVersion::V1, n).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn v1_full_read_of_10000() {
    full_read_matches(ApiVersion::V1, 10_000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn v2_full_reads_match_the_ground_truth() {
    for n in [1, 99, 100, 101] {
        full_read_matches(ApiVersion::V2, n).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn v2_full_read_of_10000() {
    full_read_matches(ApiVersion::V2, 10_000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn v1_10000_with_rate_limits_costs_101_requests_and_no_429() {
    let sim = start(SimConfig {
        employees: 10_000,
        latency: Duration::from_millis(50),
        ..SimConfig::default()
    })
    .await;
    let c = client(&sim, ApiVersion::V1, Limits::default());
    let started = Instant::now();
    let outcome = read(&c).await;
    let elapsed = started.elapsed();
    let counters = sim.counters();
    println!(
        "v1 10k, limits on, 50 ms latency: {} requests, {} throttled, {:?} elapsed (floor ≈ 5.73 s)",
        outcome.stats.requests, outcome.stats.throttled, elapsed
    );
    assert!(outcome.complete);
    assert_eq!(outcome.employees.len(), 10_000);
    assert_eq!(outcome.stats.requests, 101);
    assert_eq!(counters.requests, 101, "{:?}", counters.by_route);
    assert_eq!(counters.status_429, 0);
    assert_eq!(outcome.stats.throttled, 0);
    sim.shutdown().await;
}

async fn with_fault(
    api: ApiVersion,
    n: usize,
    faults: Faults,
    limits: Limits,
) -> (
    SimHandle,
    Result<ReadOutcome, psync_personio::PersonioError>,
) {
    let sim = start(fast(n)).await;
    sim.set_faults(faults);
    let c = client(&sim, api, limits);
    let result = c.read_all(&ReadOptions::default()).await;
    (sim, result)
}

fn small_pages() -> Limits {
    Limits {
        v1_page_size: 20,
        v2_page_size: 20,
        ..Limits::unthrottled()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn server_errors_are_retried_and_the_read_completes() {
    for api in [ApiVersion::V1, ApiVersion::V2] {
        let faults = Faults {
            error_rate: 0.2,
            ..Faults::default()
        };
        let (sim, result) = with_fault(api, 150, faults, small_pages()).await;
        let outcome = result.unwrap();
        assert!(outcome.complete);
        assert!(outcome.stats.retries > 0, "{api:?}: no retries");
        sim.set_faults(Faults::default());
        assert_same(
            &outcome.employees,
            &sim.expected_employees(sim_api(api)),
            "5xx",
        );
        sim.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_429_storm_is_waited_out_and_counted() {
    let faults = Faults {
        storm_429: 3,
        ..Faults::default()
    };
    let (sim, result) = with_fault(ApiVersion::V1, 120, faults, small_pages()).await;
    let outcome = result.unwrap();
    assert!(outcome.complete);
    assert!(outcome.stats.throttled >= 3, "{:?}", outcome.stats);
    assert_same(
        &outcome.employees,
        &sim.expected_employees(SimApi::V1),
        "429 storm",
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn expired_tokens_are_refreshed() {
    let sim = start(SimConfig {
        employees: 200,
        rate_limits: false,
        latency: Duration::from_millis(20),
        ..SimConfig::default()
    })
    .await;
    sim.set_faults(Faults {
        token_ttl: Some(Duration::from_millis(60)),
        ..Faults::default()
    });
    let c = client(
        &sim,
        ApiVersion::V1,
        Limits {
            v1_page_size: 10,
            v1_concurrency: 2,
            ..Limits::unthrottled()
        },
    );
    let outcome = read(&c).await;
    assert!(outcome.complete);
    assert!(outcome.stats.auth_requests >= 2, "{:?}", outcome.stats);
    sim.set_faults(Faults::default());
    assert_same(
        &outcome.employees,
        &sim.expected_employees(SimApi::V1),
        "token expiry",
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_record_shift_while_paging_gives_no_duplicates_and_no_gaps() {
    let faults = Faults {
        shift_during_paging: true,
        ..Faults::default()
    };
    let (sim, result) = with_fault(ApiVersion::V1, 95, faults, small_pages()).await;
    let outcome = result.unwrap();
    let mut ids: Vec<_> = outcome.employees.iter().map(|e| e.id.clone()).collect();
    ids.dedup();
    assert_eq!(ids.len(), outcome.employees.len(), "duplicates");
    if outcome.complete {
        sim.set_faults(Faults::default());
        assert_same(
            &outcome.employees,
            &sim.expected_employees(SimApi::V1),
            "shift",
        );
    } else {
        assert!(!outcome.warnings.is_empty());
    }
    println!(
        "shift: complete={} warnings={:?}",
        outcome.complete, outcome.warnings
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lying_metadata_still_gives_the_exact_set() {
    for faults in [
        Faults {
            drifting_total: true,
            ..Faults::default()
        },
        Faults {
            lying_total_pages: true,
            ..Faults::default()
        },
    ] {
        let (sim, result) = with_fault(ApiVersion::V1, 130, faults.clone(), small_pages()).await;
        let outcome = result.unwrap();
        assert!(outcome.complete, "{:?}", outcome.warnings);
        sim.set_faults(Faults::default());
        assert_same(
            &outcome.employees,
            &sim.expected_employees(SimApi::V1),
            "lying metadata",
        );
        sim.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_empty_list_is_a_complete_read_of_zero() {
    for api in [ApiVersion::V1, ApiVersion::V2] {
        let (sim, result) = with_fault(
            api,
            50,
            Faults {
                empty_list: true,
                ..Faults::default()
            },
            small_pages(),
        )
        .await;
        let outcome = result.unwrap();
        assert!(outcome.complete);
        assert!(outcome.employees.is_empty());
        sim.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_malformed_record_is_skipped_with_its_id() {
    for api in [ApiVersion::V1, ApiVersion::V2] {
        let sim = start(fast(60)).await;
        let victim = sim.expected_employees(sim_api(api))[7].id.to_string();
        sim.set_faults(Faults {
            malformed_record: Some(victim.clone()),
            ..Faults::default()
        });
        let outcome = read(&client(&sim, api, small_pages())).await;
        assert!(
            outcome
                .skipped
                .iter()
                .any(|s| s.id.as_deref() == Some(victim.as_str()) || s.id.as_deref() == Some("x")),
            "{api:?}: {:?}",
            outcome.skipped
        );
        assert_same(
            &outcome.employees,
            &sim.expected_employees(sim_api(api)),
            "malformed",
        );
        sim.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn broken_responses_are_clear_errors_naming_the_account() {
    let few_retries = Limits {
        max_retries: 1,
        ..small_pages()
    };
    let cases = [
        (
            Faults {
                html_errors: true,
                error_rate: 1.0,
                ..Faults::default()
            },
            ErrorKind::Server,
            "HTML",
        ),
        (
            Faults {
                invalid_json: true,
                ..Faults::default()
            },
            ErrorKind::InvalidResponse,
            "invalid JSON",
        ),
        (
            Faults {
                success_false: true,
                ..Faults::default()
            },
            ErrorKind::InvalidResponse,
            "reported failure",
        ),
    ];
    for (faults, kind, needle) in cases {
        let (sim, result) = with_fault(ApiVersion::V1, 30, faults, few_retries.clone()).await;
        let error = result.unwrap_err();
        let message = error.to_string();
        assert_eq!(error.kind(), kind, "{message}");
        assert!(
            message.contains("'acme'") && message.contains(needle),
            "{message}"
        );
        sim.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn wrong_credentials_say_what_to_check() {
    let sim = start(fast(5)).await;
    for api in [ApiVersion::V1, ApiVersion::V2] {
        let mut config = account(sim.base_url(), api, Limits::unthrottled());
        config.client_secret = "wrong".to_string().into();
        let error = PersonioClient::new(config)
            .unwrap()
            .read_all(&ReadOptions::default())
            .await
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Auth, "{error}");
        assert!(
            error
                .to_string()
                .contains("check client_id/client_secret of account 'acme'"),
            "{error}"
        );
        assert!(
            !error.to_string().contains("wrong"),
            "secret leaked: {error}"
        );
    }
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unreachable_host_is_named() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let c =
        PersonioClient::new(account(base.clone(), ApiVersion::V1, Limits::unthrottled())).unwrap();
    let error = c.read_all(&ReadOptions::default()).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unreachable, "{error}");
    assert!(error.to_string().contains(&base), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn whitelisting_diagnostics_name_the_missing_attributes() {
    let config = SimConfig {
        employees: 40,
        rate_limits: false,
        credentials: vec![Credential::with_whitelist(
            "wl",
            "wl-secret",
            &["first_name", "last_name", "email"],
        )],
        ..SimConfig::default()
    };
    let sim = start(config).await;
    let mut account = account(sim.base_url(), ApiVersion::V1, Limits::unthrottled());
    account.client_id = "wl".into();
    account.client_secret = "wl-secret".to_string().into();
    let c = PersonioClient::new(account).unwrap();
    let outcome = read(&c).await;
    assert_eq!(outcome.employees.len(), 40);
    let missing = whitelist_report(
        &["first_name", "email", "department", "hire_date"],
        &outcome,
    );
    let names: Vec<&str> = missing.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, vec!["department", "hire_date"]);
    assert!(missing[0].hint.contains("API credentials"));
    let attributes = c.available_attributes().await.unwrap();
    assert!(attributes.iter().any(|a| a.key == "email"));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn read_one_finds_and_misses() {
    for api in [ApiVersion::V1, ApiVersion::V2] {
        let sim = start(fast(12)).await;
        let want = sim.expected_employees(sim_api(api));
        let c = client(&sim, api, Limits::unthrottled());
        let got = c.read_one(&want[3].id).await.unwrap();
        assert_eq!(got.as_ref(), Some(&want[3]), "{api:?}");
        let none = c
            .read_one(&psync_model::EmployeeId::new("999999999"))
            .await
            .unwrap();
        assert_eq!(none, None);
        sim.shutdown().await;
    }
}
