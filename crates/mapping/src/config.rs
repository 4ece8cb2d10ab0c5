//! `[target.mapping]` as written in the configuration file: plain serde structs, no logic.

use psync_model::AttributeType;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// `[target.mapping]` in the config file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MappingConfig {
    /// Boolean expression deciding who is in scope; `None` = `status in ["active", "onboarding", "leave"]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Start from the default field map (default true); `fields` override and add.
    pub default_fields: bool,
    /// Target attribute name → how to compute it.
    pub fields: BTreeMap<String, FieldSpec>,
    /// Lookup tables by name, used with the `lookup("name")` filter.
    pub lookups: BTreeMap<String, LookupTable>,
    /// Group membership, when the target has groups.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub groups: Option<GroupsConfig>,
    /// Resolve supervisor → manager in a second pass (default true).
    pub manager: bool,
    /// Sample employees with expected records, run by `validate`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tests: Vec<MappingTest>,
}

impl Default for MappingConfig {
    fn default() -> Self {
        MappingConfig {
            scope: None,
            default_fields: true,
            fields: BTreeMap::new(),
            lookups: BTreeMap::new(),
            groups: None,
            manager: true,
            tests: Vec::new(),
        }
    }
}

/// How one target attribute is computed.
///
/// Template output is trimmed; an empty result is stored as `Value::Null` (the attribute is
/// still present: every record carries the full configured field set).
///
/// In TOML either a template string (`email = "{{ first_name | lower }}@acme.com"`) or a table
/// (`hire_date = { from = "hire_date" }`, `level = { template = "{{ custom.Level }}", type = "integer" }`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum FieldSpec {
    /// A template whose output is the attribute's text (empty output = `Null`).
    Template(String),
    /// A copied variable or a template, optionally typed and required.
    Detailed {
        /// A variable copied with its type (dates stay dates): `hire_date`, `custom.Shirt size`.
        #[serde(skip_serializing_if = "Option::is_none")]
        from: Option<String>,
        /// A template; its output is parsed into `type` when set.
        #[serde(skip_serializing_if = "Option::is_none")]
        template: Option<String>,
        /// The attribute's type: the template output is parsed into it, a copied value converted.
        #[serde(skip_serializing_if = "Option::is_none")]
        r#type: Option<AttributeType>,
        /// An empty result is an error for that person (record skipped and reported).
        #[serde(skip_serializing_if = "is_false")]
        required: bool,
    },
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// The table form of [`FieldSpec`], deserialized on its own so that unknown keys and wrong
/// types get serde's precise messages instead of "did not match any variant".
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DetailedSpec {
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    template: Option<String>,
    #[serde(default, deserialize_with = "attribute_type")]
    r#type: Option<AttributeType>,
    #[serde(default)]
    required: bool,
}

impl<'de> Deserialize<'de> for FieldSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SpecVisitor;
        impl<'de> Visitor<'de> for SpecVisitor {
            type Value = FieldSpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a template string or a table with `from` or `template`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<FieldSpec, E> {
                Ok(FieldSpec::Template(v.to_string()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<FieldSpec, E> {
                Ok(FieldSpec::Template(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<FieldSpec, A::Error> {
                let d = DetailedSpec::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(FieldSpec::Detailed {
                    from: d.from,
                    template: d.template,
                    r#type: d.r#type,
                    required: d.required,
                })
            }
        }
        deserializer.deserialize_any(SpecVisitor)
    }
}

/// Accepts our type names and Personio's v1/v2 names, case-insensitively.
fn attribute_type<'de, D: Deserializer<'de>>(d: D) -> Result<Option<AttributeType>, D::Error> {
    let name = String::deserialize(d)?;
    parse_attribute_type(&name).map(Some).ok_or_else(|| {
        de::Error::custom(format!(
            "unknown type '{name}', expected one of: text, integer, decimal, date, boolean, choice, tags"
        ))
    })
}

/// Parses a type name: ours (`text`, `integer`, …) or Personio's (`standard`, `INT`, `STRING_LIST`…).
pub fn parse_attribute_type(name: &str) -> Option<AttributeType> {
    Some(match name.trim().to_ascii_lowercase().as_str() {
        "text" | "string" | "standard" | "multiline" | "link" => AttributeType::Text,
        "integer" | "int" => AttributeType::Integer,
        "decimal" | "double" | "float" | "number" => AttributeType::Decimal,
        "date" => AttributeType::Date,
        "boolean" | "bool" => AttributeType::Boolean,
        "choice" | "list" => AttributeType::Choice,
        "tags" | "string_list" => AttributeType::Tags,
        _ => return None,
    })
}

/// A lookup table: `{ entries = { Munich = "DE" }, default = "XX" }`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LookupTable {
    /// Input value → output value.
    pub entries: BTreeMap<String, String>,
    /// Output for a value without an entry; without it such a value is an error for that person.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
}

/// Group membership: levels of a hierarchy, or flat groups.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GroupsConfig {
    /// One expression per level, e.g. `["office", "department"]` or `["department_path"]`
    /// (a list value expands into several levels; an empty value ends the path).
    pub levels: Vec<String>,
    /// One group per level value instead of a hierarchy (default false).
    pub flat: bool,
    /// Groups that do not exist in the target are created (default true).
    pub create_missing: bool,
    /// With `create_missing = false`: the group (`"A / B"`) for people whose group and its
    /// ancestors do not exist.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
}

impl Default for GroupsConfig {
    fn default() -> Self {
        GroupsConfig {
            levels: Vec::new(),
            flat: false,
            create_missing: true,
            fallback: None,
        }
    }
}

/// A sample employee with the record the mapping should produce (`[[target.mapping.tests]]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingTest {
    /// Shown in failures.
    pub name: String,
    /// The employee, as canonical `Employee` JSON (`id`, `first_name`, `last_name` required).
    pub employee: serde_json::Value,
    /// Expected scope decision; `None` = in scope when `expect` or `groups` is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_scope: Option<bool>,
    /// Expected attributes (only those listed are compared). Dates as `"YYYY-MM-DD"`,
    /// `null` for empty, or a typed value such as `{ type = "date", value = "2024-01-01" }`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub expect: BTreeMap<String, serde_json::Value>,
    /// Expected groups as `"A / B"` paths (compared as a set, before `create_missing` resolution).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<String>>,
}
