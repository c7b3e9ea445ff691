//! The paying client: GET; on 402 decode the requirements, choose one under the
//! policy, sign, retry with the payment header; decode `PAYMENT-RESPONSE`.

use paywire::client::{self, OwnedPolicy};
use paywire::evm::PrivateKey;
use paywire::header::{self, HeaderKind};
use paywire::json::ToJson;
use paywire::types::facilitator::PaymentRequired;
use paywire::{Amount, Network};

use crate::client_http::{self, Reply};
use crate::fail::Failure;

/// What the agent did, step by step (for `fetch`'s progress and the demo).
#[derive(Debug, Clone)]
pub(crate) enum Step {
    /// A request was sent (with the payment header's name, when paying).
    Request {
        url: String,
        payment_header: Option<&'static str>,
    },
    /// Its response.
    Response { status: u16 },
    /// The server's PaymentRequired: the header value (if any) and the JSON.
    PaymentRequired {
        header_value: Option<String>,
        json: Vec<u8>,
    },
    /// The requirement chosen.
    Chosen {
        index: usize,
        json: Vec<u8>,
        scheme: String,
        network: String,
        amount: Amount,
        asset: String,
        pay_to: String,
    },
    /// The signed payment: header name, value, decoded JSON.
    Signed {
        header: &'static str,
        value: String,
        json: Vec<u8>,
    },
    /// A deferred payment: the commitment (decoded) and the request's headers
    /// that carry and sign it (RFC 9421).
    SignedRequest {
        json: Vec<u8>,
        headers: Vec<(&'static str, String)>,
    },
}

/// The outcome of a fetch.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
    /// Whether a payment was sent.
    pub(crate) paid: bool,
    /// The payment header sent (name, value), to show or replay.
    pub(crate) payment: Option<(&'static str, String)>,
    /// For a deferred payment, the signature headers sent with it.
    pub(crate) signature_headers: Vec<(&'static str, String)>,
    /// The decoded `PAYMENT-RESPONSE` / `X-PAYMENT-RESPONSE`.
    pub(crate) payment_response: Option<Vec<u8>>,
    /// The server's reason when it refused the payment (its PaymentRequired `error`).
    pub(crate) refused: Option<String>,
}

/// The paying policy from the command's options.
pub(crate) fn policy(
    max_amount: Option<&str>,
    networks: &[&str],
    assets: &[&str],
) -> Result<OwnedPolicy, Failure> {
    let mut p = OwnedPolicy::default();
    let max = max_amount.unwrap_or(DEFAULT_MAX_AMOUNT);
    p.max_amount = Some(max.parse::<Amount>().map_err(|e| {
        Failure::usage(format!(
            "--max-amount {max:?}: {e} (a decimal number of the token's atomic units)"
        ))
    })?);
    for n in networks {
        let net = Network::parse_caip2(n)
            .or_else(|_| Network::parse_v1(n))
            .map_err(|e| Failure::usage(format!("--network {n:?}: {e}")))?;
        p.networks.push(net);
    }
    for a in assets {
        p.assets.push(
            a.parse()
                .map_err(|e| Failure::usage(format!("--asset {a:?}: {e}")))?,
        );
    }
    Ok(p)
}

/// The most `pay` and `fetch` agree to pay without `--max-amount`: 0.10 of a
/// 6-decimal token such as USDC.
pub(crate) const DEFAULT_MAX_AMOUNT: &str = "100000";

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Reads the PaymentRequired of a 402: the v2 header, else a v1 JSON body.
fn payment_required_of(reply: &Reply) -> Result<(Option<String>, Vec<u8>), Failure> {
    if let Some(v) = reply.header(HeaderKind::PaymentRequired.name()) {
        let mut buf = vec![0u8; header::base64_decoded_len(v.len()) + 3];
        let json = header::decode_payment_required(v, &mut buf)
            .map_err(|e| Failure::core("the server's PAYMENT-REQUIRED header", &e))?
            .to_json_vec();
        return Ok((Some(v.to_string()), json));
    }
    let first = reply.body.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'{') {
        return Ok((None, reply.body.clone()));
    }
    Err(Failure::invalid(
        "the server answered 402 without a PAYMENT-REQUIRED header or an x402 JSON body",
    ))
}

/// Fetches `url`, paying once if the server asks.
pub(crate) fn fetch(
    url: &str,
    key: &PrivateKey,
    policy: &OwnedPolicy,
    step: &mut dyn FnMut(Step),
) -> Result<Outcome, Failure> {
    step(Step::Request {
        url: url.to_string(),
        payment_header: None,
    });
    let first = client_http::get(url, &[])?;
    step(Step::Response {
        status: first.status,
    });
    if first.status != 402 {
        return Ok(Outcome {
            status: first.status,
            body: first.body,
            paid: false,
            payment: None,
            signature_headers: Vec::new(),
            payment_response: None,
            refused: None,
        });
    }
    let (header_value, pr_json) = payment_required_of(&first)?;
    let mut scratch = vec![0u8; header::DEFAULT_MAX_DECODED];
    let pr = client::read_payment_required(&pr_json, &mut scratch)
        .map_err(|e| Failure::core("the server's PaymentRequired", &e))?;
    step(Step::PaymentRequired {
        header_value,
        json: pr.to_json_vec(),
    });
    let (header_name, value) = pay_at(&pr, key, policy, now(), step)?;
    step(Step::Request {
        url: url.to_string(),
        payment_header: Some(header_name),
    });
    let second = client_http::get(url, &[(header_name, &value)])?;
    step(Step::Response {
        status: second.status,
    });
    let response_header = [HeaderKind::PaymentResponse, HeaderKind::XPaymentResponse]
        .into_iter()
        .find_map(|k| second.header(k.name()));
    let payment_response = match response_header {
        Some(v) => {
            let mut buf = vec![0u8; header::base64_decoded_len(v.len())];
            let r = header::decode_payment_response(v, &mut buf)
                .map_err(|e| Failure::core("the server's PAYMENT-RESPONSE", &e))?;
            Some(r.to_json_vec())
        }
        None => None,
    };
    let refused = if second.status == 402 {
        Some(refusal_of(&second))
    } else {
        None
    };
    Ok(Outcome {
        status: second.status,
        body: second.body,
        paid: true,
        payment: Some((header_name, value)),
        signature_headers: Vec::new(),
        payment_response,
        refused,
    })
}

/// Chooses a requirement under the policy and signs a payment for it, as of `now`.
pub(crate) fn pay_at(
    pr: &PaymentRequired<'_>,
    key: &PrivateKey,
    policy: &OwnedPolicy,
    now: u64,
    step: &mut dyn FnMut(Step),
) -> Result<(&'static str, String), Failure> {
    let policy = policy.policy();
    let selected = client::select_requirement(pr, &policy).map_err(|e| {
        let f = Failure::core("no requirement of the 402 can be paid", &e);
        if e.to_string().contains("maximum") {
            f.hint(format!(
                "the limit is {} atomic units; raise it with --max-amount",
                policy.max_amount.unwrap_or(Amount::ZERO)
            ))
        } else {
            f
        }
    })?;
    let r = selected.requirements;
    step(Step::Chosen {
        index: selected.index,
        json: r.to_json_vec(),
        scheme: r.scheme().to_cow().into_owned(),
        network: r.network().as_str().to_string(),
        amount: r.amount(),
        asset: selected.asset.to_string(),
        pay_to: selected.pay_to.to_string(),
    });
    let nonce = client::random_nonce().map_err(|e| Failure::io("drawing a random nonce", e))?;
    let mut out = vec![0u8; 2 * header::DEFAULT_MAX_DECODED];
    let created = client::create_payment_for(pr, key, nonce, now, &policy, &mut out)
        .map_err(|e| Failure::core("creating the payment", &e))?;
    out.truncate(created.len);
    let value =
        String::from_utf8(out).map_err(|_| Failure::invalid("the payment header is not ASCII"))?;
    let json = header::decode_to_vec(&value, header::DEFAULT_MAX_DECODED)
        .map_err(|e| Failure::core("the payment header just created", &e))?;
    let name = created.header.name();
    step(Step::Signed {
        header: name,
        value: value.clone(),
        json,
    });
    Ok((name, value))
}

/// The `error` of a 402's PaymentRequired, or a generic text.
pub(crate) fn refusal_of(reply: &Reply) -> String {
    payment_required_of(reply)
        .ok()
        .and_then(|(_, json)| {
            let mut scratch = vec![0u8; header::DEFAULT_MAX_DECODED];
            client::read_payment_required(&json, &mut scratch)
                .ok()
                .and_then(|pr| match pr {
                    PaymentRequired::V2(p) => p.error.map(|e| e.to_cow().into_owned()),
                    PaymentRequired::V1(p) => p.error.map(|e| e.to_cow().into_owned()),
                })
        })
        .unwrap_or_else(|| "the server refused the payment without saying why".into())
}

/// The deferred agent's identity: its Ed25519 key and the origin that serves
/// its key directory (what `Signature-Agent` names).
pub(crate) struct DeferredAgent<'a> {
    pub(crate) key: &'a paywire::batch::ed25519::SigningKey,
    pub(crate) origin: &'a str,
}

/// Fetches `url`, committing to pay later (`batch-settlement`) if the server
/// asks: the request that carries the commitment is signed (RFC 9421).
pub(crate) fn fetch_deferred(
    url: &str,
    agent: &DeferredAgent<'_>,
    policy: &OwnedPolicy,
    step: &mut dyn FnMut(Step),
) -> Result<Outcome, Failure> {
    use paywire::batch::{self, Request, SignParams};

    step(Step::Request {
        url: url.to_string(),
        payment_header: None,
    });
    let first = client_http::get(url, &[])?;
    step(Step::Response {
        status: first.status,
    });
    if first.status != 402 {
        return Ok(Outcome {
            status: first.status,
            body: first.body,
            paid: false,
            payment: None,
            signature_headers: Vec::new(),
            payment_response: None,
            refused: None,
        });
    }
    let (header_value, pr_json) = payment_required_of(&first)?;
    let mut scratch = vec![0u8; header::DEFAULT_MAX_DECODED];
    let pr = client::read_payment_required(&pr_json, &mut scratch)
        .map_err(|e| Failure::core("the server's PaymentRequired", &e))?;
    step(Step::PaymentRequired {
        header_value,
        json: pr.to_json_vec(),
    });
    let mut out = vec![0u8; 2 * header::DEFAULT_MAX_DECODED];
    let created = client::create_batch_payment(&pr, &policy.policy(), &mut out)
        .map_err(|e| Failure::core("no deferred requirement of the 402 can be paid", &e))?;
    out.truncate(created.len);
    let value =
        String::from_utf8(out).map_err(|_| Failure::invalid("the payment header is not ASCII"))?;
    let json = header::decode_to_vec(&value, header::DEFAULT_MAX_DECODED)
        .map_err(|e| Failure::core("the payment header just created", &e))?;
    if let PaymentRequired::V2(p) = &pr
        && let Some(r) = p.accepts.get(created.index)
    {
        step(Step::Chosen {
            index: created.index,
            json: r.to_json_vec(),
            scheme: r.scheme.to_cow().into_owned(),
            network: r.network.as_str().to_string(),
            amount: r.amount,
            asset: r.asset.to_cow().into_owned(),
            pay_to: r.pay_to.to_cow().into_owned(),
        });
    }
    let payment = HeaderKind::PaymentSignature.name();
    let unsigned = [(payment, value.as_str())];
    let at = now();
    let signature_agent = crate::out::quote(agent.origin);
    let nonce = client::random_nonce().map_err(|e| Failure::io("drawing a random nonce", e))?;
    let nonce: String = nonce.iter().map(|b| format!("{b:02x}")).collect();
    let params = SignParams {
        label: "sig1",
        signature_agent: &signature_agent,
        signature_agent_key: None,
        created: at,
        expires: at + 60,
        nonce: Some(&nonce),
    };
    let request = Request {
        method: "GET",
        url,
        headers: &unsigned,
    };
    let signed = batch::sign_request_alloc(&request, agent.key, &params)
        .map_err(|e| Failure::core("signing the request", &e))?;
    let signature_headers = vec![
        ("Signature-Agent", signed.signature_agent),
        ("Signature-Input", signed.signature_input),
        ("Signature", signed.signature),
    ];
    let mut headers = vec![(payment, value.clone())];
    headers.extend(signature_headers.iter().cloned());
    step(Step::SignedRequest {
        json,
        headers: headers.clone(),
    });
    step(Step::Request {
        url: url.to_string(),
        payment_header: Some(payment),
    });
    let sent: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let second = client_http::get(url, &sent)?;
    step(Step::Response {
        status: second.status,
    });
    // The deferred receipt: a SettleResponse with no transaction (the
    // scheme's 1.0.0); a server of the scheme's first text answers
    // {amount, asset, network, timestamp}, shown as it came.
    let payment_response = match second.header(HeaderKind::PaymentResponse.name()) {
        Some(v) => {
            let mut buf = vec![0u8; header::base64_decoded_len(v.len())];
            match header::decode_payment_response(v, &mut buf) {
                Ok(r) => Some(r.to_json_vec()),
                Err(_) => Some(
                    header::decode_to_vec(v, header::DEFAULT_MAX_DECODED)
                        .map_err(|e| Failure::core("the server's PAYMENT-RESPONSE", &e))?,
                ),
            }
        }
        None => None,
    };
    let refused = (second.status == 402).then(|| refusal_of(&second));
    Ok(Outcome {
        status: second.status,
        body: second.body,
        paid: true,
        payment: Some((payment, value)),
        signature_headers,
        payment_response,
        refused,
    })
}
