//! The simulated company: people, org structure, custom attribute catalogue, and mutations.
//!
//! People are kept in a `Vec` sorted by id (binary search for lookups, slices for pages). Every
//! mutation bumps `updated_at` (the simulator's clock), records which v1 attributes changed (for
//! `updated_since`) and returns the v2 webhook events it implies.

use crate::config::{EmployeeUpdate, HireSpec, MoveSpec};
use crate::dates;
use crate::error::SimError;
use crate::rng;
use std::collections::BTreeMap;

/// A department or team.
#[derive(Debug, Clone)]
pub(crate) struct Unit {
    pub id: u64,
    pub name: &'static str,
    pub abbreviation: &'static str,
    pub parent: Option<u64>,
    pub description: &'static str,
}

/// An office (workplace), legal entity or cost center: id, name, country.
#[derive(Debug, Clone)]
pub(crate) struct Named {
    pub id: u64,
    pub name: &'static str,
    pub country: &'static str,
}

macro_rules! unit {
    ($id:expr, $name:expr, $abbr:expr, $parent:expr, $desc:expr) => {
        Unit {
            id: $id,
            name: $name,
            abbreviation: $abbr,
            parent: $parent,
            description: $desc,
        }
    };
}

pub(crate) static DEPARTMENTS: &[Unit] = &[
    unit!(401, "Product & Tech", "PT", None, "Everything we build"),
    unit!(402, "Engineering", "ENG", Some(401), "Software engineering"),
    unit!(
        403,
        "Platform",
        "PLT",
        Some(402),
        "Infrastructure and developer tooling"
    ),
    unit!(
        404,
        "Payments",
        "PAY",
        Some(402),
        "Payroll and payment rails"
    ),
    unit!(405, "Mobile", "MOB", Some(402), "iOS and Android apps"),
    unit!(
        406,
        "Design",
        "DES",
        Some(401),
        "Product design and research"
    ),
    unit!(
        407,
        "Data & Analytics",
        "DATA",
        Some(401),
        "Reporting and data science"
    ),
    unit!(
        408,
        "Go-to-Market",
        "GTM",
        None,
        "Sales, marketing, customer success"
    ),
    unit!(409, "Sales", "SAL", Some(408), "New business"),
    unit!(
        410,
        "Sales DACH",
        "DACH",
        Some(409),
        "Deutschland, Österreich, Schweiz"
    ),
    unit!(
        411,
        "Sales International",
        "INTL",
        Some(409),
        "Everything outside DACH"
    ),
    unit!(
        412,
        "Marketing",
        "MKT",
        Some(408),
        "Brand and demand generation"
    ),
    unit!(
        413,
        "Customer Success",
        "CS",
        Some(408),
        "Onboarding and support"
    ),
    unit!(414, "Operations", "OPS", None, "Running the company"),
    unit!(
        415,
        "Finance",
        "FIN",
        Some(414),
        "Accounting and controlling"
    ),
    unit!(
        416,
        "People & Culture",
        "P&C",
        Some(414),
        "HR, recruiting, Personalwesen"
    ),
    unit!(417, "Legal", "LEG", Some(414), "Contracts and compliance"),
    unit!(
        418,
        "IT & Workplace",
        "IT",
        Some(414),
        "Laptops, offices, access"
    ),
];

pub(crate) static TEAMS: &[Unit] = &[
    unit!(4501, "Team Falcon", "FAL", None, ""),
    unit!(4502, "Team Orca", "ORC", None, ""),
    unit!(4503, "Team Kolibri", "KOL", None, ""),
    unit!(4504, "Équipe Étoile", "ETO", None, ""),
    unit!(4505, "Team Nordlicht", "NOR", None, ""),
    unit!(4506, "Team Bär", "BAR", None, ""),
    unit!(4507, "Team Zürisee", "ZUR", None, ""),
    unit!(4508, "Team Tulip", "TUL", None, ""),
    unit!(4509, "Team Sol", "SOL", None, ""),
    unit!(4510, "Team Thames", "THA", None, ""),
    unit!(4511, "Team Donau", "DON", None, ""),
    unit!(4512, "Team Łabędź", "LAB", None, ""),
];

macro_rules! named {
    ($id:expr, $name:expr, $c:expr) => {
        Named {
            id: $id,
            name: $name,
            country: $c,
        }
    };
}

pub(crate) static OFFICES: &[Named] = &[
    named!(60301, "Munich", "DE"),
    named!(60302, "Berlin", "DE"),
    named!(60303, "Vienna", "AT"),
    named!(60304, "Zurich", "CH"),
    named!(60305, "Madrid", "ES"),
    named!(60306, "London", "GB"),
    named!(60307, "Amsterdam", "NL"),
];

pub(crate) static LEGAL_ENTITIES: &[Named] = &[
    named!(170, "Sim Software GmbH", "DE"),
    named!(171, "Sim Software Österreich GmbH", "AT"),
    named!(172, "Sim Software Schweiz AG", "CH"),
    named!(173, "Sim Software Iberia S.L.", "ES"),
    named!(174, "Sim Software UK Ltd.", "GB"),
    named!(175, "Sim Software Nederland B.V.", "NL"),
];

pub(crate) static COST_CENTERS: &[Named] = &[
    named!(1000, "CC-1000 Verwaltung", ""),
    named!(1001, "CC-1001 Research & Development", ""),
    named!(1002, "CC-1002 Vertrieb", ""),
    named!(1003, "CC-1003 Marketing", ""),
    named!(1004, "CC-1004 Customer Success", ""),
    named!(1005, "CC-1005 Infrastruktur", ""),
    named!(1006, "CC-1006 People", ""),
    named!(1007, "CC-1007 Finance", ""),
];

/// The legal entity of an office's country.
pub(crate) fn legal_entity_for_office(office: u64) -> Option<u64> {
    let country = OFFICES.iter().find(|o| o.id == office)?.country;
    LEGAL_ENTITIES
        .iter()
        .find(|l| l.country == country)
        .map(|l| l.id)
}

/// The kind of a custom attribute, which fixes its v1 and v2 type names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CustomKind {
    List,
    Tags,
    Date,
    Integer,
    Decimal,
    Link,
    Multiline,
    Standard,
    /// v1 has no boolean type: served as `standard` text "true"/"false"; v2 `BOOLEAN`.
    Boolean,
}

/// One custom (`dynamic_*`) attribute of the company.
#[derive(Debug, Clone)]
pub(crate) struct CustomDef {
    pub key: &'static str,
    pub label: &'static str,
    pub kind: CustomKind,
    pub options: &'static [&'static str],
    pub universal_id: Option<&'static str>,
    /// v2 type name as sent (one is lower case, a documented spec quirk).
    pub v2_type: &'static str,
    /// v2 sends no label for this one (documented quirk).
    pub v2_label_missing: bool,
}

pub(crate) static CUSTOM_DEFS: &[CustomDef] = &[
    CustomDef {
        key: "dynamic_24407",
        label: "Shirt size",
        kind: CustomKind::List,
        options: &["XS", "S", "M", "L", "XL"],
        universal_id: None,
        v2_type: "STRING",
        v2_label_missing: false,
    },
    CustomDef {
        key: "dynamic_24408",
        label: "Sprachen",
        kind: CustomKind::Tags,
        options: &[
            "English",
            "Deutsch",
            "Español",
            "Français",
            "Nederlands",
            "Polski",
            "中文",
        ],
        universal_id: None,
        v2_type: "STRING_LIST",
        v2_label_missing: false,
    },
    CustomDef {
        key: "dynamic_24409",
        label: "Eintrittsdatum Konzern",
        kind: CustomKind::Date,
        options: &[],
        universal_id: None,
        v2_type: "DATE",
        v2_label_missing: false,
    },
    CustomDef {
        key: "dynamic_24410",
        label: "Parkplatznummer",
        kind: CustomKind::Integer,
        options: &[],
        universal_id: None,
        v2_type: "INT",
        v2_label_missing: false,
    },
    CustomDef {
        key: "dynamic_24411",
        label: "Bonus factor",
        kind: CustomKind::Decimal,
        options: &[],
        universal_id: None,
        v2_type: "DOUBLE",
        v2_label_missing: false,
    },
    CustomDef {
        key: "dynamic_24412",
        label: "LinkedIn",
        kind: CustomKind::Link,
        options: &[],
        universal_id: None,
        v2_type: "string",
        v2_label_missing: false,
    },
    CustomDef {
        key: "dynamic_24413",
        label: "Notizen",
        kind: CustomKind::Multiline,
        options: &[],
        universal_id: None,
        v2_type: "STRING",
        v2_label_missing: false,
    },
    CustomDef {
        key: "dynamic_6322ffb59ab387.97097504",
        label: "Kostenstellen-Code",
        kind: CustomKind::Standard,
        options: &[],
        universal_id: None,
        v2_type: "STRING",
        v2_label_missing: true,
    },
    CustomDef {
        key: "dynamic_24414",
        label: "Remote eligible",
        kind: CustomKind::Boolean,
        options: &[],
        universal_id: None,
        v2_type: "BOOLEAN",
        v2_label_missing: false,
    },
    CustomDef {
        key: "dynamic_21827",
        label: "IBAN",
        kind: CustomKind::Standard,
        options: &[],
        universal_id: Some("iban"),
        v2_type: "STRING",
        v2_label_missing: false,
    },
];

/// A custom attribute value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum CVal {
    Text(String),
    Int(i64),
    Dec(f64),
    Date(i64),
    Bool(bool),
    Tags(Vec<String>),
}

static NOTES: &[&str] = &[
    "Bevorzugt Remote-Arbeit.\nSpricht Deutsch & Englisch.",
    "Ersthelfer:in im Büro.\nSchlüssel Nr. 12",
    "Mentor for new joiners",
    "Teilzeit bis März.\n\"Elternzeit\" geplant",
];

/// The generated (not overridden) value of custom attribute `idx` for a person.
pub(crate) fn generated_custom(seed: u64, id: u64, idx: usize) -> Option<CVal> {
    let def = CUSTOM_DEFS.get(idx)?;
    let h = rng::hash(&[seed, id, idx as u64, 0xC057]);
    // Roughly one value in twelve is empty.
    if h.is_multiple_of(12) {
        return None;
    }
    let r = h >> 8;
    Some(match def.kind {
        CustomKind::List => CVal::Text(def.options[(r % def.options.len() as u64) as usize].into()),
        CustomKind::Tags => {
            let mut tags = Vec::new();
            for (i, opt) in def.options.iter().enumerate() {
                if (r >> (i * 3)).is_multiple_of(3) {
                    tags.push((*opt).to_string());
                }
            }
            if tags.is_empty() {
                tags.push(def.options[0].to_string());
            }
            CVal::Tags(tags)
        }
        CustomKind::Date => CVal::Date(dates::days_from_civil(2005, 1, 1) + (r % 7000) as i64),
        CustomKind::Integer => CVal::Int((r % 400) as i64 + 1),
        CustomKind::Decimal => CVal::Dec(((r % 200) as f64 + 50.0) / 100.0),
        CustomKind::Link => CVal::Text(format!("https://www.linkedin.com/in/sim-{id}")),
        CustomKind::Multiline => CVal::Text(NOTES[(r % NOTES.len() as u64) as usize].into()),
        CustomKind::Standard if def.universal_id == Some("iban") => CVal::Text(format!(
            "DE{:02} 5001 0517 {:04} {:04} {:02}",
            r % 90 + 10,
            id % 10_000,
            r % 10_000,
            r % 97
        )),
        CustomKind::Standard => CVal::Text(format!(
            "KS-{:03}/{}",
            r % 1000,
            ["A", "B", "Ü"][(r % 3) as usize]
        )),
        CustomKind::Boolean => CVal::Bool(r.is_multiple_of(2)),
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Gender {
    Male,
    Female,
    Diverse,
}

impl Gender {
    pub(crate) fn v1(self) -> &'static str {
        match self {
            Gender::Male => "male",
            Gender::Female => "female",
            Gender::Diverse => "diverse",
        }
    }
    pub(crate) fn v2(self) -> &'static str {
        match self {
            Gender::Male => "MALE",
            Gender::Female => "FEMALE",
            Gender::Diverse => "DIVERSE",
        }
    }
    fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "male" | "m" => Some(Gender::Male),
            "female" | "f" | "w" => Some(Gender::Female),
            "diverse" | "d" | "x" => Some(Gender::Diverse),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Onboarding,
    Active,
    Leave,
    Inactive,
}

impl Status {
    pub(crate) fn v1(self) -> &'static str {
        match self {
            Status::Onboarding => "onboarding",
            Status::Active => "active",
            Status::Leave => "leave",
            Status::Inactive => "inactive",
        }
    }
    pub(crate) fn v2(self) -> &'static str {
        match self {
            Status::Onboarding => "ONBOARDING",
            Status::Active => "ACTIVE",
            Status::Leave => "LEAVE",
            Status::Inactive => "INACTIVE",
        }
    }
    /// v2 person status: ACTIVE = active, leave or onboarding.
    pub(crate) fn v2_person(self) -> &'static str {
        if self == Status::Inactive {
            "INACTIVE"
        } else {
            "ACTIVE"
        }
    }
    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "onboarding" => Some(Status::Onboarding),
            "active" => Some(Status::Active),
            "leave" => Some(Status::Leave),
            "inactive" => Some(Status::Inactive),
            _ => None,
        }
    }
    pub(crate) fn to_model(self) -> psync_model::EmploymentStatus {
        match self {
            Status::Onboarding => psync_model::EmploymentStatus::Onboarding,
            Status::Active => psync_model::EmploymentStatus::Active,
            Status::Leave => psync_model::EmploymentStatus::Leave,
            Status::Inactive => psync_model::EmploymentStatus::Inactive,
        }
    }
}

/// Wire quirks chosen per person (bit flags).
pub(crate) mod quirk {
    /// v1 dates as `+0100` instead of `+01:00`.
    pub const NO_COLON: u8 = 1;
    /// Empty nested objects as `[]` (else `""`).
    pub const EMPTY_AS_LIST: u8 = 2;
    /// Tags as a JSON-encoded list string (else comma-separated).
    pub const TAGS_JSON: u8 = 4;
    /// An empty preferred name is sent as `""` (else `null`).
    pub const EMPTY_STRING_NAME: u8 = 8;
}

/// One person with their (single) employment.
#[derive(Debug, Clone)]
pub(crate) struct Person {
    pub id: u64,
    pub first_name: String,
    pub last_name: String,
    pub preferred_name: Option<String>,
    pub email: Option<String>,
    pub gender: Gender,
    pub status: Status,
    pub position: String,
    pub department: Option<u64>,
    pub team: Option<u64>,
    pub office: Option<u64>,
    pub legal_entity: Option<u64>,
    pub cost_centers: Vec<(u64, u8)>,
    pub supervisor: Option<u64>,
    pub hire_date: Option<i64>,
    pub termination_date: Option<i64>,
    pub last_working_day: Option<i64>,
    pub contract_end_date: Option<i64>,
    pub probation_end: Option<i64>,
    pub termination_type: Option<&'static str>,
    pub external: bool,
    pub weekly_hours: f64,
    pub has_picture: bool,
    pub created_at: i64,
    /// Last change of anything (shown as last_modified_at / updated_at).
    pub updated_at: i64,
    /// Last time every attribute counted as changed (generation, hire).
    pub base_updated_at: i64,
    /// Per-attribute change times from mutations (v1 keys).
    pub changes: Vec<(String, i64)>,
    pub employment_seq: u32,
    pub quirks: u8,
    /// Custom values that differ from the generated ones (index into CUSTOM_DEFS).
    pub custom_overrides: Option<BTreeMap<usize, Option<CVal>>>,
}

impl Person {
    /// The value of custom attribute `idx`.
    pub(crate) fn custom(&self, seed: u64, idx: usize) -> Option<CVal> {
        if let Some(o) = self.custom_overrides.as_ref().and_then(|m| m.get(&idx)) {
            return o.clone();
        }
        generated_custom(seed, self.id, idx)
    }

    /// The v2 employment id (stable per person and rehire).
    pub(crate) fn employment_id(&self, seed: u64) -> String {
        let a = rng::hash(&[seed, self.id, u64::from(self.employment_seq), 1]);
        let b = rng::hash(&[seed, self.id, u64::from(self.employment_seq), 2]);
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            ((b >> 48) & 0x3fff) | 0x8000,
            b & 0xffff_ffff_ffff
        )
    }

    /// Did one of the attributes accepted by `counts` change at or after `since`?
    pub(crate) fn changed_since(&self, since: i64, counts: &dyn Fn(&str) -> bool) -> bool {
        if self.base_updated_at >= since {
            return true;
        }
        self.changes.iter().any(|(k, t)| *t >= since && counts(k))
    }

    fn touch(&mut self, keys: &[&str], now: i64) {
        self.updated_at = now;
        for k in keys {
            match self.changes.iter_mut().find(|(key, _)| key == k) {
                Some(entry) => entry.1 = now,
                None => self.changes.push(((*k).to_string(), now)),
            }
        }
    }
}

/// A v2 webhook event implied by a mutation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Event {
    pub name: &'static str,
    /// Person id for person events, employment id for employment events.
    pub id: String,
    pub person_id: String,
}

/// The whole simulated company.
#[derive(Debug)]
pub(crate) struct Company {
    pub seed: u64,
    /// Today as days since the epoch.
    pub today: i64,
    /// Sorted by id.
    pub people: Vec<Person>,
    /// The simulator's clock: strictly increasing mutation timestamps.
    pub clock: i64,
}

fn find_unit(units: &'static [Unit], key: &str) -> Option<u64> {
    let key = key.trim();
    units
        .iter()
        .find(|u| u.id.to_string() == key || u.name.eq_ignore_ascii_case(key))
        .map(|u| u.id)
}

fn find_named(items: &'static [Named], key: &str) -> Option<u64> {
    let key = key.trim();
    items
        .iter()
        .find(|u| u.id.to_string() == key || u.name.eq_ignore_ascii_case(key))
        .map(|u| u.id)
}

fn custom_from_json(def: &CustomDef, v: &serde_json::Value) -> Result<Option<CVal>, SimError> {
    use serde_json::Value as J;
    let bad = || {
        SimError::Invalid(format!(
            "value {v} does not fit custom attribute {}",
            def.key
        ))
    };
    if v.is_null() {
        return Ok(None);
    }
    Ok(Some(match def.kind {
        CustomKind::List | CustomKind::Link | CustomKind::Multiline | CustomKind::Standard => {
            match v {
                J::String(s) if s.is_empty() => return Ok(None),
                J::String(s) => CVal::Text(s.clone()),
                _ => return Err(bad()),
            }
        }
        CustomKind::Tags => match v {
            J::Array(items) => CVal::Tags(
                items
                    .iter()
                    .map(|i| i.as_str().map(str::to_string).ok_or_else(bad))
                    .collect::<Result<_, _>>()?,
            ),
            J::String(s) => CVal::Tags(
                s.split(',')
                    .map(|t| t.trim().to_string())
                    .filter(|t| !t.is_empty())
                    .collect(),
            ),
            _ => return Err(bad()),
        },
        CustomKind::Date => CVal::Date(v.as_str().and_then(dates::parse_date).ok_or_else(bad)?),
        CustomKind::Integer => CVal::Int(v.as_i64().ok_or_else(bad)?),
        CustomKind::Decimal => CVal::Dec(v.as_f64().ok_or_else(bad)?),
        CustomKind::Boolean => CVal::Bool(v.as_bool().ok_or_else(bad)?),
    }))
}

fn parse_id(id: &str) -> Result<u64, SimError> {
    id.trim()
        .parse()
        .map_err(|_| SimError::NotFound(id.to_string()))
}

impl Company {
    /// Index of a person by id.
    pub(crate) fn index_of(&self, id: u64) -> Option<usize> {
        self.people.binary_search_by_key(&id, |p| p.id).ok()
    }

    pub(crate) fn get(&self, id: u64) -> Option<&Person> {
        self.index_of(id).map(|i| &self.people[i])
    }

    /// The next mutation timestamp: now, but never earlier than (or equal to) the last one.
    pub(crate) fn tick(&mut self) -> i64 {
        self.clock = dates::now_secs().max(self.clock + 1);
        self.clock
    }

    fn person_mut(&mut self, id: &str) -> Result<&mut Person, SimError> {
        let n = parse_id(id)?;
        let idx = self
            .index_of(n)
            .ok_or_else(|| SimError::NotFound(id.to_string()))?;
        Ok(&mut self.people[idx])
    }

    fn check_supervisor(&self, person: Option<u64>, sup: u64) -> Result<(), SimError> {
        if self.get(sup).is_none() {
            return Err(SimError::Invalid(format!(
                "Supervisor with ID {sup} not found"
            )));
        }
        if let Some(me) = person {
            let mut cur = Some(sup);
            let mut steps = 0;
            while let Some(c) = cur {
                if c == me {
                    return Err(SimError::Invalid(format!(
                        "supervisor {sup} would create a cycle"
                    )));
                }
                steps += 1;
                if steps > self.people.len() {
                    break;
                }
                cur = self.get(c).and_then(|p| p.supervisor);
            }
        }
        Ok(())
    }

    fn email_taken(&self, email: &str, except: Option<u64>) -> bool {
        self.people
            .iter()
            .any(|p| Some(p.id) != except && p.email.as_deref() == Some(email))
    }

    fn employment_event(&self, name: &'static str, p: &Person) -> Event {
        Event {
            name,
            id: p.employment_id(self.seed),
            person_id: p.id.to_string(),
        }
    }

    fn person_event(name: &'static str, id: u64) -> Event {
        Event {
            name,
            id: id.to_string(),
            person_id: id.to_string(),
        }
    }

    /// Builds a new person from a hire spec (not inserted).
    fn new_person(&mut self, id: u64, spec: &HireSpec) -> Result<Person, SimError> {
        let now = self.tick();
        let hire = spec
            .hire_date
            .map(dates::from_jiff_date)
            .unwrap_or(self.today);
        let office = spec.office.as_deref().and_then(|o| find_named(OFFICES, o));
        let legal_entity = spec
            .legal_entity
            .as_deref()
            .and_then(|l| find_named(LEGAL_ENTITIES, l))
            .or_else(|| office.and_then(legal_entity_for_office));
        let supervisor = match spec.supervisor_id.as_deref().filter(|s| !s.is_empty()) {
            Some(s) => {
                let sup = parse_id(s)
                    .map_err(|_| SimError::Invalid(format!("Supervisor with ID {s} not found")))?;
                self.check_supervisor(None, sup)?;
                Some(sup)
            }
            None => None,
        };
        let email = match &spec.email {
            Some(e) if !e.trim().is_empty() => Some(e.trim().to_string()),
            Some(_) => None,
            None => Some(format!(
                "{}.{}.{}@sim-company.example",
                crate::generator::slug(&spec.first_name),
                crate::generator::slug(&spec.last_name),
                id
            )),
        };
        let mut overrides = BTreeMap::new();
        for (idx, def) in CUSTOM_DEFS.iter().enumerate() {
            let v = match spec.custom.get(def.key) {
                Some(v) => custom_from_json(def, v)?,
                None => None,
            };
            overrides.insert(idx, v);
        }
        Ok(Person {
            id,
            first_name: spec.first_name.clone(),
            last_name: spec.last_name.clone(),
            preferred_name: spec.preferred_name.clone().filter(|p| !p.is_empty()),
            email,
            gender: spec
                .gender
                .as_deref()
                .and_then(Gender::parse)
                .unwrap_or(Gender::Diverse),
            status: if hire > self.today {
                Status::Onboarding
            } else {
                Status::Active
            },
            position: spec
                .position
                .clone()
                .unwrap_or_else(|| "New Joiner".to_string()),
            department: spec
                .department
                .as_deref()
                .and_then(|d| find_unit(DEPARTMENTS, d)),
            team: spec.team.as_deref().and_then(|t| find_unit(TEAMS, t)),
            office,
            legal_entity,
            cost_centers: Vec::new(),
            supervisor,
            hire_date: Some(hire),
            termination_date: None,
            last_working_day: None,
            contract_end_date: None,
            probation_end: Some(hire + 182),
            termination_type: None,
            external: spec
                .employment_type
                .as_deref()
                .is_some_and(|t| t.eq_ignore_ascii_case("external")),
            weekly_hours: spec
                .weekly_hours
                .filter(|h| h.is_finite() && *h >= 0.0)
                .unwrap_or(40.0),
            has_picture: true,
            created_at: now,
            updated_at: now,
            base_updated_at: now,
            changes: Vec::new(),
            employment_seq: 0,
            quirks: 0,
            custom_overrides: Some(overrides),
        })
    }

    /// Hires a person at the end (new highest id).
    pub(crate) fn hire(&mut self, spec: &HireSpec) -> Result<(String, Vec<Event>), SimError> {
        if let Some(e) = spec.email.as_deref().filter(|e| !e.trim().is_empty())
            && self.email_taken(e.trim(), None)
        {
            return Err(SimError::Invalid(format!("email {e} is already in use")));
        }
        let id = self.people.last().map_or(1, |p| p.id + 1);
        let person = self.new_person(id, spec)?;
        let events = vec![
            Self::person_event("person.created", id),
            self.employment_event("employment.created", &person),
        ];
        self.people.push(person);
        Ok((id.to_string(), events))
    }

    /// Hires a person with an id below every existing one (front of the v1 list), for the
    /// shift-during-paging fault. None when there is no free id below.
    pub(crate) fn hire_at_front(&mut self) -> Option<(String, Vec<Event>)> {
        let first = self.people.first().map_or(2, |p| p.id);
        if first <= 1 {
            return None;
        }
        let id = first - 1;
        let spec = HireSpec {
            first_name: "Zoë".into(),
            last_name: "Früh-Einsteiger".into(),
            office: Some("Berlin".into()),
            department: Some("Platform".into()),
            position: Some("Working Student".into()),
            gender: Some("female".into()),
            ..HireSpec::default()
        };
        let person = self.new_person(id, &spec).ok()?;
        let events = vec![
            Self::person_event("person.created", id),
            self.employment_event("employment.created", &person),
        ];
        self.people.insert(0, person);
        Some((id.to_string(), events))
    }

    /// Applies a partial update.
    pub(crate) fn update(&mut self, id: &str, u: &EmployeeUpdate) -> Result<Vec<Event>, SimError> {
        let pid = parse_id(id)?;
        if self.index_of(pid).is_none() {
            return Err(SimError::NotFound(id.to_string()));
        }
        // Validate everything before changing anything.
        let supervisor = match u.supervisor_id.as_deref() {
            Some("") => Some(None),
            Some(s) => {
                let sup = parse_id(s)
                    .map_err(|_| SimError::Invalid(format!("Supervisor with ID {s} not found")))?;
                if sup == pid {
                    return Err(SimError::Invalid(
                        "an employee cannot supervise themselves".into(),
                    ));
                }
                self.check_supervisor(Some(pid), sup)?;
                Some(Some(sup))
            }
            None => None,
        };
        let resolve = |v: &Option<String>,
                       f: &dyn Fn(&str) -> Option<u64>,
                       what: &str|
         -> Result<Option<Option<u64>>, SimError> {
            match v.as_deref() {
                None => Ok(None),
                Some("") => Ok(Some(None)),
                Some(s) => f(s)
                    .map(|x| Some(Some(x)))
                    .ok_or_else(|| SimError::Invalid(format!("unknown {what} {s:?}"))),
            }
        };
        let department = resolve(&u.department, &|s| find_unit(DEPARTMENTS, s), "department")?;
        let team = resolve(&u.team, &|s| find_unit(TEAMS, s), "team")?;
        let office = resolve(&u.office, &|s| find_named(OFFICES, s), "office")?;
        let legal_entity = resolve(
            &u.legal_entity,
            &|s| find_named(LEGAL_ENTITIES, s),
            "legal entity",
        )?;
        let gender = match u.gender.as_deref() {
            Some(g) => Some(
                Gender::parse(g)
                    .ok_or_else(|| SimError::Invalid(format!("unknown gender {g:?}")))?,
            ),
            None => None,
        };
        let status = match u.status.as_deref() {
            Some(s) => Some(
                Status::parse(s)
                    .ok_or_else(|| SimError::Invalid(format!("unknown status {s:?}")))?,
            ),
            None => None,
        };
        let mut customs = Vec::new();
        for (k, v) in &u.custom {
            let idx = CUSTOM_DEFS
                .iter()
                .position(|d| d.key == k)
                .ok_or_else(|| SimError::Invalid(format!("unknown custom attribute {k}")))?;
            customs.push((idx, custom_from_json(&CUSTOM_DEFS[idx], v)?));
        }
        let cost_centers = match &u.cost_centers {
            Some(list) => {
                let mut out = Vec::new();
                for (c, pct) in list {
                    let cid = find_named(COST_CENTERS, c)
                        .ok_or_else(|| SimError::Invalid(format!("unknown cost center {c:?}")))?;
                    out.push((cid, pct.clamp(0.0, 100.0).round() as u8));
                }
                Some(out)
            }
            None => None,
        };
        if let Some(e) = u.email.as_deref().filter(|e| !e.is_empty())
            && self.email_taken(e, Some(pid))
        {
            return Err(SimError::Invalid(format!("email {e} is already in use")));
        }
        if let Some(h) = u.weekly_hours
            && (!h.is_finite() || h < 0.0)
        {
            return Err(SimError::Invalid(
                "weekly_hours must be a non-negative number".into(),
            ));
        }

        let now = self.tick();
        let p = self.person_mut(id)?;
        let mut keys: Vec<&str> = Vec::new();
        let mut person_changed = false;
        if let Some(v) = &u.first_name {
            p.first_name = v.clone();
            keys.push("first_name");
            person_changed = true;
        }
        if let Some(v) = &u.last_name {
            p.last_name = v.clone();
            keys.push("last_name");
            person_changed = true;
        }
        if let Some(v) = &u.preferred_name {
            p.preferred_name = Some(v.clone()).filter(|s| !s.is_empty());
            keys.push("preferred_name");
            person_changed = true;
        }
        if let Some(v) = &u.email {
            p.email = Some(v.trim().to_string()).filter(|s| !s.is_empty());
            keys.push("email");
            person_changed = true;
        }
        if let Some(g) = gender {
            p.gender = g;
            keys.push("gender");
            person_changed = true;
        }
        if let Some(s) = status {
            p.status = s;
            keys.push("status");
        }
        if let Some(v) = &u.position {
            p.position = v.clone();
            keys.push("position");
        }
        if let Some(d) = department {
            p.department = d;
            keys.push("department");
        }
        if let Some(t) = team {
            p.team = t;
            keys.push("team");
        }
        if let Some(o) = office {
            p.office = o;
            keys.push("office");
        }
        if let Some(l) = legal_entity {
            p.legal_entity = l;
            keys.push("subcompany");
        }
        if let Some(s) = supervisor {
            p.supervisor = s;
            keys.push("supervisor");
        }
        if let Some(h) = u.hire_date {
            p.hire_date = Some(dates::from_jiff_date(h));
            keys.push("hire_date");
        }
        if let Some(t) = u.termination_date {
            p.termination_date = t.map(dates::from_jiff_date);
            keys.push("termination_date");
        }
        if let Some(t) = u.last_working_day {
            p.last_working_day = t.map(dates::from_jiff_date);
            keys.push("last_working_day");
        }
        if let Some(t) = u.contract_end_date {
            p.contract_end_date = t.map(dates::from_jiff_date);
            keys.push("contract_end_date");
        }
        if let Some(t) = &u.employment_type {
            p.external = t.eq_ignore_ascii_case("external");
            keys.push("employment_type");
        }
        if let Some(h) = u.weekly_hours {
            p.weekly_hours = h;
            keys.push("weekly_working_hours");
        }
        if let Some(c) = cost_centers {
            p.cost_centers = c;
            keys.push("cost_centers");
        }
        for (idx, v) in customs {
            p.custom_overrides
                .get_or_insert_with(Default::default)
                .insert(idx, v);
            keys.push(CUSTOM_DEFS[idx].key);
            person_changed = true;
        }
        let employment_changed = keys.iter().any(|k| {
            !matches!(
                *k,
                "first_name" | "last_name" | "preferred_name" | "email" | "gender"
            ) && !k.starts_with("dynamic_")
        });
        p.touch(&keys, now);
        let p = p.clone();
        let mut events = Vec::new();
        if person_changed {
            events.push(Self::person_event("person.updated", p.id));
        }
        if employment_changed {
            events.push(self.employment_event("employment.updated", &p));
        }
        Ok(events)
    }

    /// Moves a person to another department/team/office.
    pub(crate) fn move_to(&mut self, id: &str, m: &MoveSpec) -> Result<Vec<Event>, SimError> {
        let u = EmployeeUpdate {
            department: m.department.clone(),
            team: m.team.clone(),
            office: m.office.clone(),
            legal_entity: m
                .office
                .as_deref()
                .and_then(|o| find_named(OFFICES, o))
                .and_then(legal_entity_for_office)
                .map(|l| l.to_string()),
            ..EmployeeUpdate::default()
        };
        self.update(id, &u)
    }

    /// Terminates a person on `date` (inactive when the date is not in the future).
    pub(crate) fn terminate(
        &mut self,
        id: &str,
        date: jiff::civil::Date,
    ) -> Result<Vec<Event>, SimError> {
        let today = self.today;
        let now = self.tick();
        let d = dates::from_jiff_date(date);
        let p = self.person_mut(id)?;
        p.termination_date = Some(d);
        p.last_working_day = Some(d);
        p.termination_type = Some("employee");
        if d <= today {
            p.status = Status::Inactive;
        }
        p.touch(
            &[
                "termination_date",
                "last_working_day",
                "termination_type",
                "status",
            ],
            now,
        );
        let p = p.clone();
        Ok(vec![self.employment_event("employment.updated", &p)])
    }

    /// Rehires a person (new employment) starting on `date` (default today).
    pub(crate) fn rehire(
        &mut self,
        id: &str,
        date: Option<jiff::civil::Date>,
    ) -> Result<Vec<Event>, SimError> {
        let today = self.today;
        let now = self.tick();
        let d = date.map(dates::from_jiff_date).unwrap_or(today);
        let p = self.person_mut(id)?;
        p.termination_date = None;
        p.last_working_day = None;
        p.termination_type = None;
        p.contract_end_date = None;
        p.hire_date = Some(d);
        p.probation_end = Some(d + 182);
        p.status = if d > today {
            Status::Onboarding
        } else {
            Status::Active
        };
        p.employment_seq += 1;
        p.base_updated_at = now;
        p.touch(&[], now);
        let p = p.clone();
        Ok(vec![self.employment_event("employment.created", &p)])
    }

    /// Changes a person's e-mail (empty removes it).
    pub(crate) fn change_email(&mut self, id: &str, email: &str) -> Result<Vec<Event>, SimError> {
        self.update(
            id,
            &EmployeeUpdate {
                email: Some(email.to_string()),
                ..EmployeeUpdate::default()
            },
        )
    }

    /// Deletes a person; their reports lose their supervisor.
    pub(crate) fn delete(&mut self, id: &str) -> Result<Vec<Event>, SimError> {
        let pid = parse_id(id)?;
        let idx = self
            .index_of(pid)
            .ok_or_else(|| SimError::NotFound(id.to_string()))?;
        let now = self.tick();
        let removed = self.people.remove(idx);
        let mut events = vec![
            Self::person_event("person.deleted", pid),
            self.employment_event("employment.deleted", &removed),
        ];
        let mut touched = Vec::new();
        for p in self.people.iter_mut().filter(|p| p.supervisor == Some(pid)) {
            p.supervisor = None;
            p.touch(&["supervisor"], now);
            touched.push(p.clone());
        }
        for p in &touched {
            events.push(self.employment_event("employment.updated", p));
        }
        Ok(events)
    }
}
