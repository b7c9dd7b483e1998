//! Atlassian's Jira Cloud platform REST API spec (OpenAPI 3.0.1, in the
//! shared folder beside the repository), used to check the requests the Cloud
//! tools send: the path and method exist, the required query parameters are
//! present, and a JSON body validates against the operation's request schema.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use parking_lot::Mutex;
use serde_json::{Value, json};

/// The spec's location relative to a folder that holds `shared/`.
const SPEC: &str = "shared/jira-openapi/jira-cloud-platform-v3.json";

/// The loaded spec and its operations, ready to check requests against.
pub struct JiraSpec {
    doc: Value,
    routes: Vec<Route>,
    /// Compiled request-body validators, by operation.
    validators: Mutex<HashMap<String, Arc<jsonschema::Validator>>>,
}

/// One path template and method of the spec.
struct Route {
    method: String,
    template: String,
    segments: Vec<Option<String>>,
}

impl JiraSpec {
    /// Finds the spec in `shared/` beside (or above) this checkout.
    pub fn load() -> Result<JiraSpec, String> {
        let path = find(SPEC)?;
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let doc: Value = serde_json::from_str(&text)
            .map_err(|e| format!("{} is not JSON: {e}", path.display()))?;
        let routes = routes(&doc);
        Ok(JiraSpec {
            doc,
            routes,
            validators: Mutex::new(HashMap::new()),
        })
    }

    /// Checks one request: `path` starts at `/rest/api/3/…`, `query` holds
    /// the names of the query parameters sent.
    pub fn check(
        &self,
        method: &str,
        path: &str,
        query: &[String],
        body: Option<&Value>,
    ) -> Result<(), String> {
        let route = self
            .route(method, path)
            .ok_or_else(|| format!("{method} {path}: no such operation in the Jira Cloud spec"))?;
        let operation = &self.doc["paths"][&route.template][route.method.as_str()];
        let missing: Vec<String> = self
            .parameters(&route.template, operation)
            .filter(|p| p["in"] == "query" && p["required"] == true)
            .filter_map(|p| p["name"].as_str().map(String::from))
            .filter(|name| !query.contains(name))
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "{method} {path} ({}): required query parameters missing: {}",
                route.template,
                missing.join(", ")
            ));
        }
        let body = body.map(|b| documented_nulls_removed(&route.template, method, operation, b));
        match (body.as_ref(), self.body_schema(operation)) {
            (Some(body), Some(schema)) => self.validate(&route.template, method, schema, body),
            (Some(_), None) => Err(format!(
                "{method} {path} ({}): the spec takes no JSON body here",
                route.template
            )),
            (None, _) => Ok(()),
        }
    }

    /// The matching route with the most literal segments (`issue/createmeta/…`
    /// before `issue/{issueIdOrKey}/…`).
    fn route(&self, method: &str, path: &str) -> Option<&Route> {
        let method = method.to_ascii_lowercase();
        let parts: Vec<&str> = path.trim_end_matches('/').split('/').collect();
        self.routes
            .iter()
            .filter(|r| r.method == method && r.segments.len() == parts.len())
            .filter(|r| {
                r.segments.iter().zip(&parts).all(|(s, p)| match s {
                    Some(literal) => literal == p,
                    None => !p.is_empty(),
                })
            })
            .max_by_key(|r| r.segments.iter().filter(|s| s.is_some()).count())
    }

    fn parameters<'a>(
        &'a self,
        template: &str,
        operation: &'a Value,
    ) -> impl Iterator<Item = &'a Value> {
        let shared = self.doc["paths"][template]["parameters"].as_array();
        let own = operation["parameters"].as_array();
        shared
            .into_iter()
            .chain(own)
            .flatten()
            .map(|p| self.resolve(p))
    }

    fn resolve<'a>(&'a self, value: &'a Value) -> &'a Value {
        match value["$ref"].as_str().and_then(|r| r.strip_prefix('#')) {
            Some(pointer) => self.doc.pointer(pointer).unwrap_or(value),
            None => value,
        }
    }

    fn body_schema<'a>(&'a self, operation: &'a Value) -> Option<&'a Value> {
        let body = self.resolve(&operation["requestBody"]);
        let content = body["content"].as_object()?;
        content
            .iter()
            .find(|(kind, _)| kind.contains("json"))
            .map(|(_, c)| &c["schema"])
            .filter(|s| !s.is_null())
    }

    /// The example of the JSON answer `method template` gives with `status`
    /// (Atlassian's own example, as the spec holds it), if it has one.
    pub fn response_example(&self, method: &str, template: &str, status: &str) -> Option<Value> {
        let operation = &self.doc["paths"][template][method.to_ascii_lowercase()];
        let example = &operation["responses"][status]["content"]["application/json"]["example"];
        match example {
            Value::String(text) => serde_json::from_str(text).ok(),
            Value::Null => None,
            other => Some(other.clone()),
        }
    }

    /// Checks `value` against a schema that may refer to the spec's
    /// components, e.g. [`component`]`("Comment")` or an array of one: for
    /// recorded responses in `fixtures/`.
    pub fn check_value(&self, schema: &Value, value: &Value) -> Result<(), String> {
        let validator = self.compile(&schema.to_string(), schema)?;
        describe_errors(&validator, value)
    }

    fn validate(
        &self,
        template: &str,
        method: &str,
        schema: &Value,
        body: &Value,
    ) -> Result<(), String> {
        let key = format!("{method} {template}");
        let validator = self.compile(&key, schema)?;
        describe_errors(&validator, body)
            .map_err(|e| format!("{key}: the body does not fit the spec: {e}"))
    }

    /// A validator for `schema`, compiled once per `key`.
    fn compile(&self, key: &str, schema: &Value) -> Result<Arc<jsonschema::Validator>, String> {
        let mut cache = self.validators.lock();
        if let Some(validator) = cache.get(key) {
            return Ok(validator.clone());
        }
        // The schema, with the spec's components beside it so that
        // `#/components/…` references resolve. Formats are not checked:
        // Atlassian's own examples (and Jira) use `2021-01-17T12:34:00.000+0000`
        // where the spec says `date-time`, which RFC 3339 spells `+00:00`.
        let root = json!({"allOf": [schema], "components": self.doc["components"]});
        let compiled = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft4)
            .should_validate_formats(false)
            .build(&root)
            .map_err(|e| format!("{key}: the spec's schema does not compile: {e}"))?;
        let compiled = Arc::new(compiled);
        cache.insert(key.to_string(), compiled.clone());
        Ok(compiled)
    }
}

/// A reference to one of the spec's component schemas, for
/// [`JiraSpec::check_value`].
pub fn component(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn describe_errors(validator: &jsonschema::Validator, value: &Value) -> Result<(), String> {
    let errors: Vec<String> = validator
        .iter_errors(value)
        .take(5)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

fn routes(doc: &Value) -> Vec<Route> {
    let mut out = Vec::new();
    for (template, item) in doc["paths"].as_object().into_iter().flatten() {
        let segments: Vec<Option<String>> = template
            .trim_end_matches('/')
            .split('/')
            .map(|s| (!s.starts_with('{')).then(|| s.to_string()))
            .collect();
        for method in ["get", "put", "post", "delete", "patch"] {
            if item.get(method).is_some() {
                out.push(Route {
                    method: method.into(),
                    template: template.clone(),
                    segments: segments.clone(),
                });
            }
        }
    }
    out
}

/// Looks for `relative` in this crate's folder and every folder above it
/// (CI lays `shared/` beside the checkout).
pub fn find(relative: &str) -> Result<PathBuf, String> {
    let start = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    start
        .ancestors()
        .map(|dir| dir.join(relative))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            format!(
                "{relative} was not found beside or above {}: the shared folder must sit beside \
                 the checkout (as ../shared)",
                start.display()
            )
        })
}

/// Body fields whose `null` the operation's own description documents while
/// its schema says `string`: (method, route, field). Unassigning an issue is
/// `PUT …/assignee` with `{"accountId": null}` ("`null`, the issue is set to
/// unassigned").
const DOCUMENTED_NULLS: &[(&str, &str, &str)] = &[(
    "put",
    "/rest/api/3/issue/{issueIdOrKey}/assignee",
    "accountId",
)];

/// `body` without the fields listed in [`DOCUMENTED_NULLS`] when they are
/// `null` and the operation's description still documents that `null`.
fn documented_nulls_removed(
    template: &str,
    method: &str,
    operation: &Value,
    body: &Value,
) -> Value {
    let method = method.to_ascii_lowercase();
    let documented = operation["description"]
        .as_str()
        .is_some_and(|d| d.contains("`null`"));
    let mut body = body.clone();
    for (m, route, field) in DOCUMENTED_NULLS {
        if *m == method
            && *route == template
            && documented
            && body[*field].is_null()
            && let Some(fields) = body.as_object_mut()
        {
            fields.remove(*field);
        }
    }
    body
}
