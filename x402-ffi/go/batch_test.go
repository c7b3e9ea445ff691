package paywire

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// batchDoc reads a file of x402-core/tests/vectors/batch.
func batchDoc(t *testing.T, file string, doc interface{}) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "x402-core", "tests", "vectors", "batch", file))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, doc); err != nil {
		t.Fatal(err)
	}
}

// testKey is RFC 9421's test-key-ed25519 (Appendix B.1.4), from the vectors.
type testKey struct {
	Seed       [32]byte
	X          string
	Thumbprint string
}

func ed25519TestKey(t *testing.T) testKey {
	t.Helper()
	var doc struct {
		Keys map[string]struct {
			D, X, Thumbprint string
		} `json:"keys"`
	}
	batchDoc(t, "rfc9421.json", &doc)
	k, ok := doc.Keys["test-key-ed25519"]
	if !ok {
		t.Fatal("no test-key-ed25519")
	}
	d, err := base64.RawURLEncoding.DecodeString(k.D)
	if err != nil || len(d) != 32 {
		t.Fatalf("d: %v", err)
	}
	var key testKey
	copy(key.Seed[:], d)
	key.X, key.Thumbprint = k.X, k.Thumbprint
	return key
}

func directory(x string) json.RawMessage {
	return json.RawMessage(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + x + `"}]}`)
}

const (
	batchAgent       = "https://agent.example"
	batchURL         = "https://example.com/article"
	batchRequirement = `{"scheme":"batch-settlement","network":"cloudflare:402","amount":"5","asset":"USD","payTo":"merchant","maxTimeoutSeconds":30}`
)

var (
	batchCreated = time.Unix(1750000000, 0)
	batchExpires = time.Unix(1750000060, 0)
	batchNow     = time.Unix(1750000010, 0)
)

// commitment is the PAYMENT-SIGNATURE value committing to batchRequirement,
// with amount in accepted and payAmount in the payload.
func commitment(t *testing.T, amount, payAmount string) string {
	t.Helper()
	accepted := strings.Replace(batchRequirement, `"amount":"5"`, `"amount":"`+amount+`"`, 1)
	v, err := EncodeHeader(HeaderPaymentSignature, []byte(`{"x402Version":2,"resource":{"url":"`+batchURL+
		`"},"accepted":`+accepted+`,"payload":{"amount":"`+payAmount+`","asset":"USD"}}`))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// signedGet signs a GET of url carrying payment and returns the request as the
// server receives it.
func signedGet(t *testing.T, key testKey, url, payment string) (HTTPRequest, SignedRequest) {
	t.Helper()
	host := strings.SplitN(strings.TrimPrefix(url, "https://"), "/", 2)[0]
	req := HTTPRequest{Method: "GET", URL: url, Headers: [][2]string{{"Host", host}, {"PAYMENT-SIGNATURE", payment}}}
	s, err := SignRequest(req, key.Seed, SignParams{
		SignatureAgent: `"` + batchAgent + `"`, Created: batchCreated, Expires: batchExpires, Nonce: "go-test-1",
	})
	if err != nil {
		t.Fatal(err)
	}
	req.Headers = append(req.Headers, s.Headers()...)
	return req, s
}

func TestBatchSignThenVerify(t *testing.T) {
	key := ed25519TestKey(t)
	payment := commitment(t, "5", "5")
	req, s := signedGet(t, key, batchURL, payment)
	if s.KeyID != key.Thumbprint || s.SignatureAgent != `"https://agent.example"` {
		t.Fatalf("signed %s", s.JSON)
	}
	want := `sig1=("@authority" "signature-agent" "payment-signature");created=1750000000;expires=1750000060;keyid="` +
		key.Thumbprint + `";alg="ed25519";nonce="go-test-1";tag="web-bot-auth"`
	if s.SignatureInput != want {
		t.Errorf("Signature-Input %s", s.SignatureInput)
	}
	if !strings.HasPrefix(s.Signature, "sig1=:") || !strings.HasSuffix(s.Signature, ":") || len(s.Signature) != 6+88+1 {
		t.Errorf("Signature %s", s.Signature)
	}
	// Ed25519 signing is deterministic.
	if _, again := signedGet(t, key, batchURL, payment); string(again.JSON) != string(s.JSON) {
		t.Errorf("signed twice: %s", again.JSON)
	}

	dirs := map[string]json.RawMessage{batchAgent: directory(key.X)}
	// A 402 that offers an EVM payment first.
	exact := `{"scheme":"exact","network":"eip155:84532","amount":"10000","asset":"0x036CbD53842c5426634e7929541eC2318f3dCF7e","payTo":"0x209693Bc6afc0C5328bA36FaF03C514EF312287C","maxTimeoutSeconds":60,"extra":{"name":"USDC","version":"2"}}`
	offer := `{"x402Version":2,"resource":{"url":"` + batchURL + `"},"accepts":[` + exact + `,` + batchRequirement + `]}`
	for _, requirements := range []string{offer, "[" + batchRequirement + "]", batchRequirement} {
		res, err := VerifyBatchSettlement(req, []byte(requirements), dirs, batchNow)
		if err != nil {
			t.Fatal(err)
		}
		v := res.Verdict
		if !v.IsValid || v.Payer != batchAgent || v.Extra.Scheme != "batch-settlement" || v.Extra.Network != "cloudflare:402" ||
			v.Extra.Amount != "5" || v.Extra.Asset != "USD" || v.Extra.KeyID != key.Thumbprint || v.Extra.Label != "sig1" ||
			v.Extra.Created != 1750000000 || v.Extra.Expires != 1750000060 || v.Extra.ErrorCode != "" {
			t.Fatalf("verdict %s", res.JSON)
		}
		receipt, err := base64.StdEncoding.DecodeString(res.PaymentResponse)
		if err != nil || string(receipt) != `{"success":true,"transaction":"","network":"cloudflare:402","payer":"`+batchAgent+`","amount":"5","asset":"USD","extra":{"timestamp":1750000010}}` {
			t.Fatalf("PAYMENT-RESPONSE %q %v", receipt, err)
		}
	}
}

func TestBatchRefusals(t *testing.T) {
	key := ed25519TestKey(t)
	payment := commitment(t, "5", "5")
	req, _ := signedGet(t, key, batchURL, payment)
	dirs := map[string]json.RawMessage{batchAgent: directory(key.X)}
	offer6 := strings.Replace(batchRequirement, `"amount":"5"`, `"amount":"6"`, 1)
	// A request whose header `name` is replaced by value (removed when "").
	with := func(r HTTPRequest, name, value string) HTTPRequest {
		out := HTTPRequest{Method: r.Method, URL: r.URL}
		for _, h := range r.Headers {
			if h[0] == name {
				if value == "" {
					continue
				}
				h[1] = value
			}
			out.Headers = append(out.Headers, h)
		}
		return out
	}
	wrongHost := with(req, "Host", "example.org")
	wrongHost.URL = "https://example.org/article"
	cheap, _ := signedGet(t, key, batchURL, commitment(t, "5", "4"))
	maxAge := uint64(5)
	cases := []struct {
		name         string
		req          HTTPRequest
		requirements string
		dirs         map[string]json.RawMessage
		now          time.Time
		verifier     *BatchVerifier
		reason, code string
	}{
		{"amount changed after signing", with(req, "PAYMENT-SIGNATURE", commitment(t, "6", "6")), offer6, dirs, batchNow, nil,
			"invalid_batch_settlement_cloudflare_signature", "invalid_signature"},
		{"wrong authority", wrongHost, batchRequirement, dirs, batchNow, nil,
			"invalid_batch_settlement_cloudflare_signature", "invalid_signature"},
		{"expired", req, batchRequirement, dirs, batchExpires.Add(time.Second), nil,
			"invalid_batch_settlement_cloudflare_signature_expired", "invalid_signature"},
		{"created in the future", req, batchRequirement, dirs, batchCreated.Add(-31 * time.Second), nil,
			"invalid_batch_settlement_cloudflare_signature_created", "invalid_signature"},
		{"older than maxAge", req, batchRequirement, dirs, batchNow, &BatchVerifier{MaxAge: &maxAge},
			"invalid_batch_settlement_cloudflare_signature_created", "invalid_signature"},
		{"unknown agent", req, batchRequirement, map[string]json.RawMessage{"https://other.example": directory(key.X)}, batchNow, nil,
			"invalid_batch_settlement_cloudflare_signature_agent_unknown", "signature_agent_unknown"},
		{"no directories", req, batchRequirement, nil, batchNow, nil,
			"invalid_batch_settlement_cloudflare_signature_agent_unknown", "signature_agent_unknown"},
		{"unknown key", req, batchRequirement, map[string]json.RawMessage{batchAgent: directory("xGq6Sl39fNFm1k5gQ8xCNd_3I5ya15riLqevXLDhWu0")}, batchNow, nil,
			"invalid_batch_settlement_cloudflare_key_unknown", "invalid_signature"},
		{"accepted not offered", req, offer6, dirs, batchNow, nil,
			"invalid_batch_settlement_cloudflare_accepted_mismatch", "price_not_acceptable"},
		{"payload amount below accepted", cheap, batchRequirement, dirs, batchNow, nil,
			"invalid_batch_settlement_cloudflare_amount_mismatch", "price_not_acceptable"},
		{"no Signature", with(req, "Signature", ""), batchRequirement, dirs, batchNow, nil,
			"invalid_batch_settlement_cloudflare_signature_malformed", "invalid_signature"},
		{"no payment", with(req, "PAYMENT-SIGNATURE", ""), batchRequirement, dirs, batchNow, nil,
			"invalid_batch_settlement_cloudflare_payment_missing", "blocked"},
	}
	for _, c := range cases {
		c := c
		t.Run(c.name, func(t *testing.T) {
			res, err := c.verifier.VerifyBatchSettlement(c.req, []byte(c.requirements), c.dirs, c.now)
			if err != nil {
				t.Fatal(err)
			}
			v := res.Verdict
			if v.IsValid || v.InvalidReason != c.reason || v.Extra.ErrorCode != c.code || v.InvalidMessage == "" ||
				res.PaymentResponse != "" || v.Extra.Amount != "" {
				t.Fatalf("want %s/%s, got %s", c.reason, c.code, res.JSON)
			}
		})
	}
	// The limits at their edges: 30 s of skew, expires inclusive; a wider maxAge.
	wide := uint64(3600)
	for _, now := range []time.Time{batchCreated.Add(-30 * time.Second), batchExpires} {
		if res, err := VerifyBatchSettlement(req, []byte(batchRequirement), dirs, now); err != nil || !res.Verdict.IsValid {
			t.Errorf("at %v: %s %v", now.Unix(), res.JSON, err)
		}
	}
	if res, err := (&BatchVerifier{MaxAge: &wide}).VerifyBatchSettlement(req, []byte(batchRequirement), dirs, batchNow); err != nil || !res.Verdict.IsValid {
		t.Errorf("maxAge 3600: %s %v", res.JSON, err)
	}
}

// Cloudflare's web-bot-auth signed these requests; the verdicts are x402-core's.
func TestWebBotAuthVectors(t *testing.T) {
	var doc struct {
		Vectors []struct {
			Name    string          `json:"name"`
			JWK     json.RawMessage `json:"jwk"`
			Request HTTPRequest     `json:"request"`
			Offer   json.RawMessage `json:"offer"`
			Now     int64           `json:"now"`
			Expect  struct {
				IsValid       bool   `json:"isValid"`
				InvalidReason string `json:"invalidReason"`
			} `json:"expect"`
		} `json:"vectors"`
	}
	batchDoc(t, "web-bot-auth.json", &doc)
	if len(doc.Vectors) < 26 {
		t.Fatalf("only %d vectors", len(doc.Vectors))
	}
	for _, v := range doc.Vectors {
		v := v
		t.Run(v.Name, func(t *testing.T) {
			// The network's registry knows one agent, whose directory holds the vector's key.
			dirs := map[string]json.RawMessage{batchAgent: json.RawMessage(`{"keys":[` + string(v.JWK) + `]}`)}
			res, err := VerifyBatchSettlement(v.Request, v.Offer, dirs, time.Unix(v.Now, 0))
			if err != nil {
				t.Fatal(err)
			}
			if res.Verdict.IsValid != v.Expect.IsValid || res.Verdict.InvalidReason != v.Expect.InvalidReason ||
				(res.PaymentResponse != "") != v.Expect.IsValid {
				t.Fatalf("want %v/%q, got %s", v.Expect.IsValid, v.Expect.InvalidReason, res.JSON)
			}
		})
	}
}

func TestBatchErrors(t *testing.T) {
	key := ed25519TestKey(t)
	payment := commitment(t, "5", "5")
	req, _ := signedGet(t, key, batchURL, payment)
	dirs := map[string]json.RawMessage{batchAgent: directory(key.X)}
	// Directories the library cannot read are errors, with what is wrong.
	for _, d := range []string{
		`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + key.X + `","d":"secret"}]}`,
		`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"short"}]}`,
		`{"keys":{}}`,
		`[]`,
	} {
		_, err := VerifyBatchSettlement(req, []byte(batchRequirement), map[string]json.RawMessage{batchAgent: json.RawMessage(d)}, batchNow)
		if code(err) != ResultInvalidPayload || err.(*Error).Reason() != "invalid_payload" || !strings.Contains(err.Error(), "director") {
			t.Errorf("directory %s: %v", d, err)
		}
	}
	// Requirements and directories must each be one JSON value.
	for _, bad := range []string{"", "{", `{"a":1},"directories":{}`} {
		if _, err := VerifyBatchSettlement(req, []byte(bad), dirs, batchNow); err == nil || code(err) != ResultOK {
			t.Errorf("requirements %q: %v", bad, err)
		}
		d := map[string]json.RawMessage{"https://x.example": json.RawMessage(bad)}
		if _, err := VerifyBatchSettlement(req, []byte(batchRequirement), d, batchNow); err == nil || code(err) != ResultOK {
			t.Errorf("directory %q: %v", bad, err)
		}
	}
	// Requirements that are JSON but not requirements: an invalid verdict.
	if res, err := VerifyBatchSettlement(req, []byte(`"USD"`), dirs, batchNow); err != nil ||
		res.Verdict.InvalidReason != "invalid_payment_requirements" || res.Verdict.Extra.ErrorCode != "origin_error" {
		t.Errorf("requirements a string: %s %v", res.JSON, err)
	}
	// A request the signer refuses.
	params := SignParams{SignatureAgent: `"` + batchAgent + `"`, Created: batchCreated, Expires: batchExpires}
	noPayment := HTTPRequest{Method: "GET", URL: batchURL}
	for _, c := range []struct {
		req    HTTPRequest
		params SignParams
		says   string
	}{
		{noPayment, params, "PAYMENT-SIGNATURE"},
		{req, SignParams{SignatureAgent: params.SignatureAgent, Created: batchExpires, Expires: batchCreated}, "expires"},
		{req, SignParams{SignatureAgent: params.SignatureAgent, Label: "Sig1", Created: batchCreated, Expires: batchExpires}, "label"},
		{req, SignParams{SignatureAgent: params.SignatureAgent, Nonce: "\x01", Created: batchCreated, Expires: batchExpires}, "nonce"},
		{req, SignParams{SignatureAgent: params.SignatureAgent, SignatureAgentKey: "agent2", Created: batchCreated, Expires: batchExpires}, "Signature-Agent"},
		{req, SignParams{SignatureAgent: "\"https://agent\x01.example\"", Created: batchCreated, Expires: batchExpires}, "Signature-Agent"},
	} {
		_, err := SignRequest(c.req, key.Seed, c.params)
		if code(err) != ResultInvalidPayload || !strings.Contains(err.Error(), c.says) {
			t.Errorf("sign (%s): %v", c.says, err)
		}
	}
}

// A dictionary Signature-Agent, a label, and a long agent URI (outputs larger
// than the first guess).
func TestBatchSignOptions(t *testing.T) {
	key := ed25519TestKey(t)
	agent := "https://agent.example/" + strings.Repeat("a", 1500)
	req := HTTPRequest{Method: "POST", URL: batchURL, Headers: [][2]string{{"PAYMENT-SIGNATURE", commitment(t, "5", "5")}}}
	s, err := SignRequest(req, key.Seed, SignParams{
		SignatureAgent: `agent2="` + agent + `"`, SignatureAgentKey: "agent2", Label: "pay",
		Created: batchCreated, Expires: batchExpires,
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s.SignatureInput, `pay=("@authority" "signature-agent";key="agent2" "payment-signature")`) ||
		!strings.HasPrefix(s.Signature, "pay=:") || len(s.JSON) < 1500 {
		t.Fatalf("signed %s", s.SignatureInput)
	}
	req.Headers = append(req.Headers, s.Headers()...)
	res, err := VerifyBatchSettlement(req, []byte(batchRequirement), map[string]json.RawMessage{agent: directory(key.X)}, batchNow)
	if err != nil || !res.Verdict.IsValid || res.Verdict.Payer != agent || res.Verdict.Extra.Label != "pay" {
		t.Fatalf("verdict %s %v", res.JSON, err)
	}
}
