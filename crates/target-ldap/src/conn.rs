//! The connection: TLS settings, bind, one multiplexed connection reused across operations
//! (re-opened when it breaks), per-operation timeouts, an operation counter, and the mapping
//! of LDAP result codes onto [`TargetError`] kinds.

use crate::config::LdapConfig;
use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
use ldap3::{
    Ldap, LdapConnAsync, LdapConnSettings, LdapError, LdapResult, Mod, Scope, SearchEntry,
};
use psync_targets::TargetError;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::Mutex;

/// Entries per page of a paged search.
const PAGE_SIZE: i32 = 500;

/// LDAP result codes the target reacts to.
pub mod rc {
    /// Success.
    pub const SUCCESS: u32 = 0;
    /// No such attribute (removing a value that is not there).
    pub const NO_SUCH_ATTRIBUTE: u32 = 16;
    /// The value is already there.
    pub const ATTRIBUTE_OR_VALUE_EXISTS: u32 = 20;
    /// The entry (or its parent) does not exist.
    pub const NO_SUCH_OBJECT: u32 = 32;
    /// The entry would violate its object classes.
    pub const OBJECT_CLASS_VIOLATION: u32 = 65;
    /// An entry with that DN exists.
    pub const ENTRY_ALREADY_EXISTS: u32 = 68;
    /// Active Directory refuses (e.g. removing a member that is not one).
    pub const UNWILLING_TO_PERFORM: u32 = 53;
}

/// One entry as read: DN, text attributes by lower-case name, binary ones.
#[derive(Debug, Clone, Default)]
pub struct Entry {
    /// The DN as the server spells it.
    pub dn: String,
    /// Text values by lower-case attribute name.
    pub attrs: HashMap<String, Vec<String>>,
    /// Binary values (objectGUID) by lower-case attribute name.
    pub bin: HashMap<String, Vec<Vec<u8>>>,
}

impl Entry {
    fn from(se: SearchEntry) -> Self {
        Entry {
            dn: se.dn,
            attrs: se
                .attrs
                .into_iter()
                .map(|(k, v)| (k.to_lowercase(), v))
                .collect(),
            bin: se
                .bin_attrs
                .into_iter()
                .map(|(k, v)| (k.to_lowercase(), v))
                .collect(),
        }
    }

    /// The values of `attr` (case-insensitive), empty when absent.
    pub fn get(&self, attr: &str) -> &[String] {
        self.attrs
            .get(&attr.to_lowercase())
            .map_or(&[], Vec::as_slice)
    }

    /// The first value of `attr`.
    pub fn first(&self, attr: &str) -> Option<&str> {
        self.get(attr).first().map(String::as_str)
    }
}

/// A failed LDAP operation: the result code (0 for connection-level failures) and text.
#[derive(Debug, Clone)]
pub struct OpError {
    /// LDAP result code; `None`: the connection failed.
    pub rc: Option<u32>,
    /// The server's diagnostic text or the I/O error.
    pub text: String,
}

impl OpError {
    /// `true` when the code is `code`.
    pub fn is(&self, code: u32) -> bool {
        self.rc == Some(code)
    }

    /// The error as a [`TargetError`] for an operation on `what` (an entry's DN or a person).
    pub fn to_target(&self, what: &str, action: &str) -> TargetError {
        let detail = if self.text.trim().is_empty() {
            String::new()
        } else {
            format!(": {}", self.text.trim())
        };
        match self.rc {
            None => TargetError::transient(format!(
                "{action} {what}: the directory did not answer{detail}"
            )),
            Some(code) => {
                let name = rc_name(code);
                let message = format!("{action} {what}: {name} (LDAP {code}){detail}");
                match code {
                    // busy, unavailable, timeLimitExceeded, adminLimitExceeded, other, loopDetect
                    3 | 11 | 51 | 52 | 80 | 54 => TargetError::transient(message),
                    // invalidCredentials, insufficientAccessRights, inappropriateAuthentication,
                    // strongerAuthRequired, confidentialityRequired
                    49 | 50 | 48 | 8 | 13 => TargetError::fatal(format!(
                        "{message}; check bind_dn, the password and the service account's rights"
                    )),
                    rc::NO_SUCH_OBJECT => TargetError::rejected(format!(
                        "{message}; the OU or entry does not exist (create it, or set create_ous = true)"
                    )),
                    rc::ENTRY_ALREADY_EXISTS => TargetError::conflict(message),
                    _ => TargetError::rejected(message),
                }
            }
        }
    }
}

/// A readable name for common result codes.
pub fn rc_name(code: u32) -> &'static str {
    match code {
        8 => "stronger authentication required",
        13 => "confidentiality required",
        16 => "no such attribute",
        17 => "attribute type undefined in the schema",
        18 => "inappropriate matching",
        19 => "constraint violation",
        20 => "attribute or value exists",
        21 => "invalid attribute syntax",
        32 => "no such object",
        34 => "invalid DN syntax",
        49 => "invalid credentials",
        50 => "insufficient access rights",
        51 => "busy",
        52 => "unavailable",
        53 => "unwilling to perform",
        64 => "naming violation",
        65 => "object class violation",
        67 => "not allowed on RDN",
        68 => "entry already exists",
        69 => "object class modifications prohibited",
        _ => "refused",
    }
}

fn from_result(r: LdapResult) -> Result<LdapResult, OpError> {
    if r.rc == rc::SUCCESS {
        Ok(r)
    } else {
        Err(OpError {
            rc: Some(r.rc),
            text: r.text,
        })
    }
}

fn from_ldap(e: LdapError) -> OpError {
    match e {
        LdapError::LdapResult { result } => OpError {
            rc: Some(result.rc),
            text: result.text,
        },
        other => OpError {
            rc: None,
            text: other.to_string(),
        },
    }
}

/// Connection parameters taken from the configuration (the password read at connect time).
#[derive(Clone)]
pub struct Params {
    url: String,
    start_tls: bool,
    ca_file: Option<std::path::PathBuf>,
    insecure: bool,
    timeout: Duration,
    bind_dn: String,
    password: Option<String>,
    password_file: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for Params {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Params")
            .field("url", &self.url)
            .field("bind_dn", &self.bind_dn)
            .finish_non_exhaustive()
    }
}

impl Params {
    /// From the configuration.
    pub fn new(c: &LdapConfig) -> Self {
        Params {
            url: c.url.clone(),
            start_tls: c.start_tls,
            ca_file: c.ca_file.clone(),
            insecure: c.tls_insecure,
            timeout: Duration::from_secs(c.timeout_seconds.unwrap_or(30)),
            bind_dn: c.bind_dn.clone(),
            password: c.bind_password.clone(),
            password_file: c.bind_password_file.clone(),
        }
    }

    /// Whether the connection is encrypted.
    pub fn secure(&self) -> bool {
        self.start_tls || self.url.starts_with("ldaps://")
    }

    fn password(&self) -> Result<String, TargetError> {
        if let Some(path) = &self.password_file {
            return std::fs::read_to_string(path)
                .map(|s| s.trim_end_matches(['\r', '\n']).to_string())
                .map_err(|e| {
                    TargetError::fatal(format!(
                        "cannot read bind_password_file {}: {e}",
                        path.display()
                    ))
                });
        }
        let raw = self.password.clone().unwrap_or_default();
        expand_env(&raw)
    }

    fn tls_config(&self) -> Result<Option<Arc<rustls::ClientConfig>>, TargetError> {
        let Some(path) = &self.ca_file else {
            // ldap3 builds its own configuration (system roots, or no verification) with the
            // process-wide provider; make sure there is one.
            let _ = rustls::crypto::ring::default_provider().install_default();
            return Ok(None);
        };
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;
        let bad = |e: String| TargetError::fatal(format!("ca_file {}: {e}", path.display()));
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(path).map_err(|e| bad(e.to_string()))? {
            let cert = cert.map_err(|e| bad(e.to_string()))?;
            roots.add(cert).map_err(|e| bad(e.to_string()))?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| bad(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Some(Arc::new(config)))
    }
}

fn expand_env(raw: &str) -> Result<String, TargetError> {
    let mut out = String::new();
    let mut rest = raw;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err(TargetError::fatal(
                "bind_password has an unclosed '${': write ${NAME}",
            ));
        };
        let name = &after[..end];
        let value = std::env::var(name).map_err(|_| {
            TargetError::fatal(format!(
                "bind_password refers to ${{{name}}}, which is not set in the environment"
            ))
        })?;
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The shared connection of one target.
#[derive(Debug)]
pub struct Conn {
    params: Params,
    handle: Mutex<Option<Ldap>>,
    ops: AtomicU64,
}

impl Conn {
    /// Not connected yet (no I/O).
    pub fn new(params: Params) -> Self {
        Conn {
            params,
            handle: Mutex::new(None),
            ops: AtomicU64::new(0),
        }
    }

    /// Connection parameters.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// LDAP requests sent so far (binds included).
    pub fn operations(&self) -> u64 {
        self.ops.load(Ordering::Relaxed)
    }

    /// Opens and binds a new connection.
    async fn open(&self) -> Result<Ldap, TargetError> {
        let p = &self.params;
        let mut settings = LdapConnSettings::new()
            .set_conn_timeout(p.timeout)
            .set_starttls(p.start_tls)
            .set_no_tls_verify(p.insecure);
        if let Some(config) = p.tls_config()? {
            settings = settings.set_config(config);
        }
        let (conn, mut ldap) = LdapConnAsync::with_settings(settings, &p.url)
            .await
            .map_err(|e| {
                TargetError::fatal(format!(
                    "cannot connect to {}: {e}; check url, that the directory runs, and the TLS \
                     settings (ca_file, start_tls)",
                    p.url
                ))
            })?;
        ldap3::drive!(conn);
        let password = p.password()?;
        self.ops.fetch_add(1, Ordering::Relaxed);
        let result = ldap
            .with_timeout(p.timeout)
            .simple_bind(&p.bind_dn, &password)
            .await
            .map_err(from_ldap)
            .and_then(from_result);
        if let Err(e) = result {
            return Err(match e.rc {
                None => TargetError::fatal(format!(
                    "binding to {} as {}: no answer ({}); check url and the TLS settings",
                    p.url, p.bind_dn, e.text
                )),
                Some(code) => TargetError::fatal(format!(
                    "binding to {} as {} failed: {} (LDAP {code}){}; check bind_dn and its \
                     password (bind_password / bind_password_file), and that the account is enabled",
                    p.url,
                    p.bind_dn,
                    rc_name(code),
                    if e.text.trim().is_empty() {
                        String::new()
                    } else {
                        format!(": {}", e.text.trim())
                    }
                )),
            });
        }
        Ok(ldap)
    }

    /// A bound handle: the shared one, opened when needed.
    pub async fn handle(&self) -> Result<Ldap, TargetError> {
        let mut guard = self.handle.lock().await;
        if let Some(h) = guard.as_mut()
            && !h.is_closed()
        {
            return Ok(h.clone());
        }
        let h = self.open().await?;
        *guard = Some(h.clone());
        Ok(h)
    }

    /// Forgets the shared connection (after an I/O failure), so the next call reconnects.
    pub async fn reset(&self) {
        *self.handle.lock().await = None;
    }

    async fn run<T, F, Fut>(&self, f: F) -> Result<Result<T, OpError>, TargetError>
    where
        F: FnOnce(Ldap) -> Fut,
        Fut: std::future::Future<Output = Result<T, OpError>>,
    {
        let h = self.handle().await?;
        self.ops.fetch_add(1, Ordering::Relaxed);
        let out = f(h).await;
        if let Err(e) = &out
            && e.rc.is_none()
        {
            self.reset().await;
        }
        Ok(out)
    }

    /// A search; continuation references are skipped.
    pub async fn search(
        &self,
        base: &str,
        scope: Scope,
        filter: &str,
        attrs: &[&str],
    ) -> Result<Result<Vec<Entry>, OpError>, TargetError> {
        let timeout = self.params.timeout;
        let attrs: Vec<String> = attrs.iter().map(|s| (*s).to_string()).collect();
        self.run(|mut h| async move {
            // Paged (AD returns at most MaxPageSize = 1000 entries per page); references skipped.
            let adapters: Vec<Box<dyn Adapter<'_, String, Vec<String>>>> = vec![
                Box::new(EntriesOnly::new()),
                Box::new(PagedResults::new(PAGE_SIZE)),
            ];
            let mut stream = h
                .with_timeout(timeout)
                .streaming_search_with(adapters, base, scope, filter, attrs)
                .await
                .map_err(from_ldap)?;
            let mut entries = Vec::new();
            loop {
                match stream.next().await {
                    Ok(Some(e)) => entries.push(Entry::from(SearchEntry::construct(e))),
                    Ok(None) => break,
                    Err(e) => {
                        let e = from_ldap(e);
                        if e.is(rc::NO_SUCH_OBJECT) {
                            return Ok(Vec::new());
                        }
                        return Err(e);
                    }
                }
            }
            let res = stream.finish().await;
            // noSuchObject for the base: nothing there. 10 = referral: the entries are good.
            match res.rc {
                rc::SUCCESS | 10 => Ok(entries),
                rc::NO_SUCH_OBJECT => Ok(Vec::new()),
                code => Err(OpError {
                    rc: Some(code),
                    text: res.text,
                }),
            }
        })
        .await
    }

    /// Adds an entry.
    pub async fn add(
        &self,
        dn: &str,
        attrs: Vec<(Vec<u8>, HashSet<Vec<u8>>)>,
    ) -> Result<Result<(), OpError>, TargetError> {
        let timeout = self.params.timeout;
        self.run(|mut h| async move {
            h.with_timeout(timeout)
                .add(dn, attrs)
                .await
                .map_err(from_ldap)
                .and_then(from_result)
                .map(|_| ())
        })
        .await
    }

    /// Modifies an entry.
    pub async fn modify(
        &self,
        dn: &str,
        mods: Vec<Mod<Vec<u8>>>,
    ) -> Result<Result<(), OpError>, TargetError> {
        let timeout = self.params.timeout;
        self.run(|mut h| async move {
            h.with_timeout(timeout)
                .modify(dn, mods)
                .await
                .map_err(from_ldap)
                .and_then(from_result)
                .map(|_| ())
        })
        .await
    }

    /// Renames and/or moves an entry (the old RDN value is removed).
    pub async fn modify_dn(
        &self,
        dn: &str,
        rdn: &str,
        superior: Option<&str>,
    ) -> Result<Result<(), OpError>, TargetError> {
        let timeout = self.params.timeout;
        self.run(|mut h| async move {
            h.with_timeout(timeout)
                .modifydn(dn, rdn, true, superior)
                .await
                .map_err(from_ldap)
                .and_then(from_result)
                .map(|_| ())
        })
        .await
    }

    /// Deletes an entry.
    pub async fn delete(&self, dn: &str) -> Result<Result<(), OpError>, TargetError> {
        let timeout = self.params.timeout;
        self.run(|mut h| async move {
            h.with_timeout(timeout)
                .delete(dn)
                .await
                .map_err(from_ldap)
                .and_then(from_result)
                .map(|_| ())
        })
        .await
    }
}
