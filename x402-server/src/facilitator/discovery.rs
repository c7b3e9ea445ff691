//! The bazaar catalog: a settled payment whose declaration the core finds
//! valid is written to the store (`paywire::bazaar::discover`; an invalid
//! one is only logged: the payment was settled all the same), and `GET
//! /discovery/resources` lists the catalog as the reference's
//! `withBazaar(client).extensions.bazaar.listResources` reads it.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, Response, StatusCode};
use paywire::bazaar::{self, ExtensionResponse, Kind};
use paywire::json::{JsonStr, Limits, ObjectWriter, Sink, SinkFull, ToJson, parse};

use super::{Inner, caller, json_response, now, problem};
use crate::store::{CatalogEntry, CatalogQuery};

/// Entries a page holds when the query names no `limit`.
pub(crate) const DEFAULT_LIMIT: u64 = 20;
/// The most entries a page holds, whatever the query asks.
pub(crate) const MAX_LIMIT: u64 = 100;
/// The largest `offset` accepted.
const MAX_OFFSET: u64 = 1_000_000;
/// The largest payment's `extensions` kept in the catalog, in bytes.
const MAX_EXTENSIONS: usize = 32 * 1024;

/// Writes the resource a settled payment declared, if its declaration is
/// valid, and answers what to tell the resource server of it (`None`: the
/// payment declared nothing). `body` is the `/settle` request; nothing here
/// fails the settlement.
pub(crate) async fn record(inner: &Inner, body: &[u8]) -> Option<ExtensionResponse> {
    let limits = Limits {
        max_len: body.len(),
        max_depth: 64,
    };
    let rejected = |why: String| {
        Some(ExtensionResponse {
            rejected_reason: Some(why),
        })
    };
    let req = parse(body, &limits).ok().and_then(|v| v.as_object())?;
    let payload = req.get("paymentPayload").and_then(|p| p.as_object())?;
    let found = match bazaar::discover(payload) {
        Ok(d) => d,
        Err(bazaar::Dropped::NotDeclared) => return None,
        Err(why) => {
            tracing::info!(reason = %why, "bazaar declaration not cataloged");
            return rejected(why.to_string());
        }
    };
    if found.extensions.len() > MAX_EXTENSIONS {
        tracing::info!(
            bytes = found.extensions.len(),
            "bazaar declaration not cataloged: too large"
        );
        return rejected(format!(
            "bazaar: the payment's extensions exceed {MAX_EXTENSIONS} bytes"
        ));
    }
    let requirements = req
        .get("paymentRequirements")
        .and_then(|r| r.as_object())
        .map(|r| r.as_value());
    let field = |k: &str| {
        requirements
            .and_then(|r| r.as_object())
            .and_then(|r| r.get(k))
            .and_then(|v| v.as_str())
            .map(|s| s.to_cow().into_owned())
            .unwrap_or_default()
    };
    let accepts = match requirements {
        Some(r) => format!("[{}]", r.to_json_string()),
        None => format!("[{}]", found.accepted),
    };
    let extension_keys = parse(found.extensions.as_bytes(), &Limits::DEFAULT)
        .ok()
        .and_then(|e| e.as_object())
        .map(|e| {
            let mut keys = String::from(",");
            for (k, _) in e.members() {
                keys.push_str(&k.to_cow());
                keys.push(',');
            }
            keys
        })
        .unwrap_or_else(|| ",".into());
    let key = match (&found.kind, &found.tool_name) {
        (Kind::Mcp, Some(tool)) => format!("{} {tool}", found.resource),
        _ => found.resource.clone(),
    };
    let tags = (!found.tags.is_empty()).then(|| {
        let mut out = Vec::new();
        let _ = write_strings(&mut out, &found.tags);
        String::from_utf8(out).unwrap_or_default()
    });
    let entry = CatalogEntry {
        key,
        resource: found.resource,
        kind: found.kind.as_str().into(),
        x402_version: 2,
        accepts,
        pay_to: field("payTo"),
        scheme: field("scheme"),
        network: field("network"),
        extension_keys,
        description: found.description,
        mime_type: found.mime_type,
        service_name: found.service_name,
        tags,
        icon_url: found.icon_url,
        extensions: found.extensions,
        updated: now(),
    };
    if let Err(e) = inner.store.catalog_put(&entry).await {
        tracing::warn!(error = %e, resource = %entry.resource, "bazaar: the catalog entry could not be written");
        return rejected("bazaar: the catalog cannot be written now".into());
    }
    tracing::info!(resource = %entry.resource, kind = %entry.kind, "bazaar: cataloged");
    Some(ExtensionResponse {
        rejected_reason: None,
    })
}

fn write_strings(out: &mut dyn Sink, items: &[String]) -> Result<(), SinkFull> {
    out.put(b"[")?;
    for (i, s) in items.iter().enumerate() {
        if i > 0 {
            out.put(b",")?;
        }
        JsonStr::new(s).write_json(out)?;
    }
    out.put(b"]")
}

/// Reads the listing's query: `type`, `payTo`, `scheme`, `network`,
/// `extensions`, `limit` (1 to [`MAX_LIMIT`]; larger is capped), `offset`.
/// Unknown parameters are ignored.
fn query(raw: Option<&str>) -> Result<CatalogQuery, String> {
    let mut q = CatalogQuery {
        limit: DEFAULT_LIMIT,
        ..CatalogQuery::default()
    };
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(raw.unwrap_or("")).map_err(|e| format!("the query: {e}"))?;
    for (k, v) in pairs {
        let number = |name: &str| {
            v.parse::<u64>()
                .map_err(|_| format!("{name} is a non-negative integer"))
        };
        match k.as_str() {
            "type" => q.kind = Some(v),
            "payTo" => q.pay_to = Some(v),
            "scheme" => q.scheme = Some(v),
            "network" => q.network = Some(v),
            "extensions" => q.extension = Some(v),
            "limit" => {
                let n = number("limit")?;
                if n == 0 {
                    return Err("limit is at least 1".into());
                }
                q.limit = n.min(MAX_LIMIT);
            }
            "offset" => {
                let n = number("offset")?;
                if n > MAX_OFFSET {
                    return Err(format!("offset is at most {MAX_OFFSET}"));
                }
                q.offset = n;
            }
            _ => {}
        }
    }
    Ok(q)
}

/// An RFC 3339 UTC time (`2026-01-02T03:04:05.000Z`, as JavaScript's
/// `toISOString` writes it) of unix seconds.
pub(crate) fn iso8601(secs: u64) -> String {
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.000Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// One entry as the reference's `DiscoveryResource`.
struct Item<'a>(&'a CatalogEntry);

impl ToJson for Item<'_> {
    fn write_json(&self, out: &mut dyn Sink) -> Result<(), SinkFull> {
        let e = self.0;
        fn raw(text: &str) -> Option<paywire::json::JsonValue<'_>> {
            let limits = Limits {
                max_len: text.len(),
                max_depth: 64,
            };
            parse(text.as_bytes(), &limits).ok()
        }
        let mut w = ObjectWriter::new(out)?;
        w.str_field("resource", JsonStr::new(&e.resource))?;
        w.str_field("type", JsonStr::new(&e.kind))?;
        w.u64_field("x402Version", e.x402_version)?;
        w.key(JsonStr::new("accepts"))?;
        match raw(&e.accepts) {
            Some(v) => v.write_json(w.sink())?,
            None => w.sink().put(b"[]")?,
        }
        w.str_field("lastUpdated", JsonStr::new(&iso8601(e.updated)))?;
        w.opt_str_field("description", e.description.as_deref().map(JsonStr::new))?;
        w.opt_str_field("mimeType", e.mime_type.as_deref().map(JsonStr::new))?;
        w.opt_str_field("serviceName", e.service_name.as_deref().map(JsonStr::new))?;
        if let Some(tags) = e.tags.as_deref().and_then(raw) {
            w.value_field(JsonStr::new("tags"), tags)?;
        }
        w.opt_str_field("iconUrl", e.icon_url.as_deref().map(JsonStr::new))?;
        if let Some(ext) = raw(&e.extensions) {
            w.value_field(JsonStr::new("extensions"), ext)?;
        }
        w.end()
    }
}

/// `GET /discovery/resources`.
pub(crate) async fn list(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response<Body> {
    if !inner.discovery.enabled {
        return super::not_found().await;
    }
    if !inner.discovery.public
        && let Err(r) = caller(&inner, &headers)
    {
        return *r;
    }
    let q = match query(raw.as_deref()) {
        Ok(q) => q,
        Err(why) => return problem(StatusCode::BAD_REQUEST, "invalid_request", &why),
    };
    let (items, total) = match inner.store.catalog_list(&q).await {
        Ok(found) => found,
        Err(e) => {
            tracing::error!(error = %e, "bazaar: the catalog could not be read");
            return problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "store_unavailable",
                "the catalog cannot be read now",
            );
        }
    };
    let mut out = Vec::new();
    let _ = (|| {
        let mut w = ObjectWriter::new(&mut out)?;
        w.u64_field("x402Version", 2)?;
        w.key(JsonStr::new("items"))?;
        let s = w.sink();
        s.put(b"[")?;
        for (i, e) in items.iter().enumerate() {
            if i > 0 {
                s.put(b",")?;
            }
            Item(e).write_json(s)?;
        }
        s.put(b"]")?;
        w.key(JsonStr::new("pagination"))?;
        let mut p = ObjectWriter::new(w.sink())?;
        p.u64_field("limit", q.limit)?;
        p.u64_field("offset", q.offset)?;
        p.u64_field("total", total)?;
        p.end()?;
        w.end()
    })();
    json_response(StatusCode::OK, String::from_utf8(out).unwrap_or_default())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn times_are_written_as_javascript_writes_them() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(1_750_000_000), "2025-06-15T15:06:40.000Z");
        assert_eq!(iso8601(951_782_400), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso8601(4_102_444_799), "2099-12-31T23:59:59.000Z");
    }

    #[test]
    fn the_query_is_bounded() {
        let q = query(Some(
            "type=mcp&payTo=0xAb&limit=500&offset=3&extensions=bazaar&x=1",
        ))
        .unwrap();
        assert_eq!(
            (q.kind.as_deref(), q.pay_to.as_deref(), q.limit, q.offset),
            (Some("mcp"), Some("0xAb"), MAX_LIMIT, 3)
        );
        assert_eq!(q.extension.as_deref(), Some("bazaar"));
        assert_eq!(query(None).unwrap().limit, DEFAULT_LIMIT);
        assert_eq!(
            query(Some("network=eip155%3A8453"))
                .unwrap()
                .network
                .as_deref(),
            Some("eip155:8453")
        );
        for bad in [
            "limit=0",
            "limit=-1",
            "limit=x",
            "offset=1.5",
            "offset=99999999999",
        ] {
            assert!(query(Some(bad)).is_err(), "{bad}");
        }
    }
}
