//! The spec as the server's own map of itself: which methods a path allows (the `Allow` header
//! of a 405), HEAD answered by the GET handlers, and the responses every operation shares.

use std::future::{ready, Ready};

use actix_web::dev::{forward_ready, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::Method;
use utoipa::openapi::OpenApi;

/// One path template of the spec (`/api/v1/merchants/{id}/qrcode.png`) and its methods.
struct Route {
    segments: Vec<Segment>,
    /// Characters of literal text: the more, the more specific (`/calendar/add-working-days`
    /// beats `/calendar/{year}`).
    literal_len: usize,
    template: String,
    methods: Vec<&'static str>,
}

/// A template segment: literal text, or `prefix{name}suffix`.
enum Segment {
    Literal(String),
    Param { prefix: String, suffix: String },
}

impl Segment {
    fn parse(s: &str) -> Self {
        match (s.find('{'), s.rfind('}')) {
            (Some(open), Some(close)) if open < close => Segment::Param {
                prefix: s[..open].to_owned(),
                suffix: s[close + 1..].to_owned(),
            },
            _ => Segment::Literal(s.to_owned()),
        }
    }

    fn matches(&self, s: &str) -> bool {
        match self {
            Segment::Literal(l) => l == s,
            Segment::Param { prefix, suffix } => {
                s.len() > prefix.len() + suffix.len()
                    && s.starts_with(prefix.as_str())
                    && s.ends_with(suffix.as_str())
            }
        }
    }

    fn literal_len(&self) -> usize {
        match self {
            Segment::Literal(l) => l.len(),
            Segment::Param { prefix, suffix } => prefix.len() + suffix.len(),
        }
    }
}

/// The methods of every documented path, for 405 answers (`Allow`) and for telling a path that
/// exists under another method from one a wider template merely matched.
pub struct RouteTable {
    routes: Vec<Route>,
}

impl RouteTable {
    pub fn new(api: &OpenApi) -> Self {
        let routes = api
            .paths
            .paths
            .iter()
            .map(|(template, item)| {
                let mut methods = Vec::new();
                for (name, op) in [
                    ("GET", &item.get),
                    ("HEAD", &item.get),
                    ("POST", &item.post),
                    ("PUT", &item.put),
                    ("PATCH", &item.patch),
                    ("DELETE", &item.delete),
                ] {
                    if op.is_some() {
                        methods.push(name);
                    }
                }
                let segments: Vec<Segment> = template.split('/').map(Segment::parse).collect();
                Route {
                    literal_len: segments.iter().map(Segment::literal_len).sum(),
                    segments,
                    template: template.clone(),
                    methods,
                }
            })
            .collect();
        Self { routes }
    }

    /// The most specific documented template matching `path`.
    fn best(&self, path: &str) -> Option<&Route> {
        let parts: Vec<&str> = path.split('/').collect();
        self.routes
            .iter()
            .filter(|r| {
                r.segments.len() == parts.len()
                    && r.segments.iter().zip(&parts).all(|(s, p)| s.matches(p))
            })
            .max_by_key(|r| r.literal_len)
    }

    /// The methods `path` allows, if the spec documents it.
    pub fn allowed(&self, path: &str) -> Option<&[&'static str]> {
        self.best(path).map(|r| r.methods.as_slice())
    }

    /// The template that should have taken `path` (the most specific one), if any.
    pub fn template(&self, path: &str) -> Option<&str> {
        self.best(path).map(|r| r.template.as_str())
    }
}

/// HEAD is GET without the body: the request reaches the GET handler (and its headers), and
/// actix-http, which remembers the request was a HEAD, sends no body.
pub struct HeadAsGet;

impl<S, B> Transform<S, ServiceRequest> for HeadAsGet
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Transform = HeadAsGetService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(HeadAsGetService { service }))
    }
}

pub struct HeadAsGetService<S> {
    service: S,
}

impl<S, B> Service<ServiceRequest> for HeadAsGetService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Future = S::Future;

    forward_ready!(service);

    fn call(&self, mut req: ServiceRequest) -> Self::Future {
        if req.method() == Method::HEAD {
            req.head_mut().method = Method::GET;
        }
        self.service.call(req)
    }
}

/// The responses every operation shares, documented from what the service's layers do rather
/// than repeated on each handler: a bearer token (401), a JSON or multipart body (400 not
/// JSON or malformed, 413, 415, 422), query parameters (422), path parameters (404 when one
/// does not parse), the database behind almost everything (503 with `Retry-After`).
pub fn finish(api: OpenApi) -> OpenApi {
    let mut doc = serde_json::to_value(&api).expect("the spec serializes");
    flatten_described_all_of(&mut doc);
    if let Some(paths) = doc.get_mut("paths").and_then(|p| p.as_object_mut()) {
        for item in paths.values_mut() {
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for (method, op) in item.iter_mut() {
                if ["get", "put", "post", "patch", "delete"].contains(&method.as_str()) {
                    parameters_not_null(op);
                    query_conventions(op);
                    add_common_responses(op);
                }
            }
        }
    }
    serde_json::from_value(doc).expect("the refined spec deserializes")
}

/// utoipa documents an inlined enum field that has a doc comment as
/// `allOf: [{enum…}, {type: object, description}]`, which no string can satisfy: the
/// description moves up and the bogus object goes.
fn flatten_described_all_of(v: &mut serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::Object(map) => {
            if let Some(Value::Array(parts)) = map.get_mut("allOf") {
                let mut description = None;
                parts.retain(|p| {
                    let bogus = p.get("type") == Some(&Value::from("object"))
                        && p.as_object()
                            .is_some_and(|o| o.keys().all(|k| k == "type" || k == "description"));
                    if bogus {
                        description = p.get("description").cloned();
                    }
                    !bogus
                });
                if parts.len() == 1 {
                    if let Some(Value::Object(only)) = parts.pop() {
                        map.remove("allOf");
                        for (k, val) in only {
                            map.entry(k).or_insert(val);
                        }
                    }
                }
                if let Some(d) = description {
                    map.insert("description".to_owned(), d);
                }
            }
            map.values_mut().for_each(flatten_described_all_of);
        }
        Value::Array(items) => items.iter_mut().for_each(flatten_described_all_of),
        _ => {}
    }
}

/// Operations that answer without the database.
const NO_DATABASE: &[&str] = &["healthz", "readyz", "landing_page", "track_page"];

fn problem(description: &str) -> serde_json::Value {
    serde_json::json!({
        "description": description,
        "content": {
            "application/problem+json": {
                "schema": { "$ref": "#/components/schemas/Problem" }
            }
        }
    })
}

/// A query parameter or a header is text: it is absent or a string, never JSON `null`
/// (utoipa documents an `Option` as nullable).
fn parameters_not_null(op: &mut serde_json::Value) {
    use serde_json::Value;
    let Some(Value::Array(params)) = op.get_mut("parameters") else {
        return;
    };
    for schema in params.iter_mut().filter_map(|p| p.get_mut("schema")) {
        if let Some(Value::Array(types)) = schema.get_mut("type") {
            types.retain(|t| t != "null");
            if types.len() == 1 {
                let t = types.remove(0);
                schema["type"] = t;
            }
        }
        if let Some(Value::Array(options)) = schema.get_mut("oneOf") {
            options.retain(|o| o.get("type") != Some(&Value::from("null")));
            if options.len() == 1 {
                if let (Some(Value::Object(only)), Some(map)) =
                    (options.pop(), schema.as_object_mut())
                {
                    map.remove("oneOf");
                    for (k, v) in only {
                        map.entry(k).or_insert(v);
                    }
                }
            }
        }
    }
}

/// The server's conventions for query parameters, in the schema: a blank enumerated filter is
/// no filter; `lang` picks a page language it knows (`zh`, `en`) and otherwise lets
/// `Accept-Language` decide.
fn query_conventions(op: &mut serde_json::Value) {
    use serde_json::{json, Value};
    let Some(Value::Array(params)) = op.get_mut("parameters") else {
        return;
    };
    for p in params.iter_mut().filter(|p| p["in"] == "query") {
        if p["name"] == "lang" {
            p["schema"] = json!({
                "anyOf": [
                    { "type": "string", "enum": ["zh", "en"] },
                    { "type": "string", "description": "any other: Accept-Language decides, then zh" }
                ]
            });
            continue;
        }
        if let Some(Value::Array(values)) = p.pointer_mut("/schema/enum") {
            if !values.contains(&Value::from("")) {
                values.push(Value::from(""));
                let d = p["description"].as_str().unwrap_or_default().to_owned();
                p["description"] = Value::from(format!("{d} Blank: no filter.").trim().to_owned());
            }
        }
    }
}

fn add_common_responses(op: &mut serde_json::Value) {
    let id = op["operationId"].as_str().unwrap_or_default().to_owned();
    let secured = op
        .get("security")
        .and_then(|s| s.as_array())
        .is_some_and(|s| !s.is_empty());
    let body_types: Vec<String> = op
        .pointer("/requestBody/content")
        .and_then(|c| c.as_object())
        .map(|c| c.keys().cloned().collect())
        .unwrap_or_default();
    let params = op
        .get("parameters")
        .and_then(|p| p.as_array())
        .cloned()
        .unwrap_or_default();
    let has_in = |place: &str| params.iter().any(|p| p["in"] == place);
    let mut wanted: Vec<(&str, serde_json::Value)> = Vec::new();
    if secured {
        let mut unauthorized = problem("no bearer token, or an invalid, expired or revoked one");
        unauthorized["headers"] = serde_json::json!({
            "WWW-Authenticate": { "schema": { "type": "string" } }
        });
        wanted.push(("401", unauthorized));
    }
    if !body_types.is_empty() {
        let what = if body_types.iter().any(|t| t.starts_with("multipart/")) {
            "a malformed multipart body"
        } else if body_types.iter().any(|t| t.contains("json")) {
            "the body is not JSON (empty, or a syntax error)"
        } else {
            "a malformed form body"
        };
        wanted.push(("400", problem(what)));
        wanted.push((
            "413",
            problem("the body is over its limit (1 MiB JSON, 20 MiB uploads)"),
        ));
        wanted.push((
            "415",
            problem("the body is not of the documented media type"),
        ));
        wanted.push((
            "422",
            problem("a field is missing, unknown, of the wrong type or breaks a rule (`errors`)"),
        ));
    }
    if has_in("query") {
        wanted.push((
            "422",
            problem("a query parameter is missing, of the wrong type or out of range (`errors`)"),
        ));
    }
    if has_in("path") {
        wanted.push((
            "404",
            problem("no such resource, or not in your jurisdiction"),
        ));
    }
    if !NO_DATABASE.contains(&id.as_str()) {
        let mut unavailable = problem("the database is unavailable; retry later");
        unavailable["headers"] = serde_json::json!({
            "Retry-After": { "schema": { "type": "integer" } }
        });
        wanted.push(("503", unavailable));
    }
    let Some(responses) = op.get_mut("responses").and_then(|r| r.as_object_mut()) else {
        return;
    };
    for (status, response) in wanted {
        match responses.get_mut(status) {
            None => {
                responses.insert(status.to_owned(), response);
            }
            // A page documents its own HTML answer for the status; the extractors' problem for
            // a bad body or query is problem+json all the same.
            Some(existing) if ["400", "413", "415", "422"].contains(&status) => {
                if let (Some(content), Some(problem)) = (
                    existing.get_mut("content").and_then(|c| c.as_object_mut()),
                    response.pointer("/content/application~1problem+json"),
                ) {
                    content
                        .entry("application/problem+json")
                        .or_insert_with(|| problem.clone());
                }
            }
            Some(_) => {}
        }
    }
}
