//! Deterministic company generator: same seed and size, identical people (names, org, dates).

use crate::company::{
    COST_CENTERS, Company, DEPARTMENTS, Gender, OFFICES, Person, Status, TEAMS,
    legal_entity_for_office, quirk,
};
use crate::dates;
use crate::rng::Rng;
use std::collections::HashSet;

/// First id handed out; leaves room below for the shift-during-paging fault.
pub(crate) const FIRST_ID: u64 = 10_001;

static FIRST_NAMES: &[(&str, &str)] = &[
    ("Anna", "anna"),
    ("Lukas", "lukas"),
    ("Zoë", "zoe"),
    ("Øyvind", "oyvind"),
    ("Łukasz", "lukasz"),
    ("Jürgen", "juergen"),
    ("María", "maria"),
    ("José", "jose"),
    ("Chloé", "chloe"),
    ("Søren", "soren"),
    ("Ayşe", "ayse"),
    ("Mehmet", "mehmet"),
    ("Fatima", "fatima"),
    ("Sven", "sven"),
    ("Ingrid", "ingrid"),
    ("Emma", "emma"),
    ("Noah", "noah"),
    ("Mia", "mia"),
    ("Ben", "ben"),
    ("Sophie", "sophie"),
    ("Liam", "liam"),
    ("Olivia", "olivia"),
    ("Jan", "jan"),
    ("Katarzyna", "katarzyna"),
    ("Dmitri", "dmitri"),
    ("Siobhán", "siobhan"),
    ("Aoife", "aoife"),
    ("Björn", "bjoern"),
    ("Luca", "luca"),
    ("Giulia", "giulia"),
    ("伟", "wei"),
    ("芳", "fang"),
    ("Hiroshi", "hiroshi"),
    ("Yuki", "yuki"),
    ("Priya", "priya"),
    ("Arjun", "arjun"),
    ("Renée", "renee"),
    ("François", "francois"),
    ("Mara", "mara"),
    ("Théo", "theo"),
];

static LAST_NAMES: &[(&str, &str)] = &[
    ("Müller", "mueller"),
    ("Schmidt", "schmidt"),
    ("Schneider", "schneider"),
    ("Fischer", "fischer"),
    ("Weber", "weber"),
    ("Meyer", "meyer"),
    ("Wagner", "wagner"),
    ("Becker", "becker"),
    ("Hoffmann", "hoffmann"),
    ("Öztürk", "oeztuerk"),
    ("Yılmaz", "yilmaz"),
    ("Kowalski", "kowalski"),
    ("Nowak", "nowak"),
    ("Wiśniewski", "wisniewski"),
    ("García", "garcia"),
    ("Fernández", "fernandez"),
    ("López", "lopez"),
    ("Martínez", "martinez"),
    ("Rossi", "rossi"),
    ("Bianchi", "bianchi"),
    ("de Vries", "devries"),
    ("van den Berg", "vandenberg"),
    ("Jansen", "jansen"),
    ("Smith", "smith"),
    ("Jones", "jones"),
    ("O'Brien", "obrien"),
    ("Nguyen", "nguyen"),
    ("王", "wang"),
    ("李", "li"),
    ("Tanaka", "tanaka"),
    ("Johansson", "johansson"),
    ("Hansen", "hansen"),
    ("Lindqvist", "lindqvist"),
    ("Dubois", "dubois"),
    ("Lefèvre", "lefevre"),
    ("Gruber", "gruber"),
    ("Huber", "huber"),
    ("Steiner", "steiner"),
    ("Brunner", "brunner"),
    ("Dvořák", "dvorak"),
];

static POSITIONS: &[&str] = &[
    "Software Engineer",
    "Senior Software Engineer",
    "Engineering Manager",
    "Product Manager",
    "Product Designer",
    "Data Analyst",
    "Account Executive",
    "Sales Development Representative",
    "Marketing Manager",
    "Customer Success Manager",
    "Buchhalter:in",
    "HR Business Partner",
    "Recruiter",
    "Legal Counsel",
    "IT Support Specialist",
    "Werkstudent:in",
    "Head of Platform",
    "Office Manager",
];

static TERMINATION_TYPES: &[&str] = &[
    "employee",
    "fired",
    "agreement",
    "contract_expired",
    "retirement",
];

/// An ASCII e-mail slug for a name (umlauts expanded, other letters folded, the rest dropped).
pub(crate) fn slug(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars().flat_map(char::to_lowercase) {
        match c {
            'a'..='z' | '0'..='9' => out.push(c),
            'ä' => out.push_str("ae"),
            'ö' => out.push_str("oe"),
            'ü' => out.push_str("ue"),
            'ß' => out.push_str("ss"),
            'á' | 'à' | 'â' | 'å' | 'ą' => out.push('a'),
            'é' | 'è' | 'ê' | 'ë' | 'ę' => out.push('e'),
            'í' | 'ì' | 'î' | 'ï' | 'ı' => out.push('i'),
            'ó' | 'ò' | 'ô' | 'ø' => out.push('o'),
            'ú' | 'ù' | 'û' => out.push('u'),
            'ç' | 'ć' | 'č' => out.push('c'),
            'ł' => out.push('l'),
            'ñ' | 'ń' => out.push('n'),
            'ś' | 'š' | 'ş' => out.push('s'),
            'ř' => out.push('r'),
            'ž' | 'ź' | 'ż' => out.push('z'),
            _ => {}
        }
    }
    if out.is_empty() { "x".to_string() } else { out }
}

/// Builds the company for `n` people from `seed` around `today` (days since the epoch).
pub(crate) fn generate(seed: u64, n: usize, today: i64, dirty: bool) -> Company {
    let mut rng = Rng::new(seed);
    let mut people: Vec<Person> = Vec::with_capacity(n);
    let mut emails: HashSet<String> = HashSet::with_capacity(n);
    // All generated timestamps lie before today - 1 day, so mutations (clock >= now) sort after them.
    let latest = (today - 1) * 86_400;
    for i in 0..n {
        let id = FIRST_ID + i as u64;
        let &(first, fslug) = rng.pick(FIRST_NAMES).unwrap_or(&("Anna", "anna"));
        let &(last, lslug) = rng.pick(LAST_NAMES).unwrap_or(&("Müller", "mueller"));
        let roll = rng.below(100);
        let mut status = match roll {
            0..=4 => Status::Onboarding,
            5..=79 => Status::Active,
            80..=84 => Status::Leave,
            _ => Status::Inactive,
        };
        if i == 0 {
            status = Status::Active; // the CEO
        }
        let (hire, termination) = match status {
            Status::Onboarding => (today + rng.range(1, 90), None),
            Status::Active | Status::Leave => {
                let hire = today - rng.range(30, 3650);
                // Some actives have handed in their notice: termination in the future.
                let term = (status == Status::Active && i > 0 && rng.chance(0.05))
                    .then(|| today + rng.range(10, 120));
                (hire, term)
            }
            Status::Inactive => {
                let term = today - rng.range(1, 1500);
                (term - rng.range(60, 2500), Some(term))
            }
        };
        let last_working_day = termination.map(|t| {
            if rng.chance(0.3) {
                t - rng.range(1, 20)
            } else {
                t
            }
        });
        let external = rng.chance(0.08);
        let contract_end = if external || rng.chance(0.05) {
            Some(termination.unwrap_or(hire + rng.range(180, 1100)))
        } else {
            None
        };
        let office =
            OFFICES[(rng.below(100) as usize * OFFICES.len() / 100).min(OFFICES.len() - 1)].id;
        let department = DEPARTMENTS[rng.below(DEPARTMENTS.len() as u64) as usize].id;
        let team = (!rng.chance(0.15)).then(|| TEAMS[rng.below(TEAMS.len() as u64) as usize].id);
        let cost_centers = match rng.below(10) {
            0 => Vec::new(),
            1 | 2 => {
                let a = rng.below(COST_CENTERS.len() as u64) as usize;
                let b = (a + 1 + rng.below(COST_CENTERS.len() as u64 - 1) as usize)
                    % COST_CENTERS.len();
                vec![(COST_CENTERS[a].id, 50), (COST_CENTERS[b].id, 50)]
            }
            _ => vec![(
                COST_CENTERS[rng.below(COST_CENTERS.len() as u64) as usize].id,
                100,
            )],
        };
        // Supervisor: someone generated earlier (no cycles); skip people who left unless dirty.
        let supervisor = if i == 0 {
            None
        } else {
            let mut sup = rng.below(i as u64 / 5 + 1) as usize;
            while !dirty && people[sup].status == Status::Inactive {
                match people[sup].supervisor {
                    Some(s) => sup = (s - FIRST_ID) as usize,
                    None => break,
                }
            }
            (people[sup].status != Status::Inactive || dirty).then_some(people[sup].id)
        };
        let created =
            (hire - rng.range(10, 60)).min(today - 2) * 86_400 + rng.range(7 * 3600, 18 * 3600);
        let updated = (created + rng.range(0, 900 * 86_400)).min(latest - rng.range(0, 86_400));
        let updated = updated.max(created);
        let mut email = format!("{fslug}.{lslug}@sim-company.example");
        if !emails.insert(email.clone()) {
            email = format!("{fslug}.{lslug}.{id}@sim-company.example");
            emails.insert(email.clone());
        }
        let gender = match rng.below(100) {
            0..=47 => Gender::Female,
            48..=94 => Gender::Male,
            _ => Gender::Diverse,
        };
        let preferred_name = rng
            .chance(0.1)
            .then(|| first.chars().take(3).collect::<String>());
        let weekly_hours = match rng.below(10) {
            0 => 20.0,
            1 => 32.5,
            2 => 30.0,
            _ => 40.0,
        };
        let mut quirks = 0u8;
        if rng.chance(0.1) {
            quirks |= quirk::NO_COLON;
        }
        if rng.chance(0.5) {
            quirks |= quirk::EMPTY_AS_LIST;
        }
        if rng.chance(0.5) {
            quirks |= quirk::TAGS_JSON;
        }
        if rng.chance(0.5) {
            quirks |= quirk::EMPTY_STRING_NAME;
        }
        people.push(Person {
            id,
            first_name: first.to_string(),
            last_name: last.to_string(),
            preferred_name,
            email: Some(email),
            gender,
            status,
            position: if i == 0 {
                "CEO".to_string()
            } else {
                rng.pick(POSITIONS).unwrap_or(&"Engineer").to_string()
            },
            department: Some(department),
            team,
            office: Some(office),
            legal_entity: legal_entity_for_office(office),
            cost_centers,
            supervisor,
            hire_date: Some(hire),
            termination_date: termination,
            last_working_day,
            contract_end_date: contract_end,
            probation_end: Some(hire + 182),
            termination_type: termination
                .map(|_| *rng.pick(TERMINATION_TYPES).unwrap_or(&"employee")),
            external,
            weekly_hours,
            has_picture: !rng.chance(0.1),
            created_at: created,
            updated_at: updated,
            base_updated_at: updated,
            changes: Vec::new(),
            employment_seq: 0,
            quirks,
            custom_overrides: None,
        });
    }
    if dirty && n >= 10 {
        // Missing e-mails.
        for idx in [n / 7, n / 3, (2 * n) / 3] {
            people[idx].email = None;
        }
        // One duplicate e-mail.
        let (a, b) = (n / 13, (5 * n) / 11);
        if a != b && people[a].email.is_some() && people[b].email.is_some() {
            people[b].email = people[a].email.clone();
        }
        // A supervisor who has left.
        if let Some(inactive) = people
            .iter()
            .take(n / 2)
            .find(|p| p.status == Status::Inactive)
            .map(|p| p.id)
        {
            let victim = n - 2;
            if people[victim].id > inactive {
                people[victim].supervisor = Some(inactive);
            }
        }
    }
    let clock = people
        .iter()
        .map(|p| p.updated_at)
        .max()
        .unwrap_or(latest)
        .max(latest);
    Company {
        seed,
        today,
        people,
        clock,
    }
}

/// The day number of a jiff date (re-exported for callers that only have the config).
pub(crate) fn today_days(d: jiff::civil::Date) -> i64 {
    dates::from_jiff_date(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_ascii() {
        assert_eq!(slug("Müller"), "mueller");
        assert_eq!(slug("Øyvind"), "oyvind");
        assert_eq!(slug("王"), "x");
        assert_eq!(slug("van den Berg"), "vandenberg");
    }

    #[test]
    fn supervisors_form_no_cycles() {
        let c = generate(3, 2000, 20_000, true);
        for p in &c.people {
            let mut cur = p.supervisor;
            let mut steps = 0;
            while let Some(s) = cur {
                assert_ne!(s, p.id);
                steps += 1;
                assert!(steps < 2000);
                cur = c.get(s).and_then(|x| x.supervisor);
            }
        }
    }
}
