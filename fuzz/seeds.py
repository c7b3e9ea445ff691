#!/usr/bin/env python3
"""Writes the fuzz seeds, fuzz/seeds/<target>/, from the test vectors.

Sources: the specification's examples (x402-core/tests/vectors/spec, listed in
its manifest.json), the vectors produced by independent implementations
(x402-core/tests/vectors/*.json), the structured-field test suite
(vectors/sfv) and the HTTP message signature vectors (vectors/batch). Every
seed is a file named after where it came from (identical contents are kept
once). The directory is rewritten from scratch, so the output depends only on
the vectors:

    python3 fuzz/seeds.py
"""

import base64
import hashlib
import json
import re
import shutil
import sys
from pathlib import Path

FUZZ = Path(__file__).resolve().parent
VECTORS = FUZZ.parent / "x402-core" / "tests" / "vectors"
SPEC = VECTORS / "spec"
OUT = FUZZ / "seeds"

TARGETS = [
    "address",
    "amount",
    "bazaar",
    "facilitator_config",
    "facilitator_request",
    "batch_verify",
    "client_payment",
    "header_decode",
    "json_parse",
    "json_types",
    "mcp",
    "network",
    "payment_mutation",
    "rpc_response",
    "settlement_overrides",
    "signature",
    "signature_base",
    "structured_fields",
    "typed_data",
    "verify_body",
    "erc6492",
    "batch_settlement_evm",
    "batch_server",
    "svm_decode",
    "svm_verify",
]

seeds = {t: {} for t in TARGETS}
seen = {t: set() for t in TARGETS}


def add(target, name, data):
    if isinstance(data, str):
        data = data.encode()
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-")
    if data not in seen[target]:
        seen[target].add(data)
        seeds[target].setdefault(name, data)


def compact(value):
    """Compact JSON as JSON.stringify writes it (key order kept)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def walk(value):
    """Every value inside a JSON value, the value itself first."""
    yield value
    if isinstance(value, dict):
        for v in value.values():
            yield from walk(v)
    elif isinstance(value, list):
        for v in value:
            yield from walk(v)


def strings(value):
    return [v for v in walk(value) if isinstance(v, str)]


def json_seeds(name, doc):
    """A document for the JSON targets, with its protocol objects on their own."""
    add("json_parse", name, compact(doc))
    add("json_types", name, compact(doc))
    for i, v in enumerate(walk(doc)):
        if not isinstance(v, dict) or v is doc:
            continue
        keys = set(v)
        known = (
            {"scheme", "network"} <= keys
            or {"authorization", "signature"} <= keys
            or {"permit2Authorization", "signature"} <= keys
            or {"from", "to", "value", "validAfter"} <= keys
            or {"amount", "asset"} <= keys
            or {"url"} <= keys
            or {"isValid"} <= keys
            or {"success"} <= keys
            or {"kinds"} <= keys
            or {"name", "version"} <= keys
        )
        if known:
            add("json_types", f"{name}-{i}", compact(v))
        if "accepts" in keys:
            add("client_payment", f"{name}-{i}", compact(v))
    if isinstance(doc, dict) and "accepts" in doc:
        add("client_payment", name, compact(doc))
    scalars(name, doc)


def scalars(name, doc):
    """Addresses, amounts, networks and signatures found in a document."""
    for s in strings(doc):
        h = hashlib.sha1(s.encode()).hexdigest()[:10]
        if re.fullmatch(r"0x[0-9a-fA-F]{40}", s):
            add("address", f"addr-{h}", s)
        elif re.fullmatch(r"0x[0-9a-fA-F]{130}", s):
            add("signature", f"sighex-{h}", s)
        elif re.fullmatch(r"[0-9]{1,80}", s):
            add("amount", f"dec-{h}", s)
        elif re.fullmatch(r"[-a-z0-9]{3,32}:[-_a-zA-Z0-9+/=.]{1,64}", s):
            add("network", f"caip2-{h}", s)


def spec_examples():
    manifest = json.loads((SPEC / "manifest.json").read_text())
    for e in manifest["examples"]:
        f = SPEC / e["file"]
        raw = f.read_bytes().rstrip(b"\n")
        stem = "spec-" + f.stem
        for n in e.get("networks") or []:
            add("network", f"spec-{n}", n)
        if e["format"] == "json":
            doc = json.loads(raw)
            add("json_parse", stem + "-pretty", raw)
            json_seeds(stem, doc)
            if e["kind"].startswith("Mcp"):
                for i, v in enumerate(walk(doc)):
                    if isinstance(v, dict) and (
                        "isError" in v or "x402/payment" in v or "x402/payment-response" in v
                    ):
                        add("mcp", f"{stem}-{i}", compact(v))
            if e["kind"] == "VerifyRequest":
                add("verify_body", stem, compact(doc))
        elif e["format"] == "text":
            # Examples that are not valid JSON (templates, comments): good negatives.
            add("json_parse", stem, raw)
        elif e["format"] == "base64" and e["kind"] == "Header":
            add("header_decode", stem, raw)
            if "payment-required" in e["file"]:
                add("client_payment", stem, raw)


def vector_file(name):
    return json.loads((VECTORS / name).read_text())["vectors"]


def vectors():
    for v in vector_file("sdk-headers.json"):
        stem = "sdk-" + v["name"]
        add("header_decode", stem, v["value"])
        if v["header"] == "PAYMENT-REQUIRED":
            add("client_payment", stem, v["value"])
        json_seeds(stem, v["json"])

    for v in vector_file("official-payments.json"):
        stem = "payment-" + v["name"]
        add("header_decode", stem, v["header"])
        body = {
            "x402Version": v["x402Version"],
            "paymentPayload": v["paymentPayload"],
            "paymentRequirements": v["paymentRequirements"],
        }
        add("verify_body", stem, compact(body))
        add("client_payment", stem, compact(v["paymentRequired"]))
        json_seeds(stem, body)
        json_seeds(stem + "-required", v["paymentRequired"])
        json_seeds(stem + "-verdict", v["verdict"])

    for v in vector_file("official-verdicts.json"):
        stem = "verdict-" + v["name"]
        add("verify_body", stem, compact(v["request"]))
        json_seeds(stem, v["request"])
        json_seeds(stem + "-response", v["verdict"])

    for file in ("eip712.json", "eip712-eth-account.json"):
        for v in vector_file(file):
            stem = "eip712-" + v["name"]
            digest = bytes.fromhex(v["digest"][2:])
            sig = bytes.fromhex(v["signature"][2:])
            add("signature", stem, digest + sig)
            add("signature", stem + "-hex", v["signature"])
            doc = {
                "types": v["types"],
                "primaryType": v["primaryType"],
                "domain": v["domain"],
                "message": v["message"],
            }
            add("typed_data", stem, compact(doc))
            scalars(stem, doc)


def bazaar():
    """The bazaar vectors: declarations (mode 0), payments (mode 1), texts."""
    doc = json.loads((VECTORS / "bazaar.json").read_text())
    for part in ("declarations", "judgements"):
        for v in doc[part]:
            add("bazaar", f"{part}-{v['name']}", b"\x00" + compact(v["extension"]).encode())
            if "declared" in v:
                add("bazaar", f"enrich-{v['name']}", b"\x02" + compact(v["declared"]).encode())
    for v in doc["extractions"]:
        add("bazaar", f"extraction-{v['name']}", b"\x01" + compact(v["paymentPayload"]).encode())
    for part in ("routeTemplates", "serviceNames", "iconUrls"):
        for i, v in enumerate(doc[part]):
            add("bazaar", f"{part}-{i}", b"\x03" + v["value"].encode())


def batch():
    """Structured fields (the httpwg test suite) and HTTP message signatures."""
    for f in sorted((VECTORS / "sfv").glob("*.json")):
        for t in json.loads(f.read_text()):
            if "raw" in t:
                add("structured_fields", f"sfv-{f.stem}-{t['name']}", ", ".join(t["raw"]))
            if "canonical" in t:
                add("structured_fields", f"sfv-{f.stem}-{t['name']}-canonical", ", ".join(t["canonical"]))
    rfc = json.loads((VECTORS / "batch" / "rfc9421.json").read_text())
    for v in rfc["vectors"]:
        doc = {"source": v["source"], "message": v["message"],
               "signatureParams": v["signatureParams"]}
        if "base" in v:
            doc["base"] = v["base"]
        add("signature_base", "rfc9421-" + v["name"], compact(doc))
        add("structured_fields", "rfc9421-" + v["name"], v["signatureParams"])
    wba = json.loads((VECTORS / "batch" / "web-bot-auth.json").read_text())
    for v in wba["vectors"]:
        stem = "web-bot-auth-" + v["name"]
        for name, value in v["request"]["headers"]:
            if name.lower() in ("signature-input", "signature", "signature-agent"):
                add("structured_fields", f"{stem}-{name.lower()}", value)
                if name.lower() == "signature-input":
                    add("signature_base", stem, compact({"message": v["request"], "signatureInput": value}))
        doc = {"request": v["request"], "requirements": v["offer"],
               "directories": {v["agent"]: {"keys": [v["jwk"]]}}, "now": int(v["now"])}
        add("batch_verify", stem, compact(doc))
    draft = json.loads((VECTORS / "batch" / "web-bot-auth-draft.json").read_text())
    for i, v in enumerate(draft["vectors"]):
        msg = {"method": "GET", "url": v["target_url"], "headers": [["Signature", v["signature"]]]}
        add("signature_base", f"web-bot-auth-draft-{i}", compact({"message": msg, "signatureInput": v["signature_input"]}))
        add("structured_fields", f"web-bot-auth-draft-{i}-input", v["signature_input"])
        add("structured_fields", f"web-bot-auth-draft-{i}-signature", v["signature"])


def rpc():
    """A node's answers: the settlement vectors' call results and revert data,
    quantities, a block and a receipt with an ERC-20 Transfer log."""
    def answer(name, **member):
        add("rpc_response", name, compact({"jsonrpc": "2.0", "id": 1, **member}))

    settlement = json.loads((VECTORS / "settlement.json").read_text())
    for v in settlement["results"]:
        answer("result-" + v["name"], result=v["data"])
    for v in settlement["reverts"]:
        answer("revert-" + v["name"], error={"code": 3, "message": "execution reverted", "data": v["data"]})
        answer("revert-hardhat-" + v["name"], error={
            "code": -32603, "message": "Error: VM Exception while processing transaction",
            "data": {"message": "reverted", "data": v["data"]}})
    for q in ["0x0", "0x2105", hex(2**64 - 1), hex(2**64), hex(2**128 - 1), hex(2**256 - 1), "0x", "0x00ff"]:
        answer("quantity-" + q[:12], result=q)
    add("rpc_response", "id-string", '{"jsonrpc":"2.0","id":"7","result":"0x1"}')
    answer("block", result={
        "number": "0x1b4", "timestamp": "0x6853c2e0", "baseFeePerGas": "0x3b9aca00",
        "hash": "0x" + "ab" * 32, "parentHash": "0x" + "cd" * 32})
    topic = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
    word = lambda a: "0x" + "0" * 24 + a[2:].lower()
    payer, pay_to = "0x857b06519E91e3A54538791bDbb0E22373e36b66", "0x209693Bc6afc0C5328bA36FaF03C514EF312287C"
    answer("receipt", result={
        "transactionHash": "0x" + "12" * 32, "status": "0x1", "blockNumber": "0x1b4",
        "gasUsed": "0x1d8a8", "effectiveGasPrice": "0x3b9aca07", "contractAddress": None,
        "logs": [{"address": "0x036CbD53842c5426634e7929541eC2318f3dCF7e",
                  "topics": [topic, word(payer), word(pay_to)],
                  "data": "0x" + "0" * 60 + "2710"}]})
    answer("receipt-pending", result=None)
    answer("error-plain", error={"code": -32000, "message": "nonce too low"})


def extras():
    # Amounts at the edges of u64, u128 and uint256, alone and in pairs.
    for n in ["0", "1", str(2**64 - 1), str(2**64), str(2**128 - 1), str(2**128),
              str(2**256 - 1), str(2**256)]:
        add("amount", "edge-" + n[:12] + "-" + str(len(n)), n)
    add("amount", "pair-u64", f"{2**64 - 1},{2**64}")
    add("amount", "pair-max", f"{2**256 - 1},1")
    for name, caip in [("base", "eip155:8453"), ("base-sepolia", "eip155:84532"),
                       ("solana", "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp")]:
        add("network", "v1-" + name, name)
        add("network", "caip2-" + name, caip)
    add("network", "cloudflare", "cloudflare:402")
    # The structure-aware target reads its input through `arbitrary`: any bytes
    # make a payment; a few fixed ones start the corpus.
    block = b"x402-fuzz"
    for i in range(16):
        block = hashlib.sha512(block).digest()
        add("payment_mutation", f"seed-{i:02}", block * 8)


def facilitator():
    """The facilitator's example configuration and variants of it; the
    verify-body seeds as requests to each route, with and without the key."""
    example = (FUZZ.parent / "x402-server" / "facilitator.example.toml").read_text()
    add("facilitator_config", "example", example)
    add("facilitator_config", "example-open", example.replace("[[access.keys]]", "[access]\nopen = true\n[[access.keys]]", 1))
    add("facilitator_config", "example-two-networks", example + example[example.index("[[networks]]"):].replace("84532", "8453"))
    for name, body in sorted(seeds["verify_body"].items()):
        for selector, route in [(0, "verify"), (1, "settle"), (0x81, "settle-unkeyed")]:
            add("facilitator_request", f"{route}-{name}", bytes([selector]) + body)


def overrides():
    """Settlement-Overrides values as the official SDKs write them, and near misses."""
    for name, value in [
        ("atomic", '{"amount":"120000"}'),
        ("percent", '{"amount":"40%"}'),
        ("percent-decimals", '{"amount":"12.5%"}'),
        ("over", '{"amount":"900000"}'),
        ("dollars", '{"amount":"$0.12"}'),
        ("zero", '{"amount":"0"}'),
        ("extra", '{"amount":"5","extra":1}'),
    ]:
        add("settlement_overrides", name, value.encode())
    add("settlement_overrides", "permitted-max", f"{2**256 - 1}\n{{\"amount\":\"99.99%\"}}".encode())
    add("settlement_overrides", "permitted-small", b'3\n{"amount":"50%"}')


def smart_wallets():
    """erc6492: the factory's address, then each signature of smart-wallet.json."""
    doc = json.loads((VECTORS / "smart-wallet.json").read_text())
    factory = bytes.fromhex(doc["factory"][2:])
    for i, v in enumerate(doc["erc6492"]):
        add("erc6492", f"vector-{i:02}", factory + bytes.fromhex(v["signature"][2:]))


def batch_settlement_evm():
    """batch_settlement_evm: each verdict vector of batch-settlement-evm.json as
    a /verify body, and its payload alone."""
    doc = json.loads((VECTORS / "batch-settlement-evm.json").read_text())
    for i, v in enumerate(doc["verdicts"]):
        body = {"paymentPayload": v["paymentPayload"], "paymentRequirements": v["paymentRequirements"]}
        add("batch_settlement_evm", f"verify-{i:02}", json.dumps(body, separators=(",", ":"), ensure_ascii=False))
        add("batch_settlement_evm", f"payload-{i:02}", json.dumps(v["paymentPayload"]["payload"], separators=(",", ":"), ensure_ascii=False))


def batch_server():
    """batch_server: each decision of batch-settlement-server.json as the
    target's input (record, payload, facilitator's state, price, time)."""
    doc = json.loads((VECTORS / "batch-settlement-server.json").read_text())
    for i, v in enumerate(doc["vectors"]):
        case = {"payload": v["paymentPayload"]["payload"], "price": v["price"], "now": v["now"]}
        if v["record"] is not None:
            case["record"] = v["record"]
        if "verified" in v:
            case["verified"] = v["verified"]
        if v["policy"]["minDeposit"] is not None:
            case["minDeposit"] = v["policy"]["minDeposit"]
        add("batch_server", f"vector-{i:02}", json.dumps(case, separators=(",", ":"), ensure_ascii=False))


def svm():
    """svm_decode, svm_verify: each verdict vector of svm.json as a /verify
    body, and its transaction's bytes."""
    doc = json.loads((VECTORS / "svm.json").read_text())
    for i, v in enumerate(doc["verdicts"]):
        body = {"paymentPayload": v["paymentPayload"], "paymentRequirements": v["paymentRequirements"]}
        add("svm_verify", f"verify-{i:02}", json.dumps(body, separators=(",", ":"), ensure_ascii=False))
        try:
            raw = base64.b64decode(v["paymentPayload"]["payload"]["transaction"], validate=True)
        except ValueError:
            continue
        add("svm_decode", f"tx-{i:02}", raw)
        add("svm_verify", f"tx-{i:02}", raw)


def main():
    if not SPEC.is_dir():
        sys.exit(f"no vectors at {VECTORS}")
    spec_examples()
    vectors()
    bazaar()
    batch()
    rpc()
    overrides()
    extras()
    facilitator()
    smart_wallets()
    batch_settlement_evm()
    batch_server()
    svm()
    if OUT.exists():
        shutil.rmtree(OUT)
    total = 0
    for target, files in seeds.items():
        d = OUT / target
        d.mkdir(parents=True)
        for name, data in sorted(files.items()):
            (d / name).write_bytes(data)
        total += len(files)
        print(f"{target:18} {len(files):4} seeds")
    print(f"{'total':18} {total:4}")


if __name__ == "__main__":
    main()
