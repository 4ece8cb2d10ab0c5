//! Notifications: Slack-compatible JSON to a webhook and plain SMTP, each to a loopback peer.
#![allow(clippy::unwrap_used, reason = "tests")]

use psync_server::metrics::Metrics;
use psync_server::notify::{Notice, NoticeKind, Notifier, NotifySettings, SmtpSettings};
use secrecy::SecretString;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

fn notice() -> Notice {
    Notice {
        kind: NoticeKind::Held,
        target: "files".into(),
        run: Some(7),
        message: "3 operation(s) wait for approval".into(),
    }
}

#[tokio::test]
async fn a_slack_compatible_webhook_receives_the_text() {
    let got: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
    let sink = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |axum::Json(v): axum::Json<serde_json::Value>| {
            let sink = sink.clone();
            async move {
                sink.lock().unwrap().push(v);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let metrics = Arc::new(Metrics::default());
    let notifier = Notifier::new(
        NotifySettings {
            webhook_url: Some(SecretString::from(format!("http://{addr}/hook"))),
            ..NotifySettings::default()
        },
        metrics.clone(),
    );
    notifier.send_now(&notice()).await;
    let got = got.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    let text = got[0]["text"].as_str().unwrap();
    assert!(
        text.contains("plan held for approval for target 'files' (run 7)"),
        "{text}"
    );
    assert_eq!(got[0]["kind"], "held");
    assert_eq!(
        metrics.counter(
            "psync_notifications_total",
            &[("channel", "webhook"), ("result", "ok")]
        ),
        1
    );
}

/// A minimal SMTP peer: answers every command, records the transcript.
async fn smtp_peer() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let log: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = log.clone();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read).lines();
        write.write_all(b"220 test ESMTP\r\n").await.unwrap();
        let mut in_data = false;
        while let Ok(Some(line)) = lines.next_line().await {
            sink.lock().unwrap().push(line.clone());
            let reply: &[u8] = if in_data {
                if line == "." {
                    in_data = false;
                    b"250 queued\r\n"
                } else {
                    continue;
                }
            } else if line.starts_with("EHLO") {
                b"250-test\r\n250 AUTH PLAIN\r\n"
            } else if line.starts_with("AUTH PLAIN") {
                b"235 ok\r\n"
            } else if line == "DATA" {
                in_data = true;
                b"354 go ahead\r\n"
            } else if line == "QUIT" {
                write.write_all(b"221 bye\r\n").await.unwrap();
                break;
            } else {
                b"250 ok\r\n"
            };
            write.write_all(reply).await.unwrap();
        }
    });
    (port, log)
}

#[tokio::test]
async fn an_email_goes_through_an_smtp_relay_and_a_dry_run_sends_nothing() {
    let (port, log) = smtp_peer().await;
    let smtp = SmtpSettings {
        host: "127.0.0.1".into(),
        port,
        from: "sync@example.com".into(),
        to: vec!["ops@example.com".into(), "hr-it@example.com".into()],
        username: Some("relay".into()),
        password: Some(SecretString::from("relay-pass")),
    };
    assert!(!format!("{smtp:?}").contains("relay-pass"));
    psync_server::notify::send_mail(&smtp, &notice())
        .await
        .unwrap();
    let log = log.lock().unwrap().clone();
    assert!(
        log.contains(&"MAIL FROM:<sync@example.com>".to_string()),
        "{log:?}"
    );
    assert!(log.contains(&"RCPT TO:<ops@example.com>".to_string()));
    assert!(log.contains(&"RCPT TO:<hr-it@example.com>".to_string()));
    assert!(
        log.iter()
            .any(|l| l.starts_with("Subject: personio-sync: plan held for approval (files)"))
    );
    assert!(log.iter().any(|l| l.starts_with("AUTH PLAIN ")));

    // Dry: recorded, not sent (the port is closed now: a send would fail and be counted).
    let metrics = Arc::new(Metrics::default());
    let dry = Notifier::new(
        NotifySettings {
            smtp: Some(smtp),
            dry_run: true,
            ..NotifySettings::default()
        },
        metrics.clone(),
    );
    dry.notify(notice());
    assert_eq!(dry.dry_sent(), vec![notice()]);
    assert_eq!(
        metrics.counter("psync_notifications_total", &[("channel", "smtp")]),
        0
    );

    // Kinds not asked for are not sent.
    let only_failures = Notifier::new(
        NotifySettings {
            dry_run: true,
            on: vec![NoticeKind::Failure],
            ..NotifySettings::default()
        },
        metrics,
    );
    only_failures.notify(notice());
    assert!(only_failures.dry_sent().is_empty());
}
