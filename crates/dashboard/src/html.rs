//! HTML building blocks: escaping, the page frame, badges, times and the stylesheet.

use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse};
use std::fmt::Write as _;

/// Escapes text for HTML element content and quoted attribute values.
pub(crate) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes a path segment (ids may hold anything).
pub(crate) fn seg(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// A timestamp as `2026-11-23 23:10 UTC`.
pub(crate) fn when(at: jiff::Timestamp) -> String {
    at.strftime("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// A coloured label for a status word.
pub(crate) fn badge(word: &str) -> String {
    let class = match word {
        "succeeded" | "applied" | "ok" | "active" | "up_to_date" | "created" | "adopted"
        | "unchanged" | "enable" | "create" => "good",
        "held" | "partial" | "running" | "parked" | "update" | "pending" => "warn",
        "failed" | "aborted" | "rejected" | "disable" | "delete" | "disabled" => "bad",
        _ => "plain",
    };
    format!(r#"<span class="badge {class}">{}</span>"#, esc(word))
}

/// A whole page: header with navigation (and the logout form when logged in), then `body`.
pub(crate) fn page(title: &str, csrf: Option<&str>, body: &str) -> Html<String> {
    let nav = match csrf {
        Some(token) => format!(
            r#"<nav><a href="/">Overview</a><a href="/runs">Runs</a><a href="/held">Held plans</a><a href="/problems">Problems</a>
<form method="post" action="/logout" class="inline"><input type="hidden" name="csrf" value="{}"><button class="link">Log out</button></form></nav>"#,
            esc(token)
        ),
        None => String::new(),
    };
    Html(format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · personio-sync</title><link rel="stylesheet" href="/dashboard.css"></head>
<body><header><span class="brand">personio-sync</span>{nav}</header>
<main><h1>{title}</h1>
{body}</main></body></html>"#,
        title = esc(title)
    ))
}

/// A page that says what went wrong.
pub(crate) fn error_page(status: StatusCode, message: &str) -> Html<String> {
    page(
        status.canonical_reason().unwrap_or("Error"),
        None,
        &format!(
            r#"<p class="error">{}</p><p><a href="/">Back to the overview</a></p>"#,
            esc(message)
        ),
    )
}

/// `GET /dashboard.css`.
pub(crate) async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        CSS,
    )
}

const CSS: &str = r#"
:root { --ink:#1d2430; --muted:#5b6675; --line:#dde2e8; --bg:#f6f7f9; --accent:#1f5fbf;
  --good:#1c7c45; --warn:#9a6200; --bad:#b3261e; }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif; color:var(--ink); background:var(--bg); }
header { display:flex; align-items:center; gap:2rem; padding:.7rem 2rem; background:#fff; border-bottom:1px solid var(--line); }
.brand { font-weight:700; letter-spacing:.02em; }
nav { display:flex; gap:1.2rem; align-items:center; flex:1; }
nav a { color:var(--ink); text-decoration:none; } nav a:hover { color:var(--accent); }
nav form { margin-left:auto; }
main { max-width:1100px; margin:0 auto; padding:1.5rem 2rem 3rem; }
h1 { font-size:1.5rem; margin:.2rem 0 1rem; } h2 { font-size:1.1rem; margin:1.8rem 0 .6rem; }
a { color:var(--accent); }
table { width:100%; border-collapse:collapse; background:#fff; border:1px solid var(--line); border-radius:6px; }
th, td { text-align:left; padding:.45rem .7rem; border-bottom:1px solid var(--line); vertical-align:top; }
th { font-size:.8rem; text-transform:uppercase; letter-spacing:.04em; color:var(--muted); background:#fafbfc; }
tr:last-child td { border-bottom:0; }
.badge { display:inline-block; padding:0 .5rem; border-radius:999px; font-size:.8rem; font-weight:600; background:#eceff3; }
.badge.good { background:#e3f4ea; color:var(--good); } .badge.warn { background:#fdf1dc; color:var(--warn); }
.badge.bad { background:#fbe4e2; color:var(--bad); }
.cards { display:grid; grid-template-columns:repeat(auto-fit,minmax(180px,1fr)); gap:1rem; }
.card { background:#fff; border:1px solid var(--line); border-radius:6px; padding:.8rem 1rem; }
.card .n { font-size:1.6rem; font-weight:700; } .card .l { color:var(--muted); font-size:.85rem; }
.op { background:#fff; border:1px solid var(--line); border-radius:6px; padding:.6rem .9rem; margin:.5rem 0; }
.op .who { font-weight:600; }
.diff { margin:.4rem 0 0; width:auto; border:0; } .diff td { border:0; padding:.1rem .8rem .1rem 0; font-family:ui-monospace,monospace; font-size:.85rem; }
.old { color:var(--bad); text-decoration:line-through; } .new { color:var(--good); }
.muted { color:var(--muted); } .error { color:var(--bad); font-weight:600; }
.notice { margin-top:1rem; background:#fdf1dc; border:1px solid #f0d9a8; border-radius:6px; padding:.7rem 1rem; }
button { font:inherit; padding:.35rem .9rem; border-radius:5px; border:1px solid var(--line); background:#fff; cursor:pointer; }
button.primary { background:var(--accent); border-color:var(--accent); color:#fff; }
button.danger { color:var(--bad); border-color:#e7b9b5; }
button.link { border:0; background:none; color:var(--accent); padding:0; }
form.inline { display:inline; margin:0; }
details { margin-top:1rem; } summary { cursor:pointer; color:var(--muted); }
.login { max-width:360px; margin:3rem auto; background:#fff; border:1px solid var(--line); border-radius:8px; padding:1.5rem; }
.login label { display:block; margin:.7rem 0 .2rem; font-size:.9rem; color:var(--muted); }
.login input { width:100%; padding:.45rem; font:inherit; border:1px solid var(--line); border-radius:5px; }
.login button { margin-top:1rem; width:100%; }
"#;
