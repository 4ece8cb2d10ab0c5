//! [`LdapTarget`]: executes operations against a directory. Every operation converges one
//! entry on the record: attributes (one modify), placement (one modDN), group memberships
//! (one modify per group changed); an entry is found by its stable id (entryUUID /
//! objectGUID) or, failing that, by the anchor attribute holding the Personio id.

use crate::config::{Flavor, GroupType, InitialPassword, LdapConfig};
use crate::conn::{Conn, Entry, Params, rc};
use crate::dn;
use crate::naming::{self, Templates};
use ldap3::{Mod, Scope};
use psync_model::{
    EmployeeId, GroupPath, MatchBy, OpKind, Operation, Outcome, TargetRecord, Value,
};
use psync_targets::testkit::Inspect;
use psync_targets::{ConfigProblem, RunInfo, Target, TargetError};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io::Write;

/// `userAccountControl`: a normal account.
const UAC_NORMAL: i64 = 512;
/// `userAccountControl`: the disabled bit.
const UAC_DISABLED: i64 = 2;
/// `userAccountControl`: no password required (accounts created without one).
const UAC_PASSWD_NOTREQD: i64 = 32;

/// An LDAP directory (Active Directory or OpenLDAP) as a provisioning target.
#[derive(Debug)]
pub struct LdapTarget {
    name: String,
    config: LdapConfig,
    conn: Box<Conn>,
    templates: Box<Templates>,
    /// (LDAP attribute, record attribute), the flavor's defaults merged with `attributes`.
    attr_map: Vec<(String, String)>,
    anchor: String,
    separator: String,
    /// Serialises account-name choice and the add, so two people never get the same name.
    create_lock: tokio::sync::Mutex<()>,
}

/// The flavor's default attribute map: LDAP attribute ← record attribute.
fn default_map(flavor: Flavor) -> Vec<(&'static str, &'static str)> {
    let mut map = vec![
        ("givenName", "first_name"),
        ("sn", "last_name"),
        ("displayName", "display_name"),
        ("mail", "email"),
        ("title", "title"),
        ("physicalDeliveryOfficeName", "office"),
    ];
    match flavor {
        Flavor::ActiveDirectory => map.extend([
            ("department", "department"),
            ("company", "company"),
            ("c", "country_code"),
        ]),
        Flavor::Openldap => map.push(("departmentNumber", "department")),
    }
    map
}

/// LDAP strings of a value: dates `YYYY-MM-DD`, booleans `TRUE`/`FALSE`, lists multi-valued.
fn ldap_values(v: &Value) -> Vec<String> {
    match v {
        Value::Null => Vec::new(),
        Value::Text(s) if s.is_empty() => Vec::new(),
        Value::Text(s) => vec![s.clone()],
        Value::Integer(i) => vec![i.to_string()],
        Value::Decimal(d) => vec![d.to_string()],
        Value::Boolean(b) => vec![if *b { "TRUE" } else { "FALSE" }.to_string()],
        Value::Date(d) => vec![d.to_string()],
        Value::List(l) => {
            let mut seen = BTreeSet::new();
            l.iter()
                .filter(|s| !s.is_empty() && seen.insert(s.as_str()))
                .cloned()
                .collect()
        }
    }
}

/// Directory strings read back as the type the record had.
fn typed(like: &Value, values: &[String]) -> Value {
    let first = values.first().cloned().unwrap_or_default();
    match like {
        Value::Integer(_) => first.parse().map_or(Value::Text(first), Value::Integer),
        Value::Decimal(_) => first.parse().map_or(Value::Text(first), Value::Decimal),
        Value::Boolean(_) => Value::Boolean(first.eq_ignore_ascii_case("true")),
        Value::Date(_) => first.parse().map_or(Value::Text(first), Value::Date),
        Value::List(old) => {
            let a: BTreeSet<&String> = old.iter().collect();
            let b: BTreeSet<&String> = values.iter().collect();
            if a == b {
                Value::List(old.clone())
            } else {
                Value::List(values.to_vec())
            }
        }
        _ if values.len() > 1 => Value::List(values.to_vec()),
        _ => Value::Text(first),
    }
}

/// AD `objectGUID` bytes as the usual string form.
fn guid_string(b: &[u8]) -> Option<String> {
    if b.len() != 16 {
        return None;
    }
    Some(format!(
        "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
        b[3],
        b[2],
        b[1],
        b[0],
        b[5],
        b[4],
        b[7],
        b[6],
        b[8],
        b[9],
        b[10],
        b[11],
        b[12],
        b[13],
        b[14],
        b[15]
    ))
}

/// The string form back to `objectGUID` bytes.
fn guid_bytes(s: &str) -> Option<Vec<u8>> {
    let hex: String = s.chars().filter(|c| *c != '-').collect();
    if hex.len() != 32 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let raw: Vec<u8> = (0..16)
        .filter_map(|i| u8::from_str_radix(hex.get(i * 2..i * 2 + 2)?, 16).ok())
        .collect();
    if raw.len() != 16 {
        return None;
    }
    let order = [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15];
    Some(order.iter().map(|&i| raw[i]).collect())
}

fn is_uuid(s: &str) -> bool {
    guid_bytes(s).is_some() && s.len() == 36
}

/// What converging an entry changes.
#[derive(Debug, Default)]
struct Changes {
    mods: Vec<Mod<Vec<u8>>>,
    /// New RDN and new parent when the entry moves or is renamed.
    move_to: Option<(String, String)>,
    /// Group DNs to join (with the path, to create a missing group) and to leave.
    join: Vec<(String, GroupPath)>,
    leave: Vec<String>,
}

impl Changes {
    fn is_empty(&self) -> bool {
        self.mods.is_empty()
            && self.move_to.is_none()
            && self.join.is_empty()
            && self.leave.is_empty()
    }
}

fn set(values: &[String]) -> HashSet<Vec<u8>> {
    values.iter().map(|v| v.as_bytes().to_vec()).collect()
}

fn one(value: &str) -> HashSet<Vec<u8>> {
    HashSet::from([value.as_bytes().to_vec()])
}

impl LdapTarget {
    /// Builds the target from its configuration (no I/O).
    pub fn new(name: &str, config: LdapConfig) -> Result<Self, Vec<ConfigProblem>> {
        let problems = config.validate();
        if !problems.is_empty() {
            return Err(problems);
        }
        let templates = Templates::new(
            config.ou.as_deref(),
            config
                .account_name
                .as_deref()
                .unwrap_or(naming::DEFAULT_ACCOUNT_NAME),
        )
        .map_err(|e| {
            vec![ConfigProblem {
                path: "ou".into(),
                message: format!("template error: {e}"),
            }]
        })?;
        let mut map: BTreeMap<String, (String, String)> = default_map(config.flavor)
            .into_iter()
            .map(|(l, r)| (l.to_lowercase(), (l.to_string(), r.to_string())))
            .collect();
        for (ldap, record) in &config.attributes {
            if record.is_empty() {
                map.remove(&ldap.to_lowercase());
            } else {
                map.insert(ldap.to_lowercase(), (ldap.clone(), record.clone()));
            }
        }
        let anchor = config.anchor_attribute.clone().unwrap_or_else(|| {
            match config.flavor {
                Flavor::ActiveDirectory => "employeeID",
                Flavor::Openldap => "employeeNumber",
            }
            .to_string()
        });
        Ok(LdapTarget {
            name: name.to_string(),
            conn: Box::new(Conn::new(Params::new(&config))),
            templates: Box::new(templates),
            attr_map: map.into_values().collect(),
            anchor,
            separator: config
                .group_separator
                .clone()
                .unwrap_or_else(|| " - ".into()),
            create_lock: tokio::sync::Mutex::new(()),
            config,
        })
    }

    /// LDAP requests sent so far (for benchmarks: operations per user).
    pub fn operations(&self) -> u64 {
        self.conn.operations()
    }

    fn ad(&self) -> bool {
        self.config.flavor == Flavor::ActiveDirectory
    }

    fn id_attr(&self) -> &'static str {
        if self.ad() { "objectGUID" } else { "entryUUID" }
    }

    fn account_attr(&self) -> &'static str {
        if self.ad() { "sAMAccountName" } else { "uid" }
    }

    fn person_class(&self) -> &'static str {
        if self.ad() { "user" } else { "inetOrgPerson" }
    }

    fn group_class(&self) -> &'static str {
        if self.ad() { "group" } else { "groupOfNames" }
    }

    fn max_account(&self) -> usize {
        if self.ad() { 20 } else { 64 }
    }

    fn disabled_marker(&self) -> (String, String) {
        (
            self.config
                .disabled_attribute
                .clone()
                .unwrap_or_else(|| "employeeType".into()),
            self.config
                .disabled_value
                .clone()
                .unwrap_or_else(|| "disabled".into()),
        )
    }

    fn wanted_attrs(&self) -> Vec<&str> {
        vec!["*", self.id_attr()]
    }

    /// The DN holding the domain's `dc=` components (AD account names are unique there).
    fn domain_root(&self) -> String {
        let dcs: Vec<String> = dn::rdns(&self.config.base_dn)
            .into_iter()
            .filter(|r| r.to_lowercase().starts_with("dc="))
            .collect();
        if dcs.is_empty() {
            self.config.base_dn.clone()
        } else {
            dcs.join(",")
        }
    }

    fn upn_suffix(&self) -> String {
        self.config.upn_suffix.clone().unwrap_or_else(|| {
            dn::rdns(&self.domain_root())
                .iter()
                .map(|r| r.split_once('=').map_or("", |(_, v)| v).to_string())
                .collect::<Vec<_>>()
                .join(".")
        })
    }

    fn remote_id(&self, e: &Entry) -> Option<String> {
        if self.ad() {
            e.bin
                .get("objectguid")
                .and_then(|v| v.first())
                .and_then(|b| guid_string(b))
        } else {
            e.first("entryUUID").map(str::to_string)
        }
    }

    fn who(&self, person: &EmployeeId, dn: Option<&str>) -> String {
        match dn {
            Some(dn) => format!("entry '{dn}' (person {person})"),
            None => format!("the entry of person {person}"),
        }
    }

    async fn search(
        &self,
        base: &str,
        scope: Scope,
        filter: &str,
        attrs: &[&str],
        what: &str,
    ) -> Result<Vec<Entry>, TargetError> {
        self.conn
            .search(base, scope, filter, attrs)
            .await?
            .map_err(|e| e.to_target(what, "searching for"))
    }

    /// The person's entry: by its stable id, else by the anchor attribute.
    async fn find(
        &self,
        person: &EmployeeId,
        remote_id: Option<&str>,
    ) -> Result<Option<Entry>, TargetError> {
        let attrs = self.wanted_attrs();
        let what = self.who(person, None);
        let class = self.person_class();
        if let Some(id) = remote_id.filter(|id| is_uuid(id)) {
            let filter = if self.ad() {
                let bytes = guid_bytes(id).unwrap_or_default();
                format!(
                    "(&(objectClass={class})(objectGUID={}))",
                    dn::filter_bytes(&bytes, true)
                )
            } else {
                format!("(&(objectClass={class})(entryUUID={id}))")
            };
            let found = self
                .search(&self.config.base_dn, Scope::Subtree, &filter, &attrs, &what)
                .await?;
            if let Some(e) = found.into_iter().next()
                && e.first(&self.anchor) == Some(person.as_str())
            {
                return Ok(Some(e));
            }
        }
        let filter = format!(
            "(&(objectClass={class})({}={}))",
            self.anchor,
            dn::filter_value(person.as_str())
        );
        let mut found = self
            .search(&self.config.base_dn, Scope::Subtree, &filter, &attrs, &what)
            .await?;
        if found.len() > 1 {
            let dns: Vec<String> = found.iter().map(|e| e.dn.clone()).collect();
            return Err(TargetError::conflict(format!(
                "{} entries carry {}={person}: {}; remove the duplicates",
                found.len(),
                self.anchor,
                dns.join("; ")
            )));
        }
        Ok(found.pop())
    }

    /// The manager's DN, when the manager has an entry.
    async fn manager_dn(&self, record: &TargetRecord) -> Result<Option<String>, TargetError> {
        let Some(manager) = &record.manager else {
            return Ok(None);
        };
        let found = self.find(manager, None).await?;
        if found.is_none() {
            tracing::warn!(
                target = %self.name,
                person = %record.person,
                manager = %manager,
                "the manager has no entry yet; the manager attribute is left as it is"
            );
        }
        Ok(found.map(|e| e.dn))
    }

    /// The parent DN a person belongs in.
    fn placement(
        &self,
        record: &TargetRecord,
        kind: OpKind,
        current_parent: Option<&str>,
    ) -> Result<String, TargetError> {
        if let Some(disabled) = &self.config.disabled_ou {
            let in_disabled = current_parent.is_some_and(|p| dn::norm(p) == dn::norm(disabled));
            if kind == OpKind::Disable || (!record.active && in_disabled && kind != OpKind::Enable)
            {
                return Ok(disabled.clone());
            }
        }
        let rendered = if self.config.ou.is_some() {
            self.templates.render("ou", record).map_err(|e| {
                TargetError::rejected(format!(
                    "the ou template failed for person {}: {e}",
                    record.person
                ))
            })?
        } else {
            String::new()
        };
        if rendered.is_empty() {
            return Ok(self.config.default_ou.clone());
        }
        if let Err(why) = dn::check_dn(&rendered) {
            return Err(TargetError::rejected(format!(
                "the ou template gives '{rendered}' for person {}, which is not a DN ({why}); fix `ou`",
                record.person
            )));
        }
        if !dn::is_below(&rendered, &self.config.base_dn) {
            return Err(TargetError::rejected(format!(
                "the ou template gives '{rendered}' for person {}, which is not below base_dn '{}'",
                record.person, self.config.base_dn
            )));
        }
        Ok(rendered)
    }

    fn text(record: &TargetRecord, name: &str) -> String {
        record.get(name).display().trim().to_string()
    }

    /// The display name: `display_name`, else `first last`, else the account name.
    fn full_name(record: &TargetRecord, account: &str) -> String {
        let display = Self::text(record, "display_name");
        if !display.is_empty() {
            return display;
        }
        let both = format!(
            "{} {}",
            Self::text(record, "first_name"),
            Self::text(record, "last_name")
        )
        .trim()
        .to_string();
        if both.is_empty() {
            account.to_string()
        } else {
            both
        }
    }

    /// Desired values of every attribute the target manages (lower-case name → (name, values)),
    /// the RDN and account-name attributes excluded.
    fn desired(
        &self,
        record: &TargetRecord,
        account: &str,
        manager: Option<&str>,
        current_uac: Option<i64>,
    ) -> Result<BTreeMap<String, (String, Vec<String>)>, TargetError> {
        let mut out: BTreeMap<String, (String, Vec<String>)> = BTreeMap::new();
        for (ldap, name) in &self.attr_map {
            out.insert(
                ldap.to_lowercase(),
                (ldap.clone(), ldap_values(record.get(name))),
            );
        }
        let cn = Self::full_name(record, account);
        if !self.ad() {
            out.entry("cn".into())
                .or_insert_with(|| ("cn".into(), Vec::new()))
                .1
                .clone_from(&vec![cn.clone()]);
            // inetOrgPerson needs a surname.
            if let Some((_, sn)) = out.get_mut("sn")
                && sn.is_empty()
            {
                *sn = vec![cn.clone()];
            }
            if !out.contains_key("sn") {
                out.insert("sn".into(), ("sn".into(), vec![cn.clone()]));
            }
            let (attr, value) = self.disabled_marker();
            let values = if record.active {
                Vec::new()
            } else {
                vec![value]
            };
            out.insert(attr.to_lowercase(), (attr, values));
        } else {
            let base = current_uac.unwrap_or(UAC_NORMAL);
            let uac = if record.active {
                base & !UAC_DISABLED
            } else {
                base | UAC_DISABLED
            };
            out.insert(
                "useraccountcontrol".into(),
                ("userAccountControl".into(), vec![uac.to_string()]),
            );
        }
        out.insert(
            self.anchor.to_lowercase(),
            (self.anchor.clone(), vec![record.person.to_string()]),
        );
        match (&record.manager, manager) {
            (None, _) => {
                out.insert("manager".into(), ("manager".into(), Vec::new()));
            }
            (Some(_), Some(dn)) => {
                out.insert("manager".into(), ("manager".into(), vec![dn.to_string()]));
            }
            (Some(_), None) => {
                out.remove("manager");
            }
        }
        if let Some(attr) = &self.config.record_attribute {
            let json = serde_json::to_string(record)
                .map_err(|e| TargetError::rejected(format!("person {}: {e}", record.person)))?;
            out.insert(attr.to_lowercase(), (attr.clone(), vec![json]));
        }
        for key in [
            self.account_attr().to_lowercase(),
            "userprincipalname".into(),
            "objectclass".into(),
        ] {
            out.remove(&key);
        }
        if self.ad() {
            out.remove("cn");
        }
        Ok(out)
    }

    fn group_dn(&self, path: &GroupPath) -> String {
        format!(
            "cn={},{}",
            dn::escape_value(&path.0.join(&self.separator)),
            self.config.groups_base
        )
    }

    fn path_of(&self, group_dn: &str) -> GroupPath {
        GroupPath(
            dn::first_value(group_dn)
                .split(&self.separator)
                .map(str::to_string)
                .collect(),
        )
    }

    /// Groups (below `groups_base`) that `member` belongs to, by normalised DN.
    async fn groups_of(&self, member: &str) -> Result<BTreeMap<String, String>, TargetError> {
        let filter = format!(
            "(&(objectClass={})(member={}))",
            self.group_class(),
            dn::filter_value(member)
        );
        let found = self
            .search(
                &self.config.groups_base,
                Scope::Subtree,
                &filter,
                &["cn"],
                &format!("the groups of '{member}'"),
            )
            .await?;
        Ok(found.into_iter().map(|e| (dn::norm(&e.dn), e.dn)).collect())
    }

    /// Everything that differs between `entry` and `record`.
    async fn changes(
        &self,
        entry: &Entry,
        record: &TargetRecord,
        kind: OpKind,
    ) -> Result<Changes, TargetError> {
        let mut changes = Changes::default();
        let account = entry
            .first(self.account_attr())
            .unwrap_or_default()
            .to_string();
        let manager = self.manager_dn(record).await?;
        let uac = entry
            .first("userAccountControl")
            .and_then(|v| v.parse().ok());
        for (_, (attr, want)) in self.desired(record, &account, manager.as_deref(), uac)? {
            let have = entry.get(&attr);
            let same = {
                let a: BTreeSet<&String> = have.iter().collect();
                let b: BTreeSet<&String> = want.iter().collect();
                a == b
            };
            if same {
                continue;
            }
            let name = attr.as_bytes().to_vec();
            if want.is_empty() {
                changes.mods.push(Mod::Delete(name, HashSet::new()));
            } else {
                changes.mods.push(Mod::Replace(name, set(&want)));
            }
        }
        // Placement and RDN.
        let (rdn, parent) = dn::split_first(&entry.dn);
        let want_parent = self.placement(record, kind, Some(&parent))?;
        let want_rdn = if self.ad() {
            let cn = Self::full_name(record, &account);
            let current = dn::first_value(&entry.dn);
            if current == cn || current == format!("{cn} ({account})") {
                rdn.clone()
            } else {
                format!("CN={}", dn::escape_value(&cn))
            }
        } else {
            rdn.clone()
        };
        if dn::norm(&want_parent) != dn::norm(&parent) || dn::norm(&want_rdn) != dn::norm(&rdn) {
            changes.move_to = Some((want_rdn, want_parent));
        }
        // Groups.
        let current = self.groups_of(&entry.dn).await?;
        let keep_groups = !(kind == OpKind::Disable && self.config.remove_groups_on_disable);
        let wanted: BTreeMap<String, (String, GroupPath)> = if keep_groups {
            record
                .groups
                .iter()
                .map(|p| {
                    let dn = self.group_dn(p);
                    (dn::norm(&dn), (dn, p.clone()))
                })
                .collect()
        } else {
            BTreeMap::new()
        };
        for (key, (dn, path)) in &wanted {
            if !current.contains_key(key) {
                changes.join.push((dn.clone(), path.clone()));
            }
        }
        for (key, dn) in &current {
            if !wanted.contains_key(key) {
                changes.leave.push(dn.clone());
            }
        }
        Ok(changes)
    }

    /// Whether an entry exists at `dn`.
    async fn exists(&self, dn_: &str) -> Result<bool, TargetError> {
        let found = self
            .search(
                dn_,
                Scope::Base,
                "(objectClass=*)",
                &["1.1"],
                &format!("'{dn_}'"),
            )
            .await?;
        Ok(!found.is_empty())
    }

    /// Makes sure the OU `ou` exists (creating its missing ancestors below `base_dn`).
    async fn ensure_ou(&self, ou: &str, person: &EmployeeId) -> Result<(), TargetError> {
        let mut missing = Vec::new();
        let mut at = ou.to_string();
        loop {
            if dn::norm(&at) == dn::norm(&self.config.base_dn)
                || !dn::is_below(&at, &self.config.base_dn)
            {
                break;
            }
            let exists = !self
                .search(
                    &at,
                    Scope::Base,
                    "(objectClass=*)",
                    &["1.1"],
                    &format!("OU '{at}'"),
                )
                .await?
                .is_empty();
            if exists {
                break;
            }
            missing.push(at.clone());
            at = dn::split_first(&at).1;
        }
        for dn_ in missing.iter().rev() {
            let (rdn, _) = dn::split_first(dn_);
            let (attr, _) = rdn.split_once('=').unwrap_or_default();
            if !attr.trim().eq_ignore_ascii_case("ou") {
                return Err(TargetError::rejected(format!(
                    "person {person}: '{dn_}' does not exist and is not an OU this target may create"
                )));
            }
            let attrs = vec![
                (
                    b"objectClass".to_vec(),
                    HashSet::from([b"top".to_vec(), b"organizationalUnit".to_vec()]),
                ),
                (b"ou".to_vec(), one(&dn::first_value(dn_))),
            ];
            match self.conn.add(dn_, attrs).await? {
                Ok(()) => {}
                Err(e) if e.is(rc::ENTRY_ALREADY_EXISTS) => {}
                Err(e) => {
                    return Err(
                        e.to_target(&format!("OU '{dn_}' (for person {person})"), "creating")
                    );
                }
            }
        }
        Ok(())
    }

    /// Applies `changes` to the entry at `dn`; returns the entry's DN afterwards.
    async fn execute(
        &self,
        dn_: &str,
        record: &TargetRecord,
        changes: Changes,
    ) -> Result<String, TargetError> {
        let person = &record.person;
        let mut current = dn_.to_string();
        if !changes.mods.is_empty() {
            self.conn
                .modify(&current, changes.mods)
                .await?
                .map_err(|e| e.to_target(&self.who(person, Some(&current)), "updating"))?;
        }
        if let Some((rdn, parent)) = changes.move_to {
            current = self.move_entry(&current, &rdn, &parent, record).await?;
        }
        for (group, path) in changes.join {
            self.join(&group, &path, &current, person).await?;
        }
        for group in changes.leave {
            self.leave(&group, &current, person).await?;
        }
        Ok(current)
    }

    async fn move_entry(
        &self,
        from: &str,
        rdn: &str,
        parent: &str,
        record: &TargetRecord,
    ) -> Result<String, TargetError> {
        let person = &record.person;
        let mut rdn = rdn.to_string();
        let mut tried_ou = false;
        let mut tried_suffix = false;
        loop {
            let superior =
                (dn::norm(parent) != dn::norm(&dn::split_first(from).1)).then_some(parent);
            match self.conn.modify_dn(from, &rdn, superior).await? {
                Ok(()) => return Ok(format!("{rdn},{parent}")),
                Err(e) if e.is(rc::ENTRY_ALREADY_EXISTS) && self.ad() && !tried_suffix => {
                    tried_suffix = true;
                    let entry_account = self
                        .find(person, None)
                        .await?
                        .and_then(|e| e.first(self.account_attr()).map(str::to_string))
                        .unwrap_or_default();
                    let cn = Self::full_name(record, &entry_account);
                    rdn = format!(
                        "CN={}",
                        dn::escape_value(&format!("{cn} ({entry_account})"))
                    );
                }
                // A missing new parent: noSuchObject in OpenLDAP, "other" (80) in Samba.
                Err(e)
                    if !e.is(rc::ENTRY_ALREADY_EXISTS)
                        && !tried_ou
                        && !self.exists(parent).await? =>
                {
                    tried_ou = true;
                    if !self.config.create_ous {
                        return Err(TargetError::rejected(format!(
                            "moving {} to '{parent}': the OU does not exist (create it, or set create_ous = true)",
                            self.who(person, Some(from))
                        )));
                    }
                    self.ensure_ou(parent, person).await?;
                }
                Err(e) => return Err(e.to_target(&self.who(person, Some(from)), "moving")),
            }
        }
    }

    async fn join(
        &self,
        group: &str,
        path: &GroupPath,
        member: &str,
        person: &EmployeeId,
    ) -> Result<(), TargetError> {
        let add = vec![Mod::Add(b"member".to_vec(), one(member))];
        match self.conn.modify(group, add).await? {
            Ok(()) => Ok(()),
            Err(e) if e.is(rc::ATTRIBUTE_OR_VALUE_EXISTS) || e.is(rc::ENTRY_ALREADY_EXISTS) => {
                Ok(())
            }
            Err(e) if e.is(rc::NO_SUCH_OBJECT) => {
                if !self.config.create_groups.unwrap_or(true) {
                    return Err(TargetError::rejected(format!(
                        "person {person}: group '{path}' ({group}) does not exist and create_groups = false"
                    )));
                }
                self.create_group(group, path, member, person).await
            }
            Err(e) => Err(e.to_target(
                &format!("group '{group}' (adding person {person})"),
                "updating",
            )),
        }
    }

    async fn create_group(
        &self,
        group: &str,
        path: &GroupPath,
        member: &str,
        person: &EmployeeId,
    ) -> Result<(), TargetError> {
        let cn = path.0.join(&self.separator);
        let mut attrs = vec![
            (b"cn".to_vec(), one(&cn)),
            (b"member".to_vec(), one(member)),
        ];
        if self.ad() {
            let group_type: i64 = match self.config.group_type {
                GroupType::Security => -2_147_483_646,
                GroupType::Distribution => 2,
            };
            let sam: String = cn
                .chars()
                .filter(|c| !"\"/\\[]:;|=,+*?<>@".contains(*c))
                .take(64)
                .collect();
            attrs.push((
                b"objectClass".to_vec(),
                HashSet::from([b"top".to_vec(), b"group".to_vec()]),
            ));
            attrs.push((b"groupType".to_vec(), one(&group_type.to_string())));
            attrs.push((b"sAMAccountName".to_vec(), one(sam.trim())));
        } else {
            attrs.push((
                b"objectClass".to_vec(),
                HashSet::from([b"top".to_vec(), b"groupOfNames".to_vec()]),
            ));
        }
        let mut tried_ou = false;
        loop {
            match self.conn.add(group, attrs.clone()).await? {
                Ok(()) => return Ok(()),
                // Created meanwhile by a concurrent operation: join it.
                Err(e) if e.is(rc::ENTRY_ALREADY_EXISTS) => {
                    let add = vec![Mod::Add(b"member".to_vec(), one(member))];
                    return match self.conn.modify(group, add).await? {
                        Ok(()) => Ok(()),
                        Err(e)
                            if e.is(rc::ATTRIBUTE_OR_VALUE_EXISTS)
                                || e.is(rc::ENTRY_ALREADY_EXISTS) =>
                        {
                            Ok(())
                        }
                        Err(e) => Err(e.to_target(
                            &format!("group '{group}' (adding person {person})"),
                            "updating",
                        )),
                    };
                }
                Err(e) if e.is(rc::NO_SUCH_OBJECT) && self.config.create_ous && !tried_ou => {
                    tried_ou = true;
                    self.ensure_ou(&self.config.groups_base, person).await?;
                }
                Err(e) => {
                    return Err(e.to_target(
                        &format!("group '{group}' (for person {person})"),
                        "creating",
                    ));
                }
            }
        }
    }

    async fn leave(
        &self,
        group: &str,
        member: &str,
        person: &EmployeeId,
    ) -> Result<(), TargetError> {
        let del = vec![Mod::Delete(b"member".to_vec(), one(member))];
        match self.conn.modify(group, del).await? {
            Ok(()) => Ok(()),
            Err(e)
                if e.is(rc::NO_SUCH_ATTRIBUTE)
                    || e.is(rc::NO_SUCH_OBJECT)
                    || (self.ad() && e.is(rc::UNWILLING_TO_PERFORM)) =>
            {
                Ok(())
            }
            // groupOfNames must keep a member: leave the placeholder.
            Err(e) if e.is(rc::OBJECT_CLASS_VIOLATION) && !self.ad() => {
                let placeholder = self
                    .config
                    .empty_group_member
                    .clone()
                    .unwrap_or_else(|| "cn=nobody".into());
                let replace = vec![Mod::Replace(b"member".to_vec(), one(&placeholder))];
                self.conn.modify(group, replace).await?.map_err(|e| {
                    e.to_target(
                        &format!("group '{group}' (removing person {person})"),
                        "updating",
                    )
                })
            }
            Err(e) => Err(e.to_target(
                &format!("group '{group}' (removing person {person})"),
                "updating",
            )),
        }
    }

    /// Chooses a free account name (`first.last`, then `first.last2`…).
    async fn free_account(&self, record: &TargetRecord) -> Result<String, TargetError> {
        let raw = self.templates.render("account_name", record).map_err(|e| {
            TargetError::rejected(format!(
                "the account_name template failed for person {}: {e}",
                record.person
            ))
        })?;
        let max = self.max_account();
        let base = naming::sanitize_account(&raw, record.person.as_str(), max);
        let root = self.domain_root();
        for n in 1..=99 {
            let name = naming::candidate(&base, n, max);
            let filter = if self.ad() {
                format!(
                    "(|(sAMAccountName={0})(userPrincipalName={0}@{1}))",
                    dn::filter_value(&name),
                    dn::filter_value(&self.upn_suffix())
                )
            } else {
                format!("(uid={})", dn::filter_value(&name))
            };
            let taken = self
                .search(
                    &root,
                    Scope::Subtree,
                    &filter,
                    &["1.1"],
                    &format!("account name '{name}'"),
                )
                .await?;
            if taken.is_empty() {
                return Ok(name);
            }
        }
        Err(TargetError::rejected(format!(
            "person {}: the account names '{base}' to '{}' are all taken",
            record.person,
            naming::candidate(&base, 99, max)
        )))
    }

    /// Creates a new entry; returns its DN.
    async fn add_entry(&self, record: &TargetRecord) -> Result<String, TargetError> {
        let person = &record.person;
        let _guard = self.create_lock.lock().await;
        let account = self.free_account(record).await?;
        let parent = self.placement(record, OpKind::Create, None)?;
        let manager = self.manager_dn(record).await?;
        let password = match (
            self.ad(),
            self.config
                .initial_password
                .unwrap_or(InitialPassword::Random),
        ) {
            (true, InitialPassword::Random) => {
                if !self.conn.params().secure() {
                    return Err(TargetError::fatal(
                        "refusing to send a password over an unencrypted connection; use ldaps:// or start_tls",
                    ));
                }
                Some(naming::random_password().map_err(|e| {
                    TargetError::fatal(format!("cannot read random bytes for a password: {e}"))
                })?)
            }
            _ => None,
        };
        let uac = match (&password, record.active) {
            (Some(_), true) => UAC_NORMAL,
            (Some(_), false) => UAC_NORMAL | UAC_DISABLED,
            (None, _) => UAC_NORMAL | UAC_DISABLED | UAC_PASSWD_NOTREQD,
        };
        let mut attrs: Vec<(Vec<u8>, HashSet<Vec<u8>>)> = Vec::new();
        for (_, (attr, values)) in self.desired(record, &account, manager.as_deref(), Some(uac))? {
            if !values.is_empty() {
                attrs.push((attr.into_bytes(), set(&values)));
            }
        }
        let cn = Self::full_name(record, &account);
        let mut rdn;
        if self.ad() {
            attrs.push((
                b"objectClass".to_vec(),
                HashSet::from([
                    b"top".to_vec(),
                    b"person".to_vec(),
                    b"organizationalPerson".to_vec(),
                    b"user".to_vec(),
                ]),
            ));
            attrs.push((b"sAMAccountName".to_vec(), one(&account)));
            attrs.push((
                b"userPrincipalName".to_vec(),
                one(&format!("{account}@{}", self.upn_suffix())),
            ));
            if let Some(pw) = &password {
                let quoted: Vec<u8> = format!("\"{pw}\"")
                    .encode_utf16()
                    .flat_map(u16::to_le_bytes)
                    .collect();
                attrs.push((b"unicodePwd".to_vec(), HashSet::from([quoted])));
            }
            rdn = format!("CN={}", dn::escape_value(&cn));
        } else {
            attrs.push((
                b"objectClass".to_vec(),
                HashSet::from([
                    b"top".to_vec(),
                    b"person".to_vec(),
                    b"organizationalPerson".to_vec(),
                    b"inetOrgPerson".to_vec(),
                ]),
            ));
            attrs.push((b"uid".to_vec(), one(&account)));
            rdn = format!("uid={}", dn::escape_value(&account));
        }
        let mut tried_ou = false;
        let mut tried_suffix = false;
        let dn_ = loop {
            let dn_ = format!("{rdn},{parent}");
            if self.ad() {
                // The RDN value must be the entry's cn.
                attrs.retain(|(a, _)| a.as_slice() != b"cn");
                attrs.push((b"cn".to_vec(), one(&dn::first_value(&dn_))));
            }
            match self.conn.add(&dn_, attrs.clone()).await? {
                Ok(()) => break dn_,
                Err(e) if e.is(rc::ENTRY_ALREADY_EXISTS) && self.ad() && !tried_suffix => {
                    tried_suffix = true;
                    rdn = format!("CN={}", dn::escape_value(&format!("{cn} ({account})")));
                }
                Err(e)
                    if !e.is(rc::ENTRY_ALREADY_EXISTS)
                        && !tried_ou
                        && !self.exists(&parent).await? =>
                {
                    tried_ou = true;
                    if !self.config.create_ous {
                        return Err(TargetError::rejected(format!(
                            "creating {}: the OU '{parent}' does not exist (create it, or set create_ous = true)",
                            self.who(person, Some(&dn_))
                        )));
                    }
                    self.ensure_ou(&parent, person).await?;
                }
                Err(e) => return Err(e.to_target(&self.who(person, Some(&dn_)), "creating")),
            }
        };
        drop(_guard);
        if let Some(pw) = password {
            self.deliver_password(&account, &pw)?;
        }
        for path in &record.groups {
            self.join(&self.group_dn(path), path, &dn_, person).await?;
        }
        Ok(dn_)
    }

    fn deliver_password(&self, account: &str, password: &str) -> Result<(), TargetError> {
        let Some(path) = &self.config.password_file else {
            return Ok(());
        };
        let mut options = std::fs::OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let written = options
            .open(path)
            .and_then(|mut f| writeln!(f, "{account}\t{password}"));
        written.map_err(|e| {
            TargetError::fatal(format!(
                "account {account} was created, but its initial password could not be written to \
                 password_file {}: {e}; reset the password by hand",
                path.display()
            ))
        })
    }

    async fn id_of(&self, dn_: &str, person: &EmployeeId) -> Result<String, TargetError> {
        let found = self
            .search(
                dn_,
                Scope::Base,
                "(objectClass=*)",
                &[self.id_attr()],
                &self.who(person, Some(dn_)),
            )
            .await?;
        found
            .first()
            .and_then(|e| self.remote_id(e))
            .ok_or_else(|| {
                TargetError::transient(format!(
                    "{} was written but its {} could not be read back",
                    self.who(person, Some(dn_)),
                    self.id_attr()
                ))
            })
    }

    async fn create(
        &self,
        record: &TargetRecord,
        match_by: MatchBy,
    ) -> Result<Outcome, TargetError> {
        let person = &record.person;
        let mut existing = self.find(person, None).await?;
        let mut matched = MatchBy::ExternalId;
        if existing.is_none() && match_by == MatchBy::Email {
            let email = Self::text(record, "email");
            if !email.is_empty() {
                let filter = format!(
                    "(&(objectClass={})(mail={}))",
                    self.person_class(),
                    dn::filter_value(&email)
                );
                let found = self
                    .search(
                        &self.config.base_dn,
                        Scope::Subtree,
                        &filter,
                        &self.wanted_attrs(),
                        &self.who(person, None),
                    )
                    .await?;
                if found.len() == 1 {
                    existing = found.into_iter().next();
                    matched = MatchBy::Email;
                }
            }
        }
        let Some(entry) = existing else {
            let dn_ = self.add_entry(record).await?;
            let remote_id = self.id_of(&dn_, person).await?;
            return Ok(Outcome::Created { remote_id });
        };
        let changes = self.changes(&entry, record, OpKind::Create).await?;
        if changes.is_empty() && matched == MatchBy::ExternalId {
            return Ok(Outcome::Unchanged);
        }
        let allowed = match match_by {
            MatchBy::None => false,
            MatchBy::ExternalId => matched == MatchBy::ExternalId,
            MatchBy::Email => {
                let want = Self::text(record, "email");
                !want.is_empty()
                    && entry
                        .get("mail")
                        .iter()
                        .any(|m| m.eq_ignore_ascii_case(&want))
            }
        };
        if !allowed {
            return Err(TargetError::conflict(format!(
                "{} already exists with different values, and match_by = \"{}\" does not allow \
                 taking it over; set match_by = \"external_id\" to adopt it",
                self.who(person, Some(&entry.dn)),
                match match_by {
                    MatchBy::None => "none",
                    MatchBy::ExternalId => "external_id",
                    MatchBy::Email => "email",
                }
            )));
        }
        let dn_ = self.execute(&entry.dn, record, changes).await?;
        let remote_id = self.id_of(&dn_, person).await?;
        Ok(Outcome::Adopted {
            remote_id,
            matched_by: if match_by == MatchBy::Email {
                matched
            } else {
                match_by
            },
        })
    }

    async fn converge(
        &self,
        remote_id: Option<&str>,
        record: &TargetRecord,
        kind: OpKind,
    ) -> Result<Outcome, TargetError> {
        let person = &record.person;
        let Some(entry) = self.find(person, remote_id).await? else {
            return Err(TargetError::conflict(format!(
                "no entry for person {person} below '{}' (id {}): it was deleted or moved out of \
                 base_dn by someone else; nothing was changed",
                self.config.base_dn,
                remote_id.unwrap_or("unknown")
            )));
        };
        let changes = self.changes(&entry, record, kind).await?;
        if changes.is_empty() {
            return Ok(Outcome::Unchanged);
        }
        self.execute(&entry.dn, record, changes).await?;
        Ok(Outcome::Applied)
    }

    /// The person's entry in `TargetRecord` terms.
    async fn record_of(&self, entry: &Entry) -> Result<TargetRecord, TargetError> {
        let person = EmployeeId::new(entry.first(&self.anchor).unwrap_or_default());
        let stored: Option<TargetRecord> = self
            .config
            .record_attribute
            .as_ref()
            .and_then(|a| entry.first(a))
            .and_then(|json| serde_json::from_str(json).ok());
        let mut record = stored
            .clone()
            .unwrap_or_else(|| TargetRecord::new(person.clone()));
        record.person = person;
        for (ldap, name) in &self.attr_map {
            let values = entry.get(ldap);
            match stored.as_ref().map(|s| s.attributes.get(name)) {
                Some(Some(old)) => {
                    let now = if values.is_empty() {
                        if old.is_empty() {
                            old.clone()
                        } else {
                            Value::Null
                        }
                    } else {
                        typed(old, values)
                    };
                    record.attributes.insert(name.as_str().into(), now);
                }
                Some(None) => {}
                None => {
                    if !values.is_empty() {
                        record.attributes.insert(
                            name.as_str().into(),
                            typed(&Value::Text(String::new()), values),
                        );
                    }
                }
            }
        }
        if let Some(manager) = entry.first("manager") {
            let found = self
                .search(
                    manager,
                    Scope::Base,
                    "(objectClass=*)",
                    &[&self.anchor],
                    "the manager",
                )
                .await?;
            record.manager = found
                .first()
                .and_then(|m| m.first(&self.anchor))
                .map(EmployeeId::new);
        } else if stored.is_none() {
            record.manager = None;
        }
        record.active = if self.ad() {
            let uac: i64 = entry
                .first("userAccountControl")
                .and_then(|v| v.parse().ok())
                .unwrap_or(UAC_NORMAL);
            uac & UAC_DISABLED == 0
        } else {
            let (attr, value) = self.disabled_marker();
            let parent = dn::split_first(&entry.dn).1;
            let in_disabled_ou = self
                .config
                .disabled_ou
                .as_ref()
                .is_some_and(|d| dn::norm(d) == dn::norm(&parent));
            !entry.get(&attr).contains(&value) && !in_disabled_ou
        };
        let current = self.groups_of(&entry.dn).await?;
        let known: BTreeMap<String, GroupPath> = stored
            .iter()
            .flat_map(|s| s.groups.iter())
            .map(|p| (dn::norm(&self.group_dn(p)), p.clone()))
            .collect();
        record.groups = current
            .iter()
            .map(|(key, dn_)| known.get(key).cloned().unwrap_or_else(|| self.path_of(dn_)))
            .collect();
        Ok(record)
    }
}

impl Target for LdapTarget {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        "ldap"
    }

    async fn check(&self) -> Result<String, TargetError> {
        self.conn.reset().await;
        self.conn.handle().await?;
        let base = &self.config.base_dn;
        let mut missing = Vec::new();
        for (key, dn_) in [
            ("base_dn", Some(base)),
            ("default_ou", Some(&self.config.default_ou)),
            ("groups_base", Some(&self.config.groups_base)),
            ("disabled_ou", self.config.disabled_ou.as_ref()),
        ] {
            let Some(dn_) = dn_ else { continue };
            let found = self
                .search(
                    dn_,
                    Scope::Base,
                    "(objectClass=*)",
                    &["1.1"],
                    &format!("{key} '{dn_}'"),
                )
                .await?;
            if found.is_empty() {
                if key == "base_dn" {
                    return Err(TargetError::fatal(format!(
                        "base_dn '{dn_}' does not exist or the service account may not read it"
                    )));
                }
                missing.push(format!("{key} '{dn_}' does not exist"));
            }
        }
        let flavor = if self.ad() {
            "Active Directory"
        } else {
            "OpenLDAP"
        };
        let mut summary = format!(
            "{flavor} at {} bound as {}; base {base} readable",
            self.config.url, self.config.bind_dn
        );
        if !missing.is_empty() {
            summary.push_str(&format!(
                "; {}{}",
                missing.join(", "),
                if self.config.create_ous {
                    " (will be created)"
                } else {
                    ""
                }
            ));
        }
        Ok(summary)
    }

    async fn existing_groups(&self) -> Result<Option<BTreeSet<GroupPath>>, TargetError> {
        let filter = format!("(objectClass={})", self.group_class());
        let found = self
            .search(
                &self.config.groups_base,
                Scope::OneLevel,
                &filter,
                &["cn"],
                "groups",
            )
            .await?;
        Ok(Some(found.iter().map(|e| self.path_of(&e.dn)).collect()))
    }

    async fn begin(&self, _run: &RunInfo) -> Result<(), TargetError> {
        self.conn.handle().await.map(|_| ())
    }

    async fn apply(&self, op: &Operation) -> Result<Outcome, TargetError> {
        match op {
            Operation::Create { record, match_by } => self.create(record, *match_by).await,
            Operation::Update {
                remote_id, record, ..
            } => {
                self.converge(remote_id.as_deref(), record, OpKind::Update)
                    .await
            }
            Operation::Enable {
                remote_id, record, ..
            } => {
                self.converge(remote_id.as_deref(), record, OpKind::Enable)
                    .await
            }
            Operation::Disable {
                remote_id, record, ..
            } => {
                let mut record = record.clone();
                record.active = false;
                self.converge(remote_id.as_deref(), &record, OpKind::Disable)
                    .await
            }
            Operation::Delete {
                remote_id, record, ..
            } => {
                let person = &record.person;
                let Some(entry) = self.find(person, remote_id.as_deref()).await? else {
                    return Ok(Outcome::Unchanged);
                };
                match self.conn.delete(&entry.dn).await? {
                    Ok(()) => Ok(Outcome::Applied),
                    Err(e) if e.is(rc::NO_SUCH_OBJECT) => Ok(Outcome::Unchanged),
                    Err(e) => Err(e.to_target(&self.who(person, Some(&entry.dn)), "deleting")),
                }
            }
        }
    }
}

impl Inspect for LdapTarget {
    async fn read(&self, person: &EmployeeId) -> Result<Option<TargetRecord>, TargetError> {
        match self.find(person, None).await? {
            Some(entry) => self.record_of(&entry).await.map(Some),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guids_round_trip() {
        let bytes: Vec<u8> = (1..=16).collect();
        let s = guid_string(&bytes).unwrap();
        assert_eq!(s, "04030201-0605-0807-090a-0b0c0d0e0f10");
        assert_eq!(guid_bytes(&s).unwrap(), bytes);
        assert!(is_uuid(&s));
        assert!(!is_uuid("202"));
    }

    #[test]
    fn values_go_to_ldap_strings_and_back_with_their_type() {
        let date = Value::Date(jiff::civil::date(2024, 2, 29));
        assert_eq!(ldap_values(&date), vec!["2024-02-29"]);
        assert_eq!(typed(&date, &["2024-02-29".into()]), date);
        assert_eq!(
            typed(&Value::Decimal(1.0), &["38.5".into()]),
            Value::Decimal(38.5)
        );
        assert_eq!(ldap_values(&Value::Boolean(true)), vec!["TRUE"]);
        assert_eq!(
            typed(&Value::Boolean(false), &["TRUE".into()]),
            Value::Boolean(true)
        );
        let list = Value::List(vec!["b".into(), "a".into()]);
        assert_eq!(typed(&list, &["a".into(), "b".into()]), list);
        assert!(ldap_values(&Value::Text(String::new())).is_empty());
    }
}
