//! The JSON Schema (draft 2020-12) subset a bazaar declaration's `schema` may
//! use, checked against its `info` without resolving anything outside the
//! document.

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;

use crate::json::{JsonObject, JsonStr, JsonValue};

use super::{Invalid, Violation};

/// How deep schemas (counting every `$ref` followed) and instances may nest.
pub const MAX_DEPTH: usize = 32;

/// How many (schema, value) pairs one check may visit: `anyOf` inside
/// `anyOf` inside `items` grows fast, and a peer chooses the schema.
pub const MAX_STEPS: usize = 20_000;

/// How many bytes of JSON text one check may scan in all (keyword lookups,
/// property lookups, comparisons): a schema object of thousands of members
/// visited for each of thousands of items must not take seconds.
pub const MAX_WORK: usize = 50_000_000;

/// Keyword lookups an object schema costs, each a scan of its text at most.
const LOOKUPS: usize = 26;

/// Keywords whose meaning the subset does not evaluate: a schema using one
/// is refused rather than half-checked.
const UNSUPPORTED: &[&str] = &[
    "pattern",
    "patternProperties",
    "if",
    "then",
    "else",
    "dependentRequired",
    "dependentSchemas",
    "dependencies",
    "propertyNames",
    "contains",
    "minContains",
    "maxContains",
    "multipleOf",
    "unevaluatedProperties",
    "unevaluatedItems",
    "$dynamicRef",
    "$dynamicAnchor",
    "$recursiveRef",
    "$recursiveAnchor",
];

/// Whether `schema` holds a `$ref` or `$id` anywhere (as any member's key,
/// at any depth) whose value is not a string starting with `#`: a reference
/// outside the document, which is never followed.
pub(super) fn external_reference(schema: JsonValue<'_>, depth: usize) -> Result<(), Invalid> {
    // JSON levels: a schema nests two per level (`{"items": [...]}`).
    if depth > 2 * MAX_DEPTH {
        return Err(Invalid::at("schema", Violation::TooDeep));
    }
    if let Some(o) = schema.as_object() {
        for (k, v) in o.members() {
            if k == *"$ref" || k == *"$id" {
                let local = v.as_str().is_some_and(|s| s.chars().next() == Some('#'));
                if !local {
                    let mut path = String::from("schema");
                    push_key(&mut path, k);
                    return Err(Invalid {
                        path,
                        violation: Violation::ExternalReference,
                    });
                }
            }
            external_reference(v, depth + 1)?;
        }
    } else if let Some(a) = schema.as_array() {
        for v in a.iter() {
            external_reference(v, depth + 1)?;
        }
    }
    Ok(())
}

/// Appends `/key` (JSON Pointer escaped) to a path.
fn push_key(path: &mut String, key: JsonStr<'_>) {
    path.push('/');
    for c in key.chars() {
        match c {
            '~' => path.push_str("~0"),
            '/' => path.push_str("~1"),
            c => path.push(c),
        }
    }
}

fn push_index(path: &mut String, i: usize) {
    use core::fmt::Write;
    let _ = write!(path, "/{i}");
}

/// One check of an instance against a schema document.
pub(super) struct Checker<'a> {
    root: JsonValue<'a>,
    steps: usize,
    work: usize,
}

/// Where a check is: the instance's path (for the error) and the depth.
struct At<'p> {
    path: &'p mut String,
    depth: usize,
}

impl<'a> Checker<'a> {
    pub(super) fn new(root: JsonValue<'a>) -> Self {
        Checker {
            root,
            steps: 0,
            work: 0,
        }
    }

    /// Checks `value` against the root schema; the path of an error starts
    /// with `prefix`.
    pub(super) fn check(&mut self, value: JsonValue<'_>, prefix: &str) -> Result<(), Invalid> {
        let mut path = String::from(prefix);
        self.eval(
            self.root,
            value,
            &mut At {
                path: &mut path,
                depth: 0,
            },
        )
    }

    /// Counts `units` bytes of scanning against [`MAX_WORK`].
    fn charge(&mut self, units: usize, at: &At<'_>) -> Result<(), Invalid> {
        self.work = self.work.saturating_add(units);
        if self.work > MAX_WORK {
            return Err(Self::fail(at, Violation::TooComplex));
        }
        Ok(())
    }

    fn fail(at: &At<'_>, violation: Violation) -> Invalid {
        Invalid {
            path: at.path.clone(),
            violation,
        }
    }

    fn eval(
        &mut self,
        schema: JsonValue<'a>,
        value: JsonValue<'_>,
        at: &mut At<'_>,
    ) -> Result<(), Invalid> {
        self.steps += 1;
        if self.steps > MAX_STEPS {
            return Err(Self::fail(at, Violation::TooComplex));
        }
        if at.depth > MAX_DEPTH {
            return Err(Self::fail(at, Violation::TooDeep));
        }
        if let Some(b) = schema.as_bool() {
            return if b {
                Ok(())
            } else {
                Err(Self::fail(at, Violation::FalseSchema))
            };
        }
        let Some(s) = schema.as_object() else {
            return Err(Self::fail(
                at,
                Violation::InvalidSchema("a schema is an object or a boolean"),
            ));
        };
        self.charge(s.raw().len().saturating_mul(LOOKUPS), at)?;
        for (k, _) in s.members() {
            if UNSUPPORTED.iter().any(|u| k == **u) {
                return Err(Self::fail(at, Violation::UnsupportedKeyword));
            }
        }
        if let Some(r) = s.get("$ref") {
            self.charge(self.root.raw().len(), at)?;
            let target = self
                .resolve(r)
                .ok_or_else(|| Self::fail(at, Violation::UnresolvedReference))?;
            at.depth += 1;
            let res = self.eval(target, value, at);
            at.depth -= 1;
            res?;
        }
        if let Some(t) = s.get("type") {
            check_type(t, value, at)?;
        }
        if let Some(c) = s.get("const") {
            self.charge(c.raw().len().saturating_add(value.raw().len()), at)?;
            if !equal(c, value, 0) {
                return Err(Self::fail(at, Violation::Const));
            }
        }
        if let Some(e) = s.get("enum") {
            let e = e
                .as_array()
                .ok_or_else(|| Self::fail(at, Violation::InvalidSchema("enum is an array")))?;
            let each = value.raw().len().saturating_mul(e.len());
            self.charge(e.raw().len().saturating_add(each), at)?;
            if !e.iter().any(|c| equal(c, value, 0)) {
                return Err(Self::fail(at, Violation::Enum));
            }
        }
        self.combinators(s, value, at)?;
        match value.json_type() {
            crate::error::JsonType::Object => {
                if let Some(o) = value.as_object() {
                    self.object(s, o, at)?;
                }
            }
            crate::error::JsonType::Array => {
                if let Some(a) = value.as_array() {
                    self.array(s, a.iter().collect(), at)?;
                }
            }
            crate::error::JsonType::String => {
                let bounded = s.get("minLength").is_some() || s.get("maxLength").is_some();
                if let Some(v) = value.as_str().filter(|_| bounded) {
                    self.charge(value.raw().len(), at)?;
                    let n = v.chars().count();
                    if let Some(min) = s.get("minLength") {
                        if (n as f64) < count(min, at)? {
                            return Err(Self::fail(at, Violation::Length));
                        }
                    }
                    if let Some(max) = s.get("maxLength") {
                        if (n as f64) > count(max, at)? {
                            return Err(Self::fail(at, Violation::Length));
                        }
                    }
                }
            }
            crate::error::JsonType::Number => {
                let n = number(value).ok_or_else(|| Self::fail(at, Violation::Type))?;
                let bound = |k: &str| -> Result<Option<f64>, Invalid> {
                    match s.get(k) {
                        None => Ok(None),
                        Some(b) => number(b).map(Some).ok_or_else(|| {
                            Self::fail(at, Violation::InvalidSchema("a bound is a number"))
                        }),
                    }
                };
                let below = |b: Option<f64>, ok: fn(f64, f64) -> bool| b.is_none_or(|b| ok(n, b));
                if !(below(bound("minimum")?, |n, b| n >= b)
                    && below(bound("maximum")?, |n, b| n <= b)
                    && below(bound("exclusiveMinimum")?, |n, b| n > b)
                    && below(bound("exclusiveMaximum")?, |n, b| n < b))
                {
                    return Err(Self::fail(at, Violation::Range));
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn combinators(
        &mut self,
        s: JsonObject<'a>,
        value: JsonValue<'_>,
        at: &mut At<'_>,
    ) -> Result<(), Invalid> {
        let list = |k: &str, at: &At<'_>| -> Result<Option<Vec<JsonValue<'a>>>, Invalid> {
            match s.get(k) {
                None => Ok(None),
                Some(v) => match v.as_array() {
                    Some(a) if !a.is_empty() => Ok(Some(a.iter().collect())),
                    _ => Err(Self::fail(
                        at,
                        Violation::InvalidSchema("allOf, anyOf and oneOf are non-empty arrays"),
                    )),
                },
            }
        };
        at.depth += 1;
        let res = (|| {
            if let Some(all) = list("allOf", at)? {
                for sub in all {
                    self.eval(sub, value, at)?;
                }
            }
            if let Some(any) = list("anyOf", at)? {
                if !self.any_of(&any, value, at)? {
                    return Err(Self::fail(at, Violation::AnyOf));
                }
            }
            if let Some(one) = list("oneOf", at)? {
                let mut passed = 0;
                for sub in one {
                    if self.passes(sub, value, at)? {
                        passed += 1;
                    }
                }
                if passed != 1 {
                    return Err(Self::fail(at, Violation::OneOf));
                }
            }
            if let Some(not) = s.get("not") {
                if self.passes(not, value, at)? {
                    return Err(Self::fail(at, Violation::Not));
                }
            }
            Ok(())
        })();
        at.depth -= 1;
        res
    }

    fn any_of(
        &mut self,
        subs: &[JsonValue<'a>],
        value: JsonValue<'_>,
        at: &mut At<'_>,
    ) -> Result<bool, Invalid> {
        for sub in subs {
            if self.passes(*sub, value, at)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Whether `value` passes `schema`: a violation is `false`; a schema that
    /// cannot be evaluated (or a bound reached) stays an error.
    fn passes(
        &mut self,
        schema: JsonValue<'a>,
        value: JsonValue<'_>,
        at: &mut At<'_>,
    ) -> Result<bool, Invalid> {
        let len = at.path.len();
        let res = self.eval(schema, value, at);
        at.path.truncate(len);
        match res {
            Ok(()) => Ok(true),
            Err(e) if e.violation.is_schema_fault() => Err(e),
            Err(_) => Ok(false),
        }
    }

    fn object(
        &mut self,
        s: JsonObject<'a>,
        o: JsonObject<'_>,
        at: &mut At<'_>,
    ) -> Result<(), Invalid> {
        if let Some(req) = s.get("required") {
            let req = req
                .as_array()
                .ok_or_else(|| Self::fail(at, Violation::InvalidSchema("required is an array")))?;
            self.charge(o.raw().len().saturating_mul(req.len()), at)?;
            for name in req.iter() {
                let name = name.as_str().ok_or_else(|| {
                    Self::fail(at, Violation::InvalidSchema("required holds strings"))
                })?;
                if !o.members().any(|(k, _)| k == name) {
                    let mut e = Self::fail(at, Violation::Required);
                    push_key(&mut e.path, name);
                    return Err(e);
                }
            }
        }
        let n = o.len() as f64;
        if let Some(min) = s.get("minProperties") {
            if n < count(min, at)? {
                return Err(Self::fail(at, Violation::Size));
            }
        }
        if let Some(max) = s.get("maxProperties") {
            if n > count(max, at)? {
                return Err(Self::fail(at, Violation::Size));
            }
        }
        let props = match s.get("properties") {
            None => None,
            Some(p) => Some(p.as_object().ok_or_else(|| {
                Self::fail(at, Violation::InvalidSchema("properties is an object"))
            })?),
        };
        let additional = s.get("additionalProperties");
        let lookups = props.map_or(0, |p| p.raw().len()).saturating_mul(o.len());
        self.charge(lookups, at)?;
        for (k, v) in o.members() {
            let declared = props.and_then(|p| p.members().find(|(pk, _)| *pk == k).map(|(_, s)| s));
            let sub = match (declared, additional) {
                (Some(sub), _) => sub,
                (None, Some(add)) => add,
                (None, None) => continue,
            };
            let len = at.path.len();
            push_key(at.path, k);
            at.depth += 1;
            let res = self.eval(sub, v, at);
            at.depth -= 1;
            if let Err(mut e) = res {
                if declared.is_none() && e.violation == Violation::FalseSchema {
                    e.violation = Violation::AdditionalProperty;
                }
                return Err(e);
            }
            at.path.truncate(len);
        }
        Ok(())
    }

    fn array(
        &mut self,
        s: JsonObject<'a>,
        items: Vec<JsonValue<'_>>,
        at: &mut At<'_>,
    ) -> Result<(), Invalid> {
        let n = items.len() as f64;
        if let Some(min) = s.get("minItems") {
            if n < count(min, at)? {
                return Err(Self::fail(at, Violation::Size));
            }
        }
        if let Some(max) = s.get("maxItems") {
            if n > count(max, at)? {
                return Err(Self::fail(at, Violation::Size));
            }
        }
        if s.get("uniqueItems").and_then(|u| u.as_bool()) == Some(true) {
            let total: usize = items.iter().map(|i| i.raw().len()).sum();
            self.charge(total.saturating_mul(items.len()), at)?;
            for (i, a) in items.iter().enumerate() {
                if items.iter().skip(i + 1).any(|b| equal(*a, *b, 0)) {
                    return Err(Self::fail(at, Violation::Unique));
                }
            }
        }
        let prefix: Vec<JsonValue<'a>> = match s.get("prefixItems") {
            None => Vec::new(),
            Some(p) => p
                .as_array()
                .ok_or_else(|| Self::fail(at, Violation::InvalidSchema("prefixItems is an array")))?
                .iter()
                .collect(),
        };
        let rest = s.get("items");
        if rest.is_some_and(|r| r.as_array().is_some()) {
            // Draft 2019's array form: 2020-12 spells it prefixItems.
            return Err(Self::fail(
                at,
                Violation::InvalidSchema("items is a schema (2020-12: prefixItems for tuples)"),
            ));
        }
        for (i, v) in items.iter().enumerate() {
            let sub = match prefix.get(i) {
                Some(sub) => *sub,
                None => match rest {
                    Some(r) => r,
                    None => continue,
                },
            };
            let len = at.path.len();
            push_index(at.path, i);
            at.depth += 1;
            let res = self.eval(sub, *v, at);
            at.depth -= 1;
            res?;
            at.path.truncate(len);
        }
        Ok(())
    }

    /// The schema a local reference (`#` or `#/json/pointer`) names.
    fn resolve(&self, r: JsonValue<'_>) -> Option<JsonValue<'a>> {
        let r = r.as_str()?.to_cow();
        let pointer = r.strip_prefix('#')?;
        let mut node = self.root;
        if pointer.is_empty() {
            return Some(node);
        }
        let pointer = pointer.strip_prefix('/')?;
        for token in pointer.split('/') {
            let token: Cow<'_, str> = if token.contains('~') {
                Cow::Owned(token.replace("~1", "/").replace("~0", "~"))
            } else {
                Cow::Borrowed(token)
            };
            node = if let Some(o) = node.as_object() {
                o.members().find(|(k, _)| *k == *token)?.1
            } else if let Some(a) = node.as_array() {
                let i: usize = token.parse().ok()?;
                a.iter().nth(i)?
            } else {
                return None;
            };
        }
        Some(node)
    }
}

fn count(v: JsonValue<'_>, at: &At<'_>) -> Result<f64, Invalid> {
    number(v)
        .filter(|n| *n >= 0.0 && *n % 1.0 == 0.0)
        .ok_or_else(|| Invalid {
            path: at.path.clone(),
            violation: Violation::InvalidSchema("a count is a non-negative integer"),
        })
}

/// A JSON number's value (as JavaScript reads it).
fn number(v: JsonValue<'_>) -> Option<f64> {
    if v.json_type() != crate::error::JsonType::Number {
        return None;
    }
    v.raw().parse().ok()
}

fn check_type(t: JsonValue<'_>, value: JsonValue<'_>, at: &At<'_>) -> Result<(), Invalid> {
    let fits = |name: JsonStr<'_>| -> Result<bool, Invalid> {
        let name = name.to_cow();
        let ty = value.json_type();
        use crate::error::JsonType as T;
        Ok(match &*name {
            "string" => ty == T::String,
            "number" => ty == T::Number,
            "integer" => number(value).is_some_and(|n| n % 1.0 == 0.0 && n.is_finite()),
            "boolean" => ty == T::Bool,
            "object" => ty == T::Object,
            "array" => ty == T::Array,
            "null" => ty == T::Null,
            _ => {
                return Err(Invalid {
                    path: at.path.clone(),
                    violation: Violation::InvalidSchema("type names a JSON type"),
                });
            }
        })
    };
    let ok = if let Some(name) = t.as_str() {
        fits(name)?
    } else if let Some(names) = t.as_array() {
        let mut any = false;
        for n in names.iter() {
            let n = n.as_str().ok_or_else(|| Invalid {
                path: at.path.clone(),
                violation: Violation::InvalidSchema("type names a JSON type"),
            })?;
            any |= fits(n)?;
        }
        any
    } else {
        return Err(Invalid {
            path: at.path.clone(),
            violation: Violation::InvalidSchema("type names a JSON type"),
        });
    };
    if ok {
        Ok(())
    } else {
        Err(Invalid {
            path: at.path.clone(),
            violation: Violation::Type,
        })
    }
}

/// JSON equality as JavaScript's deep equality sees it (numbers by value,
/// members in any order, strings after unescaping).
pub(super) fn equal(a: JsonValue<'_>, b: JsonValue<'_>, depth: usize) -> bool {
    use crate::error::JsonType as T;
    if depth > MAX_DEPTH || a.json_type() != b.json_type() {
        return false;
    }
    match a.json_type() {
        T::Number => number(a).is_some() && number(a) == number(b),
        T::String => a.as_str() == b.as_str(),
        T::Object => match (a.as_object(), b.as_object()) {
            (Some(x), Some(y)) => {
                x.len() == y.len()
                    && x.members().all(|(k, v)| {
                        y.members()
                            .find(|(k2, _)| *k2 == k)
                            .is_some_and(|(_, w)| equal(v, w, depth + 1))
                    })
            }
            _ => false,
        },
        T::Array => match (a.as_array(), b.as_array()) {
            (Some(x), Some(y)) => {
                x.len() == y.len() && x.iter().zip(y.iter()).all(|(v, w)| equal(v, w, depth + 1))
            }
            _ => false,
        },
        _ => a.raw() == b.raw(),
    }
}
