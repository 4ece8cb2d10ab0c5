//! Notifications on failed runs, quarantined targets and held plans: a generic webhook with
//! Slack-compatible JSON (`{"text": …}`) and plain SMTP e-mail; a dry mode sends nothing.

use crate::metrics::Metrics;
use secrecy::{ExposeSecret, SecretString};
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    /// A run failed or was aborted.
    Failure,
    /// A target failed fatally and the rest of its run was not attempted.
    Quarantine,
    /// A plan waits for approval.
    Held,
}

/// One notification.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Notice {
    /// What happened.
    pub kind: NoticeKind,
    /// The target.
    pub target: String,
    /// The run, when one was recorded.
    pub run: Option<i64>,
    /// A short text for people (no personal data).
    pub message: String,
}

impl Notice {
    /// The one-line text sent.
    pub fn text(&self) -> String {
        let what = match self.kind {
            NoticeKind::Failure => "sync failed",
            NoticeKind::Quarantine => "target quarantined",
            NoticeKind::Held => "plan held for approval",
        };
        let run = self.run.map(|r| format!(" (run {r})")).unwrap_or_default();
        format!(
            "personio-sync: {what} for target '{}'{run}: {}",
            self.target, self.message
        )
    }
}

/// SMTP settings (plain SMTP to a relay such as a local MTA or a sidecar; no TLS).
#[derive(Clone)]
pub struct SmtpSettings {
    /// Relay host.
    pub host: String,
    /// Relay port (usually 25 or 587).
    pub port: u16,
    /// Envelope and header sender.
    pub from: String,
    /// Recipients.
    pub to: Vec<String>,
    /// AUTH PLAIN user, when the relay asks for one.
    pub username: Option<String>,
    /// AUTH PLAIN password.
    pub password: Option<SecretString>,
}

impl fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("from", &self.from)
            .field("to", &self.to)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

/// Where notifications go.
#[derive(Clone, Default)]
pub struct NotifySettings {
    /// A URL that receives `POST {"text": …}` (Slack incoming webhook or compatible).
    pub webhook_url: Option<SecretString>,
    /// E-mail.
    pub smtp: Option<SmtpSettings>,
    /// Log what would be sent and send nothing.
    pub dry_run: bool,
    /// Which kinds are sent (empty: all).
    pub on: Vec<NoticeKind>,
}

impl fmt::Debug for NotifySettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NotifySettings")
            .field(
                "webhook_url",
                &self.webhook_url.as_ref().map(|_| "[redacted]"),
            )
            .field("smtp", &self.smtp)
            .field("dry_run", &self.dry_run)
            .field("on", &self.on)
            .finish()
    }
}

/// Sends notices in the background; remembers what a dry run would have sent.
#[derive(Debug, Clone)]
pub struct Notifier {
    settings: NotifySettings,
    http: reqwest::Client,
    dry: Arc<Mutex<Vec<Notice>>>,
    metrics: Arc<Metrics>,
}

/// Why a notification could not be sent.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The webhook did not accept it.
    #[error("notification webhook: {0}")]
    Webhook(String),
    /// The SMTP relay did not accept it.
    #[error("smtp: {0}")]
    Smtp(String),
}

impl Notifier {
    /// A notifier with these settings.
    pub fn new(settings: NotifySettings, metrics: Arc<Metrics>) -> Notifier {
        Notifier {
            settings,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
            dry: Arc::new(Mutex::new(Vec::new())),
            metrics,
        }
    }

    /// What a dry run did not send, oldest first.
    pub fn dry_sent(&self) -> Vec<Notice> {
        self.dry
            .lock()
            .map(|d| d.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    /// Sends (or, dry, records) a notice without waiting.
    pub fn notify(&self, notice: Notice) {
        if !self.settings.on.is_empty() && !self.settings.on.contains(&notice.kind) {
            return;
        }
        if self.settings.dry_run {
            tracing::info!(notice = %notice.text(), "Notification (dry run, not sent).");
            self.metrics.add(
                "psync_notifications_total",
                &[("channel", "dry"), ("result", "ok")],
                1,
            );
            match self.dry.lock() {
                Ok(mut d) => d.push(notice),
                Err(p) => p.into_inner().push(notice),
            }
            return;
        }
        let this = self.clone();
        tokio::spawn(async move {
            this.send_now(&notice).await;
        });
    }

    /// Sends a notice on every configured channel and waits; failures are logged and counted.
    pub async fn send_now(&self, notice: &Notice) {
        if self.settings.webhook_url.is_some() {
            let result = self.send_webhook(notice).await;
            self.count("webhook", &result);
        }
        if let Some(smtp) = &self.settings.smtp {
            let result = send_mail(smtp, notice).await;
            self.count("smtp", &result);
        }
    }

    fn count(&self, channel: &str, result: &Result<(), NotifyError>) {
        let outcome = if result.is_ok() { "ok" } else { "error" };
        if let Err(e) = result {
            tracing::warn!(channel, error = %e, "A notification could not be sent.");
        }
        self.metrics.add(
            "psync_notifications_total",
            &[("channel", channel), ("result", outcome)],
            1,
        );
    }

    async fn send_webhook(&self, notice: &Notice) -> Result<(), NotifyError> {
        let Some(url) = &self.settings.webhook_url else {
            return Ok(());
        };
        let body = serde_json::json!({
            "text": notice.text(),
            "kind": notice.kind,
            "target": notice.target,
            "run": notice.run,
        });
        let response = self
            .http
            .post(url.expose_secret())
            .json(&body)
            .send()
            .await
            .map_err(|e| NotifyError::Webhook(e.without_url().to_string()))?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(NotifyError::Webhook(format!("HTTP {}", response.status())))
        }
    }
}

fn base64(input: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(TABLE[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// One SMTP exchange: reads the reply (all lines) and checks its code class.
async fn reply(
    reader: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
    expect: char,
) -> Result<(), NotifyError> {
    loop {
        let mut line = String::new();
        let n = reader
            .read_line(&mut line)
            .await
            .map_err(|e| NotifyError::Smtp(e.to_string()))?;
        if n == 0 {
            return Err(NotifyError::Smtp("the relay closed the connection".into()));
        }
        if line.len() >= 4 && line.as_bytes()[3] == b'-' {
            continue;
        }
        return if line.starts_with(expect) {
            Ok(())
        } else {
            Err(NotifyError::Smtp(format!(
                "unexpected reply: {}",
                line.trim_end()
            )))
        };
    }
}

/// Sends one plain-text mail through the relay.
pub async fn send_mail(smtp: &SmtpSettings, notice: &Notice) -> Result<(), NotifyError> {
    let exchange = async {
        let stream = TcpStream::connect((smtp.host.as_str(), smtp.port))
            .await
            .map_err(|e| NotifyError::Smtp(format!("cannot connect: {e}")))?;
        let (read, mut write) = stream.into_split();
        let mut reader = BufReader::new(read);
        let io = |e: std::io::Error| NotifyError::Smtp(e.to_string());
        reply(&mut reader, '2').await?;
        write
            .write_all(b"EHLO personio-sync\r\n")
            .await
            .map_err(io)?;
        reply(&mut reader, '2').await?;
        if let (Some(user), Some(password)) = (&smtp.username, &smtp.password) {
            let token = base64(format!("\0{user}\0{}", password.expose_secret()).as_bytes());
            write
                .write_all(format!("AUTH PLAIN {token}\r\n").as_bytes())
                .await
                .map_err(io)?;
            reply(&mut reader, '2').await?;
        }
        write
            .write_all(format!("MAIL FROM:<{}>\r\n", smtp.from).as_bytes())
            .await
            .map_err(io)?;
        reply(&mut reader, '2').await?;
        for to in &smtp.to {
            write
                .write_all(format!("RCPT TO:<{to}>\r\n").as_bytes())
                .await
                .map_err(io)?;
            reply(&mut reader, '2').await?;
        }
        write.write_all(b"DATA\r\n").await.map_err(io)?;
        reply(&mut reader, '3').await?;
        let subject = match notice.kind {
            NoticeKind::Failure => "sync failed",
            NoticeKind::Quarantine => "target quarantined",
            NoticeKind::Held => "plan held for approval",
        };
        let mut body = String::new();
        for line in notice.text().lines() {
            if line.starts_with('.') {
                body.push('.');
            }
            body.push_str(line);
            body.push_str("\r\n");
        }
        let message = format!(
            "From: {from}\r\nTo: {to}\r\nSubject: personio-sync: {subject} ({target})\r\n\
             Content-Type: text/plain; charset=utf-8\r\n\r\n{body}.\r\n",
            from = smtp.from,
            to = smtp.to.join(", "),
            target = notice.target,
        );
        write.write_all(message.as_bytes()).await.map_err(io)?;
        reply(&mut reader, '2').await?;
        write.write_all(b"QUIT\r\n").await.map_err(io)?;
        Ok(())
    };
    tokio::time::timeout(Duration::from_secs(30), exchange)
        .await
        .map_err(|_| NotifyError::Smtp("the relay did not answer within 30 s".into()))?
}

#[cfg(test)]
mod tests {
    use super::base64;

    #[test]
    fn base64_matches_the_rfc_examples() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }
}
