#!/usr/bin/env python3
"""Flattens the shared JSON vectors into one tab-separated text file for the C
test, which has no JSON parser. Only fields are copied; every expectation is
decided in test_x402.c. JSON values are re-serialized compactly (json.dumps
escapes tabs and newlines, so a value never spans a field or a line).

Records (first field):
  V name now stricter threw isValid invalidReason config_json request_json
  P name now config_json payer header_value requirements_json payment_required_json
  H name header_name value
  E name kind chainId typed_data_json domain_json message_json digest signature address private_key
  K name d x thumbprint                          (batch/rfc9421.json: the Ed25519 test key)
  B name now isValid invalidReason jwk_json request_json offer_json   (batch/web-bot-auth.json)
  S name isValid invalidReason payer request_json     (svm.json: exact on Solana, verified)
  Z name seed_hex nonce_hex facts_json payment_required_json requirements_json transaction
                                                      (svm.json: a payment the official client made)
  D name route_json header_value payer channel_id    (batch-settlement-paywall.json: a
                                                      batch-settlement payment on EVM, for the lifecycle)
"""
import json
import sys
from pathlib import Path

# official-verdicts.json: "absent: [0xFAc11174700000000000000000000000000000fA]".
# That spelling is mixed case without a valid EIP-55 checksum (the generator's
# fake signer compares addresses case-insensitively), which this library
# refuses; in lower case it is the same address.
DEFAULT_FACILITATORS = ["0xfac11174700000000000000000000000000000fa"]


def compact(v):
    return json.dumps(v, separators=(",", ":"), ensure_ascii=False)


def main(vectors_dir, out_path):
    d = Path(vectors_dir)
    rows = []
    load = lambda f: json.loads((d / f).read_text(encoding="utf-8"))["vectors"]
    for v in load("official-verdicts.json"):
        verdict = v["verdict"]
        config = {"facilitatorAddresses": v.get("facilitatorAddresses", DEFAULT_FACILITATORS)}
        rows.append(["V", v["name"], str(v["now"]), "1" if v.get("stricter") else "0",
                     "1" if "threw" in verdict else "0",
                     "1" if verdict.get("isValid") else "0",
                     verdict.get("invalidReason") or "-", compact(config), compact(v["request"])])
    for v in load("official-payments.json"):
        config = {"facilitatorAddresses": v.get("facilitatorAddresses", DEFAULT_FACILITATORS)}
        rows.append(["P", v["name"], str(v["now"]), compact(config), v["payer"], v["header"],
                     compact(v["paymentRequirements"]), compact(v["paymentRequired"])])
    for v in load("sdk-headers.json"):
        rows.append(["H", v["name"], v["header"], v["value"]])
    for f in ("eip712.json", "eip712-eth-account.json"):
        for v in load(f):
            typed = {"types": v["types"], "primaryType": v["primaryType"],
                     "domain": v["domain"], "message": v["message"]}
            rows.append(["E", v["name"], v["kind"], str(v["domain"]["chainId"]), compact(typed),
                         compact(v["domain"]), compact(v["message"]), v["digest"],
                         v["signature"], v["address"], v["privateKey"]])
    batch = lambda f: json.loads((d / "batch" / f).read_text(encoding="utf-8"))
    for name, k in batch("rfc9421.json")["keys"].items():
        if k.get("kty") == "OKP":
            rows.append(["K", name, k["d"], k["x"], k["thumbprint"]])
    for v in batch("web-bot-auth.json")["vectors"]:
        expect = v["expect"]
        rows.append(["B", v["name"], str(v["now"]), "1" if expect["isValid"] else "0",
                     expect.get("invalidReason") or "-", compact(v["jwk"]), compact(v["request"]),
                     compact(v["offer"])])
    svm = json.loads((d / "svm.json").read_text(encoding="utf-8"))
    # Refused with the official facilitator's reason by the default verifier too.
    mutations = {"wrong-mint", "amount-plus-1", "amount-minus-1", "bad-signature", "memo-mismatch",
                 "fee-payer-authority", "network-mismatch", "price-above-cap", "eight-instructions",
                 "version-byte-0x81"}
    for v in svm["payments"] + [v for v in svm["verdicts"] if v["name"] in mutations]:
        official = v.get("official", {"isValid": True, "payer": v.get("client", {}).get("payer")})
        request = {"x402Version": 2, "paymentPayload": v["paymentPayload"],
                   "paymentRequirements": v["paymentRequirements"]}
        rows.append(["S", v["name"], "1" if official["isValid"] else "0",
                     official.get("invalidReason") or "-", official.get("payer") or "-",
                     compact(request)])
    for v in svm["payments"]:
        c = v["client"]
        facts = {"tokenProgram": c["tokenProgram"], "decimals": c["decimals"],
                 "recentBlockhash": c["blockhash"]}
        nonce = (c.get("memoNonce") or "").ljust(64, "0")
        pr = {"x402Version": 2, "resource": {"url": "https://example.com/a"},
              "accepts": [v["paymentRequirements"]]}
        rows.append(["Z", v["name"], c["payerSeed"], nonce, compact(facts), compact(pr),
                     compact(v["paymentRequirements"]),
                     v["paymentPayload"]["payload"]["transaction"]])
    evm_batch = json.loads((d / "batch-settlement-paywall.json").read_text(encoding="utf-8"))
    route = {"x402Version": 2, "resource": {"url": "https://api.example.com/data"},
             "accepts": [evm_batch["paymentRequirements"]]}
    for v in evm_batch["vectors"]:
        rows.append(["D", v["name"], compact(route), v["header"], evm_batch["payer"],
                     evm_batch["channelId"]])
    with open(out_path, "w", encoding="utf-8") as out:
        for r in rows:
            assert all("\t" not in f and "\n" not in f for f in r)
            out.write("\t".join(r) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
