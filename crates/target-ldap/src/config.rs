//! The `[[target]]` keys of `type = "ldap"` ([`LdapConfig`]), their defaults per directory
//! flavor, and [`LdapConfig::validate`], which reports every problem at once.

use psync_targets::ConfigProblem;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Every key of [`LdapConfig`], for the configuration checker's unknown-key report.
pub const LDAP_KEYS: &[&str] = &[
    "url",
    "flavor",
    "start_tls",
    "ca_file",
    "tls_insecure",
    "timeout_seconds",
    "bind_dn",
    "bind_password",
    "bind_password_file",
    "base_dn",
    "ou",
    "default_ou",
    "create_ous",
    "disabled_ou",
    "account_name",
    "upn_suffix",
    "anchor_attribute",
    "attributes",
    "record_attribute",
    "disabled_attribute",
    "disabled_value",
    "groups_base",
    "group_separator",
    "group_type",
    "create_groups",
    "empty_group_member",
    "remove_groups_on_disable",
    "initial_password",
    "password_file",
];

/// Which kind of directory: decides object classes, the anchor, the account-name attribute and
/// how an account is disabled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flavor {
    /// Microsoft Active Directory or Samba AD: `user` objects, `sAMAccountName`,
    /// `userAccountControl`, `objectGUID`, `employeeID`.
    ActiveDirectory,
    /// OpenLDAP (or any RFC 4519 directory): `inetOrgPerson`, `uid`, `entryUUID`,
    /// `employeeNumber`, a marker attribute for disabled accounts.
    Openldap,
}

/// Security group or distribution list (Active Directory `groupType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum GroupType {
    /// A global security group (default).
    #[default]
    Security,
    /// A global distribution list (mail only, no permissions).
    Distribution,
}

/// The initial password of new Active Directory accounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InitialPassword {
    /// No password: the account stays disabled until someone sets one (the helpdesk).
    None,
    /// A random password, sent only over TLS, never logged; appended to `password_file` when
    /// set, otherwise given to nobody.
    Random,
}

/// `[[target]]` keys of `type = "ldap"`: [`LdapSettings`] behind a box (the connector enums
/// stay small); fields are reached through `Deref`.
#[derive(Debug, Clone, Deserialize)]
#[serde(transparent)]
pub struct LdapConfig(Box<LdapSettings>);

impl std::ops::Deref for LdapConfig {
    type Target = LdapSettings;
    fn deref(&self) -> &LdapSettings {
        &self.0
    }
}

impl std::ops::DerefMut for LdapConfig {
    fn deref_mut(&mut self) -> &mut LdapSettings {
        &mut self.0
    }
}

/// The settings of an LDAP target. Templates (`ou`, `account_name`) are minijinja
/// expressions over the record's attributes (`first_name`, `department`, …) and `person`.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LdapSettings {
    /// `ldap://host:port` or `ldaps://host:port`.
    pub url: String,
    /// `"active_directory"` or `"openldap"`.
    pub flavor: Flavor,
    /// Upgrade an `ldap://` connection with StartTLS (default false).
    #[serde(default)]
    pub start_tls: bool,
    /// PEM file with the CA certificates that sign the directory's certificate (default: the
    /// system's roots).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Accept any certificate. For tests only: never in production.
    #[serde(default)]
    pub tls_insecure: bool,
    /// Connect and operation timeout (default 30).
    #[serde(default)]
    pub timeout_seconds: Option<u64>,
    /// The service account's DN (or `user@domain` for Active Directory).
    pub bind_dn: String,
    /// The service account's password; `${ENV_VAR}` reads it from the environment.
    #[serde(default)]
    pub bind_password: Option<String>,
    /// A file holding the password (trailing newline ignored), instead of `bind_password`.
    #[serde(default)]
    pub bind_password_file: Option<PathBuf>,
    /// Everything the target creates or looks up lives below this DN.
    pub base_dn: String,
    /// Template for the DN of the OU a person is placed in, e.g.
    /// `"ou={{ department | rdn }},ou=People,dc=example,dc=org"`; an empty result means
    /// `default_ou`.
    #[serde(default)]
    pub ou: Option<String>,
    /// The OU for people the `ou` template gives no OU for (and for everyone without `ou`).
    pub default_ou: String,
    /// Create missing OUs below `base_dn` (default false: an OU that does not exist parks
    /// the operation with a message naming it).
    #[serde(default)]
    pub create_ous: bool,
    /// Leavers are moved here while disabled, and back when re-enabled.
    #[serde(default)]
    pub disabled_ou: Option<String>,
    /// Template for the account name (`uid` / `sAMAccountName`), default
    /// `"{{ first_name | ascii | lower }}.{{ last_name | ascii | lower }}"`. Chosen once at
    /// creation, with a numeric suffix on collision (`ada.lovelace2`); never changed later.
    #[serde(default)]
    pub account_name: Option<String>,
    /// Active Directory: `userPrincipalName` = account name + `@` + this (default: the
    /// domain of `base_dn`).
    #[serde(default)]
    pub upn_suffix: Option<String>,
    /// The attribute holding the Personio id (default `employeeID` for AD, `employeeNumber`
    /// for OpenLDAP).
    #[serde(default)]
    pub anchor_attribute: Option<String>,
    /// LDAP attribute = record attribute; adds to or overrides the flavor's defaults; an empty
    /// record name removes a default.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// An attribute that keeps a JSON copy of the applied record, so typed values and a
    /// manager outside the directory read back exactly (optional).
    #[serde(default)]
    pub record_attribute: Option<String>,
    /// OpenLDAP: the attribute marking a disabled account (default `employeeType`).
    #[serde(default)]
    pub disabled_attribute: Option<String>,
    /// OpenLDAP: its value (default `disabled`).
    #[serde(default)]
    pub disabled_value: Option<String>,
    /// Where groups live: group `A / B` is `cn=A<sep>B,<groups_base>`.
    pub groups_base: String,
    /// Joins a group path into one `cn` (default `" - "`).
    #[serde(default)]
    pub group_separator: Option<String>,
    /// Active Directory: `"security"` (default) or `"distribution"`.
    #[serde(default)]
    pub group_type: GroupType,
    /// Create groups that do not exist (default true).
    #[serde(default)]
    pub create_groups: Option<bool>,
    /// OpenLDAP `groupOfNames` needs a member: the placeholder kept in an emptied group
    /// (default `cn=nobody`).
    #[serde(default)]
    pub empty_group_member: Option<String>,
    /// Leavers leave their groups when disabled (default false).
    #[serde(default)]
    pub remove_groups_on_disable: bool,
    /// Active Directory: `"random"` (default) or `"none"`.
    #[serde(default)]
    pub initial_password: Option<InitialPassword>,
    /// Active Directory: new accounts' passwords are appended here (`account<TAB>password`),
    /// the file created with mode 0600.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
}

impl std::fmt::Debug for LdapSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LdapConfig")
            .field("url", &self.url)
            .field("flavor", &self.flavor)
            .field("bind_dn", &self.bind_dn)
            .field(
                "bind_password",
                &self.bind_password.as_ref().map(|_| "<redacted>"),
            )
            .field("base_dn", &self.base_dn)
            .field("default_ou", &self.default_ou)
            .field("groups_base", &self.groups_base)
            .finish_non_exhaustive()
    }
}

impl LdapConfig {
    /// A minimal configuration (tests and examples): everything else at its default.
    pub fn new(
        url: &str,
        flavor: Flavor,
        bind_dn: &str,
        bind_password: &str,
        base_dn: &str,
    ) -> Self {
        let people = match flavor {
            Flavor::ActiveDirectory => format!("OU=People,{base_dn}"),
            Flavor::Openldap => format!("ou=people,{base_dn}"),
        };
        let groups = match flavor {
            Flavor::ActiveDirectory => format!("OU=Groups,{base_dn}"),
            Flavor::Openldap => format!("ou=groups,{base_dn}"),
        };
        LdapConfig(Box::new(LdapSettings {
            url: url.into(),
            flavor,
            start_tls: false,
            ca_file: None,
            tls_insecure: false,
            timeout_seconds: None,
            bind_dn: bind_dn.into(),
            bind_password: Some(bind_password.into()),
            bind_password_file: None,
            base_dn: base_dn.into(),
            ou: None,
            default_ou: people,
            create_ous: false,
            disabled_ou: None,
            account_name: None,
            upn_suffix: None,
            anchor_attribute: None,
            attributes: BTreeMap::new(),
            record_attribute: None,
            disabled_attribute: None,
            disabled_value: None,
            groups_base: groups,
            group_separator: None,
            group_type: GroupType::Security,
            create_groups: None,
            empty_group_member: None,
            remove_groups_on_disable: false,
            initial_password: None,
            password_file: None,
        }))
    }

    /// Every problem at once (pure: no file or network access).
    pub fn validate(&self) -> Vec<ConfigProblem> {
        self.0.validate()
    }
}

impl LdapSettings {
    /// Every problem at once (pure: no file or network access).
    pub fn validate(&self) -> Vec<ConfigProblem> {
        let mut problems = Vec::new();
        let mut problem = |path: &str, message: String| {
            problems.push(ConfigProblem {
                path: path.into(),
                message,
            })
        };
        let tls_url = self.url.starts_with("ldaps://");
        if !(tls_url || self.url.starts_with("ldap://")) {
            problem(
                "url",
                format!(
                    "'{}' is not an LDAP URL; use ldap://HOST:PORT (with start_tls = true) or ldaps://HOST:PORT",
                    self.url
                ),
            );
        }
        if tls_url && self.start_tls {
            problem(
                "start_tls",
                "an ldaps:// URL is already encrypted; remove start_tls or use ldap://".into(),
            );
        }
        if self.tls_insecure && self.ca_file.is_some() {
            problem(
                "tls_insecure",
                "set either ca_file or tls_insecure, not both".into(),
            );
        }
        if self.timeout_seconds == Some(0) {
            problem("timeout_seconds", "must be at least 1".into());
        }
        if self.bind_dn.trim().is_empty() {
            problem("bind_dn", "the service account's DN is empty".into());
        }
        match (&self.bind_password, &self.bind_password_file) {
            (Some(_), Some(_)) => problem(
                "bind_password",
                "set either bind_password or bind_password_file, not both".into(),
            ),
            (None, None) => problem(
                "bind_password",
                "missing: set bind_password (\"${ENV_VAR}\" keeps it out of the file) or bind_password_file"
                    .into(),
            ),
            _ => {}
        }
        for (key, dn) in [
            ("base_dn", Some(&self.base_dn)),
            ("default_ou", Some(&self.default_ou)),
            ("groups_base", Some(&self.groups_base)),
            ("disabled_ou", self.disabled_ou.as_ref()),
        ] {
            let Some(dn) = dn else { continue };
            if let Err(why) = crate::dn::check_dn(dn) {
                problem(key, format!("'{dn}' is not a DN: {why}"));
            } else if key != "base_dn"
                && crate::dn::check_dn(&self.base_dn).is_ok()
                && !crate::dn::is_below(dn, &self.base_dn)
            {
                problem(
                    key,
                    format!("'{dn}' is not below base_dn '{}'", self.base_dn),
                );
            }
        }
        for (key, template) in [
            ("ou", self.ou.as_ref()),
            ("account_name", self.account_name.as_ref()),
        ] {
            if let Some(template) = template
                && let Err(e) = crate::naming::Templates::check(template)
            {
                problem(key, format!("template error: {e}"));
            }
        }
        for (ldap, record) in &self.attributes {
            if !crate::dn::is_attribute_name(ldap) {
                problem(
                    &format!("attributes.{ldap}"),
                    format!("'{ldap}' is not an LDAP attribute name"),
                );
            }
            let _ = record;
        }
        if self.group_separator.as_deref() == Some("") {
            problem("group_separator", "must not be empty".into());
        }
        if self.flavor == Flavor::ActiveDirectory {
            let password = self.initial_password.unwrap_or(InitialPassword::Random);
            if password == InitialPassword::Random && !(tls_url || self.start_tls) {
                problem(
                    "initial_password",
                    "Active Directory accepts passwords only over an encrypted connection: use an \
                     ldaps:// URL or start_tls = true, or set initial_password = \"none\""
                        .into(),
                );
            }
            if self.password_file.is_some() && password == InitialPassword::None {
                problem(
                    "password_file",
                    "initial_password = \"none\" sets no password to deliver".into(),
                );
            }
        } else {
            if self.initial_password == Some(InitialPassword::Random) {
                problem(
                    "initial_password",
                    "only Active Directory accounts get an initial password here".into(),
                );
            }
            if self.password_file.is_some() {
                problem(
                    "password_file",
                    "only Active Directory accounts get an initial password here".into(),
                );
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_reported_at_once_with_its_key() {
        let mut c = LdapConfig::new(
            "http://x",
            Flavor::ActiveDirectory,
            "",
            "pw",
            "dc=example,dc=org",
        );
        c.bind_password_file = Some("/x".into());
        c.default_ou = "ou=people,dc=other".into();
        c.groups_base = "nonsense".into();
        c.ou = Some("{% if %}".into());
        c.attributes.insert("bad name".into(), "x".into());
        c.timeout_seconds = Some(0);
        let paths: Vec<String> = c.validate().into_iter().map(|p| p.path).collect();
        for key in [
            "url",
            "bind_dn",
            "bind_password",
            "default_ou",
            "groups_base",
            "ou",
            "attributes.bad name",
            "timeout_seconds",
            "initial_password",
        ] {
            assert!(
                paths.iter().any(|p| p == key),
                "{key} missing from {paths:?}"
            );
        }
        let ok = LdapConfig::new(
            "ldaps://dc:636",
            Flavor::ActiveDirectory,
            "a@b",
            "pw",
            "DC=b,DC=c",
        );
        assert!(ok.validate().is_empty(), "{:?}", ok.validate());
        let ol = LdapConfig::new("ldap://h:389", Flavor::Openldap, "cn=a", "pw", "dc=b");
        assert!(ol.validate().is_empty(), "{:?}", ol.validate());
    }

    #[test]
    fn the_password_never_shows_in_debug_output() {
        let c = LdapConfig::new(
            "ldaps://dc:636",
            Flavor::ActiveDirectory,
            "a@b",
            "hunter2",
            "DC=b",
        );
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn the_key_list_names_every_field() {
        let json = serde_json::json!({
            "url": "ldap://h", "flavor": "openldap", "bind_dn": "cn=a", "base_dn": "dc=b",
            "default_ou": "ou=p,dc=b", "groups_base": "ou=g,dc=b",
        });
        // Every listed key is accepted (null = absent for the optional ones)…
        let nulls_ok: Vec<&str> = LDAP_KEYS
            .iter()
            .copied()
            .filter(|k| {
                ![
                    "start_tls",
                    "tls_insecure",
                    "create_ous",
                    "remove_groups_on_disable",
                    "attributes",
                    "group_type",
                ]
                .contains(k)
            })
            .collect();
        for key in nulls_ok {
            let mut one = json.as_object().unwrap().clone();
            one.entry(key.to_string())
                .or_insert(serde_json::Value::Null);
            assert!(
                serde_json::from_value::<LdapConfig>(one.into()).is_ok(),
                "{key}"
            );
        }
        // …and an unknown one is not.
        let mut bad = json.as_object().unwrap().clone();
        bad.insert("nope".into(), serde_json::Value::Bool(true));
        assert!(serde_json::from_value::<LdapConfig>(bad.into()).is_err());
    }
}
