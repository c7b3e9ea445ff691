import json
from pathlib import Path

VECTORS = Path(__file__).resolve().parents[3] / "x402-core" / "tests" / "vectors"

# official-verdicts.json: "absent: [0xFAc11174700000000000000000000000000000fA]".
# That spelling is mixed case without a valid EIP-55 checksum (the generator's
# fake signer compares addresses case-insensitively), which the library
# refuses; in lower case it is the same address.
DEFAULT_FACILITATORS = ["0xfac11174700000000000000000000000000000fa"]


def vectors(name):
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))["vectors"]


def facilitators(v):
    return v.get("facilitatorAddresses", DEFAULT_FACILITATORS)
