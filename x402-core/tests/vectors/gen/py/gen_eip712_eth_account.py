"""eip712-eth-account.json: EIP-712 vectors produced independently by Python
eth-account (encode_typed_data + Account.sign_message / unsafe_sign_hash).

Reads the @x402/evm type definitions as JSON on stdin (from
src/dump-sdk-types.mjs) so the signed types are exactly the SDK's, then hashes
and signs with eth-account only. Usage:

    node src/dump-sdk-types.mjs | .venv/bin/python py/gen_eip712_eth_account.py
"""

import json
import os
import sys
from importlib.metadata import version as dist_version

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak, to_checksum_address

SEED = "x402-core test vectors v1"
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
MAX_UINT256 = (1 << 256) - 1

HERE = os.path.dirname(os.path.abspath(__file__))
VECTORS_DIR = os.path.normpath(os.path.join(HERE, "..", ".."))


class Rng:
    """value i of namespace ns = keccak256(utf8(f"{SEED}/{ns}/{i}"))"""

    def __init__(self, namespace):
        self.ns = namespace
        self.i = 0

    def bytes32(self) -> bytes:
        out = keccak(text=f"{SEED}/{self.ns}/{self.i}")
        self.i += 1
        return out

    def private_key(self) -> bytes:
        while True:
            k = self.bytes32()
            if 0 < int.from_bytes(k, "big") < SECP256K1_N:
                return k

    def address(self) -> str:
        return to_checksum_address(self.bytes32()[-20:])

    def uint(self, bits=256) -> int:
        v = int.from_bytes(self.bytes32(), "big")
        return v if bits >= 256 else v & ((1 << bits) - 1)

    def pick(self, items):
        return items[int.from_bytes(self.bytes32(), "big") % len(items)]


def hx(b: bytes) -> str:
    return "0x" + bytes(b).hex()


def domain_types(domain):
    out = []
    for name, typ in (
        ("name", "string"),
        ("version", "string"),
        ("chainId", "uint256"),
        ("verifyingContract", "address"),
    ):
        if name in domain:
            out.append({"name": name, "type": typ})
    return out


def to_eth_account_message(kind, m):
    """JSON message (decimal strings, 0x hex) -> python values for eth-account."""
    if kind == "eip3009":
        return {
            "from": m["from"],
            "to": m["to"],
            "value": int(m["value"]),
            "validAfter": int(m["validAfter"]),
            "validBefore": int(m["validBefore"]),
            "nonce": bytes.fromhex(m["nonce"][2:]),
        }
    witness = {"to": m["witness"]["to"]}
    if kind == "permit2-upto":
        witness["facilitator"] = m["witness"]["facilitator"]
    witness["validAfter"] = int(m["witness"]["validAfter"])
    return {
        "permitted": {"token": m["permitted"]["token"], "amount": int(m["permitted"]["amount"])},
        "spender": m["spender"],
        "nonce": int(m["nonce"]),
        "deadline": int(m["deadline"]),
        "witness": witness,
    }


def sign_vector(kinds, kind, domain, msg, key):
    """Hashes and signs one typed-data message with eth-account only."""
    types = kinds[kind]["types"]
    primary = kinds[kind]["primaryType"]
    full = {
        "types": {"EIP712Domain": domain_types(domain), **types},
        "primaryType": primary,
        "domain": domain,
        "message": to_eth_account_message(kind, msg),
    }
    signable = encode_typed_data(full_message=full)
    assert signable.version == b"\x01"
    domain_separator = bytes(signable.header)
    struct_hash = bytes(signable.body)
    digest = keccak(b"\x19\x01" + domain_separator + struct_hash)
    signed = Account.sign_message(signable, key)
    assert bytes(signed.message_hash) == digest
    raw = Account.unsafe_sign_hash(digest, key)
    assert bytes(raw.signature) == bytes(signed.signature)
    sig = bytes(signed.signature)
    assert len(sig) == 65 and sig[64] in (27, 28)
    assert int.from_bytes(sig[32:64], "big") <= SECP256K1_N // 2
    return {
        "address": Account.from_key(key).address,
        "domainSeparator": hx(domain_separator),
        "structHash": hx(struct_hash),
        "digest": hx(digest),
        "signature": hx(sig),
    }


def main():
    sdk = json.load(sys.stdin)
    kinds = sdk["types"]
    permit2 = sdk["PERMIT2_ADDRESS"]
    proxies = {
        "permit2-exact": sdk["x402ExactPermit2ProxyAddress"],
        "permit2-upto": sdk["x402UptoPermit2ProxyAddress"],
    }
    rng = Rng("eth-account")
    max_s = str(MAX_UINT256)

    usdc = [
        ("base-usdc", {"name": "USD Coin", "version": "2", "chainId": 8453,
                       "verifyingContract": "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"}),
        ("base-sepolia-usdc", {"name": "USDC", "version": "2", "chainId": 84532,
                               "verifyingContract": "0x036CbD53842c5426634e7929541eC2318f3dCF7e"}),
    ]
    cases = []

    # 8 EIP-3009 vectors
    eip3009_domains = [
        usdc[0], usdc[0], usdc[1], usdc[1],
        ("chain-137", {"name": "USD Coin", "version": "2", "chainId": 137, "verifyingContract": rng.address()}),
        ("chain-42161", {"name": "USD Coin", "version": "2", "chainId": 42161, "verifyingContract": rng.address()}),
        ("unicode-name", {"name": "Ēuro €ɃŦ 🪙", "version": "1", "chainId": 10, "verifyingContract": rng.address()}),
        ("unicode-name", {"name": "Rupiah ₹ रुपया", "version": "3", "chainId": 1, "verifyingContract": rng.address()}),
    ]
    eip3009_edges = [
        ("value-max-uint256", {"value": max_s}),
        ("value-zero", {"value": "0"}),
        ("valid-before-max-uint256", {"validAfter": "0", "validBefore": max_s}),
        ("nonce-zero", {"nonce": "0x" + "00" * 32}),
    ]
    for i, (label, domain) in enumerate(eip3009_domains):
        key = rng.private_key()
        msg = {
            "from": Account.from_key(key).address,
            "to": rng.address(),
            "value": str(rng.uint(rng.pick([32, 64, 128, 256]))),
            "validAfter": str(rng.uint(32)),
            "validBefore": str(rng.uint(rng.pick([32, 64]))),
            "nonce": hx(rng.bytes32()),
        }
        edge = eip3009_edges[i] if i < len(eip3009_edges) else None
        if edge:
            msg.update(edge[1])
        name = f"eth-account-eip3009-{i + 1:02d}-{label}" + (f"-{edge[0]}" if edge else "")
        cases.append((name, "eip3009", domain, msg, key))

    # 6 Permit2 exact + 6 Permit2 upto vectors
    chains = [8453, 84532, 8453, 84532, 1, 137]
    p2_edges = [
        ("amount-max-uint256", lambda m: m["permitted"].update(amount=max_s)),
        ("deadline-max-uint256", lambda m: m.update(deadline=max_s)),
        ("nonce-zero", lambda m: m.update(nonce="0")),
    ]
    for kind in ("permit2-exact", "permit2-upto"):
        for i, chain_id in enumerate(chains):
            key = rng.private_key()
            token = (
                usdc[0][1]["verifyingContract"] if chain_id == 8453
                else usdc[1][1]["verifyingContract"] if chain_id == 84532
                else rng.address()
            )
            witness = {"to": rng.address()}
            if kind == "permit2-upto":
                witness["facilitator"] = rng.address()
            witness["validAfter"] = "0" if i % 2 == 0 else str(rng.uint(32))
            msg = {
                "permitted": {"token": token, "amount": str(rng.uint(rng.pick([32, 64, 128])))},
                "spender": proxies[kind],
                "nonce": str(rng.uint(rng.pick([64, 256]))),
                "deadline": str(rng.uint(32)),
                "witness": witness,
            }
            edge = p2_edges[i] if i < len(p2_edges) else None
            if edge:
                edge[1](msg)
            domain = {"name": "Permit2", "chainId": chain_id, "verifyingContract": permit2}
            name = f"eth-account-{kind}-{i + 1:02d}-chain-{chain_id}" + (f"-{edge[0]}" if edge else "")
            cases.append((name, kind, domain, msg, key))

    vectors = []
    for name, kind, domain, msg, key in cases:
        got = sign_vector(kinds, kind, domain, msg, key)
        vectors.append({
            "name": name,
            "kind": kind,
            "domain": domain,
            "types": kinds[kind]["types"],
            "primaryType": kinds[kind]["primaryType"],
            "message": msg,
            "privateKey": hx(key),
            **got,
        })

    pkgs = ["eth-account", "eth-abi", "eth-keys", "eth-hash", "eth-utils", "pycryptodome"]
    doc = {
        "generator": {
            "script": "x402-core/tests/vectors/gen/py/gen_eip712_eth_account.py",
            "packages": {
                **{p: dist_version(p) for p in pkgs},
                "@x402/evm": sdk["x402EvmVersion"],
            },
        },
        "description": (
            "EIP-712 vectors computed independently with Python eth-account "
            "(encode_typed_data(full_message=...) -> header = domainSeparator, body = structHash; "
            "Account.sign_message, cross-checked with Account.unsafe_sign_hash; RFC 6979, low-s, v=27/28). "
            "Types are the @x402/evm definitions (read as JSON from the SDK), field names as in eip712.json."
        ),
        "vectors": vectors,
    }
    path = os.path.join(VECTORS_DIR, "eip712-eth-account.json")
    with open(path, "w", encoding="utf-8") as f:
        f.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {path} ({len(vectors)} vectors)")

    # Cross-check: eth-account must reproduce every viem vector in eip712.json.
    viem_path = os.path.join(VECTORS_DIR, "eip712.json")
    if os.path.exists(viem_path):
        with open(viem_path, encoding="utf-8") as f:
            viem_vectors = json.load(f)["vectors"]
        for v in viem_vectors:
            got = sign_vector(kinds, v["kind"], v["domain"], v["message"], bytes.fromhex(v["privateKey"][2:]))
            for field in ("address", "domainSeparator", "structHash", "digest", "signature"):
                if got[field] != v[field]:
                    sys.exit(f"eth-account disagrees with viem on {v['name']}.{field}: {got[field]} != {v[field]}")
        print(f"eth-account reproduces all {len(viem_vectors)} viem vectors in eip712.json")


if __name__ == "__main__":
    main()
