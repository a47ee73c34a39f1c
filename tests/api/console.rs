//! The console as a browser uses it: cookies, forms, CSRF tokens, redirects. Sessions and the
//! rules every console page shares.

use reqwest::header;
use yidianyima::domain::user::Role;

use crate::helpers::{spawn_app, TestApp, TestUser};

/// A browser: a session cookie (if signed in) and the pages it has seen.
pub struct Browser<'a> {
    pub app: &'a TestApp,
    pub cookie: Option<String>,
    pub origin: Option<String>,
}

pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub headers: header::HeaderMap,
    pub body: String,
}

impl Page {
    /// The value of the first `csrf_token` field on the page.
    pub fn csrf(&self) -> String {
        hidden(&self.body, "csrf_token").expect("a csrf_token on the page")
    }
}

/// The value of the first `<input ... name="NAME" value="...">` on a page.
pub fn hidden(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\" value=\""))?;
    let rest = &html[at + name.len() + 15..];
    Some(
        rest[..rest.find('"')?]
            .replace("&#x2f;", "/")
            .replace("&amp;", "&"),
    )
}

impl<'a> Browser<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        Self {
            app,
            cookie: None,
            origin: Some(app.address.clone()),
        }
    }

    /// A browser signed in as `user` through the login form.
    pub async fn signed_in(app: &'a TestApp, user: &TestUser) -> Self {
        let mut b = Self::new(app);
        let p = b
            .post(
                "/console/login",
                &[("username", &user.username), ("password", &user.password)],
            )
            .await;
        assert_eq!(p.status, 303, "login: {}", p.body);
        assert!(b.cookie.is_some());
        b
    }

    fn take_cookie(&mut self, headers: &header::HeaderMap) {
        for v in headers.get_all(header::SET_COOKIE) {
            let v = v.to_str().unwrap();
            if let Some(rest) = v.strip_prefix("yidianyima_session=") {
                let value = rest.split(';').next().unwrap().to_owned();
                self.cookie = (!value.is_empty() && !v.contains("Max-Age=0")).then_some(value);
            }
        }
    }

    async fn read(&mut self, resp: reqwest::Response) -> Page {
        let headers = resp.headers().clone();
        self.take_cookie(&headers);
        Page {
            status: resp.status().as_u16(),
            location: headers
                .get(header::LOCATION)
                .map(|v| v.to_str().unwrap().to_owned()),
            body: resp.text().await.unwrap(),
            headers,
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let mut r = self.app.client.get(self.app.url(path));
        if let Some(c) = &self.cookie {
            r = r.header(header::COOKIE, format!("yidianyima_session={c}"));
        }
        let resp = r.send().await.unwrap();
        self.read(resp).await
    }

    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let mut r = self.app.client.post(self.app.url(path)).form(fields);
        if let Some(c) = &self.cookie {
            r = r.header(header::COOKIE, format!("yidianyima_session={c}"));
        }
        if let Some(o) = &self.origin {
            r = r.header(header::ORIGIN, o);
        }
        let resp = r.send().await.unwrap();
        self.read(resp).await
    }

    /// Posts a multipart form: `fields` as text parts, then `files` as (part name, file name,
    /// bytes), as a browser sends a form with `enctype="multipart/form-data"`.
    pub async fn post_multipart(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        files: Vec<(&str, &str, Vec<u8>)>,
    ) -> Page {
        let mut form = reqwest::multipart::Form::new();
        for (k, v) in fields {
            form = form.text(k.to_string(), v.to_string());
        }
        for (name, file_name, bytes) in files {
            form = form.part(
                name.to_owned(),
                reqwest::multipart::Part::bytes(bytes).file_name(file_name.to_owned()),
            );
        }
        let mut r = self.app.client.post(self.app.url(path)).multipart(form);
        if let Some(c) = &self.cookie {
            r = r.header(header::COOKIE, format!("yidianyima_session={c}"));
        }
        if let Some(o) = &self.origin {
            r = r.header(header::ORIGIN, o);
        }
        let resp = r.send().await.unwrap();
        self.read(resp).await
    }

    /// GETs `page`, then posts `fields` with the page's CSRF token to `action`.
    pub async fn submit(&mut self, page: &str, action: &str, fields: &[(&str, &str)]) -> Page {
        let p = self.get(page).await;
        assert_eq!(p.status, 200, "GET {page}: {}", p.body);
        let token = p.csrf();
        let mut all: Vec<(&str, &str)> = vec![("csrf_token", &token)];
        all.extend_from_slice(fields);
        self.post(action, &all).await
    }
}

async fn session_rows(app: &TestApp, user: &TestUser) -> i64 {
    app.count(&format!(
        "SELECT count(*) AS n FROM console_sessions WHERE user_id = {}",
        user.id
    ))
    .await
}

#[tokio::test]
async fn anonymous_visitors_are_sent_to_login_and_come_back_after() {
    let app = spawn_app().await;
    let reg = app.regulator(&["513230"]).await;
    let mut b = Browser::new(&app);
    for path in [
        "/console/",
        "/console/account?done=password",
        "/console/merchants?q=x",
    ] {
        let p = b.get(path).await;
        assert_eq!(p.status, 303, "{path}");
        let loc = p.location.unwrap();
        assert!(loc.starts_with("/console/login?next="), "{loc}");
    }
    let p = b.get("/console").await;
    assert_eq!(p.location.as_deref(), Some("/console/"));

    let form = b.get("/console/login?next=%2Fconsole%2Faccount").await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("name=\"username\"") && form.body.contains("name=\"password\""));
    assert!(form.body.contains("name=\"remember\""));
    let next = hidden(&form.body, "next").unwrap();
    assert_eq!(next, "/console/account");
    let p = b
        .post(
            "/console/login",
            &[
                ("username", &reg.username),
                ("password", &reg.password),
                ("next", &next),
            ],
        )
        .await;
    assert_eq!(p.status, 303);
    assert_eq!(p.location.as_deref(), Some("/console/account"));
    let set = p.headers.get(header::SET_COOKIE).unwrap().to_str().unwrap();
    assert!(set.contains("HttpOnly"), "{set}");
    assert!(set.contains("SameSite=Lax"), "{set}");
    assert!(
        !set.contains("Max-Age"),
        "a staff session cookie ends with the browser: {set}"
    );
    let home = b.get("/console/").await;
    assert_eq!(home.status, 200);
    assert!(home.body.contains(&reg.username));

    // only the hash is stored
    let cookie = b.cookie.clone().unwrap();
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) AS n FROM console_sessions WHERE id_hash = convert_to('{cookie}', 'UTF8')"
        ))
        .await,
        0
    );
    assert_eq!(session_rows(&app, &reg).await, 1);
}

#[tokio::test]
async fn next_leads_only_to_this_site() {
    let app = spawn_app().await;
    let reg = app.regulator(&["513230"]).await;
    for evil in [
        "https://evil.example/",
        "//evil.example/console/",
        "/\\evil.example",
        "/console/../../x",
        "javascript:alert(1)",
    ] {
        let mut b = Browser::new(&app);
        let p = b
            .post(
                "/console/login",
                &[
                    ("username", &reg.username),
                    ("password", &reg.password),
                    ("next", evil),
                ],
            )
            .await;
        assert_eq!(p.status, 303);
        let loc = p.location.unwrap();
        assert!(
            loc.starts_with("/console/") && !loc.starts_with("//"),
            "{evil} → {loc}"
        );
        assert!(!loc.contains("evil"), "{evil} → {loc}");
    }
}

#[tokio::test]
async fn wrong_credentials_show_the_form_again_and_share_the_apis_limit() {
    let app = spawn_app().await;
    let reg = app.regulator(&["513230"]).await;
    let mut b = Browser::new(&app);
    let p = b
        .post(
            "/console/login",
            &[("username", &reg.username), ("password", "wrong password")],
        )
        .await;
    assert_eq!(p.status, 422);
    assert!(
        p.body.contains(&format!("value=\"{}\"", reg.username)),
        "username kept"
    );
    assert!(p.body.contains("用户名或密码错误"));
    assert!(b.cookie.is_none());
    // four more through the API: the sixth try (right password) is refused in the console
    for _ in 0..4 {
        assert_eq!(app.login(&reg.username, "wrong again").await.status(), 401);
    }
    let p = b
        .post(
            "/console/login",
            &[("username", &reg.username), ("password", &reg.password)],
        )
        .await;
    assert_eq!(p.status, 429);
    assert!(p.headers.contains_key(header::RETRY_AFTER));
    assert!(b.cookie.is_none());
}

#[tokio::test]
async fn logout_needs_the_csrf_token_and_ends_the_session_at_once() {
    let app = spawn_app().await;
    let reg = app.regulator(&["513230"]).await;
    let mut b = Browser::signed_in(&app, &reg).await;
    let home = b.get("/console/").await;
    let token = home.csrf();

    // no token, a wrong one, a foreign origin: 403 and still signed in
    assert_eq!(b.post("/console/logout", &[]).await.status, 403);
    assert_eq!(
        b.post("/console/logout", &[("csrf_token", "forged")])
            .await
            .status,
        403
    );
    let mut evil = Browser {
        app: &app,
        cookie: b.cookie.clone(),
        origin: Some("https://evil.example".into()),
    };
    assert_eq!(
        evil.post("/console/logout", &[("csrf_token", &token)])
            .await
            .status,
        403
    );
    assert_eq!(b.get("/console/").await.status, 200);
    assert_eq!(session_rows(&app, &reg).await, 1);

    // another session's token does not work for this one
    let mut other = Browser::signed_in(&app, &reg).await;
    let other_token = other.get("/console/").await.csrf();
    assert_ne!(other_token, token);
    assert_eq!(
        b.post("/console/logout", &[("csrf_token", &other_token)])
            .await
            .status,
        403
    );

    let old = b.cookie.clone();
    let p = b.post("/console/logout", &[("csrf_token", &token)]).await;
    assert_eq!(p.status, 303);
    assert!(p.location.unwrap().starts_with("/console/login"));
    b.cookie = old;
    assert_eq!(
        b.get("/console/").await.status,
        303,
        "the old cookie is dead"
    );
    assert_eq!(
        other.get("/console/").await.status,
        200,
        "other devices stay"
    );
}

#[tokio::test]
async fn sessions_end_when_the_account_changes_or_time_runs_out() {
    let app = spawn_app().await;
    let mut conn = app.conn().await;
    use diesel_async::RunQueryDsl;
    async fn exec(conn: &mut yidianyima::db::DbConn, sql: &str) {
        diesel::sql_query(sql).execute(conn).await.unwrap();
    }

    // disabled
    let reg = app.regulator(&["513230"]).await;
    let mut b = Browser::signed_in(&app, &reg).await;
    exec(
        &mut conn,
        &format!("UPDATE users SET disabled = true WHERE id = {}", reg.id),
    )
    .await;
    assert_eq!(b.get("/console/").await.status, 303);
    assert_eq!(
        session_rows(&app, &reg).await,
        0,
        "the ended session is deleted"
    );

    // role changed
    let reg = app.regulator(&["513230"]).await;
    let mut b = Browser::signed_in(&app, &reg).await;
    exec(
        &mut conn,
        &format!("UPDATE users SET role = 'admin' WHERE id = {}", reg.id),
    )
    .await;
    assert_eq!(b.get("/console/").await.status, 303);

    // password changed elsewhere
    let reg = app.regulator(&["513230"]).await;
    let mut b = Browser::signed_in(&app, &reg).await;
    exec(
        &mut conn,
        &format!(
            "UPDATE users SET password_changed_at = now() + interval '1 second' WHERE id = {}",
            reg.id
        ),
    )
    .await;
    assert_eq!(b.get("/console/").await.status, 303);

    // idle for more than 2 hours
    let reg = app.regulator(&["513230"]).await;
    let mut b = Browser::signed_in(&app, &reg).await;
    exec(
        &mut conn,
        &format!(
            "UPDATE console_sessions SET last_seen_at = now() - interval '2 hours 1 minute' WHERE user_id = {}",
            reg.id
        ),
    )
    .await;
    assert_eq!(b.get("/console/").await.status, 303);

    // active, but past the absolute end
    let reg = app.regulator(&["513230"]).await;
    let mut b = Browser::signed_in(&app, &reg).await;
    exec(
        &mut conn,
        &format!(
            "UPDATE console_sessions SET expires_at = now() - interval '1 second' WHERE user_id = {}",
            reg.id
        ),
    )
    .await;
    assert_eq!(b.get("/console/").await.status, 303);

    // a regulator's session ends after 12 hours at most, ticked or not
    let reg = app.regulator(&["513230"]).await;
    let mut b = Browser::new(&app);
    b.post(
        "/console/login",
        &[
            ("username", &reg.username),
            ("password", &reg.password),
            ("remember", "on"),
        ],
    )
    .await;
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) AS n FROM console_sessions WHERE user_id = {} \
             AND expires_at <= now() + interval '12 hours' AND idle_secs = 7200",
            reg.id
        ))
        .await,
        1
    );
}

#[tokio::test]
async fn a_merchant_who_ticks_remember_stays_signed_in_for_30_days() {
    let app = spawn_app().await;
    let m = app.merchant_in("513230").await;
    let owner = app.user(Role::Merchant, &[], Some(m.id)).await;
    let mut b = Browser::new(&app);
    let p = b
        .post(
            "/console/login",
            &[
                ("username", &owner.username),
                ("password", &owner.password),
                ("remember", "on"),
            ],
        )
        .await;
    assert_eq!(p.status, 303);
    let set = p.headers.get(header::SET_COOKIE).unwrap().to_str().unwrap();
    assert!(set.contains("Max-Age=2592000"), "{set}");
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) AS n FROM console_sessions WHERE user_id = {} \
             AND expires_at > now() + interval '29 days'",
            owner.id
        ))
        .await,
        1
    );
}

#[tokio::test]
async fn console_pages_are_not_stored_not_framed_and_run_no_inline_script() {
    let app = spawn_app().await;
    let reg = app.regulator(&["513230"]).await;
    let mut b = Browser::signed_in(&app, &reg).await;
    let mut anonymous = Browser::new(&app);
    for path in [
        "/console/login",
        "/console/",
        "/console/account",
        "/console/nope",
    ] {
        let p = if path == "/console/login" {
            anonymous.get(path).await
        } else {
            b.get(path).await
        };
        assert!(p.status == 200 || p.status == 404, "{path}: {}", p.status);
        let h = |n: header::HeaderName| {
            p.headers
                .get(n)
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default()
        };
        assert_eq!(h(header::CACHE_CONTROL), "no-store", "{path}");
        let csp = h(header::CONTENT_SECURITY_POLICY);
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        let script = csp
            .split(';')
            .find(|d| d.trim().starts_with("script-src"))
            .unwrap();
        assert!(!script.contains("unsafe-inline"), "{path}: {csp}");
        assert_eq!(h(header::REFERRER_POLICY), "same-origin", "{path}");
        assert!(!p.body.contains("<script>"), "{path}");
    }
    assert_eq!(b.get("/console/nope").await.status, 404);

    // one stylesheet, named by its content, cached for good
    let page = b.get("/console/").await;
    let at = page.body.find("/console/static/console.").unwrap();
    let href = &page.body[at..at + page.body[at..].find('"').unwrap()];
    let css = app.client.get(app.url(href)).send().await.unwrap();
    assert_eq!(css.status(), 200);
    assert!(css.headers()[header::CACHE_CONTROL]
        .to_str()
        .unwrap()
        .contains("immutable"));
    assert_eq!(
        app.client
            .get(app.url("/console/static/console.000000000000.css"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

#[tokio::test]
async fn the_session_cookie_opens_downloads_but_never_changes_anything_through_the_api() {
    let app = spawn_app().await;
    let m = app.merchant_in("513230").await;
    let reg = app.regulator(&["513230"]).await;
    let b = Browser::signed_in(&app, &reg).await;
    let cookie = format!("yidianyima_session={}", b.cookie.clone().unwrap());
    let get = app
        .client
        .get(app.url(&format!("/api/v1/merchants/{}", m.id)))
        .header(header::COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 200);
    let post = app
        .client
        .post(app.url(&format!("/api/v1/merchants/{}/qrcode", m.id)))
        .header(header::COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 401);
    assert_eq!(app.count("SELECT count(*) AS n FROM shop_codes").await, 0);
}

#[tokio::test]
async fn changing_the_password_signs_out_other_devices_and_keeps_this_one() {
    let app = spawn_app().await;
    let reg = app.regulator(&["513230"]).await;
    let mut b = Browser::signed_in(&app, &reg).await;
    let mut other = Browser::signed_in(&app, &reg).await;

    let p = b
        .submit(
            "/console/account",
            "/console/account/password",
            &[
                ("current_password", "not it"),
                ("new_password", "a brand new secret"),
                ("new_password_again", "a brand new secret"),
            ],
        )
        .await;
    assert_eq!(p.status, 422);
    assert!(
        p.body.contains("当前密码不正确"),
        "the error beside its field"
    );
    assert_eq!(other.get("/console/").await.status, 200, "nothing changed");

    let p = b
        .submit(
            "/console/account",
            "/console/account/password",
            &[
                ("current_password", &reg.password),
                ("new_password", "a brand new secret"),
                ("new_password_again", "a brand new secret"),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    assert_eq!(b.get("/console/account?done=password").await.status, 200);
    assert_eq!(other.get("/console/").await.status, 303, "signed out");
    assert_eq!(
        app.login(&reg.username, "a brand new secret")
            .await
            .status(),
        200
    );
    assert_eq!(
        app.count("SELECT count(*) AS n FROM audit_log WHERE action = 'user.set_password'")
            .await,
        1
    );
}

#[tokio::test]
async fn sign_out_everywhere_else() {
    let app = spawn_app().await;
    let m = app.merchant_in("513230").await;
    let owner = app.user(Role::Merchant, &[], Some(m.id)).await;
    let mut phone = Browser::signed_in(&app, &owner).await;
    let mut shop_pc = Browser::signed_in(&app, &owner).await;
    let p = phone.get("/console/account").await;
    assert_eq!(p.status, 200);
    let p = phone
        .submit(
            "/console/account",
            "/console/account/sessions/end-others",
            &[],
        )
        .await;
    assert_eq!(p.status, 303);
    assert_eq!(shop_pc.get("/console/account").await.status, 303);
    assert_eq!(phone.get("/console/account").await.status, 200);
}

#[tokio::test]
async fn a_merchants_page_and_its_stylesheet_weigh_under_30_kb_gzipped() {
    let app = spawn_app().await;
    let m = app.merchant_in("513230").await;
    let owner = app.user(Role::Merchant, &[], Some(m.id)).await;
    let b = Browser::signed_in(&app, &owner).await;
    let cookie = format!("yidianyima_session={}", b.cookie.clone().unwrap());
    let get = |path: String| {
        app.client
            .get(app.url(&path))
            .header(header::COOKIE, &cookie)
            .header(header::ACCEPT_ENCODING, "gzip")
            .send()
    };
    let page = get("/console/".into()).await.unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()[header::CONTENT_ENCODING], "gzip");
    let page_bytes = page.bytes().await.unwrap();
    let html = {
        use std::io::Read;
        let mut s = String::new();
        flate2::read::GzDecoder::new(&page_bytes[..])
            .read_to_string(&mut s)
            .unwrap();
        s
    };
    let at = html.find("/console/static/console.").unwrap();
    let href = html[at..at + html[at..].find('"').unwrap()].to_owned();
    let css = get(href).await.unwrap();
    assert_eq!(css.headers()[header::CONTENT_ENCODING], "gzip");
    let css_bytes = css.bytes().await.unwrap();
    let total = page_bytes.len() + css_bytes.len();
    assert!(total < 30 * 1024, "{total} bytes gzipped");
}
