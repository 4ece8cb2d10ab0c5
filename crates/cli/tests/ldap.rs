//! End-to-end: the binary syncs the simulator's company into a real OpenLDAP slapd (started
//! here on a free loopback port), then lives through hires, moves, a manager change, a name
//! change, an e-mail change, a termination, a rehire and a deletion; the directory is read with
//! ldapsearch after every step.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] fns: a panic is a failed test"
)]

use psync_personio_sim::{EmployeeUpdate, HireSpec, MoveSpec, SimConfig, SimHandle};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

const BASE: &str = "dc=example,dc=org";
const ADMIN: &str = "cn=admin,dc=example,dc=org";

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn both(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    )
}

/// A missing peer: fail under CI, skip otherwise.
fn missing(what: &str) -> bool {
    if std::env::var_os("CI").is_some() {
        panic!("{what} is missing and CI is set: run scripts/install/ldap.sh");
    }
    eprintln!("SKIPPED: {what} is missing (scripts/install/ldap.sh installs it)");
    true
}

fn decode_b64(s: &str) -> Vec<u8> {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut buf, mut bits) = (0u32, 0);
    for c in s.bytes() {
        let Some(v) = A.iter().position(|&a| a == c) else {
            continue;
        };
        buf = (buf << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
        }
    }
    out
}

/// One entry of ldapsearch's LDIF: DN and attributes (lower-case names).
#[derive(Debug, Clone, Default)]
struct Entry {
    dn: String,
    attrs: BTreeMap<String, Vec<String>>,
}

impl Entry {
    fn get(&self, a: &str) -> Vec<String> {
        self.attrs
            .get(&a.to_lowercase())
            .cloned()
            .unwrap_or_default()
    }
    fn first(&self, a: &str) -> Option<String> {
        self.get(a).into_iter().next()
    }
}

fn parse_ldif(body: &str) -> Vec<Entry> {
    let mut lines: Vec<String> = Vec::new();
    for line in body.lines() {
        if let Some(rest) = line.strip_prefix(' ') {
            if let Some(last) = lines.last_mut() {
                last.push_str(rest);
            }
        } else {
            lines.push(line.to_string());
        }
    }
    let mut out = Vec::new();
    let mut cur: Option<Entry> = None;
    for line in lines {
        if line.trim().is_empty() {
            out.extend(cur.take());
            continue;
        }
        let (name, value) = if let Some((n, v)) = line.split_once(":: ") {
            (n.to_string(), text(&decode_b64(v)))
        } else if let Some((n, v)) = line.split_once(": ") {
            (n.to_string(), v.to_string())
        } else {
            continue;
        };
        if name == "dn" {
            out.extend(cur.take());
            cur = Some(Entry {
                dn: value,
                ..Entry::default()
            });
        } else if let Some(e) = cur.as_mut() {
            e.attrs.entry(name.to_lowercase()).or_default().push(value);
        }
    }
    out.extend(cur);
    out
}

struct Slapd {
    child: Child,
    url: String,
    dir: PathBuf,
}

impl Drop for Slapd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Slapd {
    fn start(dir: &Path) -> Option<Slapd> {
        let slapd = ["/usr/sbin/slapd"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.exists());
        let (Some(slapd), true) = (
            slapd,
            Command::new("ldapsearch").arg("-VV").output().is_ok(),
        ) else {
            missing("slapd or ldap-utils");
            return None;
        };
        let dir = dir.join("slapd");
        std::fs::create_dir_all(dir.join("db")).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let s = "/etc/ldap/schema";
        let conf = format!(
            "include {s}/core.schema\ninclude {s}/cosine.schema\ninclude {s}/inetorgperson.schema\n\
             include {s}/nis.schema\npidfile {d}/slapd.pid\nargsfile {d}/slapd.args\n\
             modulepath /usr/lib/ldap\nmoduleload back_mdb\nmoduleload memberof\nmoduleload refint\n\
             sizelimit unlimited\ndatabase mdb\nmaxsize 1073741824\nsuffix \"{BASE}\"\nrootdn \"{ADMIN}\"\n\
             rootpw secret\ndirectory {d}/db\nindex objectClass eq\n\
             index uid,mail,employeeNumber,member,entryUUID,manager eq\noverlay memberof\noverlay refint\n\
             refint_attributes member manager\nrefint_nothing \"cn=nobody\"\n",
            d = dir.display()
        );
        std::fs::write(dir.join("slapd.conf"), conf).unwrap();
        let child = Command::new(slapd)
            .arg("-f")
            .arg(dir.join("slapd.conf"))
            .args(["-h", &format!("ldap://127.0.0.1:{port}/"), "-d", "0"])
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::File::create(dir.join("slapd.err")).unwrap(),
            ))
            .spawn()
            .unwrap();
        let url = format!("ldap://127.0.0.1:{port}");
        let slapd = Slapd { child, url, dir };
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let ldif = format!(
            "dn: {BASE}\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example\n\n\
             dn: ou=people,{BASE}\nobjectClass: organizationalUnit\nou: people\n\n\
             dn: ou=groups,{BASE}\nobjectClass: organizationalUnit\nou: groups\n\n\
             dn: ou=leavers,{BASE}\nobjectClass: organizationalUnit\nou: leavers\n"
        );
        let file = slapd.dir.join("base.ldif");
        std::fs::write(&file, ldif).unwrap();
        let out = Command::new("ldapadd")
            .args(["-x", "-H", &slapd.url, "-D", ADMIN, "-w", "secret", "-f"])
            .arg(&file)
            .output()
            .unwrap();
        assert!(out.status.success(), "ldapadd: {}", both(&out));
        Some(slapd)
    }

    fn search(&self, base: &str, filter: &str) -> Vec<Entry> {
        let out = Command::new("ldapsearch")
            .args([
                "-x",
                "-LLL",
                "-o",
                "ldif-wrap=no",
                "-H",
                &self.url,
                "-D",
                ADMIN,
                "-w",
                "secret",
                "-b",
                base,
                filter,
                "*",
                "+",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success() || out.status.code() == Some(32),
            "ldapsearch: {}",
            both(&out)
        );
        parse_ldif(&text(&out.stdout))
    }

    fn person(&self, id: &str) -> Option<Entry> {
        let mut found = self.search(BASE, &format!("(employeeNumber={id})"));
        assert!(found.len() <= 1, "{id}: {found:?}");
        found.pop()
    }

    fn people(&self) -> Vec<Entry> {
        self.search(BASE, "(objectClass=inetOrgPerson)")
    }

    /// Group cns a DN is a member of.
    fn groups_of(&self, dn: &str) -> Vec<String> {
        let mut g: Vec<String> = self
            .search(&format!("ou=groups,{BASE}"), &format!("(member={dn})"))
            .into_iter()
            .filter_map(|e| e.first("cn"))
            .collect();
        g.sort();
        g
    }
}

fn parse_like<T: serde::de::DeserializeOwned>(_like: &T, text: &str) -> T {
    serde_json::from_value(serde_json::Value::String(text.to_string())).unwrap()
}

fn past_day() -> String {
    let sim_today = SimConfig::default().today;
    let real_days = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .div_euclid(86_400) as i64;
    let epoch = parse_like(&sim_today, "1970-01-01");
    let sim_days = i64::from(epoch.until(sim_today).unwrap().get_days());
    let mut day = sim_today.yesterday().unwrap();
    for _ in real_days..sim_days {
        day = day.yesterday().unwrap();
    }
    day.to_string()
}

/// A fresh scratch directory for one test.
fn scratch(label: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("{label}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The simulator with `employees` people and no rate limits, on loopback.
async fn simulator(employees: usize) -> SimHandle {
    psync_personio_sim::start(
        SimConfig {
            employees,
            rate_limits: false,
            ..SimConfig::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap()
}

struct World {
    sim: SimHandle,
    dir: PathBuf,
    config: PathBuf,
    slapd: Slapd,
}

impl World {
    fn write_config(&self, policy: &str) {
        let body = format!(
            "state = \"sqlite://{state}\"\n\n[[personio]]\nname = \"acme\"\nbase_url = \"{url}\"\n\
             client_id = \"sim-client\"\nclient_secret = \"sim-secret\"\napi = \"v1\"\nrate_limit = false\n\n\
             [[target]]\nname = \"dir\"\ntype = \"ldap\"\nsource = \"acme\"\nurl = \"{ldap}\"\n\
             flavor = \"openldap\"\nbind_dn = \"{ADMIN}\"\nbind_password = \"secret\"\nbase_dn = \"{BASE}\"\n\
             default_ou = \"ou=people,{BASE}\"\n\
             ou = \"{{% if office %}}ou={{{{ office | rdn }}}},ou=people,{BASE}{{% endif %}}\"\n\
             create_ous = true\ndisabled_ou = \"ou=leavers,{BASE}\"\nremove_groups_on_disable = true\n\
             groups_base = \"ou=groups,{BASE}\"\n\n\
             [target.policy]\nmax_deprovision = \"50\"\n{policy}\n\n\
             [target.mapping.groups]\nlevels = [\"department\"]\n",
            state = self.dir.join("state.sqlite").display(),
            url = self.sim.base_url(),
            ldap = self.slapd.url,
        );
        std::fs::write(&self.config, body).unwrap();
    }

    async fn sync(&self) -> String {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_personio-sync"));
        cmd.arg("sync").arg("--config").arg(&self.config);
        let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
            .await
            .unwrap();
        assert!(out.status.success(), "sync: {}", both(&out));
        text(&out.stdout)
    }
}

#[tokio::test]
async fn a_company_lives_through_its_lifecycle_in_openldap() {
    let dir = scratch("psync-ldap-cli");
    let Some(slapd) = Slapd::start(&dir) else {
        return;
    };
    let sim = simulator(200).await;
    let w = World {
        sim,
        config: dir.join("config.toml"),
        dir: dir.clone(),
        slapd,
    };
    w.write_config("");

    // Full sync: one entry per person in scope, each with its anchor, uid, groups.
    let stdout = w.sync().await;
    let people = w.slapd.people();
    assert!(people.len() > 100, "{} entries\n{stdout}", people.len());
    assert!(
        stdout.contains(&format!("{} created", people.len())),
        "{stdout}"
    );
    let uids: std::collections::BTreeSet<String> =
        people.iter().filter_map(|e| e.first("uid")).collect();
    assert_eq!(uids.len(), people.len(), "account names are unique");
    let with_office = people
        .iter()
        .filter(|e| e.first("physicalDeliveryOfficeName").is_some())
        .count();
    assert!(with_office > 0);
    for e in &people {
        let office = e.first("physicalDeliveryOfficeName");
        let parent = e.dn.split_once(',').unwrap().1.to_lowercase();
        match office {
            Some(o) => assert_eq!(
                parent,
                format!("ou={},ou=people,{BASE}", o.to_lowercase()),
                "{e:?}"
            ),
            None => assert_eq!(parent, format!("ou=people,{BASE}"), "{e:?}"),
        }
        if let Some(dept) = e.first("departmentNumber") {
            assert_eq!(w.slapd.groups_of(&e.dn), vec![dept], "{e:?}");
        }
        assert!(
            e.first("employeeType").is_none(),
            "nobody is disabled yet: {e:?}"
        );
    }
    let managed: Vec<&Entry> = people
        .iter()
        .filter(|e| e.first("manager").is_some())
        .collect();
    assert!(!managed.is_empty(), "managers are written as DNs");
    for e in &managed {
        let m = e.first("manager").unwrap();
        assert!(
            w.slapd.search(&m, "(objectClass=inetOrgPerson)").len() == 1,
            "manager {m} exists"
        );
    }
    let stdout = w.sync().await;
    assert!(
        stdout.contains("up to date"),
        "a second sync changes nothing: {stdout}"
    );

    // Two joiners with the same name: first.last, then first.last2.
    let day = past_day();
    let hire = |n: u32| HireSpec {
        first_name: "Zelda".into(),
        last_name: "Joiner".into(),
        email: Some(format!("zelda.joiner{n}@sim-company.example")),
        hire_date: Some(day.parse().unwrap()),
        ..HireSpec::default()
    };
    let z1 = w.sim.hire(hire(1));
    w.sync().await;
    let z2 = w.sim.hire(hire(2));
    w.sync().await;
    assert_eq!(
        w.slapd.person(&z1).unwrap().first("uid").as_deref(),
        Some("zelda.joiner")
    );
    assert_eq!(
        w.slapd.person(&z2).unwrap().first("uid").as_deref(),
        Some("zelda.joiner2")
    );

    // A mover across offices (OUs), a manager change, a name change and an e-mail change.
    let people = w.slapd.people();
    let offices: std::collections::BTreeSet<String> = people
        .iter()
        .filter_map(|e| e.first("physicalDeliveryOfficeName"))
        .collect();
    assert!(offices.len() >= 2, "{offices:?}");
    let mover = people
        .iter()
        .find(|e| {
            e.first("physicalDeliveryOfficeName").is_some()
                && e.first("employeeNumber") != Some(z1.clone())
        })
        .unwrap()
        .clone();
    let mover_id = mover.first("employeeNumber").unwrap();
    let from_office = mover.first("physicalDeliveryOfficeName").unwrap();
    let to_office = offices.iter().find(|o| **o != from_office).unwrap().clone();
    w.sim
        .move_employee(
            &mover_id,
            MoveSpec {
                office: Some(to_office.clone()),
                ..MoveSpec::default()
            },
        )
        .unwrap();
    let new_boss = people
        .iter()
        .filter_map(|e| e.first("employeeNumber"))
        .find(|id| {
            *id != z1
                && *id != mover_id
                && Some(w.slapd.person(id).unwrap().dn)
                    != w.slapd.person(&z1).unwrap().first("manager")
        })
        .unwrap();
    w.sim
        .update(
            &z1,
            EmployeeUpdate {
                supervisor_id: Some(new_boss.clone()),
                ..EmployeeUpdate::default()
            },
        )
        .unwrap();
    w.sim
        .update(
            &z2,
            EmployeeUpdate {
                last_name: Some("Renamed".into()),
                ..EmployeeUpdate::default()
            },
        )
        .unwrap();
    let emailer = people
        .iter()
        .filter_map(|e| e.first("employeeNumber"))
        .find(|id| ![&z1, &z2, &mover_id, &new_boss].contains(&id))
        .unwrap();
    w.sim
        .change_email(&emailer, "changed.address@sim-company.example")
        .unwrap();
    w.sync().await;

    let moved = w.slapd.person(&mover_id).unwrap();
    assert_eq!(
        moved.first("entryUUID"),
        mover.first("entryUUID"),
        "a mover keeps its identity"
    );
    assert_eq!(moved.first("uid"), mover.first("uid"));
    assert_eq!(
        moved.dn.split_once(',').unwrap().1.to_lowercase(),
        format!("ou={},ou=people,{BASE}", to_office.to_lowercase())
    );
    let boss_dn = w.slapd.person(&new_boss).unwrap().dn;
    assert_eq!(w.slapd.person(&z1).unwrap().first("manager"), Some(boss_dn));
    let renamed = w.slapd.person(&z2).unwrap();
    assert_eq!(renamed.first("sn").as_deref(), Some("Renamed"));
    assert_eq!(
        renamed.first("uid").as_deref(),
        Some("zelda.joiner2"),
        "the account name never changes"
    );
    assert!(
        renamed.first("cn").unwrap().contains("Renamed"),
        "{renamed:?}"
    );
    assert_eq!(
        w.slapd.person(&emailer).unwrap().first("mail").as_deref(),
        Some("changed.address@sim-company.example")
    );

    // Termination: disabled, moved to the leavers OU, out of its groups.
    let leaver = w.slapd.person(&z1).unwrap();
    w.sim.terminate(&z1, day.parse().unwrap()).unwrap();
    w.sync().await;
    let left = w.slapd.person(&z1).unwrap();
    assert_eq!(left.first("employeeType").as_deref(), Some("disabled"));
    assert_eq!(
        left.dn.split_once(',').unwrap().1.to_lowercase(),
        format!("ou=leavers,{BASE}")
    );
    assert_eq!(left.first("entryUUID"), leaver.first("entryUUID"));
    assert!(w.slapd.groups_of(&left.dn).is_empty());

    // Rehire: enabled in place (same entry), back in its OU.
    w.sim.rehire(&z1, None).unwrap();
    w.sync().await;
    let back = w.slapd.person(&z1).unwrap();
    assert_eq!(back.first("entryUUID"), leaver.first("entryUUID"));
    assert!(back.first("employeeType").is_none(), "{back:?}");
    assert_eq!(
        back.dn.split_once(',').unwrap().1.to_lowercase(),
        format!("ou=people,{BASE}")
    );

    // Deletion after the policy: gone from Personio → disabled; with a grace of 0 days → deleted.
    w.sim.delete(&z2).unwrap();
    w.sync().await;
    assert_eq!(
        w.slapd
            .person(&z2)
            .unwrap()
            .first("employeeType")
            .as_deref(),
        Some("disabled")
    );
    w.write_config("delete_after_days = 0");
    w.sync().await;
    assert!(
        w.slapd.person(&z2).is_none(),
        "deleted after the grace period"
    );
    assert!(w.slapd.person(&z1).is_some());

    // Never touches what it did not create: a foreign entry survives every sync.
    let stdout = w.sync().await;
    assert!(stdout.contains("up to date"), "{stdout}");
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------------------------------
// Active Directory: the same story against a Samba AD DC (root only; ports 389/636 are fixed,
// so every Samba test takes its turn through a lock file).

const AD_BASE: &str = "DC=test,DC=example,DC=org";
const AD_ADMIN: &str = "Administrator@test.example.org";
const AD_PASSWORD: &str = "Passw0rd!Test";

struct Samba {
    child: Child,
    dir: PathBuf,
    _turn: std::fs::File,
}

impl Drop for Samba {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn ad_search_as(dn: &str, password: &str, base: &str, filter: &str) -> Output {
    Command::new("ldapsearch")
        .env("LDAPTLS_REQCERT", "never")
        .args([
            "-x",
            "-LLL",
            "-o",
            "ldif-wrap=no",
            "-H",
            "ldaps://127.0.0.1:636",
            "-D",
            dn,
            "-w",
            password,
        ])
        .args(["-b", base, filter, "*"])
        .output()
        .unwrap()
}

impl Samba {
    fn start(dir: &Path) -> Option<Samba> {
        let (tool, samba) = (
            Path::new("/usr/bin/samba-tool"),
            Path::new("/usr/sbin/samba"),
        );
        if !tool.exists()
            || !samba.exists()
            || Command::new("ldapsearch").arg("-VV").output().is_err()
        {
            missing("samba (AD DC) or ldap-utils");
            return None;
        }
        let uid = Command::new("id").arg("-u").output().unwrap();
        if text(&uid.stdout).trim() != "0" {
            missing("root (Samba AD needs ports 389/636)");
            return None;
        }
        let turn =
            std::fs::File::create(std::env::temp_dir().join("psync-samba-ports.lock")).unwrap();
        turn.lock().unwrap();
        assert!(
            std::net::TcpStream::connect("127.0.0.1:389").is_err(),
            "something already listens on 127.0.0.1:389; stop it before the Samba tests"
        );
        let dir = dir.join("samba");
        std::fs::create_dir_all(dir.join("log")).unwrap();
        std::fs::create_dir_all(dir.join("run")).unwrap();
        let out = Command::new(tool)
            .args(["domain", "provision"])
            .arg(format!("--targetdir={}", dir.display()))
            .args([
                "--realm=TEST.EXAMPLE.ORG",
                "--domain=TEST",
                "--server-role=dc",
                "--dns-backend=NONE",
                &format!("--adminpass={AD_PASSWORD}"),
                "--host-ip=127.0.0.1",
                "--use-rfc2307",
                "--option=interfaces=lo",
                "--option=bind interfaces only=yes",
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "provision: {}", both(&out));
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
        for line in [
            format!("\tpid directory = {}", dir.join("run").display()),
            format!("\tlog file = {}/log/log.%m", dir.display()),
            "\tldap server require strong auth = no".to_string(),
            "\tserver services = ldap".to_string(),
        ] {
            lines.insert(at + 1, line);
        }
        std::fs::write(&conf, lines.join("\n") + "\n").unwrap();
        let child = Command::new(samba)
            .args(["-i", "-M", "single", "-s"])
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::File::create(dir.join("samba.err")).unwrap(),
            ))
            .spawn()
            .unwrap();
        let samba = Samba {
            child,
            dir,
            _turn: turn,
        };
        for _ in 0..600 {
            if ad_search_as(AD_ADMIN, AD_PASSWORD, AD_BASE, "(objectClass=domain)")
                .status
                .success()
            {
                return Some(samba);
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("samba did not answer over LDAPS");
    }

    fn search(&self, base: &str, filter: &str) -> Vec<Entry> {
        let out = ad_search_as(AD_ADMIN, AD_PASSWORD, base, filter);
        assert!(
            out.status.success() || out.status.code() == Some(32),
            "ldapsearch: {}",
            both(&out)
        );
        parse_ldif(&text(&out.stdout))
    }

    fn person(&self, id: &str) -> Option<Entry> {
        let mut found = self.search(AD_BASE, &format!("(&(objectClass=user)(employeeID={id}))"));
        assert!(found.len() <= 1, "{id}: {found:?}");
        found.pop()
    }

    fn people(&self) -> Vec<Entry> {
        self.search(&format!("OU=People,{AD_BASE}"), "(objectClass=user)")
    }

    fn groups_of(&self, dn: &str) -> Vec<String> {
        let mut g: Vec<String> = self
            .search(
                &format!("OU=Groups,{AD_BASE}"),
                &format!("(&(objectClass=group)(member={dn}))"),
            )
            .into_iter()
            .filter_map(|e| e.first("cn"))
            .collect();
        g.sort();
        g
    }
}

fn parent(dn: &str) -> String {
    dn.split_once(',').unwrap().1.to_lowercase()
}

#[tokio::test]
async fn a_company_lives_through_its_lifecycle_in_samba_ad() {
    let dir = scratch("psync-ad-cli");
    let Some(samba) = Samba::start(&dir) else {
        return;
    };
    let sim = simulator(200).await;
    let config = dir.join("config.toml");
    let passwords = dir.join("passwords.tsv");
    let write_config = |policy: &str| {
        let body = format!(
            "state = \"sqlite://{state}\"\n\n[[personio]]\nname = \"acme\"\nbase_url = \"{url}\"\n\
             client_id = \"sim-client\"\nclient_secret = \"sim-secret\"\napi = \"v1\"\nrate_limit = false\n\n\
             [[target]]\nname = \"ad\"\ntype = \"ldap\"\nsource = \"acme\"\nurl = \"ldaps://127.0.0.1:636\"\n\
             tls_insecure = true\nflavor = \"active_directory\"\nbind_dn = \"{AD_ADMIN}\"\n\
             bind_password = \"${{PSYNC_TEST_AD_PASSWORD}}\"\nbase_dn = \"{AD_BASE}\"\n\
             default_ou = \"OU=People,{AD_BASE}\"\n\
             ou = \"{{% if office %}}OU={{{{ office | rdn }}}},OU=People,{AD_BASE}{{% endif %}}\"\n\
             create_ous = true\ndisabled_ou = \"OU=Leavers,{AD_BASE}\"\nremove_groups_on_disable = true\n\
             groups_base = \"OU=Groups,{AD_BASE}\"\npassword_file = \"{pw}\"\n\n\
             [target.policy]\nmax_deprovision = \"50\"\n{policy}\n\n\
             [target.mapping.groups]\nlevels = [\"department\"]\n",
            state = dir.join("state.sqlite").display(),
            url = sim.base_url(),
            pw = passwords.display(),
        );
        std::fs::write(&config, body).unwrap();
    };
    let sync = || async {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_personio-sync"));
        cmd.arg("sync")
            .arg("--config")
            .arg(&config)
            .env("PSYNC_TEST_AD_PASSWORD", AD_PASSWORD);
        let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
            .await
            .unwrap();
        assert!(out.status.success(), "sync: {}", both(&out));
        assert!(
            !text(&out.stdout).contains('\t') && !text(&out.stderr).contains("Passw"),
            "{}",
            both(&out)
        );
        text(&out.stdout)
    };
    write_config("");

    // Full sync: enabled accounts (512) with unique sAMAccountNames, placed by office.
    let stdout = sync().await;
    let people = samba.people();
    assert!(people.len() > 100, "{} accounts\n{stdout}", people.len());
    assert!(
        stdout.contains(&format!("{} created", people.len())),
        "{stdout}"
    );
    let sams: std::collections::BTreeSet<String> = people
        .iter()
        .filter_map(|e| e.first("sAMAccountName"))
        .collect();
    assert_eq!(sams.len(), people.len());
    for e in &people {
        assert_eq!(
            e.first("userAccountControl").as_deref(),
            Some("512"),
            "{e:?}"
        );
        match e.first("physicalDeliveryOfficeName") {
            Some(o) => assert_eq!(
                parent(&e.dn),
                format!(
                    "ou={},ou=people,{}",
                    o.to_lowercase(),
                    AD_BASE.to_lowercase()
                )
            ),
            None => assert_eq!(
                parent(&e.dn),
                format!("ou=people,{}", AD_BASE.to_lowercase())
            ),
        }
    }
    let sample = people
        .iter()
        .find(|e| e.first("department").is_some())
        .unwrap();
    assert_eq!(
        samba.groups_of(&sample.dn),
        vec![sample.first("department").unwrap()]
    );
    // Every new account's password is in the 0600 file, and one of them works.
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&passwords).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let lines = std::fs::read_to_string(&passwords).unwrap();
    assert_eq!(lines.lines().count(), people.len());
    let (account, password) = lines.lines().next().unwrap().split_once('\t').unwrap();
    let out = ad_search_as(
        &format!("{account}@test.example.org"),
        password,
        AD_BASE,
        "(objectClass=domain)",
    );
    assert!(
        out.status.success(),
        "the initial password works: {}",
        both(&out)
    );
    assert!(sync().await.contains("up to date"));

    // Namesakes, a mover, a manager change, a rename, an e-mail change.
    let day = past_day();
    let hire = |n: u32| HireSpec {
        first_name: "Zelda".into(),
        last_name: "Joiner".into(),
        email: Some(format!("zelda.joiner{n}@sim-company.example")),
        hire_date: Some(day.parse().unwrap()),
        ..HireSpec::default()
    };
    let z1 = sim.hire(hire(1));
    sync().await;
    let z2 = sim.hire(hire(2));
    sync().await;
    let e1 = samba.person(&z1).unwrap();
    let e2 = samba.person(&z2).unwrap();
    assert_eq!(e1.first("sAMAccountName").as_deref(), Some("zelda.joiner"));
    assert_eq!(e2.first("sAMAccountName").as_deref(), Some("zelda.joiner2"));
    assert!(
        e2.dn.starts_with("CN=Zelda Joiner (zelda.joiner2),"),
        "{}",
        e2.dn
    );

    let people = samba.people();
    let offices: std::collections::BTreeSet<String> = people
        .iter()
        .filter_map(|e| e.first("physicalDeliveryOfficeName"))
        .collect();
    let mover = people
        .iter()
        .find(|e| e.first("physicalDeliveryOfficeName").is_some())
        .unwrap()
        .clone();
    let mover_id = mover.first("employeeID").unwrap();
    let to_office = offices
        .iter()
        .find(|o| Some(*o) != mover.first("physicalDeliveryOfficeName").as_ref())
        .unwrap()
        .clone();
    sim.move_employee(
        &mover_id,
        MoveSpec {
            office: Some(to_office.clone()),
            ..MoveSpec::default()
        },
    )
    .unwrap();
    let boss = people
        .iter()
        .filter_map(|e| e.first("employeeID"))
        .find(|id| *id != mover_id && *id != z1 && *id != z2)
        .unwrap();
    sim.update(
        &z1,
        EmployeeUpdate {
            supervisor_id: Some(boss.clone()),
            ..EmployeeUpdate::default()
        },
    )
    .unwrap();
    sim.update(
        &z2,
        EmployeeUpdate {
            last_name: Some("Renamed".into()),
            ..EmployeeUpdate::default()
        },
    )
    .unwrap();
    sim.change_email(&boss, "boss.changed@sim-company.example")
        .unwrap();
    sync().await;

    let moved = samba.person(&mover_id).unwrap();
    assert_eq!(
        moved.first("objectGUID"),
        mover.first("objectGUID"),
        "objectGUID kept across the move"
    );
    assert_eq!(
        parent(&moved.dn),
        format!(
            "ou={},ou=people,{}",
            to_office.to_lowercase(),
            AD_BASE.to_lowercase()
        )
    );
    let boss_entry = samba.person(&boss).unwrap();
    assert_eq!(
        samba.person(&z1).unwrap().first("manager"),
        Some(boss_entry.dn.clone())
    );
    assert_eq!(
        boss_entry.first("mail").as_deref(),
        Some("boss.changed@sim-company.example")
    );
    let renamed = samba.person(&z2).unwrap();
    assert!(
        renamed.dn.starts_with("CN=Zelda Renamed,"),
        "{}",
        renamed.dn
    );
    assert_eq!(
        renamed.first("objectGUID"),
        e2.first("objectGUID"),
        "objectGUID kept across the rename"
    );
    assert_eq!(
        renamed.first("sAMAccountName").as_deref(),
        Some("zelda.joiner2")
    );

    // Leaver: 514, in the leavers OU, out of groups; rehire: 512, same object, back.
    sim.terminate(&z1, day.parse().unwrap()).unwrap();
    sync().await;
    let left = samba.person(&z1).unwrap();
    assert_eq!(left.first("userAccountControl").as_deref(), Some("514"));
    assert_eq!(
        parent(&left.dn),
        format!("ou=leavers,{}", AD_BASE.to_lowercase())
    );
    assert!(samba.groups_of(&left.dn).is_empty());
    sim.rehire(&z1, None).unwrap();
    sync().await;
    let back = samba.person(&z1).unwrap();
    assert_eq!(back.first("userAccountControl").as_deref(), Some("512"));
    assert_eq!(back.first("objectGUID"), e1.first("objectGUID"));
    assert_eq!(
        parent(&back.dn),
        format!("ou=people,{}", AD_BASE.to_lowercase())
    );

    // Deletion after the grace period.
    sim.delete(&z2).unwrap();
    sync().await;
    assert_eq!(
        samba
            .person(&z2)
            .unwrap()
            .first("userAccountControl")
            .as_deref(),
        Some("514")
    );
    write_config("delete_after_days = 0");
    sync().await;
    assert!(samba.person(&z2).is_none());
    assert!(sync().await.contains("up to date"));
    drop(samba);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Bad input through the binary: people whose OU does not exist are parked with the entry named,
/// everyone else is created; a wrong bind password stops with a message saying what to check;
/// an invalid DN in the configuration is reported before anything happens.
#[tokio::test]
async fn refusals_are_parked_and_the_run_goes_on_in_openldap() {
    let dir = scratch("psync-ldap-bad");
    let Some(slapd) = Slapd::start(&dir) else {
        return;
    };
    let sim = simulator(60).await;
    let config = dir.join("config.toml");
    let write = |password: &str, default_ou: &str| {
        let body = format!(
            "state = \"sqlite://{state}\"\n\n[[personio]]\nname = \"acme\"\nbase_url = \"{url}\"\n\
             client_id = \"sim-client\"\nclient_secret = \"sim-secret\"\napi = \"v1\"\nrate_limit = false\n\n\
             [[target]]\nname = \"dir\"\ntype = \"ldap\"\nsource = \"acme\"\nurl = \"{ldap}\"\n\
             flavor = \"openldap\"\nbind_dn = \"{ADMIN}\"\nbind_password = \"{password}\"\nbase_dn = \"{BASE}\"\n\
             default_ou = \"{default_ou}\"\n\
             ou = \"{{% if person[-1:] == '1' %}}ou=Nowhere,ou=people,{BASE}{{% endif %}}\"\n\
             groups_base = \"ou=groups,{BASE}\"\n",
            state = dir.join("state.sqlite").display(),
            url = sim.base_url(),
            ldap = slapd.url,
        );
        std::fs::write(&config, body).unwrap();
    };
    let run = |args: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_personio-sync"));
        cmd.args(args).arg("--config").arg(&config);
        // Off the runtime thread: the simulator answers on it.
        tokio::task::spawn_blocking(move || cmd.output().unwrap())
    };

    // An invalid DN in the configuration: exit 2, the key named, nothing written.
    write("secret", "people");
    let out = run(&["sync"]).await.unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    assert!(text(&out.stderr).contains("default_ou"), "{}", both(&out));

    // People whose id ends in 1 belong in an OU that does not exist (create_ous is off): they
    // are parked with the entry named, everyone else is created.
    write("secret", &format!("ou=people,{BASE}"));
    let out = run(&["sync"]).await.unwrap();
    assert!(!out.status.success(), "{}", both(&out));
    let stdout = text(&out.stdout);
    let parked: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains("parked create"))
        .collect();
    assert!(!parked.is_empty(), "{}", both(&out));
    for line in &parked {
        assert!(
            line.contains("ou=Nowhere,ou=people,dc=example,dc=org")
                && line.contains("does not exist"),
            "{line}"
        );
    }
    let people = slapd.people();
    assert!(!people.is_empty(), "{}", both(&out));
    assert!(
        people
            .iter()
            .all(|e| !e.first("employeeNumber").unwrap().ends_with('1'))
    );
    assert!(
        stdout.contains(&format!("{} created", people.len())),
        "{stdout}"
    );

    // A wrong bind password: the run stops and says what to check.
    write("Wr0ngPassXYZ", &format!("ou=people,{BASE}"));
    let out = run(&["sync"]).await.unwrap();
    assert!(!out.status.success());
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(
        all.contains("invalid credentials") && all.contains("bind_dn"),
        "{}",
        both(&out)
    );
    assert!(
        !all.contains("Wr0ngPassXYZ"),
        "the password is not printed: {all}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `groups.create_missing = false`: the target reports the groups it has; people whose
/// department group exists join it, the others join the fallback group; nothing else is created.
#[tokio::test]
async fn existing_groups_and_the_fallback_in_openldap() {
    let dir = scratch("psync-ldap-groups");
    let Some(slapd) = Slapd::start(&dir) else {
        return;
    };
    let sim = simulator(80).await;
    let departments: std::collections::BTreeSet<String> = sim
        .expected_employees(psync_personio_sim::SimApi::V1)
        .into_iter()
        .filter_map(|e| e.department.map(|d| d.name))
        .collect();
    let kept = departments.iter().next().unwrap().clone();
    let ldif = format!(
        "dn: cn={kept},ou=groups,{BASE}\nobjectClass: groupOfNames\ncn: {kept}\nmember: cn=nobody\n\n\
         dn: cn=Everyone,ou=groups,{BASE}\nobjectClass: groupOfNames\ncn: Everyone\nmember: cn=nobody\n"
    );
    std::fs::write(dir.join("groups.ldif"), ldif).unwrap();
    let out = Command::new("ldapadd")
        .args(["-x", "-H", &slapd.url, "-D", ADMIN, "-w", "secret", "-f"])
        .arg(dir.join("groups.ldif"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", both(&out));
    let config = dir.join("config.toml");
    let body = format!(
        "state = \"sqlite://{state}\"\n\n[[personio]]\nname = \"acme\"\nbase_url = \"{url}\"\n\
         client_id = \"sim-client\"\nclient_secret = \"sim-secret\"\napi = \"v1\"\nrate_limit = false\n\n\
         [[target]]\nname = \"dir\"\ntype = \"ldap\"\nsource = \"acme\"\nurl = \"{ldap}\"\n\
         flavor = \"openldap\"\nbind_dn = \"{ADMIN}\"\nbind_password = \"secret\"\nbase_dn = \"{BASE}\"\n\
         default_ou = \"ou=people,{BASE}\"\ngroups_base = \"ou=groups,{BASE}\"\n\n\
         [target.mapping.groups]\nlevels = [\"department\"]\ncreate_missing = false\nfallback = \"Everyone\"\n",
        state = dir.join("state.sqlite").display(),
        url = sim.base_url(),
        ldap = slapd.url,
    );
    std::fs::write(&config, body).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_personio-sync"));
    cmd.arg("sync").arg("--config").arg(&config);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert!(out.status.success(), "{}", both(&out));
    let groups: Vec<String> = slapd
        .search(&format!("ou=groups,{BASE}"), "(objectClass=groupOfNames)")
        .into_iter()
        .filter_map(|e| e.first("cn"))
        .collect();
    assert_eq!(groups.len(), 2, "no group was created: {groups:?}");
    let people = slapd.people();
    assert!(!people.is_empty());
    let (mut in_kept, mut in_fallback) = (0, 0);
    for e in &people {
        let mine = slapd.groups_of(&e.dn);
        if e.first("departmentNumber").as_deref() == Some(kept.as_str()) {
            assert_eq!(mine, vec![kept.clone()], "{e:?}");
            in_kept += 1;
        } else {
            assert_eq!(mine, vec!["Everyone".to_string()], "{e:?}");
            in_fallback += 1;
        }
    }
    assert!(in_kept > 0 && in_fallback > 0, "{in_kept} / {in_fallback}");
    let _ = std::fs::remove_dir_all(&dir);
}
