//! A SIMULATED ledger of test-USDC balances: it stands in for the token contract
//! so that the demo and `paywire serve` can settle without a chain. No chain is
//! contacted and nothing here is money.
//!
//! It discharges the chain checks the core's verifier returns (the token exists,
//! the EIP-3009 nonce is unused, the balance suffices) with the contract's rules,
//! and settles by moving balances and marking the nonce used, so a replayed
//! authorization fails as it would on chain.

use std::collections::{HashMap, HashSet};

use paywire::evm::{Address, B256};
use paywire::types::payload::Eip3009Authorization;
use paywire::verify::{ChainCheck, Verdict};
use paywire::{Amount, Reason};

/// What every transaction id of the simulation starts with, so that nobody takes
/// one for a chain's transaction hash.
pub(crate) const SIMULATED_TX_PREFIX: &str = "simulated:";

/// The simulated token ledger.
#[derive(Debug)]
pub(crate) struct Ledger {
    /// The token it simulates.
    pub(crate) token: Address,
    balances: HashMap<Address, Amount>,
    used_nonces: HashSet<(Address, B256)>,
    /// Credited to a payer the ledger has never seen (0: none).
    pub(crate) faucet: Amount,
    faucet_paid: HashSet<Address>,
}

/// A settled transfer.
#[derive(Debug, Clone)]
pub(crate) struct Settled {
    /// `simulated:0x…`: an id, not a chain transaction hash.
    pub(crate) transaction: String,
    pub(crate) from: Address,
}

/// A chain check's outcome, for the record.
#[derive(Debug, Clone)]
pub(crate) struct CheckResult {
    pub(crate) name: &'static str,
    pub(crate) ok: bool,
}

/// A failed settlement: the reason string the reference facilitator would give.
#[derive(Debug, Clone)]
pub(crate) struct Rejected {
    pub(crate) reason: Reason,
    pub(crate) message: String,
    pub(crate) checks: Vec<CheckResult>,
}

impl Ledger {
    pub(crate) fn new(token: Address) -> Ledger {
        Ledger {
            token,
            balances: HashMap::new(),
            used_nonces: HashSet::new(),
            faucet: Amount::ZERO,
            faucet_paid: HashSet::new(),
        }
    }

    pub(crate) fn balance(&self, who: &Address) -> Amount {
        self.balances.get(who).copied().unwrap_or(Amount::ZERO)
    }

    /// Credits `who` (the faucet of the simulation).
    pub(crate) fn mint(&mut self, who: Address, amount: Amount) {
        let b = self
            .balance(&who)
            .checked_add(&amount)
            .unwrap_or(Amount::MAX);
        self.balances.insert(who, b);
    }

    /// Whether the ledger satisfies `c`, else why not (the core names the
    /// reason: [`Verdict::failure_reason`]).
    fn check(&self, c: &ChainCheck) -> Result<(), String> {
        match c {
            ChainCheck::AssetIsContract { asset } => {
                (*asset == self.token).then_some(()).ok_or(format!(
                    "the simulated ledger holds {} only, not {asset}",
                    self.token
                ))
            }
            ChainCheck::Eip3009NonceUnused {
                authorizer, nonce, ..
            } => (!self.used_nonces.contains(&(*authorizer, *nonce)))
                .then_some(())
                .ok_or(format!(
                    "authorization nonce {nonce} of {authorizer} was already used"
                )),
            ChainCheck::BalanceAtLeast { owner, amount, .. } => {
                let have = self.balance(owner);
                (have >= *amount)
                    .then_some(())
                    .ok_or(format!("{owner} holds {have}, needs {amount}"))
            }
            ChainCheck::SimulateEip3009Transfer { .. } => Ok(()),
            _ => Err("the simulated ledger settles EIP-3009 authorizations only".into()),
        }
    }

    /// Runs the verdict's chain checks against the ledger and, if all pass,
    /// performs the transfer the authorization allows.
    pub(crate) fn settle(
        &mut self,
        verdict: &Verdict,
        auth: &Eip3009Authorization,
    ) -> Result<(Settled, Vec<CheckResult>), Rejected> {
        if !verdict.is_valid() {
            return Err(Rejected {
                reason: verdict.reason.unwrap_or(Reason::UnexpectedSettleError),
                message: "the payment did not verify".into(),
                checks: Vec::new(),
            });
        }
        if self.faucet > Amount::ZERO && self.faucet_paid.insert(auth.from) {
            self.mint(auth.from, self.faucet);
        }
        let mut checks = Vec::new();
        for c in verdict.chain_checks() {
            let result = self.check(&c);
            checks.push(CheckResult {
                name: c.name(),
                ok: result.is_ok(),
            });
            if let Err(message) = result {
                return Err(Rejected {
                    reason: verdict.failure_reason(&c),
                    message,
                    checks,
                });
            }
        }
        let from_balance = self.balance(&auth.from).checked_sub(&auth.value);
        let to_balance = self.balance(&auth.to).checked_add(&auth.value);
        let (Some(from_balance), Some(to_balance)) = (from_balance, to_balance) else {
            return Err(Rejected {
                reason: Reason::ExactEvmInsufficientBalance,
                message: "balance changed during settlement".into(),
                checks,
            });
        };
        self.balances.insert(auth.from, from_balance);
        self.balances.insert(auth.to, to_balance);
        self.used_nonces.insert((auth.from, auth.nonce));
        let id = paywire::evm::keccak256_concat(&[
            b"x402 simulated ledger",
            &self.token.0,
            &auth.from.0,
            &auth.nonce.0,
        ]);
        Ok((
            Settled {
                transaction: format!("{SIMULATED_TX_PREFIX}{}", B256(id)),
                from: auth.from,
            },
            checks,
        ))
    }
}
