package paywire

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The shared vectors of the repository (x402-core/tests/vectors).
func vectors(t *testing.T, file string) []map[string]json.RawMessage {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "x402-core", "tests", "vectors", file))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Vectors []map[string]json.RawMessage `json:"vectors"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Vectors
}

func str(t *testing.T, v json.RawMessage) string {
	t.Helper()
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		t.Fatalf("not a string: %s", v)
	}
	return s
}

func unix(t *testing.T, v json.RawMessage) time.Time {
	t.Helper()
	var n int64
	if err := json.Unmarshal(v, &n); err != nil {
		t.Fatal(err)
	}
	return time.Unix(n, 0)
}

// verifierFor is the verifier settings a vector was produced with. The
// generator's default address is written in mixed case without a valid EIP-55
// checksum, which the library refuses; in lower case it is the same address.
func verifierFor(t *testing.T, v map[string]json.RawMessage) *Verifier {
	addrs := []string{"0xfac11174700000000000000000000000000000fa"}
	if raw, ok := v["facilitatorAddresses"]; ok {
		addrs = nil
		if err := json.Unmarshal(raw, &addrs); err != nil {
			t.Fatal(err)
		}
	}
	return &Verifier{FacilitatorAddresses: addrs}
}

func TestOfficialVerdicts(t *testing.T) {
	vs := vectors(t, "official-verdicts.json")
	if len(vs) < 100 {
		t.Fatalf("only %d vectors", len(vs))
	}
	for _, v := range vs {
		v := v
		name := str(t, v["name"])
		t.Run(name, func(t *testing.T) {
			got, err := verifierFor(t, v).Verify(v["request"], unix(t, v["now"]))
			if err != nil {
				t.Fatal(err)
			}
			var want struct {
				IsValid       bool   `json:"isValid"`
				InvalidReason string `json:"invalidReason"`
				Threw         string `json:"threw"`
			}
			if err := json.Unmarshal(v["verdict"], &want); err != nil {
				t.Fatal(err)
			}
			switch {
			case v["stricter"] != nil:
				// Deliberately stricter than the reference (high-s signatures).
				if got.IsValid {
					t.Errorf("expected invalid, got %s", got.JSON)
				}
			case want.Threw != "":
				if got.IsValid || (got.InvalidReason != "invalid_payload" && got.InvalidReason != "unsupported_scheme") {
					t.Errorf("the reference threw %q; got %s", want.Threw, got.JSON)
				}
			default:
				if got.IsValid != want.IsValid || got.InvalidReason != want.InvalidReason {
					t.Errorf("want %v/%q, got %s", want.IsValid, want.InvalidReason, got.JSON)
				}
			}
			if got.IsValid && len(got.ChainChecks()) == 0 {
				t.Errorf("a valid verdict lists the chain checks owed: %s", got.JSON)
			}
		})
	}
}

func TestOfficialPayments(t *testing.T) {
	vs := vectors(t, "official-payments.json")
	if len(vs) < 10 {
		t.Fatalf("only %d vectors", len(vs))
	}
	for i, v := range vs {
		i, v := i, v
		t.Run(str(t, v["name"]), func(t *testing.T) {
			now := unix(t, v["now"])
			verifier := verifierFor(t, v)
			header := str(t, v["header"])
			got, err := verifier.VerifyHeader(header, v["paymentRequirements"], now)
			if err != nil {
				t.Fatal(err)
			}
			if !got.IsValid || !strings.EqualFold(got.Payer, str(t, v["payer"])) {
				t.Fatalf("official payment: %s", got.JSON)
			}
			kind, err := HeaderKindFromName(str(t, v["headerName"]))
			if err != nil {
				t.Fatal(err)
			}
			doc, err := DecodeHeader(kind, header)
			if err != nil {
				t.Fatal(err)
			}
			var gotDoc, wantDoc interface{}
			_ = json.Unmarshal(doc, &gotDoc)
			_ = json.Unmarshal(v["paymentPayload"], &wantDoc)
			if !jsonEqual(gotDoc, wantDoc) {
				t.Errorf("decoded %s", doc)
			}
			// A payment created here for the same 402 verifies the same way.
			var key, nonce [32]byte
			for j := range key {
				key[j] = byte(i + 1)
				nonce[j] = 0x5a
			}
			p, err := CreatePaymentWithNonce(v["paymentRequired"], key, nonce, now, &Policy{AllowUpto: true})
			if err != nil {
				t.Fatal(err)
			}
			if p.Header != kind {
				t.Errorf("header %v, want %v", p.Header, kind)
			}
			mine, err := verifier.VerifyHeader(p.Value, v["paymentRequirements"], now)
			if err != nil {
				t.Fatal(err)
			}
			if !mine.IsValid || mine.Payer != p.Payer {
				t.Errorf("created here: %s (payer %s)", mine.JSON, p.Payer)
			}
		})
	}
}

func jsonEqual(a, b interface{}) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

func TestSDKHeaders(t *testing.T) {
	vs := vectors(t, "sdk-headers.json")
	if len(vs) < 20 {
		t.Fatalf("only %d vectors", len(vs))
	}
	for _, v := range vs {
		v := v
		t.Run(str(t, v["name"]), func(t *testing.T) {
			kind, err := HeaderKindFromName(str(t, v["header"]))
			if err != nil {
				t.Fatal(err)
			}
			if kind.String() != str(t, v["header"]) {
				t.Errorf("name %q", kind.String())
			}
			value := str(t, v["value"])
			doc, err := DecodeHeader(kind, value)
			if err != nil {
				t.Fatal(err)
			}
			var gotDoc, wantDoc interface{}
			_ = json.Unmarshal(doc, &gotDoc)
			_ = json.Unmarshal(v["json"], &wantDoc)
			if !jsonEqual(gotDoc, wantDoc) {
				t.Errorf("decoded %s", doc)
			}
			again, err := EncodeHeader(kind, doc)
			if err != nil {
				t.Fatal(err)
			}
			if again != value {
				t.Errorf("re-encoded differs from the SDK's value")
			}
		})
	}
}

func TestEIP712(t *testing.T) {
	n := 0
	for _, file := range []string{"eip712.json", "eip712-eth-account.json"} {
		for _, v := range vectors(t, file) {
			v := v
			n++
			t.Run(str(t, v["name"]), func(t *testing.T) {
				typed, _ := json.Marshal(map[string]json.RawMessage{
					"types": v["types"], "primaryType": v["primaryType"], "domain": v["domain"], "message": v["message"],
				})
				want := str(t, v["digest"])
				d, err := TypedDataDigest(typed)
				if err != nil || "0x"+hex.EncodeToString(d[:]) != strings.ToLower(want) {
					t.Fatalf("typed data digest %x %v", d, err)
				}
				if str(t, v["kind"]) == "eip3009" {
					d, err = Eip3009Digest(v["domain"], v["message"])
				} else {
					var domain struct {
						ChainID uint64 `json:"chainId"`
					}
					_ = json.Unmarshal(v["domain"], &domain)
					d, err = Permit2Digest(domain.ChainID, v["message"])
				}
				if err != nil || "0x"+hex.EncodeToString(d[:]) != strings.ToLower(want) {
					t.Fatalf("digest %x %v", d, err)
				}
				address := str(t, v["address"])
				sig := str(t, v["signature"])
				if a, err := RecoverAddress(d, []byte(sig)); err != nil || a != address {
					t.Errorf("recovered %s %v, want %s", a, err, address)
				}
				raw, _ := hex.DecodeString(sig[2:])
				if a, err := RecoverAddress(d, raw); err != nil || a != address {
					t.Errorf("recovered (raw) %s %v", a, err)
				}
				var key [32]byte
				k, _ := hex.DecodeString(str(t, v["privateKey"])[2:])
				copy(key[:], k)
				if a, err := PrivateKeyAddress(key); err != nil || a != address {
					t.Errorf("key address %s %v", a, err)
				}
			})
		}
	}
	if n < 80 {
		t.Fatalf("only %d vectors", n)
	}
}

func code(err error) Result {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ResultOK
}

func TestErrors(t *testing.T) {
	// Invalid payments are verdicts, not errors.
	for _, body := range []string{"", "{}", "[", "\xff"} {
		v, err := Verify([]byte(body), time.Now())
		if err != nil || v.IsValid || v.InvalidReason == "" {
			t.Errorf("%q: %+v %v", body, v, err)
		}
	}
	if _, err := (&Verifier{FacilitatorAddresses: []string{"0x12"}}).Verify([]byte("{}"), time.Now()); code(err) != ResultInvalidConfig {
		t.Errorf("bad config: %v", err)
	}
	// Documents that cannot be read are errors with the protocol's reason.
	_, err := DecodeHeader(HeaderPaymentSignature, "not base64")
	if code(err) != ResultInvalidPayload || err.(*Error).Reason() != "invalid_payload" {
		t.Errorf("decode garbage: %v", err)
	}
	if _, err := DecodeHeader(HeaderKind(9), "e30="); code(err) != ResultInvalidArgument {
		t.Errorf("kind 9: %v", err)
	}
	if _, err := EncodeHeader(HeaderAny, []byte("{}")); code(err) != ResultInvalidArgument {
		t.Errorf("encode any: %v", err)
	}
	if _, err := EncodeHeader(HeaderPaymentRequired, []byte(`{"x402Version":7}`)); code(err) != ResultInvalidX402Version {
		t.Errorf("version 7: %v", err)
	}
	// The reason is the library's, not read out of the message.
	badNetwork := `{"x402Version":2,"resource":{"url":"u"},"accepts":[{"scheme":"exact","network":"eip155:08453","amount":"1","asset":"0x036CbD53842c5426634e7929541eC2318f3dCF7e","payTo":"0x209693Bc6afc0C5328bA36FaF03C514EF312287C","maxTimeoutSeconds":60}]}`
	if _, err := EncodeHeader(HeaderPaymentRequired, []byte(badNetwork)); code(err) != ResultInvalidNetwork ||
		err.(*Error).Reason() != "invalid_network" {
		t.Errorf("bad network: %v", err)
	}
	if _, err := (&Verifier{FacilitatorAddresses: []string{"0x12"}}).Verify([]byte("{}"), time.Now()); err == nil ||
		err.(*Error).Reason() != "" || !strings.Contains(err.Error(), ":") {
		t.Errorf("a setting has no reason, whatever its message says: %v", err)
	}
	if _, err := TypedDataDigest([]byte("{}")); code(err) != ResultInvalidPayload || err.(*Error).Reason() != "invalid_payload" {
		t.Errorf("typed data: %v", err)
	}
	if _, err := HeaderKindFromName("payment"); code(err) != ResultInvalidArgument {
		t.Errorf("unknown name: %v", err)
	}
	pr := vectors(t, "official-payments.json")[0]["paymentRequired"]
	var key [32]byte
	key[31] = 1
	if _, err := CreatePayment(pr, [32]byte{}, time.Now(), nil); code(err) != ResultInvalidPrivateKey {
		t.Errorf("zero key: %v", err)
	}
	if _, err := CreatePayment(pr, key, time.Now(), &Policy{MaxAmount: "1"}); code(err) != ResultInvalidPaymentRequirements ||
		!strings.Contains(err.Error(), "maximum") {
		t.Errorf("over the maximum: %v", err)
	}
	if _, err := CreatePayment(pr, key, time.Now(), &Policy{MaxAmount: "one"}); code(err) != ResultInvalidPolicy {
		t.Errorf("bad policy: %v", err)
	}
	p, err := CreatePayment(pr, key, time.Now(), &Policy{MaxAmount: "1000000000"})
	if err != nil || p.Payer != "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf" {
		t.Errorf("key 1: %+v %v", p, err)
	}
	if _, err := RecoverAddress([32]byte{}, make([]byte, 64)); code(err) != ResultInvalidSignature ||
		!strings.Contains(err.Error(), "2098") {
		t.Errorf("64-byte signature: %v", err)
	}
	if _, err := TypedDataDigest([]byte(`{"primaryType":"Mail"}`)); code(err) != ResultInvalidPayload {
		t.Errorf("typed data: %v", err)
	}
	for _, r := range []Result{ResultOK, ResultPanic, ResultInvalidNetwork} {
		if strings.HasPrefix(r.String(), "unknown") {
			t.Errorf("%d: %s", r, r)
		}
	}
	if Result(42).String() != "unknown x402 result 42" {
		t.Errorf("42: %s", Result(42))
	}
	if !strings.HasPrefix(Version(), "paywire-ffi ") {
		t.Errorf("version %q", Version())
	}
}

// Outputs larger than the first guess grow the buffer.
func TestLargeOutputs(t *testing.T) {
	desc := strings.Repeat("é", 5000)
	pr := `{"x402Version":2,"resource":{"url":"https://a.example/x","description":"` + desc +
		`"},"accepts":[{"scheme":"exact","network":"eip155:84532","amount":"1","asset":"0x036CbD53842c5426634e7929541eC2318f3dCF7e","payTo":"0x209693Bc6afc0C5328bA36FaF03C514EF312287C","maxTimeoutSeconds":60,"extra":{"name":"USDC","version":"2"}}]}`
	value, err := EncodeHeader(HeaderPaymentRequired, []byte(pr))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := DecodeHeader(HeaderAny, value)
	if err != nil || string(doc) != pr {
		t.Fatalf("round trip: %v", err)
	}
	var key [32]byte
	key[0] = 9
	p, err := CreatePayment([]byte(value), key, time.Now(), nil)
	if err != nil || len(p.Value) < 10000 {
		t.Fatalf("payment of %d bytes: %v", len(p.Value), err)
	}
}
