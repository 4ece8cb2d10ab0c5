//! Test peers: a throwaway OpenLDAP slapd on a free loopback port, a Samba AD DC on
//! 127.0.0.1:389/636 (root only; provisioned once per test binary), and direct LDAP helpers to
//! look at what the target wrote.

#![allow(dead_code, reason = "each test binary uses a part of the helpers")]
#![allow(clippy::unwrap_used, reason = "test helpers")]

use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, Scope, SearchEntry};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// A missing peer: fail under CI, skip (with a message) otherwise.
pub fn missing(what: &str) -> bool {
    if std::env::var_os("CI").is_some() {
        panic!("{what} is missing and CI is set: run scripts/install/ldap.sh");
    }
    eprintln!("SKIPPED: {what} is missing (scripts/install/ldap.sh installs it)");
    true
}

fn which(names: &[&str]) -> Option<PathBuf> {
    for name in names {
        let p = Path::new(name);
        if p.is_absolute() && p.exists() {
            return Some(p.to_path_buf());
        }
        if let Ok(paths) = std::env::var("PATH") {
            for dir in std::env::split_paths(&paths) {
                let c = dir.join(name);
                if c.exists() {
                    return Some(c);
                }
            }
        }
    }
    None
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn scratch(label: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "ldap-{label}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn wait_for_port(port: u16, child: &mut Child, log: &Path) {
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "the peer exited ({status}) before listening on {port}:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "the peer did not listen on {port}:\n{}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

/// A running slapd with `dc=example,dc=org`, `ou=people` and `ou=groups`.
#[derive(Debug)]
pub struct Slapd {
    child: Child,
    pub url: String,
    pub dir: PathBuf,
}

pub const BASE: &str = "dc=example,dc=org";
pub const ADMIN: &str = "cn=admin,dc=example,dc=org";
pub const PASSWORD: &str = "secret";

impl Slapd {
    /// Starts one; `None` when slapd is not installed (and CI is unset).
    pub async fn start() -> Option<Slapd> {
        let Some(slapd) = which(&["/usr/sbin/slapd", "slapd"]) else {
            missing("slapd");
            return None;
        };
        let schema = ["/etc/ldap/schema", "/etc/openldap/schema"]
            .into_iter()
            .map(PathBuf::from)
            .find(|d| d.join("core.schema").exists())
            .expect("slapd is installed but core.schema was not found");
        let modules = [
            "/usr/lib/ldap",
            "/usr/lib/x86_64-linux-gnu/ldap",
            "/usr/lib/openldap",
        ]
        .into_iter()
        .map(PathBuf::from)
        .find(|d| d.join("back_mdb.so").exists() || d.join("back_mdb.la").exists())
        .unwrap_or_else(|| PathBuf::from("/usr/lib/ldap"));
        let dir = scratch("slapd");
        std::fs::create_dir_all(dir.join("db")).unwrap();
        let port = free_port();
        let conf = format!(
            "include {s}/core.schema\ninclude {s}/cosine.schema\ninclude {s}/inetorgperson.schema\n\
             include {s}/nis.schema\npidfile {d}/slapd.pid\nargsfile {d}/slapd.args\n\
             modulepath {m}\nmoduleload back_mdb\nmoduleload memberof\nmoduleload refint\n\
             sizelimit unlimited\n\
             database mdb\nmaxsize 1073741824\nsuffix \"{BASE}\"\nrootdn \"{ADMIN}\"\nrootpw {PASSWORD}\n\
             directory {d}/db\nindex objectClass eq\nindex uid,mail,employeeNumber,member,entryUUID,manager eq\n\
             overlay memberof\noverlay refint\nrefint_attributes member manager\nrefint_nothing \"cn=nobody\"\n",
            s = schema.display(),
            m = modules.display(),
            d = dir.display()
        );
        std::fs::write(dir.join("slapd.conf"), conf).unwrap();
        let log = dir.join("slapd.log");
        let mut child = Command::new(slapd)
            .arg("-f")
            .arg(dir.join("slapd.conf"))
            .arg("-h")
            .arg(format!("ldap://127.0.0.1:{port}/"))
            .arg("-d")
            .arg("0")
            .stdout(Stdio::from(std::fs::File::create(&log).unwrap()))
            .stderr(Stdio::from(
                std::fs::File::create(dir.join("slapd.err")).unwrap(),
            ))
            .spawn()
            .unwrap();
        wait_for_port(port, &mut child, &dir.join("slapd.err")).await;
        let s = Slapd {
            child,
            url: format!("ldap://127.0.0.1:{port}"),
            dir,
        };
        let mut ldap = s.admin().await;
        add(
            &mut ldap,
            BASE,
            &[
                ("objectClass", &["top", "dcObject", "organization"]),
                ("dc", &["example"]),
                ("o", &["Example"]),
            ],
        )
        .await;
        for ou in ["people", "groups"] {
            add(
                &mut ldap,
                &format!("ou={ou},{BASE}"),
                &[
                    ("objectClass", &["top", "organizationalUnit"]),
                    ("ou", &[ou]),
                ],
            )
            .await;
        }
        Some(s)
    }

    /// A connection bound as the directory's admin.
    pub async fn admin(&self) -> Ldap {
        connect(&self.url, ADMIN, PASSWORD, false).await
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A bound connection.
pub async fn connect(url: &str, dn: &str, password: &str, start_tls: bool) -> Ldap {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let settings = LdapConnSettings::new()
        .set_starttls(start_tls)
        .set_no_tls_verify(true);
    let (conn, mut ldap) = LdapConnAsync::with_settings(settings, url).await.unwrap();
    ldap3::drive!(conn);
    ldap.simple_bind(dn, password)
        .await
        .unwrap()
        .success()
        .unwrap();
    ldap
}

/// Adds an entry (panics on failure).
pub async fn add(ldap: &mut Ldap, dn: &str, attrs: &[(&str, &[&str])]) {
    let attrs: Vec<(&str, HashSet<&str>)> = attrs
        .iter()
        .map(|(a, v)| (*a, v.iter().copied().collect()))
        .collect();
    ldap.add(dn, attrs)
        .await
        .unwrap()
        .success()
        .unwrap_or_else(|e| panic!("adding {dn}: {e}"));
}

/// Entries matching `filter` below `base`, with the given attributes.
pub async fn search(ldap: &mut Ldap, base: &str, filter: &str, attrs: &[&str]) -> Vec<SearchEntry> {
    let (entries, _) = ldap
        .search(base, Scope::Subtree, filter, attrs.to_vec())
        .await
        .unwrap()
        .success()
        .unwrap();
    entries
        .into_iter()
        .filter(|e| !e.is_ref())
        .map(SearchEntry::construct)
        .collect()
}

/// The single entry matching `filter`, or `None`.
pub async fn one(ldap: &mut Ldap, base: &str, filter: &str, attrs: &[&str]) -> Option<SearchEntry> {
    let mut found = search(ldap, base, filter, attrs).await;
    assert!(found.len() <= 1, "{filter}: {} entries", found.len());
    found.pop()
}

/// A case-insensitive attribute lookup on an entry.
pub fn attr<'e>(e: &'e SearchEntry, name: &str) -> Vec<&'e str> {
    e.attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.iter().map(String::as_str).collect())
        .unwrap_or_default()
}

const REALM: &str = "TEST.EXAMPLE.ORG";
pub const BASE_AD: &str = "DC=test,DC=example,DC=org";
pub const ADMIN_AD: &str = "Administrator@test.example.org";
pub const PASSWORD_AD: &str = "Passw0rd!Test";

pub struct Samba {
    child: Child,
    pub dir: PathBuf,
    /// Held while Samba runs: the ports are fixed, so Samba tests of every test binary take
    /// turns (`/tmp/psync-samba-ports.lock`).
    _turn: std::fs::File,
}

impl Drop for Samba {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Provisions and starts a Samba AD DC; `None` when samba is missing or we are not root.
pub async fn start_samba() -> Option<Samba> {
    let tool = ["/usr/bin/samba-tool"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists());
    let samba = ["/usr/sbin/samba"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists());
    let (Some(tool), Some(samba)) = (tool, samba) else {
        missing("samba (AD DC)");
        return None;
    };
    let uid = Command::new("id").arg("-u").output().unwrap();
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        missing("root (Samba AD needs ports 389/636)");
        return None;
    }
    let turn = std::fs::File::create(std::env::temp_dir().join("psync-samba-ports.lock")).unwrap();
    turn.lock().unwrap();
    if std::net::TcpStream::connect("127.0.0.1:389").is_ok() {
        panic!("something already listens on 127.0.0.1:389; stop it before the Samba tests");
    }
    let dir = std::env::temp_dir().join(format!("psync-samba-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("log")).unwrap();
    std::fs::create_dir_all(dir.join("run")).unwrap();
    let out = Command::new(tool)
        .args(["domain", "provision"])
        .arg(format!("--targetdir={}", dir.display()))
        .args([
            &format!("--realm={REALM}"),
            "--domain=TEST",
            "--server-role=dc",
            "--dns-backend=NONE",
            &format!("--adminpass={PASSWORD_AD}"),
            "--host-ip=127.0.0.1",
            "--use-rfc2307",
            "--option=interfaces=lo",
            "--option=bind interfaces only=yes",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "provision: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let conf = dir.join("etc/smb.conf");
    let body = std::fs::read_to_string(&conf).unwrap();
    let mut lines: Vec<String> = body
        .lines()
        .filter(|l| {
            let t = l.trim_start();
            !t.starts_with("server services =") && !t.starts_with("log file =")
        })
        .map(str::to_string)
        .collect();
    let at = lines.iter().position(|l| l.trim() == "[global]").unwrap();
    lines.insert(
        at + 1,
        format!("\tpid directory = {}", dir.join("run").display()),
    );
    lines.insert(at + 1, format!("\tlog file = {}/log/log.%m", dir.display()));
    lines.insert(at + 1, "\tldap server require strong auth = no".into());
    lines.insert(at + 1, "\tserver services = ldap".into());
    std::fs::write(&conf, lines.join("\n") + "\n").unwrap();
    let mut child = Command::new(samba)
        .args(["-i", "-M", "single", "-s"])
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::from(
            std::fs::File::create(dir.join("samba.err")).unwrap(),
        ))
        .spawn()
        .unwrap();
    for _ in 0..600 {
        if std::net::TcpStream::connect("127.0.0.1:636").is_ok() {
            // LDAPS answers once the DC is ready: bind until it works.
            let _ = rustls::crypto::ring::default_provider().install_default();
            let ok = async {
                let settings = ldap3::LdapConnSettings::new().set_no_tls_verify(true);
                let (conn, mut l) =
                    ldap3::LdapConnAsync::with_settings(settings, "ldaps://127.0.0.1:636")
                        .await
                        .ok()?;
                ldap3::drive!(conn);
                l.simple_bind(ADMIN_AD, PASSWORD_AD)
                    .await
                    .ok()?
                    .success()
                    .ok()
            }
            .await;
            if ok.is_some() {
                break;
            }
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "samba exited: {status}: {}",
                std::fs::read_to_string(dir.join("samba.err")).unwrap_or_default()
            );
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    Some(Samba {
        child,
        dir,
        _turn: turn,
    })
}
