"""A FastAPI shop for the paywall tests, served by uvicorn on 127.0.0.1.

Two paywalls guard the same handlers: routes under /mem keep their records in
a MemoryStore (this process), routes under /sql in a SQLiteStore (the file
PAYWIRE_TEST_DB, shared with other processes serving this app). Each has
/paid (0.01 USDC), /dear (0.02 USDC), /elsewhere (0.01 USDC to another
recipient), /metered (upto 0.01 USDC), /ided (declares payment-identifier) and
/upfront (settled before its handler). /_state/{store} shows the test what happened (not paywalled).
"""

import json
import os
import threading
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse

import paywire

USDC = "0x036CbD53842c5426634e7929541eC2318f3dCF7e"
MERCHANT = "0x209693Bc6afc0C5328bA36FaF03C514EF312287C"
OTHER = "0x000000000000000000000000000000000000dEaD"
CONTENT = "the paid text"
SIGNER = "0xfac11174700000000000000000000000000000fa"  # the facilitator's, for upto
SOLANA = json.loads((Path(__file__).resolve().parents[3] / "x402-core" / "tests" / "vectors" / "svm.json")
                    .read_text(encoding="utf-8"))["payments"][0]


def routes(prefix):
    def route(path, amount, pay_to):
        return paywire.Route(path=f"{prefix}{path}", network="eip155:84532", asset=USDC, pay_to=pay_to,
                             amount=amount, extra={"name": "USDC", "version": "2"}, description="a report",
                             mime_type="text/plain")

    upto = paywire.Route(path=f"{prefix}/metered", scheme="upto", network="eip155:84532", asset=USDC,
                         pay_to=MERCHANT, amount=10000, extra={"facilitatorAddress": SIGNER})
    ided = paywire.Route(path=f"{prefix}/ided", network="eip155:84532", asset=USDC, pay_to=MERCHANT,
                         amount=10000, extra={"name": "USDC", "version": "2"},
                         extensions={"payment-identifier": {"info": {"required": False},
                                                            "schema": {"type": "object"}}})
    upfront = paywire.Route(path=f"{prefix}/upfront", network="eip155:84532", asset=USDC, pay_to=MERCHANT,
                            amount=10000, extra={"name": "USDC", "version": "2", "paymentFlow": "upfront"})
    # exact on Solana: the official client's requirement (svm.json).
    sol = SOLANA["paymentRequirements"]
    solana = paywire.Route(path=f"{prefix}/sol", network=sol["network"], asset=sol["asset"],
                           pay_to=sol["payTo"], amount=sol["amount"], extra=sol["extra"])
    return [route("/paid", 10000, MERCHANT), route("/dear", 20000, MERCHANT),
            route("/elsewhere", 10000, OTHER), upto, ided, upfront, solana]


facilitator = paywire.HTTPFacilitator(os.environ["PAYWIRE_TEST_FACILITATOR"],
                                      api_key=os.environ.get("PAYWIRE_TEST_API_KEY"))
settings = paywire.LifecycleSettings(settle_timeout_seconds=1, claim_seconds=30, facilitator_addresses=[SIGNER])
stores = {"mem": paywire.MemoryStore(), "sql": paywire.SQLiteStore(os.environ["PAYWIRE_TEST_DB"])}
uncertain = {name: [] for name in stores}
handled = {"count": 0}
lock = threading.Lock()

app = FastAPI()
for _name, _store in stores.items():
    app.add_middleware(paywire.Paywall, routes=routes(f"/{_name}"), facilitator=facilitator, records=_store,
                       settings=settings,
                       on_uncertain=lambda key, info, name=_name: uncertain[name].append(info.__dict__))


@app.get("/_state/{store}")
def state(store: str):
    return JSONResponse({"records": list(stores[store].records().values()), "handled": handled["count"],
                         "uncertain": uncertain[store]})


@app.get("/free")
def free():
    return PlainTextResponse("free")


@app.api_route("/{store}/{item}", methods=["GET", "HEAD", "POST"])
async def paid(store: str, item: str, request: Request, fail: str = ""):
    with lock:
        handled["count"] += 1
    if fail == "raise":
        raise RuntimeError("the handler broke")
    if fail == "404":
        return PlainTextResponse("nothing here", status_code=404)
    body = (await request.body()).decode()
    return PlainTextResponse(CONTENT + (f" / {body}" if body else ""), headers={"Cache-Control": "public, max-age=600"})
