"""A FastAPI app behind this project's Python paywall (``paywire.Paywall``,
ASGI), settling through ``paywire facilitator`` with its API key: the
interop test serves it with uvicorn on 127.0.0.1 and pays it with the
official TypeScript client.

Settings from the environment: PAY_TO, NETWORK, ASSET, PRICE (atomic units),
TOKEN_NAME, TOKEN_VERSION, FACILITATOR_URL, FACILITATOR_API_KEY.
"""

import os

from fastapi import FastAPI
from fastapi.responses import JSONResponse

import paywire

route = paywire.Route(
    path="/weather",
    network=os.environ["NETWORK"],
    asset=os.environ["ASSET"],
    pay_to=os.environ["PAY_TO"],
    amount=int(os.environ["PRICE"]),
    extra={"name": os.environ["TOKEN_NAME"], "version": os.environ["TOKEN_VERSION"]},
    description="the weather, paid through paywire facilitator",
    mime_type="application/json",
)

app = FastAPI()
app.add_middleware(
    paywire.Paywall,
    routes=[route],
    facilitator=paywire.HTTPFacilitator(os.environ["FACILITATOR_URL"], api_key=os.environ["FACILITATOR_API_KEY"]),
    records=paywire.MemoryStore(),
)


@app.get("/weather")
def weather():
    return JSONResponse({"weather": "sunny", "paidThrough": "the Python paywall"})
