//! The facilitator's configuration file (TOML), read strictly: an unknown key
//! is an error, and every error names the file, the line and the field.
//!
//! ```toml
//! [server]
//! listen = "127.0.0.1:4022"
//!
//! [store]
//! url = "sqlite:///var/lib/paywire/facilitator.db"   # or postgres://user@host/db
//!
//! [[access.keys]]
//! name = "shop"
//! key_env = "PAYWIRE_SHOP_KEY"            # the bearer token, from the environment
//! pay_to = ["0x209693Bc6afc0C5328bA36FaF03C514EF312287C"]
//! requests_per_minute = 600
//!
//! [[signers]]
//! name = "hot"
//! key_file = "/etc/paywire/hot.key"        # mode 0600, or key_env = "..."
//!
//! [[networks]]
//! id = "eip155:84532"
//! rpc = ["https://sepolia.base.org"]
//! schemes = ["exact-eip3009", "exact-permit2", "upto"]
//! assets = ["0x036CbD53842c5426634e7929541eC2318f3dCF7e"]
//! signers = ["hot"]
//! # approval_sponsor = "sponsor"          # pays the gas of payers' approvals for Permit2
//! # approval_max_fee_per_gas = "5000000000"
//! # with "batch-settlement" in schemes:
//! # receiver_authorizer = "authorizer"     # signs claims and refunds for servers
//!
//! [[signers]]
//! name = "sol"
//! kind = "ed25519"                         # a Solana fee payer
//! key_file = "/etc/paywire/sol.json"       # solana-keygen's file, or base58, mode 0600
//!
//! [[solana_networks]]
//! id = "solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1"   # devnet
//! rpc = ["https://api.devnet.solana.com"]
//! fee_payers = ["sol"]
//! assets = ["4zMMC9srt5Ri5X14GAgXhaHii3GnPAEERYPJgZJDncDU"]  # mints (empty: any)
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use paywire::Network;
use paywire::evm::Address;
use serde::Deserialize;

/// Why a configuration cannot be used: where, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file.
    pub file: PathBuf,
    /// The line (1-based), when the problem has one.
    pub line: Option<usize>,
    /// The field (`networks[0].rpc`), when the problem has one.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if !self.field.is_empty() {
            write!(f, ": {}", self.field)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The HTTP server.
    #[serde(default)]
    pub server: ServerConfig,
    /// Where settlements and account nonces are kept.
    pub store: StoreConfig,
    /// Who may call `/verify` and `/settle`.
    #[serde(default)]
    pub access: AccessConfig,
    /// The accounts that pay gas.
    #[serde(default)]
    pub signers: Vec<SignerConfig>,
    /// The EVM chains served.
    #[serde(default)]
    pub networks: Vec<NetworkConfig>,
    /// The Solana clusters served (`exact` on `solana:*`).
    #[serde(default)]
    pub solana_networks: Vec<SolanaNetworkConfig>,
    /// The bazaar catalog.
    #[serde(default)]
    pub discovery: DiscoveryConfig,
}

/// `[discovery]`: the bazaar extension's catalog.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscoveryConfig {
    /// Catalog the resources that settled payments declare (the `bazaar`
    /// extension), list them at `GET /discovery/resources`, and name
    /// `bazaar` in `/supported`. Off by default: the catalog makes the
    /// resource servers' endpoints public.
    #[serde(default)]
    pub enabled: bool,
    /// Whether anyone may list the catalog (else only API key holders).
    #[serde(default = "default_true")]
    pub public: bool,
}

impl Default for DiscoveryConfig {
    fn default() -> Self {
        DiscoveryConfig {
            enabled: false,
            public: true,
        }
    }
}

const fn default_true() -> bool {
    true
}

/// `[server]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// The address to listen on (`127.0.0.1:4022`).
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// The largest request body accepted, in bytes.
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
    /// The most connections served at once; more get 503 with `Retry-After`.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// How long a client may take to send a request's head, in milliseconds.
    #[serde(default = "default_header_timeout")]
    pub header_timeout_ms: u64,
    /// The deadline of a request from its head to its answer, in
    /// milliseconds (a settlement waits for its receipt within it).
    #[serde(default = "default_request_timeout")]
    pub request_timeout_ms: u64,
    /// How long a stop (SIGTERM) waits for requests in flight, in seconds.
    #[serde(default = "default_shutdown_grace")]
    pub shutdown_grace_seconds: u64,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 4022))
}
const fn default_max_body() -> usize {
    64 * 1024
}
const fn default_max_connections() -> usize {
    1024
}
const fn default_header_timeout() -> u64 {
    5_000
}
const fn default_request_timeout() -> u64 {
    28_000
}
const fn default_shutdown_grace() -> u64 {
    30
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: default_listen(),
            max_body_bytes: default_max_body(),
            max_connections: default_max_connections(),
            header_timeout_ms: default_header_timeout(),
            request_timeout_ms: default_request_timeout(),
            shutdown_grace_seconds: default_shutdown_grace(),
        }
    }
}

/// `[store]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// `sqlite://PATH` (a file; several processes on one machine may share
    /// it) or `postgres://...` (several instances behind a load balancer).
    pub url: String,
}

/// `[access]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessConfig {
    /// Let anyone call `/verify` and `/settle` (which spends the signers'
    /// gas): only for a facilitator nothing else can reach.
    #[serde(default)]
    pub open: bool,
    /// The API keys of the resource servers allowed to call.
    #[serde(default)]
    pub keys: Vec<ApiKeyConfig>,
}

/// `[[access.keys]]`: one resource server's bearer token.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyConfig {
    /// A name for logs and metrics (never the key itself).
    pub name: String,
    /// The environment variable holding the token.
    pub key_env: Option<String>,
    /// A file holding the token (readable by its owner only).
    pub key_file: Option<PathBuf>,
    /// The `payTo` addresses this key may verify and settle for: EVM
    /// addresses (`0x…`) and Solana ones (base58); empty: any.
    #[serde(default)]
    pub pay_to: Vec<String>,
    /// Requests a minute this key may make (0: no limit).
    #[serde(default)]
    pub requests_per_minute: u32,
}

/// `[[signers]]`: an account that pays settlements' gas.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignerConfig {
    /// Its name, which networks refer to.
    pub name: String,
    /// A file holding the hex private key (mode 0600 or stricter).
    pub key_file: Option<PathBuf>,
    /// An environment variable holding the hex private key.
    pub key_env: Option<String>,
    /// The key's kind: `secp256k1` (EVM, the default; hex) or `ed25519`
    /// (a Solana fee payer: `solana-keygen`'s JSON array of 64 bytes, base58
    /// of the keypair or of the seed, or the seed in hex).
    #[serde(default)]
    pub kind: SignerKind,
}

/// The kind of a `[[signers]]` key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SignerKind {
    /// An EVM account.
    #[default]
    Secp256k1,
    /// A Solana account.
    Ed25519,
}

/// `[[solana_networks]]`: a Solana cluster served, `exact` payments (SPL
/// Token and Token-2022 `TransferChecked`) whose fees the facilitator pays.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SolanaNetworkConfig {
    /// Its CAIP-2 id: `solana:` and the first 32 characters of its genesis
    /// hash (mainnet `solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp`, devnet
    /// `solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1`).
    pub id: String,
    /// Its JSON-RPC endpoints, tried in order (failover).
    pub rpc: Vec<String>,
    /// The fee payers (names of `ed25519` `[[signers]]`): each is offered as
    /// `extra.feePayer` and co-signs the payments that name it.
    pub fee_payers: Vec<String>,
    /// The mints accepted, base58 (empty: any).
    #[serde(default)]
    pub assets: Vec<String>,
    /// The highest compute unit limit a payment may set (the fee payer pays
    /// for it).
    #[serde(default = "default_max_compute_units")]
    pub max_compute_units: u32,
    /// The highest compute unit price a payment may set, micro-lamports (at
    /// most the scheme's 5,000,000; 100,000 by default).
    #[serde(default = "default_max_compute_unit_price")]
    pub max_compute_unit_price: u64,
    /// How long a settlement request waits for its confirmation before
    /// answering `settlement_pending` (a retried request waits again), in
    /// seconds.
    #[serde(default = "default_receipt_timeout")]
    pub receipt_timeout_seconds: u64,
}

const fn default_max_compute_units() -> u32 {
    paywire::svm::verify::DEFAULT_MAX_COMPUTE_UNITS
}
/// 100,000 micro-lamports a unit: at most 40,000 lamports of priority fee
/// at 400,000 units (the official client sets 1 micro-lamport and 20,000
/// units); the scheme's ceiling, 5,000,000, would let a payer make the fee
/// payer spend 2,000,000 lamports on one transfer.
const fn default_max_compute_unit_price() -> u64 {
    100_000
}

/// A scheme a network settles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SchemeConfig {
    /// `exact` through EIP-3009 `transferWithAuthorization`.
    ExactEip3009,
    /// `exact` through Permit2 and the x402 exact proxy.
    ExactPermit2,
    /// `upto` through Permit2 and the x402 upto proxy.
    Upto,
    /// `batch-settlement`: deposits, claims, sweeps and refunds of payment
    /// channels on the x402 batch-settlement contract.
    BatchSettlement,
}

/// `[[networks]]`: a chain served.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkConfig {
    /// Its CAIP-2 id (`eip155:8453`).
    pub id: String,
    /// Its JSON-RPC endpoints, tried in order (failover); each must serve the
    /// network's chain id.
    pub rpc: Vec<String>,
    /// The schemes settled here.
    pub schemes: Vec<SchemeConfig>,
    /// The tokens accepted (empty: any).
    #[serde(default)]
    pub assets: Vec<String>,
    /// The signers (names of `[[signers]]`) that settle here.
    pub signers: Vec<String>,
    /// Blocks a settlement must be under before it counts (1: mined).
    #[serde(default = "default_confirmations")]
    pub confirmations: u32,
    /// How long a settlement request waits for its receipt before answering
    /// `settlement_pending` (a retried request waits again), in seconds.
    #[serde(default = "default_receipt_timeout")]
    pub receipt_timeout_seconds: u64,
    /// A transaction unmined this long is replaced at its nonce with higher
    /// fees, in seconds.
    #[serde(default = "default_stuck_after")]
    pub replace_after_seconds: u64,
    /// A ceiling on `maxFeePerGas`, in wei (decimal).
    pub max_fee_per_gas: Option<String>,
    /// A fixed tip per gas, in wei (decimal), instead of asking the node.
    pub priority_fee_per_gas: Option<String>,
    /// A signer holding less native currency than this (wei, decimal) settles
    /// nothing here until it is topped up.
    pub min_gas_balance: Option<String>,
    /// The factories that may deploy a smart wallet not deployed yet for its
    /// payment (ERC-6492 signatures; at most 8). Empty (the default, as the
    /// reference's `eip6492AllowedFactories`): such a payment is refused with
    /// `eip6492_factory_not_allowed`. Also spelt `eip6492AllowedFactories`.
    #[serde(default, alias = "eip6492AllowedFactories")]
    pub eip6492_allowed_factories: Vec<String>,
    /// The signer (a `[[signers]]` name, not one of `signers`) that pays the
    /// gas of a payer's signed approval for Permit2
    /// (`erc20ApprovalGasSponsoring`): it funds what the payer's balance
    /// lacks, then the approval is relayed and the payment settled. Unset
    /// (the default): the extension is neither advertised nor read, and a
    /// Permit2 payer without an allowance is refused
    /// (`permit2_allowance_required`).
    pub approval_sponsor: Option<String>,
    /// With `approval_sponsor`: the highest `maxFeePerGas` of an approval it
    /// pays for, in wei (decimal): each approval costs the sponsor at most
    /// 70,000 gas at this fee.
    pub approval_max_fee_per_gas: Option<String>,
    /// With `batch-settlement`: the signer (a `[[signers]]` name) that is the
    /// channels' receiver authorizer — advertised in `/supported` as
    /// `extra.receiverAuthorizer`, and signing the claims and refunds a
    /// resource server sends without their authorizer's signature. Unset:
    /// servers sign their own. A claim batch of many channels needs a larger
    /// `server.max_body_bytes` (about 900 bytes a claim).
    pub receiver_authorizer: Option<String>,
}

const fn default_confirmations() -> u32 {
    1
}
const fn default_receipt_timeout() -> u64 {
    20
}
const fn default_stuck_after() -> u64 {
    120
}

impl Config {
    /// Reads and checks a configuration file.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the file, line and field.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.to_path_buf(),
            line: None,
            field: String::new(),
            message: format!("cannot be read: {e}"),
        })?;
        Config::parse(path, &text)
    }

    /// Reads and checks a configuration text (`path` names it in errors).
    ///
    /// # Errors
    /// A [`ConfigError`] naming the file, line and field.
    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|span| text.get(..span.start).unwrap_or("").matches('\n').count() + 1);
            ConfigError {
                file: path.to_path_buf(),
                line,
                field: String::new(),
                message: e.message().to_string(),
            }
        })?;
        config.check(path, text)?;
        Ok(config)
    }

    /// The checks serde cannot make: values that must parse, names that must
    /// refer to something.
    fn check(&self, path: &Path, text: &str) -> Result<(), ConfigError> {
        let fail = |field: String, message: String| {
            let line = find_line(text, &field);
            Err(ConfigError {
                file: path.to_path_buf(),
                line,
                field,
                message,
            })
        };
        if !self.store.url.starts_with("sqlite://") && !self.store.url.starts_with("postgres://") {
            return fail(
                "store.url".into(),
                "a sqlite://PATH or postgres://... URL".into(),
            );
        }
        if !self.access.open && self.access.keys.is_empty() {
            return fail(
                "access.keys".into(),
                "no API key is configured: /verify and /settle would answer no one (set access.open = true only for a facilitator nothing else can reach)".into(),
            );
        }
        for (i, k) in self.access.keys.iter().enumerate() {
            if k.key_env.is_some() == k.key_file.is_some() {
                return fail(
                    format!("access.keys[{i}]"),
                    "exactly one of key_env and key_file".into(),
                );
            }
            for (j, a) in k.pay_to.iter().enumerate() {
                if a.starts_with("0x") || a.starts_with("0X") {
                    if let Err(e) = a.parse::<Address>() {
                        return fail(format!("access.keys[{i}].pay_to[{j}]"), e.to_string());
                    }
                } else if paywire::svm::Pubkey::parse(a).is_err() {
                    return fail(
                        format!("access.keys[{i}].pay_to[{j}]"),
                        "an EVM address (0x…) or a Solana address (base58)".into(),
                    );
                }
            }
        }
        for (i, s) in self.signers.iter().enumerate() {
            if s.key_env.is_some() == s.key_file.is_some() {
                return fail(
                    format!("signers[{i}]"),
                    "exactly one of key_file and key_env".into(),
                );
            }
            if self.signers.iter().filter(|o| o.name == s.name).count() > 1 {
                return fail(format!("signers[{i}].name"), "named twice".into());
            }
        }
        if self.networks.is_empty() && self.solana_networks.is_empty() {
            return fail(
                "networks".into(),
                "at least one network (networks or solana_networks)".into(),
            );
        }
        self.check_solana(&fail)?;
        for (i, n) in self.networks.iter().enumerate() {
            let network = match Network::parse_caip2(&n.id) {
                Ok(net) => net,
                Err(e) => return fail(format!("networks[{i}].id"), e.to_string()),
            };
            if network.namespace() != Some("eip155") || network.evm_chain_id().is_none() {
                return fail(
                    format!("networks[{i}].id"),
                    "an EVM network (eip155:<chain id>)".into(),
                );
            }
            if self.networks.iter().filter(|o| o.id == n.id).count() > 1 {
                return fail(format!("networks[{i}].id"), "configured twice".into());
            }
            if n.rpc.is_empty() {
                return fail(format!("networks[{i}].rpc"), "at least one endpoint".into());
            }
            for (j, url) in n.rpc.iter().enumerate() {
                if !url.starts_with("http://") && !url.starts_with("https://") {
                    return fail(
                        format!("networks[{i}].rpc[{j}]"),
                        "an http:// or https:// URL".into(),
                    );
                }
            }
            if n.schemes.is_empty() {
                return fail(
                    format!("networks[{i}].schemes"),
                    "at least one scheme".into(),
                );
            }
            for (j, a) in n.assets.iter().enumerate() {
                if let Err(e) = a.parse::<Address>() {
                    return fail(format!("networks[{i}].assets[{j}]"), e.to_string());
                }
            }
            let mut factories = paywire::settle::AllowedFactories::EMPTY;
            for (j, a) in n.eip6492_allowed_factories.iter().enumerate() {
                let field = format!("networks[{i}].eip6492_allowed_factories[{j}]");
                match a.parse::<Address>() {
                    Err(e) => return fail(field, e.to_string()),
                    Ok(a) if factories.push(a).is_err() => {
                        return fail(
                            field,
                            format!(
                                "at most {} factories",
                                paywire::settle::AllowedFactories::CAPACITY
                            ),
                        );
                    }
                    Ok(_) => {}
                }
            }
            if n.signers.is_empty() {
                return fail(
                    format!("networks[{i}].signers"),
                    "at least one signer".into(),
                );
            }
            for (j, name) in n.signers.iter().enumerate() {
                match self.signers.iter().find(|s| &s.name == name) {
                    None => {
                        return fail(
                            format!("networks[{i}].signers[{j}]"),
                            format!("no [[signers]] is named {name:?}"),
                        );
                    }
                    Some(s) if s.kind != SignerKind::Secp256k1 => {
                        return fail(
                            format!("networks[{i}].signers[{j}]"),
                            format!(
                                "{name:?} is an ed25519 key: an EVM network needs a secp256k1 one"
                            ),
                        );
                    }
                    Some(_) => {}
                }
            }
            match (&n.approval_sponsor, &n.approval_max_fee_per_gas) {
                (None, None) => {}
                (Some(name), Some(fee)) => {
                    if !self
                        .signers
                        .iter()
                        .any(|s| &s.name == name && s.kind == SignerKind::Secp256k1)
                    {
                        return fail(
                            format!("networks[{i}].approval_sponsor"),
                            format!("no [[signers]] is named {name:?}"),
                        );
                    }
                    // Its nonces are its own: the settlement signers' come
                    // from the store's allocator.
                    if n.signers.contains(name) {
                        return fail(
                            format!("networks[{i}].approval_sponsor"),
                            format!(
                                "{name:?} settles here too (networks[{i}].signers): name a signer of its own"
                            ),
                        );
                    }
                    if !n
                        .schemes
                        .iter()
                        .any(|m| matches!(m, SchemeConfig::ExactPermit2 | SchemeConfig::Upto))
                    {
                        return fail(
                            format!("networks[{i}].approval_sponsor"),
                            "approvals are for Permit2 payments: add exact-permit2 or upto to schemes".into(),
                        );
                    }
                    // A token of anyone's making could take the gas and
                    // set no allowance.
                    if n.assets.is_empty() {
                        return fail(
                            format!("networks[{i}].assets"),
                            "list the tokens whose approvals are sponsored (approval_sponsor is set)".into(),
                        );
                    }
                    if wei(fee).is_none_or(|f| f == 0) {
                        return fail(
                            format!("networks[{i}].approval_max_fee_per_gas"),
                            "a positive decimal amount of wei, as a string".into(),
                        );
                    }
                }
                (Some(_), None) => {
                    return fail(
                        format!("networks[{i}].approval_max_fee_per_gas"),
                        "required with approval_sponsor: the highest fee per gas it pays".into(),
                    );
                }
                (None, Some(_)) => {
                    return fail(
                        format!("networks[{i}].approval_sponsor"),
                        "approval_max_fee_per_gas is set, but no signer pays for approvals".into(),
                    );
                }
            }
            if n.schemes.contains(&SchemeConfig::BatchSettlement) && n.assets.is_empty() {
                return fail(
                    format!("networks[{i}].assets"),
                    "list the tokens settled with batch-settlement (a token of a caller's making could spend the signers' gas)".into(),
                );
            }
            if let Some(name) = &n.receiver_authorizer {
                if !self.signers.iter().any(|s| &s.name == name) {
                    return fail(
                        format!("networks[{i}].receiver_authorizer"),
                        format!("no [[signers]] is named {name:?}"),
                    );
                }
                if !n.schemes.contains(&SchemeConfig::BatchSettlement) {
                    return fail(
                        format!("networks[{i}].receiver_authorizer"),
                        "a receiver authorizer is for batch-settlement: add it to schemes".into(),
                    );
                }
            }
            if n.confirmations == 0 {
                return fail(format!("networks[{i}].confirmations"), "at least 1".into());
            }
            if n.receipt_timeout_seconds == 0 {
                return fail(
                    format!("networks[{i}].receipt_timeout_seconds"),
                    "at least 1".into(),
                );
            }
            // A settlement answers by its receipt wait and a margin, within
            // the server's deadline (never a 408 after a send).
            if n.receipt_timeout_seconds
                .saturating_add(3)
                .saturating_mul(1000)
                > self.server.request_timeout_ms
            {
                return fail(
                    format!("networks[{i}].receipt_timeout_seconds"),
                    format!(
                        "{} s leaves less than 3 s within server.request_timeout_ms ({} ms)",
                        n.receipt_timeout_seconds, self.server.request_timeout_ms
                    ),
                );
            }
            for (field, value) in [
                ("max_fee_per_gas", &n.max_fee_per_gas),
                ("priority_fee_per_gas", &n.priority_fee_per_gas),
                ("min_gas_balance", &n.min_gas_balance),
            ] {
                if let Some(v) = value
                    && wei(v).is_none()
                {
                    return fail(
                        format!("networks[{i}].{field}"),
                        "a decimal amount of wei, as a string".into(),
                    );
                }
            }
        }
        Ok(())
    }
}

impl Config {
    /// The checks of `[[solana_networks]]`.
    fn check_solana(
        &self,
        fail: &dyn Fn(String, String) -> Result<(), ConfigError>,
    ) -> Result<(), ConfigError> {
        for (i, n) in self.solana_networks.iter().enumerate() {
            let genesis = n.id.strip_prefix("solana:").unwrap_or("");
            if genesis.len() != 32
                || !genesis
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() && !matches!(b, b'0' | b'O' | b'I' | b'l'))
            {
                return fail(
                    format!("solana_networks[{i}].id"),
                    "a Solana network: solana: and the first 32 base58 characters of its genesis hash (solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp, solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1)".into(),
                );
            }
            if self.solana_networks.iter().filter(|o| o.id == n.id).count() > 1 {
                return fail(
                    format!("solana_networks[{i}].id"),
                    "configured twice".into(),
                );
            }
            if n.rpc.is_empty() {
                return fail(
                    format!("solana_networks[{i}].rpc"),
                    "at least one endpoint".into(),
                );
            }
            for (j, url) in n.rpc.iter().enumerate() {
                if !url.starts_with("http://") && !url.starts_with("https://") {
                    return fail(
                        format!("solana_networks[{i}].rpc[{j}]"),
                        "an http:// or https:// URL".into(),
                    );
                }
            }
            if n.fee_payers.is_empty() {
                return fail(
                    format!("solana_networks[{i}].fee_payers"),
                    "at least one fee payer".into(),
                );
            }
            for (j, name) in n.fee_payers.iter().enumerate() {
                match self.signers.iter().find(|s| &s.name == name) {
                    None => {
                        return fail(
                            format!("solana_networks[{i}].fee_payers[{j}]"),
                            format!("no [[signers]] is named {name:?}"),
                        );
                    }
                    Some(s) if s.kind != SignerKind::Ed25519 => {
                        return fail(
                            format!("solana_networks[{i}].fee_payers[{j}]"),
                            format!("{name:?} is not an ed25519 key (kind = \"ed25519\")"),
                        );
                    }
                    Some(_) => {}
                }
            }
            for (j, a) in n.assets.iter().enumerate() {
                if paywire::svm::Pubkey::parse(a).is_err() {
                    return fail(
                        format!("solana_networks[{i}].assets[{j}]"),
                        "a base58 mint address".into(),
                    );
                }
            }
            if n.max_compute_units == 0 {
                return fail(
                    format!("solana_networks[{i}].max_compute_units"),
                    "at least 1".into(),
                );
            }
            if n.max_compute_unit_price > paywire::svm::MAX_COMPUTE_UNIT_PRICE {
                return fail(
                    format!("solana_networks[{i}].max_compute_unit_price"),
                    format!(
                        "at most {} micro-lamports (the scheme's cap)",
                        paywire::svm::MAX_COMPUTE_UNIT_PRICE
                    ),
                );
            }
            if n.receipt_timeout_seconds == 0 {
                return fail(
                    format!("solana_networks[{i}].receipt_timeout_seconds"),
                    "at least 1".into(),
                );
            }
            if n.receipt_timeout_seconds
                .saturating_add(3)
                .saturating_mul(1000)
                > self.server.request_timeout_ms
            {
                return fail(
                    format!("solana_networks[{i}].receipt_timeout_seconds"),
                    format!(
                        "{} s leaves less than 3 s within server.request_timeout_ms ({} ms)",
                        n.receipt_timeout_seconds, self.server.request_timeout_ms
                    ),
                );
            }
        }
        Ok(())
    }
}

/// A wei amount written as a decimal string.
#[must_use]
pub fn wei(text: &str) -> Option<u128> {
    if text.is_empty() || text.len() > 39 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if text.len() > 1 && text.starts_with('0') {
        return None;
    }
    text.parse().ok()
}

/// The line of the first key of a dotted field path (`networks[0].rpc` →
/// the first `rpc =` after the first `[[networks]]`), as a best effort for
/// messages.
fn find_line(text: &str, field: &str) -> Option<usize> {
    let mut table = field.split('.').next().unwrap_or("");
    let index: usize = table
        .split_once('[')
        .and_then(|(_, rest)| rest.trim_end_matches(']').parse().ok())
        .unwrap_or(0);
    if let Some((name, _)) = table.split_once('[') {
        table = name;
    }
    let key = field
        .rsplit('.')
        .next()
        .unwrap_or("")
        .split('[')
        .next()
        .unwrap_or("");
    let header_array = format!("[[{table}]]");
    let header = format!("[{table}]");
    let mut seen = 0usize;
    let mut inside = false;
    let mut start = None;
    for (n, line) in text.lines().enumerate() {
        let l = line.trim();
        if l == header_array || (l.starts_with("[[") && l.trim_matches(['[', ']']) == table) {
            inside = seen == index;
            seen += 1;
            if inside {
                start = Some(n + 1);
            }
            continue;
        }
        if l == header {
            inside = true;
            start = Some(n + 1);
            continue;
        }
        if l.starts_with('[') {
            inside = false;
            continue;
        }
        if inside
            && !key.is_empty()
            && (l.starts_with(&format!("{key} ")) || l.starts_with(&format!("{key}=")))
        {
            return Some(n + 1);
        }
    }
    start
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[store]
url = "sqlite:///tmp/f.db"

[[access.keys]]
name = "shop"
key_env = "SHOP_KEY"

[[signers]]
name = "hot"
key_env = "HOT_KEY"

[[networks]]
id = "eip155:84532"
rpc = ["http://127.0.0.1:8545"]
schemes = ["exact-eip3009", "upto"]
signers = ["hot"]
"#;

    fn err(text: &str) -> ConfigError {
        Config::parse(Path::new("f.toml"), text).unwrap_err()
    }

    #[test]
    fn a_good_file_reads_with_its_defaults() {
        let c = Config::parse(Path::new("f.toml"), GOOD).unwrap();
        assert_eq!(c.server.listen, "127.0.0.1:4022".parse().unwrap());
        assert_eq!(c.networks[0].confirmations, 1);
        assert_eq!(
            c.networks[0].schemes,
            [SchemeConfig::ExactEip3009, SchemeConfig::Upto]
        );
    }

    #[test]
    fn errors_name_file_line_and_field() {
        let e = err(&GOOD.replace("rpc = [", "rcp = ["));
        assert_eq!(e.line, Some(15), "{e}");
        assert!(e.message.contains("rcp"), "{e}");
        let e = err(&GOOD.replace("\"http://127.0.0.1:8545\"", "\"ftp://x\""));
        assert_eq!(
            (e.field.as_str(), e.line),
            ("networks[0].rpc[0]", Some(15)),
            "{e}"
        );
        assert!(
            e.to_string().starts_with("f.toml:15: networks[0].rpc[0]: "),
            "{e}"
        );
        let e = err(&GOOD.replace("signers = [\"hot\"]", "signers = [\"cold\"]"));
        assert_eq!(e.field, "networks[0].signers[0]");
        let e = err(&GOOD.replace("eip155:84532", "solana:abc"));
        assert_eq!(e.field, "networks[0].id");
        let e = err(&GOOD.replace(
            "schemes = [\"exact-eip3009\", \"upto\"]",
            "schemes = [\"exact\"]",
        ));
        assert!(e.line.is_some(), "{e}");
        let e = err(&GOOD.replace(
            "[[access.keys]]\nname = \"shop\"\nkey_env = \"SHOP_KEY\"\n",
            "",
        ));
        assert_eq!(e.field, "access.keys");
    }

    const SOLANA: &str = r#"
[[signers]]
name = "sol"
kind = "ed25519"
key_env = "SOL_KEY"

[[solana_networks]]
id = "solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1"
rpc = ["http://127.0.0.1:8899"]
fee_payers = ["sol"]
"#;

    #[test]
    fn solana_networks_read_and_name_their_errors() {
        let c = Config::parse(Path::new("f.toml"), &format!("{GOOD}{SOLANA}")).unwrap();
        let n = &c.solana_networks[0];
        assert_eq!(n.max_compute_units, 400_000);
        assert_eq!(n.max_compute_unit_price, 100_000);
        assert_eq!(c.signers[1].kind, SignerKind::Ed25519);
        // A Solana network alone is enough.
        let only = format!("{GOOD}{SOLANA}").replace(
            "[[networks]]\nid = \"eip155:84532\"\nrpc = [\"http://127.0.0.1:8545\"]\nschemes = [\"exact-eip3009\", \"upto\"]\nsigners = [\"hot\"]\n",
            "",
        );
        Config::parse(Path::new("f.toml"), &only).unwrap();
        let payers = "fee_payers = [\"sol\"]";
        for (from, to, field) in [
            (
                "solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1",
                "solana:devnet",
                "solana_networks[0].id",
            ),
            (
                "\"http://127.0.0.1:8899\"",
                "\"ws://x\"",
                "solana_networks[0].rpc[0]",
            ),
            (
                payers,
                "fee_payers = [\"hot\"]",
                "solana_networks[0].fee_payers[0]",
            ),
            (payers, "fee_payers = []", "solana_networks[0].fee_payers"),
            (
                payers,
                "fee_payers = [\"sol\"]\nmax_compute_unit_price = 5000001",
                "solana_networks[0].max_compute_unit_price",
            ),
            (
                payers,
                "fee_payers = [\"sol\"]\nassets = [\"0xabc\"]",
                "solana_networks[0].assets[0]",
            ),
        ] {
            let e = err(&format!("{GOOD}{SOLANA}").replace(from, to));
            assert_eq!(e.field, field, "{e}");
            assert!(e.line.is_some(), "{e}");
        }
        // An EVM network's signer must be a secp256k1 key.
        let e =
            err(&format!("{GOOD}{SOLANA}").replace("signers = [\"hot\"]", "signers = [\"sol\"]"));
        assert_eq!(e.field, "networks[0].signers[0]", "{e}");
        let e = err(&format!("{GOOD}{SOLANA}").replace("kind = \"ed25519\"", "kind = \"rsa\""));
        assert!(e.line.is_some(), "{e}");
    }

    #[test]
    fn an_approval_sponsor_is_a_signer_of_its_own_with_a_fee_cap() {
        let with = |lines: &str| {
            format!("{GOOD}{lines}\n[[signers]]\nname = \"sponsor\"\nkey_env = \"SPONSOR_KEY\"\n")
        };
        let c = Config::parse(
            Path::new("f.toml"),
            &with("assets = [\"0x036CbD53842c5426634e7929541eC2318f3dCF7e\"]\napproval_sponsor = \"sponsor\"\napproval_max_fee_per_gas = \"5000000000\""),
        )
        .unwrap();
        // Without a list of tokens: anyone's token could take the gas.
        let e = err(&with(
            "approval_sponsor = \"sponsor\"\napproval_max_fee_per_gas = \"1\"",
        ));
        assert_eq!(e.field, "networks[0].assets", "{e}");
        assert_eq!(c.networks[0].approval_sponsor.as_deref(), Some("sponsor"));
        for (lines, field, says) in [
            (
                "approval_sponsor = \"sponsor\"",
                "networks[0].approval_max_fee_per_gas",
                "required",
            ),
            (
                "approval_max_fee_per_gas = \"1\"",
                "networks[0].approval_sponsor",
                "no signer pays",
            ),
            (
                "approval_sponsor = \"hot\"\napproval_max_fee_per_gas = \"1\"",
                "networks[0].approval_sponsor",
                "settles here too",
            ),
            (
                "approval_sponsor = \"cold\"\napproval_max_fee_per_gas = \"1\"",
                "networks[0].approval_sponsor",
                "no [[signers]]",
            ),
            (
                "approval_sponsor = \"sponsor\"\napproval_max_fee_per_gas = \"0\"",
                "networks[0].approval_max_fee_per_gas",
                "positive",
            ),
            (
                "approval_sponsor = \"sponsor\"\napproval_max_fee_per_gas = \"1 gwei\"",
                "networks[0].approval_max_fee_per_gas",
                "positive",
            ),
        ] {
            let e = err(&with(&format!(
                "assets = [\"0x036CbD53842c5426634e7929541eC2318f3dCF7e\"]\n{lines}"
            )));
            assert_eq!(e.field, field, "{lines}: {e}");
            assert!(e.message.contains(says), "{lines}: {e}");
        }
        // Approvals are for Permit2 payments.
        let e = err(
            &with("approval_sponsor = \"sponsor\"\napproval_max_fee_per_gas = \"1\"").replace(
                "schemes = [\"exact-eip3009\", \"upto\"]",
                "schemes = [\"exact-eip3009\"]",
            ),
        );
        assert!(e.message.contains("exact-permit2 or upto"), "{e}");
    }

    #[test]
    fn allowed_factories_are_addresses_and_few() {
        let with = |list: &str| {
            GOOD.replace(
                "schemes = [\"exact-eip3009\", \"upto\"]",
                &format!("schemes = [\"exact-eip3009\", \"upto\"]\n{list}"),
            )
        };
        let factory = "0xfafafafafafafafafafafafafafafafafafafafa";
        let c = Config::parse(
            Path::new("f.toml"),
            &with(&format!("eip6492AllowedFactories = [\"{factory}\"]")),
        )
        .unwrap();
        assert_eq!(c.networks[0].eip6492_allowed_factories, [factory]);
        let c = Config::parse(Path::new("f.toml"), GOOD).unwrap();
        assert!(c.networks[0].eip6492_allowed_factories.is_empty());
        let e = err(&with("eip6492_allowed_factories = [\"0x12\"]"));
        assert_eq!(e.field, "networks[0].eip6492_allowed_factories[0]");
        let nine: Vec<String> = (1..=9u8)
            .map(|i| format!("\"0x{}\"", format!("{i:02x}").repeat(20)))
            .collect();
        let e = err(&with(&format!(
            "eip6492_allowed_factories = [{}]",
            nine.join(",")
        )));
        assert_eq!(e.field, "networks[0].eip6492_allowed_factories[8]");
    }

    #[test]
    fn the_example_configuration_reads() {
        let text = include_str!("../facilitator.example.toml");
        let c = Config::parse(Path::new("facilitator.example.toml"), text).unwrap();
        assert_eq!(c.networks[0].schemes.len(), 3);
        assert_eq!(c.access.keys[0].requests_per_minute, 600);
        assert_eq!(c.solana_networks[0].fee_payers, ["sol"]);
    }

    #[test]
    fn wei_amounts_are_canonical_decimals() {
        assert_eq!(wei("1000"), Some(1000));
        for bad in ["", "01", "1e9", "-1", "0x10", " 1"] {
            assert_eq!(wei(bad), None, "{bad}");
        }
    }
}
