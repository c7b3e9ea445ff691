// What x402-core answers for a vector of official-verdicts.json: the official
// facilitator's verdict, except where the core is documented stricter. Shared by
// the Node and the browser tests (it imports nothing).

/** `{isValid, invalidReason, payer}` expected for one vector. */
export function expectedVerdict(v) {
  if (v.stricter === "high-s") {
    // High-s signatures pass the reference offline but revert on chain.
    const eip3009 = v.name.startsWith("eip3009") || v.name.includes("/eip3009");
    return {
      isValid: false,
      invalidReason: eip3009 ? "invalid_exact_evm_signature" : "invalid_permit2_signature",
    };
  }
  if (v.stricter === "eip2612-signature-length") {
    // Refused for its form here; the reference learns it from a failing simulation.
    return { isValid: false, invalidReason: "invalid_eip2612_extension_format", payer: v.verdict.payer };
  }
  if (typeof v.verdict.threw === "string") {
    // The reference throws: for a scheme it has no verifier for, and (a crash)
    // for a Permit2 payload in v1, which is EIP-3009 only.
    return {
      isValid: false,
      invalidReason: v.verdict.threw.startsWith("No facilitator registered")
        ? "unsupported_scheme"
        : "invalid_payload",
    };
  }
  return {
    isValid: v.verdict.isValid,
    invalidReason: v.verdict.invalidReason,
    // The reference echoes the payload's `from`; "" means none.
    payer: v.verdict.payer ? v.verdict.payer : undefined,
  };
}

/** The verifier options of a vector (the facilitator's signer addresses, if any). */
export function verifyOptions(v) {
  return v.facilitatorAddresses ? { facilitatorAddresses: v.facilitatorAddresses } : undefined;
}

/** Compares a verdict with the expectation; answers a list of differences. */
export function differences(verdict, expected) {
  const diffs = [];
  if (verdict.isValid !== expected.isValid) {
    diffs.push(`isValid ${verdict.isValid}, expected ${expected.isValid}`);
  }
  if (verdict.invalidReason !== expected.invalidReason) {
    diffs.push(`invalidReason ${verdict.invalidReason}, expected ${expected.invalidReason}`);
  }
  if ("payer" in expected) {
    const ours = verdict.payer?.toLowerCase();
    const theirs = expected.payer?.toLowerCase();
    if (ours !== theirs) diffs.push(`payer ${ours}, expected ${theirs}`);
  }
  return diffs;
}
