//! Directory target: Active Directory and OpenLDAP over LDAP ([`LdapTarget`], configured by
//! [`LdapConfig`]).
//!
//! Record attributes it reads (names from the default field map): `first_name` → `givenName`,
//! `last_name` → `sn`, `display_name` → `displayName` (and `cn`), `email` → `mail`, `title`,
//! `office` → `physicalDeliveryOfficeName`, `department` (AD `department`, OpenLDAP
//! `departmentNumber`), AD also `company` and `country_code` → `c`; `attributes` in the
//! configuration adds or overrides. The Personio id goes to `employeeID` (AD) or
//! `employeeNumber` (OpenLDAP); the manager is written as the manager's DN. The remote id is
//! the entry's `objectGUID` / `entryUUID`, so renames and moves keep the identity.

mod config;
mod conn;
mod dn;
mod naming;
mod target;

pub use config::{Flavor, GroupType, InitialPassword, LDAP_KEYS, LdapConfig, LdapSettings};
pub use target::LdapTarget;
