"""The official Python x402 client (PyPI `x402`, pinned in requirements.txt)
paying one resource: an httpx client with the SDK's payment transport and its
exact/EVM scheme, signing with eth-account. Prints one JSON object: the final
status, the body, and the PAYMENT-RESPONSE header.

    python client.py URL NETWORK ASSET   (the payer's key in PAYWIRE_TEST_PAYER_KEY)
"""

import asyncio
import json
import os
import sys

from eth_account import Account
from x402 import x402Client
from x402.http.clients import x402HttpxClient
from x402.mechanisms.evm import EthAccountSigner
from x402.mechanisms.evm.exact import register_exact_evm_client


async def main() -> None:
    url, network, asset = sys.argv[1:4]
    client = x402Client()
    # The test token is not one of the SDK's default assets: allow it by name.
    client.set_spend_controls({"allowed_assets": [{"network": network, "asset": asset}]})
    register_exact_evm_client(client, EthAccountSigner(Account.from_key(os.environ["PAYWIRE_TEST_PAYER_KEY"])))
    async with x402HttpxClient(client, timeout=60) as http:
        res = await http.get(url)
        print(
            json.dumps(
                {
                    "status": res.status_code,
                    "body": res.text,
                    "paymentResponse": res.headers.get("payment-response"),
                }
            )
        )


asyncio.run(main())
