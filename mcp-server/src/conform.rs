//! Structured results that fit their tool's `outputSchema` whatever Jira sent.
//!
//! The tools pass many values through from Jira (ids, names, dates, custom
//! fields). Jira Cloud, Data Center, plugins and Atlassian's own examples
//! send shapes we did not foresee: a date as the number `1`, an id as a
//! number, a name as an object, `null` where a string was expected. MCP
//! clients (the official SDKs) validate `structuredContent` against the
//! declared `outputSchema` and refuse the whole result, or end the session,
//! when one value does not fit. So every result is read against its schema
//! before it leaves the server ([`conform`]): a value of the wrong type
//! becomes the type the schema asks for when that loses nothing (a number
//! or boolean as text, a numeric string as an integer, `"true"` as a
//! boolean), and is otherwise left out where the schema allows that (an
//! optional property, `null` where the schema takes `null`, an array item).
//! Parts the schema leaves free-form (custom fields) stay as Jira sent them.
//! What still cannot fit (a required value of an impossible shape) is an
//! error for the caller to turn into a tool error, never a result that
//! breaks the client.

use serde_json::{Map, Value};

/// A value read against its schema, and where it had to be changed.
#[derive(Debug, Clone, PartialEq)]
pub struct Conformed {
    /// The value, fitting the schema.
    pub value: Value,
    /// The JSON pointers of the values that were converted or left out.
    pub adjusted: Vec<String>,
}

/// Why a value cannot be made to fit: the JSON pointer of the offending
/// value and what the schema wanted there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Misfit {
    /// JSON pointer into the result (`""` for the result itself).
    pub path: String,
    /// What the schema asks for there, e.g. `a value of type string`.
    pub wanted: String,
}

/// `value` made to fit `schema` (the subset of JSON Schema the output
/// schemas use: `type`, `enum`, `properties`, `required`,
/// `additionalProperties`, `items`).
pub fn conform(schema: &Value, value: Value) -> Result<Conformed, Misfit> {
    let mut adjusted = Vec::new();
    let value = fit(schema, value, "", &mut adjusted)?;
    Ok(Conformed { value, adjusted })
}

fn fit(
    schema: &Value,
    value: Value,
    at: &str,
    adjusted: &mut Vec<String>,
) -> Result<Value, Misfit> {
    // `true`, `{}` or a missing schema take anything.
    let Some(schema) = schema.as_object() else {
        return match schema {
            Value::Bool(false) => Err(misfit(at, "nothing (the schema is `false`)")),
            _ => Ok(value),
        };
    };
    let types = types(schema);
    let value = match types {
        None => value,
        Some(types) if types.iter().any(|t| has_type(&value, t)) => value,
        Some(types) => {
            let converted = types.iter().find_map(|t| convert(&value, t));
            match converted {
                Some(v) => {
                    adjusted.push(at.to_string());
                    v
                }
                None => {
                    return Err(misfit(
                        at,
                        &format!("a value of type {}", types.join(" or ")),
                    ));
                }
            }
        }
    };
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(&value)
    {
        return Err(misfit(
            at,
            &format!("one of {}", Value::Array(allowed.clone())),
        ));
    }
    match value {
        Value::Object(object) => fit_object(schema, object, at, adjusted).map(Value::Object),
        Value::Array(items) => {
            let Some(item_schema) = schema.get("items") else {
                return Ok(Value::Array(items));
            };
            let mut kept = Vec::with_capacity(items.len());
            for (i, item) in items.into_iter().enumerate() {
                let here = format!("{at}/{i}");
                // An item that cannot fit is left out: the rest of the list
                // is still worth having.
                match fit(item_schema, item, &here, adjusted) {
                    Ok(item) => kept.push(item),
                    Err(_) => adjusted.push(here),
                }
            }
            Ok(Value::Array(kept))
        }
        other => Ok(other),
    }
}

fn fit_object(
    schema: &Map<String, Value>,
    object: Map<String, Value>,
    at: &str,
    adjusted: &mut Vec<String>,
) -> Result<Map<String, Value>, Misfit> {
    let properties = schema.get("properties").and_then(Value::as_object);
    let additional = schema.get("additionalProperties");
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let mut out = Map::new();
    for (name, value) in object {
        let here = format!("{at}/{}", escape(&name));
        let property = properties.and_then(|p| p.get(&name)).or(additional);
        let Some(property) = property else {
            // Not described and not forbidden: free-form.
            out.insert(name, value);
            continue;
        };
        match fit(property, value, &here, adjusted) {
            Ok(value) => {
                out.insert(name, value);
            }
            Err(e) if required.contains(&name.as_str()) => return Err(e),
            // An optional value that cannot fit is left out.
            Err(_) => adjusted.push(here),
        }
    }
    if let Some(missing) = required.iter().find(|r| !out.contains_key(**r)) {
        return Err(misfit(
            &format!("{at}/{}", escape(missing)),
            "a value (it is required)",
        ));
    }
    Ok(out)
}

/// The schema's `type` as a list; `None` when it does not say.
fn types(schema: &Map<String, Value>) -> Option<Vec<&str>> {
    match schema.get("type")? {
        Value::String(t) => Some(vec![t.as_str()]),
        Value::Array(list) => Some(list.iter().filter_map(Value::as_str).collect()),
        _ => None,
    }
}

fn has_type(value: &Value, wanted: &str) -> bool {
    match wanted {
        "string" => value.is_string(),
        "integer" => {
            value.is_i64() || value.is_u64() || value.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "object" => value.is_object(),
        "array" => value.is_array(),
        "null" => value.is_null(),
        _ => false,
    }
}

/// `value` as type `wanted`, when that loses nothing: Jira's `1` for a date
/// or id becomes `"1"`, `"10"` for a count becomes `10`. `null` is given
/// only where the schema takes it (the type list includes `null`).
fn convert(value: &Value, wanted: &str) -> Option<Value> {
    match (wanted, value) {
        ("string", Value::Number(n)) => Some(Value::String(n.to_string())),
        ("string", Value::Bool(b)) => Some(Value::String(b.to_string())),
        ("integer", Value::String(s)) => s.trim().parse::<i64>().ok().map(Value::from),
        ("number", Value::String(s)) => s
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number),
        ("boolean", Value::String(s)) => match s.as_str() {
            "true" => Some(Value::Bool(true)),
            "false" => Some(Value::Bool(false)),
            _ => None,
        },
        ("null", _) => Some(Value::Null),
        _ => None,
    }
}

fn misfit(at: &str, wanted: &str) -> Misfit {
    Misfit {
        path: at.to_string(),
        wanted: wanted.to_string(),
    }
}

/// A property name as a JSON pointer segment (RFC 6901).
fn escape(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({
            "type": "object",
            "properties": {
                "key": {"type": "string"},
                "updated": {"type": "string"},
                "total": {"type": "integer"},
                "id": {"type": ["string", "null"]},
                "done": {"type": "boolean"},
                "labels": {"type": "array", "items": {"type": "string"}},
                "fields": {"type": "object", "additionalProperties": true},
                "user": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}
            },
            "required": ["key"]
        })
    }

    #[test]
    fn values_of_another_type_are_converted_or_left_out() {
        let jira = json!({
            "key": "ED-1",
            "updated": 1,
            "total": "12",
            "id": {"odd": true},
            "done": "true",
            "labels": ["a", 2, {"x": 1}, null],
            "fields": {"customfield_1": {"any": ["shape", 1, null]}},
            "user": {"name": null},
            "extra": [1, 2]
        });
        let out = conform(&schema(), jira).unwrap();
        assert_eq!(
            out.value,
            json!({
                "key": "ED-1",
                "updated": "1",
                "total": 12,
                "id": null,
                "done": true,
                "labels": ["a", "2"],
                "fields": {"customfield_1": {"any": ["shape", 1, null]}},
                "extra": [1, 2]
            })
        );
        let mut adjusted = out.adjusted.clone();
        adjusted.sort();
        let expected = [
            "/done",
            "/id",
            "/labels/1",
            "/labels/2",
            "/labels/3",
            "/total",
            "/updated",
            "/user",
        ];
        assert_eq!(adjusted, expected);
    }

    #[test]
    fn a_value_that_fits_is_unchanged() {
        let fits = json!({"key": "ED-1", "updated": "2026-01-01T00:00:00.000+0000", "total": 3,
            "id": null, "labels": ["x"], "user": {"name": "mia"}});
        let out = conform(&schema(), fits.clone()).unwrap();
        assert_eq!(out.value, fits);
        assert!(out.adjusted.is_empty());
    }

    #[test]
    fn a_required_value_that_cannot_fit_is_a_misfit_naming_its_path() {
        let e = conform(&schema(), json!({"key": {"an": "object"}})).unwrap_err();
        assert_eq!(e.path, "/key");
        assert_eq!(e.wanted, "a value of type string");
        let e = conform(&schema(), json!({"updated": "x"})).unwrap_err();
        assert_eq!(e.path, "/key");
        let e = conform(&schema(), json!([1])).unwrap_err();
        assert_eq!(e.path, "");
    }
}
