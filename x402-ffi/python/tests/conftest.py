import os
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


def pytest_configure(config):
    # scripts/test-ffi.sh runs the tests against the installed wheel: make sure
    # that is what they import, not the source tree.
    if os.environ.get("PAYWIRE_EXPECT_INSTALLED"):
        import paywire

        assert "site-packages" in paywire.__file__, paywire.__file__
        assert "site-packages" in paywire.library_path(), paywire.library_path()
