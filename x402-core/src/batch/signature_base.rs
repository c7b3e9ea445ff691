//! The signature base of HTTP Message Signatures (RFC 9421 §2).
//!
//! A message is given as plain parts — method, target URI and header lines for a
//! request; status and header lines (and the request it answers) for a response
//! — so any host can build one without this crate knowing its HTTP types.
//! [`write_signature_base`] takes the covered components and signature
//! parameters (one parsed `Signature-Input` member) and writes the base into a
//! [`Sink`], byte for byte as RFC 9421 §2.5 defines it.
//!
//! Supported component identifiers:
//! - derived components `@method`, `@target-uri`, `@authority`, `@scheme`,
//!   `@request-target` (origin form), `@path`, `@query` and `@status`;
//! - header fields, with the parameters `sf` (strict structured-field
//!   serialization, for fields whose type this module knows:
//!   `signature-input`, `signature`, `signature-agent` are Dictionaries), `key`
//!   (one Dictionary member), `bs` (values wrapped as byte sequences) and `req`
//!   (the component is taken from the request a response answers).
//!
//! Everything else is an error, as RFC 9421 requires: an unknown derived
//! component or parameter, `@query-param` and `tr` (not implemented here), a
//! header field absent from the message, a repeated component identifier, a
//! field value with non-ASCII bytes or control characters, `req` on a request,
//! `@status` on a request.
//!
//! Canonicalisation follows §2.1: each field line is trimmed of surrounding
//! whitespace, obsolete line folding becomes one space, and the lines of a field
//! are joined with `", "`. `@authority` is the URI's host in lower case with the
//! port unless it is the scheme's default; `@path` is `/` when the path is
//! empty; `@query` is `?` when there is no query.
//!
//! ```
//! use paywire::batch::sfv::{parse_inner_list, Limits};
//! use paywire::batch::signature_base::{write_signature_base, Message, Request};
//! let req = Request {
//!     method: "GET",
//!     url: "https://example.com/article",
//!     headers: &[("Host", "example.com")],
//! };
//! let params = parse_inner_list(r#"("@method" "@authority");created=1618884473"#, &Limits::DEFAULT).unwrap();
//! let mut base = Vec::new();
//! write_signature_base(&Message::Request(req), &params, &mut base).unwrap();
//! assert_eq!(
//!     base,
//!     b"\"@method\": GET\n\"@authority\": example.com\n\"@signature-params\": (\"@method\" \"@authority\");created=1618884473"
//! );
//! ```

use core::fmt;

use super::sfv::{self, BareItem, Dictionary, InnerList, Item, List, SfString};
use crate::json::{Sink, SinkFull, SliceSink};

/// An HTTP request, as the signature base sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request<'a> {
    /// The method, case as sent (`GET`).
    pub method: &'a str,
    /// The absolute target URI (`https://example.com/article?x=1`), without a
    /// fragment. Its authority is what `@authority` signs: a server builds it
    /// from the `Host` header or HTTP/2 `:authority`.
    pub url: &'a str,
    /// Header lines in the order received: `(name, value)`, names in any case.
    /// A field sent as several lines appears several times.
    pub headers: &'a [(&'a str, &'a str)],
}

/// An HTTP response, as the signature base sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Response<'a> {
    /// The status code.
    pub status: u16,
    /// Header lines in the order sent.
    pub headers: &'a [(&'a str, &'a str)],
    /// The request this response answers, for components with `req`.
    pub request: Option<Request<'a>>,
}

/// The message a signature covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Message<'a> {
    /// A request.
    Request(Request<'a>),
    /// A response.
    Response(Response<'a>),
}

/// Why a signature base could not be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BaseError {
    /// The covered component at `index` (0-based) cannot be resolved.
    Component {
        /// Position in the covered components.
        index: usize,
        /// What was wrong.
        what: &'static str,
    },
    /// The output sink is full.
    SinkFull,
}

impl fmt::Display for BaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BaseError::Component { index, what } => {
                write!(f, "covered component {index}: {what}")
            }
            BaseError::SinkFull => f.write_str("output buffer too small for the signature base"),
        }
    }
}

impl core::error::Error for BaseError {}

impl From<SinkFull> for BaseError {
    fn from(_: SinkFull) -> Self {
        BaseError::SinkFull
    }
}

/// Most covered components a signature may list.
pub const MAX_COMPONENTS: usize = 32;

/// Longest combined value of a field read with `sf` or `key` when it arrives
/// in several lines (they are joined on the stack before parsing).
pub const MAX_COMBINED_FIELD: usize = 2048;

/// Writes the signature base for `components` (a parsed `Signature-Input`
/// member: the covered components with the signature parameters) over `msg`.
///
/// # Errors
/// [`BaseError::Component`] naming the first component that cannot be
/// resolved; [`BaseError::SinkFull`] from the sink.
pub fn write_signature_base(
    msg: &Message<'_>,
    components: &InnerList<'_>,
    out: &mut dyn Sink,
) -> Result<(), BaseError> {
    let ctx = Ctx::from_message(msg, None);
    ctx.write_base(components, out)
}

/// The fields of a message, with an optional override of one field (the
/// signer supplies `Signature-Agent` this way).
#[derive(Clone, Copy)]
pub(crate) struct Fields<'a> {
    headers: &'a [(&'a str, &'a str)],
    replace: Option<(&'a str, &'a str)>,
}

impl<'a> Fields<'a> {
    fn values(self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        let replaced = self.replace.filter(|(n, _)| n.eq_ignore_ascii_case(name));
        let from_headers = self
            .headers
            .iter()
            .filter(move |(n, _)| replaced.is_none() && n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v);
        from_headers.chain(replaced.map(|(_, v)| v))
    }
}

#[derive(Clone, Copy)]
struct Side<'a> {
    method: Option<&'a str>,
    url: Option<&'a str>,
    status: Option<u16>,
    fields: Fields<'a>,
}

impl<'a> Side<'a> {
    fn request(r: &Request<'a>, replace: Option<(&'a str, &'a str)>) -> Self {
        Side {
            method: Some(r.method),
            url: Some(r.url),
            status: None,
            fields: Fields {
                headers: r.headers,
                replace,
            },
        }
    }
}

#[derive(Clone, Copy)]
pub(crate) struct Ctx<'a> {
    target: Side<'a>,
    /// The request a response answers (`req`); `None` for a request.
    related: Option<Side<'a>>,
    is_request: bool,
}

impl<'a> Ctx<'a> {
    pub(crate) fn from_message(msg: &Message<'a>, replace: Option<(&'a str, &'a str)>) -> Self {
        match msg {
            Message::Request(r) => Ctx {
                target: Side::request(r, replace),
                related: None,
                is_request: true,
            },
            Message::Response(r) => Ctx {
                target: Side {
                    method: None,
                    url: None,
                    status: Some(r.status),
                    fields: Fields {
                        headers: r.headers,
                        replace,
                    },
                },
                related: r.request.as_ref().map(|q| Side::request(q, None)),
                is_request: false,
            },
        }
    }

    pub(crate) fn write_base(
        &self,
        components: &InnerList<'_>,
        out: &mut dyn Sink,
    ) -> Result<(), BaseError> {
        let mut n = 0usize;
        for (index, item) in components.iter().enumerate() {
            n += 1;
            let fail = |what| BaseError::Component { index, what };
            if n > MAX_COMPONENTS {
                return Err(fail("more covered components than the limit"));
            }
            let id = Component::parse(&item).map_err(fail)?;
            if components
                .iter()
                .take(index)
                .any(|earlier| Component::parse(&earlier).is_ok_and(|e| e.same_as(&id)))
            {
                return Err(fail("component identifier listed twice"));
            }
            item.serialize(out)?;
            out.put(b": ")?;
            self.write_value(&id, out).map_err(|e| match e {
                ValueError::Sink => BaseError::SinkFull,
                ValueError::Bad(what) => fail(what),
            })?;
            out.put(b"\n")?;
        }
        out.put(b"\"@signature-params\": ")?;
        components.serialize(out)?;
        Ok(())
    }

    fn write_value(&self, id: &Component<'_>, out: &mut dyn Sink) -> Result<(), ValueError> {
        let side = if id.req {
            if self.is_request {
                return Err(ValueError::Bad(
                    "`req` is not allowed in a request signature",
                ));
            }
            self.related.ok_or(ValueError::Bad(
                "`req` needs the request this response answers",
            ))?
        } else {
            self.target
        };
        if id.name.starts_with('@') {
            write_derived(id, &side, out)
        } else {
            write_field(id, side.fields, out)
        }
    }
}

enum ValueError {
    Sink,
    Bad(&'static str),
}

impl From<SinkFull> for ValueError {
    fn from(_: SinkFull) -> Self {
        ValueError::Sink
    }
}

/// A parsed component identifier.
struct Component<'a> {
    name: &'a str,
    item: Item<'a>,
    req: bool,
    sf: bool,
    bs: bool,
    key: Option<SfString<'a>>,
}

impl<'a> Component<'a> {
    fn parse(item: &Item<'a>) -> Result<Self, &'static str> {
        let BareItem::String(s) = item.bare else {
            return Err("a component identifier must be a string");
        };
        let name = s
            .as_plain()
            .filter(|n| !n.is_empty())
            .ok_or("invalid component name")?;
        let body = name.strip_prefix('@').unwrap_or(name);
        if body.is_empty()
            || !body.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || b"!#$%&'*+-.^_`|~".contains(&b)
            })
        {
            return Err("component names are lower-case field names or @derived names");
        }
        if item.params.has_duplicates() {
            return Err("a component parameter is repeated");
        }
        let mut c = Component {
            name,
            item: *item,
            req: false,
            sf: false,
            bs: false,
            key: None,
        };
        for (k, v) in item.params.iter() {
            let flag = || match v {
                BareItem::Boolean(true) => Ok(true),
                _ => Err("component flags (req, sf, bs) take no value"),
            };
            match k {
                "req" => c.req = flag()?,
                "sf" => c.sf = flag()?,
                "bs" => c.bs = flag()?,
                "key" => c.key = Some(v.as_string().ok_or("`key` must be a string")?),
                "tr" => return Err("trailer fields (`tr`) are not supported"),
                "name" => return Err("`@query-param` is not supported"),
                _ => return Err("unknown component parameter"),
            }
        }
        let derived = name.starts_with('@');
        if derived && (c.sf || c.bs || c.key.is_some()) {
            return Err("sf, key and bs apply to header fields only");
        }
        if c.bs && (c.sf || c.key.is_some()) {
            return Err("bs cannot be combined with sf or key");
        }
        Ok(c)
    }

    /// Equal names and equal parameter sets (order does not matter).
    fn same_as(&self, other: &Component<'_>) -> bool {
        self.name == other.name
            && self.item.params.len() == other.item.params.len()
            && self
                .item
                .params
                .iter()
                .all(|(k, v)| other.item.params.get(k).is_some_and(|w| bare_eq(&v, &w)))
    }
}

fn bare_eq(a: &BareItem<'_>, b: &BareItem<'_>) -> bool {
    match (a, b) {
        (BareItem::String(x), BareItem::String(y)) => x.chars().eq(y.chars()),
        _ => a == b,
    }
}

/// The parts of a target URI the derived components read.
struct TargetUri<'a> {
    scheme: &'a str,
    host: &'a str,
    port: Option<&'a str>,
    path: &'a str,
    query: Option<&'a str>,
}

fn parse_uri(url: &str) -> Result<TargetUri<'_>, &'static str> {
    if url.is_empty() || !url.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        return Err("the target URI must be non-empty visible ASCII");
    }
    if url.contains('#') {
        return Err("the target URI must not carry a fragment");
    }
    let (scheme, rest) = url
        .split_once("://")
        .ok_or("the target URI must be absolute (scheme://authority/...)")?;
    let mut sb = scheme.bytes();
    if !sb.next().is_some_and(|b| b.is_ascii_alphabetic())
        || !sb.all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'-' || b == b'.')
    {
        return Err("invalid URI scheme");
    }
    let auth_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, rest) = rest.split_at(auth_end);
    if authority.is_empty() || authority.contains('@') {
        return Err("the URI authority must be a host (userinfo is not allowed)");
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let close = v6.find(']').ok_or("unterminated IPv6 literal")?;
        let after = v6.get(close + 1..).unwrap_or("");
        let host = authority.get(..close + 2).unwrap_or(authority);
        match after {
            "" => (host, None),
            p => (
                host,
                Some(p.strip_prefix(':').ok_or("junk after IPv6 literal")?),
            ),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err("empty URI host");
    }
    if let Some(p) = port {
        if !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err("the URI port must be digits");
        }
    }
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    Ok(TargetUri {
        scheme,
        host,
        port: port.filter(|p| !p.is_empty()),
        path,
        query,
    })
}

fn default_port(scheme: &str) -> Option<&'static str> {
    if scheme.eq_ignore_ascii_case("https") {
        Some("443")
    } else if scheme.eq_ignore_ascii_case("http") {
        Some("80")
    } else {
        None
    }
}

fn put_lower(out: &mut dyn Sink, s: &str) -> Result<(), SinkFull> {
    for chunk in s.as_bytes().chunks(64) {
        let mut buf = [0u8; 64];
        let dst = buf.get_mut(..chunk.len()).unwrap_or_default();
        for (d, c) in dst.iter_mut().zip(chunk) {
            *d = c.to_ascii_lowercase();
        }
        out.put(dst)?;
    }
    Ok(())
}

fn write_derived(
    id: &Component<'_>,
    side: &Side<'_>,
    out: &mut dyn Sink,
) -> Result<(), ValueError> {
    let need_request = || -> Result<TargetUri<'_>, ValueError> {
        let url = side.url.ok_or(ValueError::Bad(
            "this derived component applies to requests",
        ))?;
        parse_uri(url).map_err(ValueError::Bad)
    };
    match id.name {
        "@method" => {
            let m = side
                .method
                .ok_or(ValueError::Bad("@method applies to requests"))?;
            if m.is_empty() || !m.bytes().all(|b| b.is_ascii() && sfv::is_tchar(b)) {
                return Err(ValueError::Bad("the method must be a token"));
            }
            out.put(m.as_bytes())?;
        }
        "@target-uri" => {
            need_request()?;
            out.put(side.url.unwrap_or("").as_bytes())?;
        }
        "@authority" => {
            let u = need_request()?;
            put_lower(out, u.host)?;
            if let Some(p) = u.port {
                if default_port(u.scheme) != Some(p) {
                    out.put(b":")?;
                    out.put(p.as_bytes())?;
                }
            }
        }
        "@scheme" => put_lower(out, need_request()?.scheme)?,
        "@request-target" => {
            let u = need_request()?;
            out.put(if u.path.is_empty() {
                b"/"
            } else {
                u.path.as_bytes()
            })?;
            if let Some(q) = u.query {
                out.put(b"?")?;
                out.put(q.as_bytes())?;
            }
        }
        "@path" => {
            let u = need_request()?;
            out.put(if u.path.is_empty() {
                b"/"
            } else {
                u.path.as_bytes()
            })?;
        }
        "@query" => {
            let u = need_request()?;
            out.put(b"?")?;
            out.put(u.query.unwrap_or("").as_bytes())?;
        }
        "@status" => {
            let s = side
                .status
                .ok_or(ValueError::Bad("@status applies to responses"))?;
            if !(100..=999).contains(&s) {
                return Err(ValueError::Bad("the status must be three digits"));
            }
            sfv::write_u64(out, u64::from(s))?;
        }
        "@signature-params" => {
            return Err(ValueError::Bad("@signature-params must not be covered"));
        }
        "@query-param" => return Err(ValueError::Bad("@query-param is not supported")),
        _ => return Err(ValueError::Bad("unknown derived component")),
    }
    Ok(())
}

/// Checks one field line and writes it canonically: surrounding whitespace
/// dropped, obsolete line folding replaced by one space.
fn write_line(out: &mut dyn Sink, line: &str) -> Result<(), ValueError> {
    let v = line.trim_matches([' ', '\t', '\r', '\n']);
    let b = v.as_bytes();
    let mut i = 0usize;
    let mut start = 0usize;
    while let Some(&c) = b.get(i) {
        match c {
            b'\t' | 0x20..=0x7e => i += 1,
            b'\r' | b'\n' => {
                // obs-fold: CRLF (or a bare LF) followed by spaces or tabs.
                let mut j = i;
                if b.get(j) == Some(&b'\r') {
                    j += 1;
                }
                if b.get(j) != Some(&b'\n') {
                    return Err(ValueError::Bad("a field value holds a bare CR"));
                }
                j += 1;
                if !matches!(b.get(j), Some(b' ' | b'\t')) {
                    return Err(ValueError::Bad("a field value holds a line break"));
                }
                while matches!(b.get(j), Some(b' ' | b'\t')) {
                    j += 1;
                }
                out.put(b.get(start..i).unwrap_or_default())?;
                out.put(b" ")?;
                i = j;
                start = j;
            }
            0x80..=0xff => return Err(ValueError::Bad("a field value holds non-ASCII bytes")),
            _ => return Err(ValueError::Bad("a field value holds a control character")),
        }
    }
    out.put(b.get(start..).unwrap_or_default())?;
    Ok(())
}

/// What `sf` serializes a known field as.
fn structured_type(name: &str) -> Option<SfType> {
    match name {
        "signature-input" | "signature" | "signature-agent" => Some(SfType::Dictionary),
        _ => None,
    }
}

#[derive(Clone, Copy)]
enum SfType {
    Dictionary,
    #[allow(dead_code)]
    List,
}

fn write_field(
    id: &Component<'_>,
    fields: Fields<'_>,
    out: &mut dyn Sink,
) -> Result<(), ValueError> {
    let mut values = fields.values(id.name).peekable();
    if values.peek().is_none() {
        return Err(ValueError::Bad("the header field is not in the message"));
    }
    if id.bs {
        for (i, v) in values.enumerate() {
            if i > 0 {
                out.put(b", ")?;
            }
            let mut buf = [0u8; MAX_COMBINED_FIELD];
            let mut s = SliceSink::new(&mut buf);
            write_line(&mut s, v).map_err(|e| match e {
                ValueError::Sink => ValueError::Bad("a field line is too long for bs"),
                bad => bad,
            })?;
            sfv::write_byte_seq(out, s.into_written())?;
        }
        return Ok(());
    }
    if !id.sf && id.key.is_none() {
        for (i, v) in values.enumerate() {
            if i > 0 {
                out.put(b", ")?;
            }
            write_line(out, v)?;
        }
        return Ok(());
    }
    // sf or key: combine the lines, parse, serialize strictly.
    let mut buf = [0u8; MAX_COMBINED_FIELD];
    let mut s = SliceSink::new(&mut buf);
    for (i, v) in values.enumerate() {
        if i > 0 {
            s.put(b", ")
                .map_err(|_| ValueError::Bad("combined field too long"))?;
        }
        write_line(&mut s, v).map_err(|e| match e {
            ValueError::Sink => ValueError::Bad("combined field too long"),
            bad => bad,
        })?;
    }
    let text = core::str::from_utf8(s.into_written())
        .map_err(|_| ValueError::Bad("a field value holds non-ASCII bytes"))?;
    let limits = sfv::Limits::DEFAULT;
    if let Some(key) = id.key {
        let dict = Dictionary::parse(text, &limits)
            .map_err(|_| ValueError::Bad("the field is not a valid Dictionary"))?;
        let member = dict
            .iter()
            .filter(|(k, _)| key.eq_str(k))
            .last()
            .map(|(_, v)| v)
            .ok_or(ValueError::Bad(
                "the Dictionary has no member with this key",
            ))?;
        member.serialize(out)?;
        return Ok(());
    }
    match structured_type(id.name) {
        Some(SfType::Dictionary) => Dictionary::parse(text, &limits)
            .map_err(|_| ValueError::Bad("the field is not a valid Dictionary"))?
            .serialize(out)?,
        Some(SfType::List) => List::parse(text, &limits)
            .map_err(|_| ValueError::Bad("the field is not a valid List"))?
            .serialize(out)?,
        None => {
            return Err(ValueError::Bad(
                "`sf` on a field of unknown structured type",
            ));
        }
    }
    Ok(())
}
