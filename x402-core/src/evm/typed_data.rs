//! EIP-712 digests read straight from JSON, for hosts that hold the data as text
//! (the C, Go and Python bindings, or a wallet's `eth_signTypedData_v4` request).
//!
//! Only the two x402 primary types are known: `TransferWithAuthorization`
//! (EIP-3009) and `PermitWitnessTransferFrom` (Permit2, with the `exact` or the
//! `upto` witness). This is not a general EIP-712 encoder: a document whose
//! `types` differ from the x402 definitions is refused rather than hashed
//! under definitions its author did not write.
//!
//! Members the message does not define are ignored, so a payload's
//! `authorization` or `permit2Authorization` object can be passed as the message
//! as it is (`from` of a Permit2 authorization is not part of the signed data).
//! Errors carry [`Reason::InvalidPayload`] and name the field.
//!
//! ```
//! use paywire::evm::typed_data::eip3009_hash_json;
//! let domain = br#"{"name":"USDC","version":"2","chainId":84532,"verifyingContract":"0x036CbD53842c5426634e7929541eC2318f3dCF7e"}"#;
//! let message = br#"{"from":"0x857b06519E91e3A54538791bDbb0E22373e36b66","to":"0x209693Bc6afc0C5328bA36FaF03C514EF312287C","value":"10000","validAfter":"1740672089","validBefore":"1740672154","nonce":"0xf3746613c2d920b5fdabc0856f2aeb2d4f88ee6037b8cc5d04a71a4462f13480"}"#;
//! let h = eip3009_hash_json(domain, message).unwrap();
//! assert_eq!(paywire::evm::B256(h.digest).to_string(), "0xf256992871671abcb27ff92885a7afa46218724e5fc0bac35d050115aa1d22e6");
//! ```

use super::eip712::{
    self, Domain, permit_witness_transfer_from_hash, transfer_with_authorization_hash,
};
use crate::amount::parse_u64;
use crate::error::{Error, ErrorKind, JsonType, Reason};
use crate::json::{JsonObject, JsonValue, Limits};
use crate::types::payload::{
    Eip3009Authorization, Permit2Authorization, TokenPermissions, Witness,
};
use crate::types::{FromJson, address, err, fields, object, required, string, uint_string};

const R: Reason = Reason::InvalidPayload;

/// The three hashes of an EIP-712 signature request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TypedDataHash {
    /// `hashStruct(domain)`.
    pub domain_separator: [u8; 32],
    /// `hashStruct(message)`.
    pub struct_hash: [u8; 32],
    /// `keccak256(0x19 0x01 ‖ domainSeparator ‖ structHash)`: what is signed.
    pub digest: [u8; 32],
}

impl TypedDataHash {
    fn new(domain_separator: [u8; 32], struct_hash: [u8; 32]) -> TypedDataHash {
        TypedDataHash {
            domain_separator,
            struct_hash,
            digest: eip712::digest(&domain_separator, &struct_hash),
        }
    }
}

type Fields = &'static [(&'static str, &'static str)];

const DOMAIN_FIELDS: Fields = &[
    ("name", "string"),
    ("version", "string"),
    ("chainId", "uint256"),
    ("verifyingContract", "address"),
];
const DOMAIN_NO_VERSION_FIELDS: Fields = &[
    ("name", "string"),
    ("chainId", "uint256"),
    ("verifyingContract", "address"),
];
const TRANSFER_WITH_AUTHORIZATION_FIELDS: Fields = &[
    ("from", "address"),
    ("to", "address"),
    ("value", "uint256"),
    ("validAfter", "uint256"),
    ("validBefore", "uint256"),
    ("nonce", "bytes32"),
];
const PERMIT_WITNESS_TRANSFER_FROM_FIELDS: Fields = &[
    ("permitted", "TokenPermissions"),
    ("spender", "address"),
    ("nonce", "uint256"),
    ("deadline", "uint256"),
    ("witness", "Witness"),
];
const TOKEN_PERMISSIONS_FIELDS: Fields = &[("token", "address"), ("amount", "uint256")];
const WITNESS_EXACT_FIELDS: Fields = &[("to", "address"), ("validAfter", "uint256")];
const WITNESS_UPTO_FIELDS: Fields = &[
    ("to", "address"),
    ("facilitator", "address"),
    ("validAfter", "uint256"),
];

fn invalid(why: &'static str, field: &'static str) -> Error {
    err(R, ErrorKind::Invalid(why), field)
}

fn parse_object<'a>(json: &'a [u8], field: &'static str) -> Result<JsonObject<'a>, Error> {
    let v = crate::json::parse(json, &Limits::DEFAULT).map_err(|k| err(R, k, field))?;
    object(v, R, field)
}

/// `chainId`: a JSON integer, or a canonical decimal string.
fn chain_id(v: JsonValue<'_>) -> Result<u64, Error> {
    const F: &str = "chainId";
    if let Some(n) = v.as_u64() {
        return Ok(n);
    }
    match v.as_str().and_then(|s| s.as_str()) {
        Some(s) => parse_u64(s).map_err(|k| err(R, k, F)),
        None => Err(err(
            R,
            ErrorKind::WrongType {
                expected: JsonType::Number,
            },
            F,
        )),
    }
}

/// Reads an `EIP712Domain` object: `name`, optional `version`, `chainId`,
/// `verifyingContract` (no `salt`: no x402 contract uses one).
///
/// # Errors
/// `invalid_payload` naming the field.
pub fn domain_from_json(v: JsonValue<'_>) -> Result<Domain<'_>, Error> {
    let o = object(v, R, "domain")?;
    let [name, version, chain, contract, salt] = fields(
        o,
        &["name", "version", "chainId", "verifyingContract", "salt"],
    );
    let read = || -> Result<Domain<'_>, Error> {
        if salt.is_some() {
            return Err(invalid("salt is not supported", "salt"));
        }
        Ok(Domain {
            name: string(required(name, R, "name")?, R, "name")?,
            version: version.map(|v| string(v, R, "version")).transpose()?,
            chain_id: chain_id(required(chain, R, "chainId")?)?,
            verifying_contract: address(
                required(contract, R, "verifyingContract")?,
                R,
                "verifyingContract",
            )?,
        })
    };
    read().map_err(|e| e.in_object("domain"))
}

/// Reads a `PermitWitnessTransferFrom` message (`from`, when present, is ignored:
/// the signer is not part of the signed data).
fn permit_message(v: JsonValue<'_>) -> Result<Permit2Authorization, Error> {
    let o = object(v, R, "message")?;
    let [permitted, spender, nonce, deadline, witness] =
        fields(o, &["permitted", "spender", "nonce", "deadline", "witness"]);
    let perm = object(required(permitted, R, "permitted")?, R, "permitted")?;
    let [token, amount] = fields(perm, &["token", "amount"]);
    let wit = object(required(witness, R, "witness")?, R, "witness")?;
    let [to, facilitator, valid_after] = fields(wit, &["to", "facilitator", "validAfter"]);
    let in_witness = |e: Error| e.in_object("witness");
    let in_permitted = |e: Error| e.in_object("permitted");
    Ok(Permit2Authorization {
        from: super::Address::default(),
        permitted: TokenPermissions {
            token: address(required(token, R, "token")?, R, "token").map_err(in_permitted)?,
            amount: uint_string(required(amount, R, "amount")?, R, "amount")
                .map_err(in_permitted)?,
        },
        spender: address(required(spender, R, "spender")?, R, "spender")?,
        nonce: uint_string(required(nonce, R, "nonce")?, R, "nonce")?,
        deadline: uint_string(required(deadline, R, "deadline")?, R, "deadline")?,
        witness: Witness {
            to: address(required(to, R, "to")?, R, "to").map_err(in_witness)?,
            facilitator: facilitator
                .map(|f| address(f, R, "facilitator"))
                .transpose()
                .map_err(in_witness)?,
            valid_after: uint_string(required(valid_after, R, "validAfter")?, R, "validAfter")
                .map_err(in_witness)?,
        },
    })
}

/// The EIP-3009 hashes from a domain object (`name`, `version`, `chainId`,
/// `verifyingContract`) and a `TransferWithAuthorization` message (`from`, `to`,
/// `value`, `validAfter`, `validBefore`, `nonce`; numbers as decimal strings).
///
/// # Errors
/// `invalid_payload` naming the field.
pub fn eip3009_hash_json(domain: &[u8], message: &[u8]) -> Result<TypedDataHash, Error> {
    let d = domain_from_json(parse_object(domain, "domain")?.as_value())?;
    if d.version.is_none() {
        return Err(err(R, ErrorKind::MissingField, "version").in_object("domain"));
    }
    let m = Eip3009Authorization::from_json(parse_object(message, "message")?.as_value())?;
    Ok(TypedDataHash::new(
        d.separator(),
        transfer_with_authorization_hash(&m),
    ))
}

/// The Permit2 hashes on `chain_id` from a `PermitWitnessTransferFrom` message
/// (`permitted {token, amount}`, `spender`, `nonce`, `deadline`, `witness {to,
/// [facilitator,] validAfter}`): the `upto` witness when `witness.facilitator`
/// is present, else the `exact` one.
///
/// # Errors
/// `invalid_payload` naming the field.
pub fn permit2_hash_json(chain_id: u64, message: &[u8]) -> Result<TypedDataHash, Error> {
    let m = permit_message(parse_object(message, "message")?.as_value())?;
    Ok(TypedDataHash::new(
        Domain::permit2(chain_id).separator(),
        permit_witness_transfer_from_hash(&m),
    ))
}

/// Checks that `types[name]` lists exactly `expected`, in order.
fn check_struct(types: JsonObject<'_>, name: &'static str, expected: Fields) -> Result<(), Error> {
    let list = required(types.get(name), R, name)?;
    let list = list
        .as_array()
        .ok_or(invalid("must be an array of {name, type}", name))?;
    if list.len() != expected.len() {
        return Err(invalid("differs from the x402 type definition", name));
    }
    for (member, (want_name, want_type)) in list.iter().zip(expected) {
        let m = object(member, R, name)?;
        let [n, t] = fields(m, &["name", "type"]);
        let same = |v: Option<JsonValue<'_>>, want: &str| {
            v.and_then(|v| v.as_str()).is_some_and(|s| s == want)
        };
        if m.len() != 2 || !same(n, want_name) || !same(t, want_type) {
            return Err(invalid("differs from the x402 type definition", name));
        }
    }
    Ok(())
}

/// Checks `types` against the x402 definitions the digest will use: exactly the
/// primary type's structs, plus `EIP712Domain` if given (matching the domain).
fn check_types(
    types: JsonObject<'_>,
    domain_has_version: bool,
    structs: &[(&'static str, Fields)],
) -> Result<(), Error> {
    let mut n = structs.len();
    if types.get("EIP712Domain").is_some() {
        let fields = if domain_has_version {
            DOMAIN_FIELDS
        } else {
            DOMAIN_NO_VERSION_FIELDS
        };
        check_struct(types, "EIP712Domain", fields)?;
        n += 1;
    }
    for (name, fields) in structs {
        check_struct(types, name, fields)?;
    }
    if types.len() != n {
        return Err(invalid("defines structs x402 does not use", "types"));
    }
    Ok(())
}

/// The hashes of a typed-data document `{types?, primaryType, domain, message}`
/// (the `eth_signTypedData_v4` shape) whose primary type is
/// `TransferWithAuthorization` or `PermitWitnessTransferFrom`.
///
/// `types`, when present, must be exactly the x402 definitions (`EIP712Domain`
/// may be included or left out). For Permit2 the domain must be Permit2's own
/// (name `Permit2`, no version, the canonical contract).
///
/// # Errors
/// `invalid_payload` naming the field, or saying why `types` was refused.
pub fn typed_data_hash_json(json: &[u8]) -> Result<TypedDataHash, Error> {
    let o = parse_object(json, "")?;
    let [types, primary, domain, message] =
        fields(o, &["types", "primaryType", "domain", "message"]);
    let primary = string(required(primary, R, "primaryType")?, R, "primaryType")?;
    let d = domain_from_json(required(domain, R, "domain")?)?;
    let message = required(message, R, "message")?;
    let types = types.map(|t| object(t, R, "types")).transpose()?;
    if primary == "TransferWithAuthorization" {
        if d.version.is_none() {
            return Err(err(R, ErrorKind::MissingField, "version").in_object("domain"));
        }
        if let Some(t) = types {
            check_types(
                t,
                true,
                &[(
                    "TransferWithAuthorization",
                    TRANSFER_WITH_AUTHORIZATION_FIELDS,
                )],
            )?;
        }
        let m = Eip3009Authorization::from_json(message).map_err(|e| e.in_object("message"))?;
        Ok(TypedDataHash::new(
            d.separator(),
            transfer_with_authorization_hash(&m),
        ))
    } else if primary == "PermitWitnessTransferFrom" {
        if d != Domain::permit2(d.chain_id) {
            return Err(invalid(
                "must be the Permit2 domain (name Permit2, no version, the canonical contract)",
                "domain",
            ));
        }
        let m = permit_message(message)?;
        if let Some(t) = types {
            let witness = if m.witness.facilitator.is_some() {
                WITNESS_UPTO_FIELDS
            } else {
                WITNESS_EXACT_FIELDS
            };
            check_types(
                t,
                false,
                &[
                    (
                        "PermitWitnessTransferFrom",
                        PERMIT_WITNESS_TRANSFER_FROM_FIELDS,
                    ),
                    ("TokenPermissions", TOKEN_PERMISSIONS_FIELDS),
                    ("Witness", witness),
                ],
            )?;
        }
        Ok(TypedDataHash::new(
            d.separator(),
            permit_witness_transfer_from_hash(&m),
        ))
    } else {
        Err(invalid(
            "must be TransferWithAuthorization or PermitWitnessTransferFrom",
            "primaryType",
        ))
    }
}
