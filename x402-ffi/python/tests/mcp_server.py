"""A paid MCP tool server over stdio, for test_mcp.py: the tool ``forecast``
costs PRICE of ASSET on NETWORK paid to PAY_TO (environment), settled
through FACILITATOR_URL; ``broken`` always fails."""

import os

from mcp.server.mcpserver import MCPServer

from paywire.mcp import PaidTools
from paywire.paywall import HTTPFacilitator

env = os.environ
server = MCPServer("forecast")
paid = PaidTools(server, facilitator=HTTPFacilitator(env["FACILITATOR_URL"]))
price = dict(network=env["NETWORK"], asset=env["ASSET"], pay_to=env["PAY_TO"], amount=env["PRICE"],
             extra={"name": "USDC", "version": "2"}, max_timeout_seconds=300)


@paid.tool(**price)
async def forecast(city: str) -> str:
    """Tomorrow's weather."""
    return f"sunny in {city}"


@paid.tool(**price)
async def broken(city: str) -> str:
    """Always fails."""
    raise RuntimeError("the tool broke")


if __name__ == "__main__":
    server.run("stdio")
