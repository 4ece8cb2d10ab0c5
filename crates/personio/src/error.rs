//! `PersonioError`: what went wrong talking to Personio, classified by [`ErrorKind`] and worded
//! for the operator (which account, which URL, what to do next).

use std::fmt;

/// What kind of failure, so callers can decide what to do without parsing messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// Credentials rejected or not allowed to read what was asked.
    Auth,
    /// The host could not be reached (DNS, connection refused, TLS, timeouts).
    Unreachable,
    /// Personio answered, but not with something usable (HTML, invalid JSON, `success:false`, 4xx).
    InvalidResponse,
    /// Still throttled (429) after every retry.
    RateLimited,
    /// Still failing with 5xx after every retry.
    Server,
    /// The requested record does not exist.
    NotFound,
    /// The configuration cannot work (bad URL, bad limits, wrong API version for the call).
    Config,
}

impl ErrorKind {
    /// A stable lower-case name for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Auth => "auth",
            ErrorKind::Unreachable => "unreachable",
            ErrorKind::InvalidResponse => "invalid_response",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::Server => "server",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Config => "config",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failure talking to one Personio account.
#[derive(Debug, thiserror::Error)]
pub enum PersonioError {
    /// Personio refused the credential.
    #[error(
        "Personio account '{account}': the credential was rejected ({status}: {message}); \
         check client_id/client_secret of account '{account}' and that the API credential is \
         active in Personio → Settings → API credentials"
    )]
    Auth {
        /// Account name.
        account: String,
        /// HTTP status.
        status: u16,
        /// Personio's own message.
        message: String,
    },
    /// The credential works but may not read this resource.
    #[error(
        "Personio account '{account}': access to {url} was denied ({status}: {message}); grant \
         the API credential of account '{account}' read access to employees in Personio → \
         Settings → API credentials"
    )]
    Forbidden {
        /// Account name.
        account: String,
        /// The URL asked for.
        url: String,
        /// HTTP status.
        status: u16,
        /// Personio's own message.
        message: String,
    },
    /// The host did not answer.
    #[error(
        "Personio account '{account}': cannot reach {url} ({reason}); check base_url of account \
         '{account}' and the network or proxy between here and Personio"
    )]
    Unreachable {
        /// Account name.
        account: String,
        /// The URL asked for.
        url: String,
        /// What the HTTP stack said.
        reason: String,
    },
    /// Personio answered with something that is not a usable API response.
    #[error(
        "Personio account '{account}': {url} answered {status} with {problem}; this is most \
         likely a Personio outage or a proxy in between; retry later and check base_url of \
         account '{account}'"
    )]
    InvalidResponse {
        /// Account name.
        account: String,
        /// The URL asked for.
        url: String,
        /// HTTP status.
        status: u16,
        /// What was wrong with the body.
        problem: String,
    },
    /// Personio answered 200 with `success: false`.
    #[error(
        "Personio account '{account}': {url} reported failure: \"{message}\" (code {code}); \
         check the API credential's rights of account '{account}' or retry later"
    )]
    Unsuccessful {
        /// Account name.
        account: String,
        /// The URL asked for.
        url: String,
        /// Personio's `error.code`.
        code: i64,
        /// Personio's `error.message`.
        message: String,
    },
    /// Personio refused the request itself (4xx other than auth, 404 and 429).
    #[error(
        "Personio account '{account}': {url} refused the request ({status}: {message}); check \
         the limits (page size) configured for account '{account}'"
    )]
    Rejected {
        /// Account name.
        account: String,
        /// The URL asked for.
        url: String,
        /// HTTP status.
        status: u16,
        /// Personio's own message.
        message: String,
    },
    /// 429 after every retry.
    #[error(
        "Personio account '{account}': still rate limited (429) on {url} after {attempts} \
         attempts; another client may share this credential; lower the rates in the limits of \
         account '{account}' or retry later"
    )]
    RateLimited {
        /// Account name.
        account: String,
        /// The URL asked for.
        url: String,
        /// Attempts made.
        attempts: u32,
    },
    /// 5xx after every retry.
    #[error(
        "Personio account '{account}': {url} kept failing with {status} after {attempts} \
         attempts ({message}); Personio seems to have an outage, retry later"
    )]
    Server {
        /// Account name.
        account: String,
        /// The URL asked for.
        url: String,
        /// Last HTTP status.
        status: u16,
        /// Attempts made.
        attempts: u32,
        /// What the body said.
        message: String,
    },
    /// The record does not exist.
    #[error("Personio account '{account}': {what} not found")]
    NotFound {
        /// Account name.
        account: String,
        /// What was asked for.
        what: String,
    },
    /// The configuration cannot work.
    #[error("Personio account '{account}': {message}")]
    Config {
        /// Account name.
        account: String,
        /// What to fix.
        message: String,
    },
}

impl PersonioError {
    /// The classification callers decide on.
    pub fn kind(&self) -> ErrorKind {
        match self {
            PersonioError::Auth { .. } | PersonioError::Forbidden { .. } => ErrorKind::Auth,
            PersonioError::Unreachable { .. } => ErrorKind::Unreachable,
            PersonioError::InvalidResponse { .. }
            | PersonioError::Unsuccessful { .. }
            | PersonioError::Rejected { .. } => ErrorKind::InvalidResponse,
            PersonioError::RateLimited { .. } => ErrorKind::RateLimited,
            PersonioError::Server { .. } => ErrorKind::Server,
            PersonioError::NotFound { .. } => ErrorKind::NotFound,
            PersonioError::Config { .. } => ErrorKind::Config,
        }
    }

    /// The account the error belongs to.
    pub fn account(&self) -> &str {
        match self {
            PersonioError::Auth { account, .. }
            | PersonioError::Forbidden { account, .. }
            | PersonioError::Unreachable { account, .. }
            | PersonioError::InvalidResponse { account, .. }
            | PersonioError::Unsuccessful { account, .. }
            | PersonioError::Rejected { account, .. }
            | PersonioError::RateLimited { account, .. }
            | PersonioError::Server { account, .. }
            | PersonioError::NotFound { account, .. }
            | PersonioError::Config { account, .. } => account,
        }
    }
}
