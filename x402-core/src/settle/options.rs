//! The settings of a [`Machine`](super::Machine), and their JSON form.

use crate::error::{Error, ErrorKind, Reason};
use crate::evm::Address;
use crate::json::Limits;

/// The factories an ERC-6492 signature may ask to deploy a wallet with: at
/// most [`AllowedFactories::CAPACITY`], none by default (as the reference's
/// `eip6492AllowedFactories`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct AllowedFactories {
    list: [Address; AllowedFactories::CAPACITY],
    len: usize,
}

impl AllowedFactories {
    /// How many factories the list holds at most.
    pub const CAPACITY: usize = 8;

    /// No factory.
    pub const EMPTY: AllowedFactories = AllowedFactories {
        list: [Address([0; 20]); AllowedFactories::CAPACITY],
        len: 0,
    };

    /// Adds `factory` (a second time: no change).
    ///
    /// # Errors
    /// `invalid_payload` (kind [`ErrorKind::Invalid`]) when the list is full.
    pub fn push(&mut self, factory: Address) -> Result<(), Error> {
        if self.contains(&factory) {
            return Ok(());
        }
        let slot = self.list.get_mut(self.len).ok_or(Error::new(
            Reason::InvalidPayload,
            ErrorKind::Invalid("more than 8 allowed factories"),
        ))?;
        *slot = factory;
        self.len += 1;
        Ok(())
    }

    /// Whether `factory` is allowed.
    #[must_use]
    pub fn contains(&self, factory: &Address) -> bool {
        self.as_slice().contains(factory)
    }

    /// The factories.
    #[must_use]
    pub fn as_slice(&self) -> &[Address] {
        self.list.get(..self.len).unwrap_or_default()
    }
}

/// Settings of a [`Machine`](super::Machine).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// Ask `eth_chainId` first and stop if the node serves another chain.
    pub check_chain_id: bool,
    /// Gas limit = estimate × (100 + this) / 100.
    pub gas_limit_margin_percent: u32,
    /// `maxFeePerGas` = base fee × this + tip (2 covers six full blocks of base-fee rise).
    pub base_fee_multiplier: u32,
    /// A fixed tip per gas in wei, instead of asking `eth_maxPriorityFeePerGas`.
    pub priority_fee_per_gas: Option<u128>,
    /// A ceiling on `maxFeePerGas` in wei.
    pub max_fee_per_gas: Option<u128>,
    /// The facilitator account's next nonce, for hosts that track it themselves
    /// (concurrent settlements from one key); `None` asks the node (`pending`).
    pub nonce: Option<u64>,
    /// How many `null` receipts to accept before answering `settlement_pending`.
    pub max_receipt_polls: u32,
    /// The pause the host should make before each repeated receipt request.
    pub receipt_poll_interval_ms: u32,
    /// How deep the settlement's block must be before it counts (1: mined).
    /// Deeper, the receipt is read again once the chain has grown past it: a
    /// block replaced in between sends the same transaction again.
    pub confirmations: u32,
    /// The factories that may deploy a counterfactual smart wallet (ERC-6492)
    /// for its payment; a signature naming another is refused with
    /// `eip6492_factory_not_allowed` while the wallet has no code.
    pub eip6492_allowed_factories: AllowedFactories,
}

impl Options {
    /// The defaults: check the chain id, 20 % gas margin, 2 × base fee, the
    /// node's tip, 60 receipt polls one second apart.
    pub const DEFAULT: Options = Options {
        check_chain_id: true,
        gas_limit_margin_percent: 20,
        base_fee_multiplier: 2,
        priority_fee_per_gas: None,
        max_fee_per_gas: None,
        nonce: None,
        max_receipt_polls: 60,
        receipt_poll_interval_ms: 1000,
        confirmations: 1,
        eip6492_allowed_factories: AllowedFactories::EMPTY,
    };
}

impl Default for Options {
    fn default() -> Self {
        Options::DEFAULT
    }
}

impl Options {
    /// Reads settings from the JSON a host keeps them in; every member is
    /// optional (absent: the default), unknown members are refused so that a
    /// misspelt setting is not silently ignored:
    /// `{"checkChainId": true, "gasLimitMarginPercent": 20, "baseFeeMultiplier": 2,
    /// "priorityFeePerGas": "1000000", "maxFeePerGas": "50000000000", "nonce": 7,
    /// "maxReceiptPolls": 60, "receiptPollIntervalMs": 1000, "confirmations": 1,
    /// "eip6492AllowedFactories": ["0x…"]}`
    /// (wei amounts are
    /// decimal strings, counts are numbers).
    ///
    /// ```
    /// use paywire::settle::Options;
    /// let o = Options::from_json(br#"{"maxFeePerGas":"30000000000","nonce":4}"#).unwrap();
    /// assert_eq!(o.max_fee_per_gas, Some(30_000_000_000));
    /// assert_eq!(o.nonce, Some(4));
    /// assert!(o.check_chain_id);
    /// assert!(Options::from_json(br#"{"maxFeePerGass":"1"}"#).is_err());
    /// ```
    ///
    /// # Errors
    /// An [`Error`] naming the member (reason `invalid_payload`: settings are not
    /// a protocol document).
    pub fn from_json(json: &[u8]) -> Result<Options, Error> {
        use crate::types::{address, amount, array, boolean, err, integer, object};
        const R: Reason = Reason::InvalidPayload;
        let v = crate::json::parse(json, &Limits::DEFAULT).map_err(|k| Error::new(R, k))?;
        let mut o = Options::DEFAULT;
        let wei = |v, f| -> Result<u128, Error> {
            let a = amount(v, R, f)?;
            let b = a.to_be_bytes();
            let (hi, lo) = b.split_at(16);
            if hi.iter().any(|x| *x != 0) {
                return Err(err(R, ErrorKind::Overflow, f));
            }
            let mut w = [0u8; 16];
            w.copy_from_slice(lo);
            Ok(u128::from_be_bytes(w))
        };
        let small = |v, f| -> Result<u32, Error> {
            u32::try_from(integer(v, R, f)?).map_err(|_| err(R, ErrorKind::Overflow, f))
        };
        for (k, v) in object(v, R, "")?.members() {
            if k == "checkChainId" {
                o.check_chain_id = boolean(v, R, "checkChainId")?;
            } else if k == "gasLimitMarginPercent" {
                o.gas_limit_margin_percent = small(v, "gasLimitMarginPercent")?;
            } else if k == "baseFeeMultiplier" {
                o.base_fee_multiplier = small(v, "baseFeeMultiplier")?;
            } else if k == "priorityFeePerGas" {
                o.priority_fee_per_gas = Some(wei(v, "priorityFeePerGas")?);
            } else if k == "maxFeePerGas" {
                o.max_fee_per_gas = Some(wei(v, "maxFeePerGas")?);
            } else if k == "nonce" {
                o.nonce = Some(integer(v, R, "nonce")?);
            } else if k == "maxReceiptPolls" {
                o.max_receipt_polls = small(v, "maxReceiptPolls")?;
            } else if k == "receiptPollIntervalMs" {
                o.receipt_poll_interval_ms = small(v, "receiptPollIntervalMs")?;
            } else if k == "confirmations" {
                o.confirmations = small(v, "confirmations")?.max(1);
            } else if k == "eip6492AllowedFactories" {
                for a in array(v, R, "eip6492AllowedFactories")?.iter() {
                    let a = address(a, R, "eip6492AllowedFactories")?;
                    o.eip6492_allowed_factories
                        .push(a)
                        .map_err(|e| e.at("eip6492AllowedFactories"))?;
                }
            } else {
                return Err(err(
                    R,
                    ErrorKind::Invalid(
                        "unknown member (known: checkChainId, gasLimitMarginPercent, baseFeeMultiplier, priorityFeePerGas, maxFeePerGas, nonce, maxReceiptPolls, receiptPollIntervalMs, confirmations, eip6492AllowedFactories)",
                    ),
                    "",
                ));
            }
        }
        Ok(o)
    }
}
