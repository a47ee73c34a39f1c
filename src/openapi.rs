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
