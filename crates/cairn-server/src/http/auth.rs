//! Who may use the HTTP API. With no users configured, only loopback clients are served.
//! With users, every route but `/health` and `/ping` needs a user's name and password, as
//! `Authorization: Token <name>:<password>` (InfluxDB v2 clients send their token so),
//! `Authorization: Basic base64(<name>:<password>)`, or v1's `?u=<name>&p=<password>`.

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::extract::Query;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::Response;

use super::reply;
use crate::state::ServerState;

/// Routes that answer without credentials (load balancers and InfluxDB clients probe them).
const OPEN_PATHS: [&str; 2] = ["/health", "/ping"];

/// `Ok` if the request may proceed, else the 401/403 answer.
pub(super) fn check(
    state: &ServerState,
    peer: SocketAddr,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<(), Response> {
    let users = &state.config.users;
    if users.is_empty() {
        if peer.ip().to_canonical().is_loopback() {
            return Ok(());
        }
        return Err(reply::closing(reply::influx(
            StatusCode::FORBIDDEN,
            "forbidden",
            "no users are configured; only loopback clients are accepted; add [[users]] to \
             the configuration file",
        )));
    }
    if OPEN_PATHS.contains(&uri.path()) {
        return Ok(());
    }
    let Some((name, password)) = credentials(uri, headers) else {
        return Err(unauthorized(
            "authentication required: send Authorization: Token <name>:<password>, \
             Authorization: Basic with the name and password, or ?u=<name>&p=<password>",
        ));
    };
    let known = users
        .iter()
        .filter(|u| u.name == name)
        .fold(false, |ok, u| {
            ok | constant_time_eq(u.password.as_bytes(), password.as_bytes())
        });
    if known {
        Ok(())
    } else {
        Err(unauthorized("wrong user name or password"))
    }
}

fn unauthorized(message: &str) -> Response {
    let mut r = reply::closing(reply::influx(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        message,
    ));
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"cairn\""),
    );
    r
}

/// The name and password the request carries, if any.
fn credentials(uri: &Uri, headers: &HeaderMap) -> Option<(String, String)> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let text = value.to_str().ok()?.trim();
        let (scheme, rest) = text.split_once(' ')?;
        let pair = if scheme.eq_ignore_ascii_case("token") {
            rest.trim().to_owned()
        } else if scheme.eq_ignore_ascii_case("basic") {
            String::from_utf8(base64_decode(rest.trim())?).ok()?
        } else {
            return None;
        };
        let (name, password) = pair.split_once(':')?;
        return Some((name.to_owned(), password.to_owned()));
    }
    let mut params = Query::<HashMap<String, String>>::try_from_uri(uri).ok()?.0;
    Some((params.remove("u")?, params.remove("p")?))
}

/// Equal without a data-dependent early exit (the length is not secret).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Standard or URL-safe base64, padding optional; `None` for any other byte.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() / 4 * 3 + 2);
    let mut acc = 0u32;
    let mut bits = 0u32;
    for c in s.trim_end_matches('=').bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn base64_round_trips_known_values() {
        assert_eq!(base64_decode("YWxpY2U6czNjcmV0").unwrap(), b"alice:s3cret");
        assert_eq!(base64_decode("YQ==").unwrap(), b"a");
        assert_eq!(base64_decode("YWI").unwrap(), b"ab");
        assert!(base64_decode("a b").is_none());
    }

    #[test]
    fn credentials_from_each_place() {
        let uri: Uri = "/write?db=x&u=bob&p=pw".parse().unwrap();
        assert_eq!(
            credentials(&uri, &HeaderMap::new()),
            Some(("bob".into(), "pw".into()))
        );
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Token bob:p:w"),
        );
        assert_eq!(
            credentials(&"/q".parse().unwrap(), &h),
            Some(("bob".into(), "p:w".into()))
        );
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
