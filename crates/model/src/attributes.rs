//! [`Attributes`]: a record's attributes by name, kept compact because a sync holds two of them
//! (desired and last applied) for every person of a 100k company.
//!
//! A sorted vector instead of a `BTreeMap` (one allocation per record instead of several
//! half-empty tree nodes), and names as shared [`Name`]s (one allocation per distinct name in
//! the process instead of one per record). Serialized exactly as a map, so stored state written
//! before this type existed still reads.

use crate::value::Value;
use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Borrow;
use std::collections::HashSet;
use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, Mutex, OnceLock};

/// An attribute name, shared between all records that use it.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Name(Arc<str>);

/// Names longer than this are not pooled (they are unlikely to repeat).
const POOLED_LEN: usize = 64;
/// The pool stops growing here; later new names are allocated per use (still correct).
const POOL_CAPACITY: usize = 16_384;

impl Name {
    /// The shared name equal to `text` (allocated once per process for short names).
    pub fn new(text: &str) -> Self {
        static POOL: OnceLock<Mutex<HashSet<Arc<str>>>> = OnceLock::new();
        if text.len() > POOLED_LEN {
            return Name(Arc::from(text));
        }
        let pool = POOL.get_or_init(Default::default);
        // A poisoned pool still holds valid names: keep using it.
        let mut pool = pool.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(found) = pool.get(text) {
            return Name(Arc::clone(found));
        }
        let name: Arc<str> = Arc::from(text);
        if pool.len() < POOL_CAPACITY {
            pool.insert(Arc::clone(&name));
        }
        Name(name)
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Deref for Name {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for Name {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Name {
    fn from(text: &str) -> Self {
        Name::new(text)
    }
}

impl From<String> for Name {
    fn from(text: String) -> Self {
        Name::new(&text)
    }
}

impl From<&String> for Name {
    fn from(text: &String) -> Self {
        Name::new(text)
    }
}

impl PartialEq<str> for Name {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Name {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        Ok(Name::new(&text))
    }
}

/// Attributes by name, sorted by name, each name at most once.
#[derive(Clone, Default, PartialEq)]
pub struct Attributes(Vec<(Name, Value)>);

impl Attributes {
    /// No attributes.
    pub fn new() -> Self {
        Attributes(Vec::new())
    }

    fn position(&self, name: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(n, _)| n.as_str().cmp(name))
    }

    /// The value of `name`, if set.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.position(name).ok().map(|i| &self.0[i].1)
    }

    /// The value of `name` for changing it in place, if set.
    pub fn get_mut(&mut self, name: &str) -> Option<&mut Value> {
        self.position(name).ok().map(|i| &mut self.0[i].1)
    }

    /// Whether `name` is set.
    pub fn contains_key(&self, name: &str) -> bool {
        self.position(name).is_ok()
    }

    /// Sets `name`, returning the value it replaced.
    pub fn insert(&mut self, name: Name, value: Value) -> Option<Value> {
        match self.position(&name) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, value)),
            Err(i) => {
                self.0.insert(i, (name, value));
                None
            }
        }
    }

    /// Unsets `name`, returning its value.
    pub fn remove(&mut self, name: &str) -> Option<Value> {
        self.position(name).ok().map(|i| self.0.remove(i).1)
    }

    /// Keeps only the attributes for which `keep` says yes.
    pub fn retain(&mut self, mut keep: impl FnMut(&str, &mut Value) -> bool) {
        self.0.retain_mut(|(n, v)| keep(n, v));
    }

    /// How many attributes are set.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether none is set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Names and values in name order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&str, &Value)> + ExactSizeIterator {
        self.0.iter().map(|(n, v)| (n.as_str(), v))
    }

    /// Names in order.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &str> + ExactSizeIterator {
        self.0.iter().map(|(n, _)| n.as_str())
    }

    /// Values in name order.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &Value> + ExactSizeIterator {
        self.0.iter().map(|(_, v)| v)
    }

    /// Releases spare capacity (records are built once and kept for the whole run).
    pub fn shrink_to_fit(&mut self) {
        self.0.shrink_to_fit();
    }
}

impl fmt::Debug for Attributes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<N: Into<Name>> FromIterator<(N, Value)> for Attributes {
    fn from_iter<I: IntoIterator<Item = (N, Value)>>(iter: I) -> Self {
        let mut all: Vec<(Name, Value)> = iter.into_iter().map(|(n, v)| (n.into(), v)).collect();
        // Stable sort, then the last value of a repeated name wins (as with map inserts).
        all.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out: Vec<(Name, Value)> = Vec::with_capacity(all.len());
        for (name, value) in all {
            match out.last_mut() {
                Some(last) if last.0 == name => last.1 = value,
                _ => out.push((name, value)),
            }
        }
        Attributes(out)
    }
}

impl<N: Into<Name>> Extend<(N, Value)> for Attributes {
    fn extend<I: IntoIterator<Item = (N, Value)>>(&mut self, iter: I) {
        for (name, value) in iter {
            self.insert(name.into(), value);
        }
    }
}

impl<'a> IntoIterator for &'a Attributes {
    type Item = (&'a str, &'a Value);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (Name, Value)>,
        fn(&'a (Name, Value)) -> (&'a str, &'a Value),
    >;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(n, v)| (n.as_str(), v))
    }
}

impl IntoIterator for Attributes {
    type Item = (Name, Value);
    type IntoIter = std::vec::IntoIter<(Name, Value)>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl Serialize for Attributes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            map.serialize_entry(name.as_str(), value)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Attributes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries;
        impl<'de> Visitor<'de> for Entries {
            type Value = Attributes;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of attribute names to values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Attributes, A::Error> {
                let mut all = Vec::with_capacity(access.size_hint().unwrap_or(0));
                while let Some(entry) = access.next_entry::<Name, Value>()? {
                    all.push(entry);
                }
                Ok(all.into_iter().collect())
            }
        }
        deserializer.deserialize_map(Entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Value {
        Value::Text(s.into())
    }

    #[test]
    fn behaves_like_a_sorted_map() {
        let mut a = Attributes::new();
        assert!(a.insert("title".into(), text("Dev")).is_none());
        a.insert("email".into(), text("a@x"));
        assert_eq!(a.insert("title".into(), text("Lead")), Some(text("Dev")));
        a.insert(String::from("zip").into(), Value::Integer(1));
        assert_eq!(a.keys().collect::<Vec<_>>(), ["email", "title", "zip"]);
        assert_eq!(a.get("title"), Some(&text("Lead")));
        assert!(a.contains_key("zip") && !a.contains_key("nope"));
        assert_eq!(a.remove("zip"), Some(Value::Integer(1)));
        assert_eq!(a.len(), 2);
        a.retain(|n, _| n != "email");
        assert_eq!(a.keys().collect::<Vec<_>>(), ["title"]);
        let b: Attributes = [("b", text("2")), ("a", text("1")), ("b", text("3"))]
            .into_iter()
            .collect();
        assert_eq!(
            b.iter().collect::<Vec<_>>(),
            [("a", &text("1")), ("b", &text("3"))]
        );
    }

    #[test]
    fn serializes_as_the_map_it_replaced() {
        let a: Attributes = [("title", text("Dev")), ("email", text("a@x"))]
            .into_iter()
            .collect();
        let json = serde_json::to_string(&a).unwrap();
        let old: std::collections::BTreeMap<String, Value> = [
            ("title".to_string(), text("Dev")),
            ("email".to_string(), text("a@x")),
        ]
        .into_iter()
        .collect();
        assert_eq!(serde_json::to_string(&old).unwrap(), json);
        let reversed = json
            .replace("email", "zz")
            .replace("title", "email")
            .replace("zz", "title");
        let back: Attributes = serde_json::from_str(&reversed).unwrap();
        assert_eq!(back.keys().collect::<Vec<_>>(), ["email", "title"]);
        assert_eq!(serde_json::from_str::<Attributes>(&json).unwrap(), a);
        assert_eq!(
            format!("{a:?}"),
            r#"{"email": Text("a@x"), "title": Text("Dev")}"#
        );
    }

    #[test]
    fn names_are_pooled() {
        let a = Name::new("department");
        let b = Name::from(String::from("department"));
        assert!(Arc::ptr_eq(&a.0, &b.0));
    }
}
