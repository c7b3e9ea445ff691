/*
 * Tests of the C API (include/paywire.h) against libpaywire.a: every function, with
 * misuse (NULL pointers, short and zero-capacity buffers, garbage, bad
 * arguments), and the shared test vectors flattened by vectors_to_tsv.py.
 *
 *   test_x402 VECTORS.tsv
 *
 * Built and run by scripts/test-ffi.sh, once under AddressSanitizer and
 * UndefinedBehaviorSanitizer and once under valgrind memcheck. Ends with the
 * line "N passed, N failed" (N = checks) and exits non-zero on any failure.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "paywire.h"

static unsigned long checks, failures;

#define CHECK(cond, ...)                                                   \
  do {                                                                     \
    checks++;                                                              \
    if (!(cond)) {                                                         \
      failures++;                                                          \
      fprintf(stderr, "FAIL %s:%d: (%s) ", __FILE__, __LINE__, #cond);     \
      fprintf(stderr, __VA_ARGS__);                                        \
      fputc('\n', stderr);                                                 \
    }                                                                      \
  } while (0)

#define SENTINEL 0xA5
#define BIG 65536

static const uint8_t *u8(const char *s) { return (const uint8_t *)s; }

static int all_sentinel(const uint8_t *buf, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (buf[i] != SENTINEL) return 0;
  return 1;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* "0x" + 2n hex digits into n bytes; 0 on success. */
static int parse_hex(const char *s, uint8_t *out, size_t n) {
  if (strncmp(s, "0x", 2) != 0 || strlen(s) != 2 + 2 * n) return -1;
  for (size_t i = 0; i < n; i++) {
    int hi = hexval(s[2 + 2 * i]), lo = hexval(s[3 + 2 * i]);
    if (hi < 0 || lo < 0) return -1;
    out[i] = (uint8_t)(hi << 4 | lo);
  }
  return 0;
}

/* Reads a result message into a NUL-terminated string (for diagnostics). */
static const char *msg(paywire_result r) {
  static char buf[256];
  size_t n = 0;
  if (paywire_result_message(r, (uint8_t *)buf, sizeof buf - 1, &n) != PAYWIRE_RESULT_OK)
    return "(unknown)";
  buf[n] = 0;
  return buf;
}

/* Copies the invalidReason of a VerifyResponse into `reason` ("-" if none);
 * returns isValid, or -1 if the output is not a VerifyResponse. */
static int parse_verdict(const char *json, size_t len, char *reason, size_t cap) {
  char *s = strndup(json, len);
  int valid = -1;
  if (strncmp(s, "{\"isValid\":true", 15) == 0) valid = 1;
  if (strncmp(s, "{\"isValid\":false", 16) == 0) valid = 0;
  snprintf(reason, cap, "-");
  const char *k = strstr(s, "\"invalidReason\":\"");
  if (k) {
    k += strlen("\"invalidReason\":\"");
    const char *e = strchr(k, '"');
    if (e) snprintf(reason, cap, "%.*s", (int)(e - k), k);
  }
  free(s);
  return valid;
}

/* ------------------------------------------------------------------------ */
/* version, result messages, header names                                    */

static void test_version(void) {
  uint8_t buf[64];
  size_t n = 0;
  CHECK(paywire_version(buf, sizeof buf, &n) == PAYWIRE_RESULT_OK, "version");
  CHECK(n > 12 && memcmp(buf, "paywire-ffi ", 12) == 0, "version text %.*s", (int)n, buf);
  size_t need = 0;
  CHECK(paywire_version(NULL, 0, &need) == PAYWIRE_RESULT_INSUFFICIENT_SIZE && need == n,
        "size query gives %zu", need);
  memset(buf, SENTINEL, sizeof buf);
  size_t m = 0;
  CHECK(paywire_version(buf, n - 1, &m) == PAYWIRE_RESULT_INSUFFICIENT_SIZE && m == n, "short");
  CHECK(all_sentinel(buf, sizeof buf), "nothing written on failure");
  CHECK(paywire_version(buf, sizeof buf, NULL) == PAYWIRE_RESULT_NULL_PARAMETER, "NULL out_len");
  CHECK(paywire_version(NULL, 8, &m) == PAYWIRE_RESULT_NULL_PARAMETER, "NULL out, cap 8");
}

static void test_result_message(void) {
  const uint32_t codes[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 100, 101, 102, 103, 104};
  uint8_t buf[256];
  for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
    size_t n = 0;
    CHECK(paywire_result_message(codes[i], buf, sizeof buf, &n) == PAYWIRE_RESULT_OK && n > 0,
          "message of %u", codes[i]);
  }
  size_t n = 0;
  paywire_result_message(PAYWIRE_RESULT_INVALID_PAYLOAD, buf, sizeof buf, &n);
  CHECK(n >= 15 && memcmp(buf, "invalid_payload", 15) == 0, "reason-named message");
  for (uint32_t bad = 10; bad < 100; bad += 17)
    CHECK(paywire_result_message(bad, buf, sizeof buf, &n) == PAYWIRE_RESULT_INVALID_ARGUMENT,
          "unknown code %u", bad);
  CHECK(paywire_result_message(105, buf, sizeof buf, &n) == PAYWIRE_RESULT_INVALID_ARGUMENT, "105");
  CHECK(paywire_result_message(0xffffffffu, buf, sizeof buf, &n) == PAYWIRE_RESULT_INVALID_ARGUMENT,
        "max");
  size_t need = 0;
  CHECK(paywire_result_message(PAYWIRE_RESULT_OK, NULL, 0, &need) == PAYWIRE_RESULT_INSUFFICIENT_SIZE &&
            need == 7,
        "size of \"success\": %zu", need);
  CHECK(paywire_result_message(PAYWIRE_RESULT_OK, buf, sizeof buf, NULL) == PAYWIRE_RESULT_NULL_PARAMETER,
        "NULL out_len");
}

static void test_header_names(void) {
  static const char *names[] = {"PAYMENT-REQUIRED", "PAYMENT-SIGNATURE", "PAYMENT-RESPONSE",
                                "X-PAYMENT", "X-PAYMENT-RESPONSE"};
  for (uint32_t k = 1; k <= 5; k++) {
    uint8_t buf[32];
    size_t n = 0;
    CHECK(paywire_header_name(k, buf, sizeof buf, &n) == PAYWIRE_RESULT_OK, "name of %u", k);
    CHECK(n == strlen(names[k - 1]) && memcmp(buf, names[k - 1], n) == 0, "name %u", k);
    uint32_t kind = 99;
    CHECK(paywire_header_kind_from_name(names[k - 1], strlen(names[k - 1]), &kind) ==
                  PAYWIRE_RESULT_OK &&
              kind == k,
          "kind of %s", names[k - 1]);
  }
  uint32_t kind = 77;
  CHECK(paywire_header_kind_from_name("payment-signature", 17, &kind) == PAYWIRE_RESULT_OK &&
            kind == PAYWIRE_HEADER_KIND_PAYMENT_SIGNATURE,
        "case-insensitive");
  kind = 77;
  CHECK(paywire_header_kind_from_name("PAYMENT", 7, &kind) == PAYWIRE_RESULT_INVALID_ARGUMENT &&
            kind == 77,
        "unknown name leaves *kind");
  CHECK(paywire_header_kind_from_name("", 0, &kind) == PAYWIRE_RESULT_INVALID_ARGUMENT, "empty");
  CHECK(paywire_header_kind_from_name("\xff\xfe", 2, &kind) == PAYWIRE_RESULT_INVALID_UTF8, "utf8");
  CHECK(paywire_header_kind_from_name(NULL, 3, &kind) == PAYWIRE_RESULT_NULL_PARAMETER, "NULL name");
  CHECK(paywire_header_kind_from_name("X-PAYMENT", 9, NULL) == PAYWIRE_RESULT_NULL_PARAMETER,
        "NULL kind");
  uint8_t buf[32];
  size_t n = 0;
  CHECK(paywire_header_name(PAYWIRE_HEADER_KIND_ANY, buf, sizeof buf, &n) ==
            PAYWIRE_RESULT_INVALID_ARGUMENT,
        "ANY has no name");
  CHECK(paywire_header_name(6, buf, sizeof buf, &n) == PAYWIRE_RESULT_INVALID_ARGUMENT, "6");
  CHECK(paywire_header_name(1, buf, 3, &n) == PAYWIRE_RESULT_INSUFFICIENT_SIZE && n == 16, "short");
}

/* ------------------------------------------------------------------------ */
/* verify                                                                     */

static const char *VALID_V2_BODY = NULL; /* set from the first valid vector */
static uint64_t VALID_V2_NOW = 0;

static void test_verify_misuse(void) {
  uint8_t out[BIG];
  size_t n = 0;
  char reason[128];
  /* Garbage is an invalid payment, not an error. */
  const char *garbage[] = {"", "{}", "[]", "null", "{\"x402Version\":2}", "\x01\x02\xff",
                           "{\"x402Version\":2,\"x402Version\":2}", "{\"a\":1} x"};
  const char *reasons[] = {"invalid_payload", "invalid_x402_version", "invalid_payload",
                           "invalid_payload", "invalid_payload", "invalid_payload",
                           "invalid_payload", "invalid_payload"};
  for (size_t i = 0; i < sizeof garbage / sizeof garbage[0]; i++) {
    paywire_result r = paywire_verify(u8(garbage[i]), strlen(garbage[i]), 1750000000, out, sizeof out, &n);
    CHECK(r == PAYWIRE_RESULT_OK, "garbage %zu: %s", i, msg(r));
    CHECK(parse_verdict((char *)out, n, reason, sizeof reason) == 0, "garbage %zu invalid", i);
    (void)reasons;
  }
  CHECK(paywire_verify(u8("{}"), 2, 0, out, sizeof out, &n) == PAYWIRE_RESULT_OK, "{}");
  CHECK(parse_verdict((char *)out, n, reason, sizeof reason) == 0 &&
            strcmp(reason, "invalid_x402_version") == 0,
        "{} gives %s", reason);
  /* Zero-length input with a valid pointer. */
  CHECK(paywire_verify(u8(""), 0, 0, out, sizeof out, &n) == PAYWIRE_RESULT_OK, "empty");
  /* NULLs. */
  CHECK(paywire_verify(NULL, 0, 0, out, sizeof out, &n) == PAYWIRE_RESULT_NULL_PARAMETER, "NULL req");
  CHECK(paywire_verify(u8("{}"), 2, 0, out, sizeof out, NULL) == PAYWIRE_RESULT_NULL_PARAMETER,
        "NULL out_len");
  CHECK(paywire_verify(u8("{}"), 2, 0, NULL, 10, &n) == PAYWIRE_RESULT_NULL_PARAMETER, "NULL out");
  /* Length above PTRDIFF_MAX. */
  CHECK(paywire_verify(u8("{}"), SIZE_MAX, 0, out, sizeof out, &n) == PAYWIRE_RESULT_INVALID_ARGUMENT,
        "huge length");
  /* Short buffers: size query, then one byte short, then exact. */
  size_t need = 0;
  CHECK(paywire_verify(u8("{}"), 2, 0, NULL, 0, &need) == PAYWIRE_RESULT_INSUFFICIENT_SIZE && need > 0,
        "size query");
  memset(out, SENTINEL, sizeof out);
  size_t m = 0;
  CHECK(paywire_verify(u8("{}"), 2, 0, out, need - 1, &m) == PAYWIRE_RESULT_INSUFFICIENT_SIZE &&
            m == need && all_sentinel(out, sizeof out),
        "short buffer untouched");
  CHECK(paywire_verify(u8("{}"), 2, 0, out, need, &m) == PAYWIRE_RESULT_OK && m == need, "exact");

  /* Config. */
  char err[256];
  const char *bad_configs[] = {"", "[]", "{\"facilitatorAddresses\":\"x\"}",
                               "{\"facilitatorAddresses\":[\"0x12\"]}", "{\"other\":[]}"};
  for (size_t i = 0; i < sizeof bad_configs / sizeof bad_configs[0]; i++) {
    memset(out, SENTINEL, 64);
    err[0] = 0;
    paywire_result r = paywire_verify_with_config(u8("{}"), 2, 0, u8(bad_configs[i]),
                                            strlen(bad_configs[i]), out, sizeof out, &n, err,
                                            sizeof err, NULL, 0);
    CHECK(r == PAYWIRE_RESULT_INVALID_CONFIG, "config %zu: %s", i, msg(r));
    CHECK(strlen(err) > 0 && strstr(err, "verifier config") == err, "config message: %s", err);
    CHECK(all_sentinel(out, 64), "no output on failure");
  }
  CHECK(paywire_verify_with_config(u8("{}"), 2, 0, NULL, 0, out, sizeof out, &n, NULL, 0, NULL, 0) ==
            PAYWIRE_RESULT_OK,
        "NULL config is no config");
  CHECK(paywire_verify_with_config(u8("{}"), 2, 0, u8("{}"), 2, out, sizeof out, &n, err, 0, NULL, 0) ==
            PAYWIRE_RESULT_OK,
        "empty config");
  /* err_cap of 1 gets only the NUL; err_cap 0 is untouched. */
  err[0] = 'x';
  err[1] = 'y';
  CHECK(paywire_verify_with_config(u8("{}"), 2, 0, u8("["), 1, out, sizeof out, &n, err, 1, NULL, 0) ==
                PAYWIRE_RESULT_INVALID_CONFIG &&
            err[0] == 0 && err[1] == 'y',
        "err_cap 1");
  err[0] = 'x';
  CHECK(paywire_verify_with_config(u8("{}"), 2, 0, u8("["), 1, out, sizeof out, &n, err, 0, NULL, 0) ==
                PAYWIRE_RESULT_INVALID_CONFIG &&
            err[0] == 'x',
        "err_cap 0");
  /* A truncated message stays within err_cap. */
  memset(err, SENTINEL, sizeof err);
  paywire_verify_with_config(u8("{}"), 2, 0, u8("["), 1, out, sizeof out, &n, err, 8, NULL, 0);
  CHECK(strlen(err) == 7 && (uint8_t)err[8] == SENTINEL, "truncated to 7 + NUL");

  /* verify_header misuse. */
  const char *req = "{\"scheme\":\"exact\"}";
  CHECK(paywire_verify_header("bm90IGpzb24=", 12, u8(req), strlen(req), 0, NULL, 0, out, sizeof out,
                           &n, err, sizeof err, NULL, 0) == PAYWIRE_RESULT_OK,
        "not JSON header is a verdict");
  CHECK(parse_verdict((char *)out, n, reason, sizeof reason) == 0 &&
            strcmp(reason, "invalid_payload") == 0,
        "header verdict %s", reason);
  CHECK(paywire_verify_header("\xff\xfe\xfd\xfc", 4, u8(req), strlen(req), 0, NULL, 0, out,
                           sizeof out, &n, err, sizeof err, NULL, 0) == PAYWIRE_RESULT_OK,
        "non-UTF-8 header is a verdict");
  CHECK(parse_verdict((char *)out, n, reason, sizeof reason) == 0 &&
            strcmp(reason, "invalid_payload") == 0,
        "non-UTF-8 verdict %s", reason);
  CHECK(paywire_verify_header("", 0, u8(""), 0, 0, NULL, 0, out, sizeof out, &n, NULL, 0, NULL, 0) ==
            PAYWIRE_RESULT_OK,
        "empty header and requirements");
  CHECK(paywire_verify_header(NULL, 0, u8(req), 1, 0, NULL, 0, out, sizeof out, &n, NULL, 0, NULL, 0) ==
            PAYWIRE_RESULT_NULL_PARAMETER,
        "NULL header");
  CHECK(paywire_verify_header("", 0, NULL, 0, 0, NULL, 0, out, sizeof out, &n, NULL, 0, NULL, 0) ==
            PAYWIRE_RESULT_NULL_PARAMETER,
        "NULL requirements");
  CHECK(paywire_verify_header("", 0, u8(""), 0, 0, NULL, 0, out, sizeof out, NULL, NULL, 0, NULL, 0) ==
            PAYWIRE_RESULT_NULL_PARAMETER,
        "NULL out_len");
  CHECK(paywire_verify_header("", 0, u8(""), 0, 0, u8("x"), 1, out, sizeof out, &n, err,
                           sizeof err, NULL, 0) == PAYWIRE_RESULT_INVALID_CONFIG,
        "bad config");
}

/* ------------------------------------------------------------------------ */
/* headers                                                                    */

static void test_header_misuse(void) {
  uint8_t out[BIG];
  size_t n = 0;
  char err[256];
  const char *pr = "{\"x402Version\":2,\"resource\":{\"url\":\"https://a.example/x\"},\"accepts\":[]}";
  CHECK(paywire_encode_header(PAYWIRE_HEADER_KIND_PAYMENT_REQUIRED, u8(pr), strlen(pr), out, sizeof out,
                           &n, err, sizeof err, NULL, 0) == PAYWIRE_RESULT_OK,
        "encode PR: %s", err);
  char value[512];
  snprintf(value, sizeof value, "%.*s", (int)n, (char *)out);
  size_t vlen = n;
  CHECK(paywire_decode_header(PAYWIRE_HEADER_KIND_PAYMENT_REQUIRED, value, vlen, out, sizeof out, &n, err,
                           sizeof err, NULL, 0) == PAYWIRE_RESULT_OK &&
            n == strlen(pr) && memcmp(out, pr, n) == 0,
        "round trip");
  CHECK(paywire_decode_header(PAYWIRE_HEADER_KIND_ANY, value, vlen, out, sizeof out, &n, err,
                           sizeof err, NULL, 0) == PAYWIRE_RESULT_OK &&
            n == strlen(pr),
        "decode any");
  /* Surrounding whitespace is allowed, as in HTTP. */
  char padded[520];
  snprintf(padded, sizeof padded, " \t%s ", value);
  CHECK(paywire_decode_header(1, padded, strlen(padded), out, sizeof out, &n, NULL, 0, NULL, 0) ==
            PAYWIRE_RESULT_OK,
        "OWS");
  /* Wrong kind for the document. */
  paywire_result r = paywire_decode_header(PAYWIRE_HEADER_KIND_PAYMENT_SIGNATURE, value, vlen, out,
                                     sizeof out, &n, err, sizeof err, NULL, 0);
  CHECK(r != PAYWIRE_RESULT_OK && r >= 100, "PR as a payment: %s", msg(r));
  CHECK(strlen(err) > 0, "message");
  /* Garbage. */
  const char *bad[] = {"", "!!!!", "Zg", "Zh==", "e30=" /* {} */, "bnVsbA==" /* null */};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    for (uint32_t k = 0; k <= 5; k++) {
      memset(out, SENTINEL, 64);
      err[0] = 0;
      r = paywire_decode_header(k, bad[i], strlen(bad[i]), out, sizeof out, &n, err, sizeof err, NULL, 0);
      CHECK(r >= 100, "garbage %zu kind %u: %s", i, k, msg(r));
      CHECK(err[0] != 0 && all_sentinel(out, 64), "garbage %zu kind %u output", i, k);
    }
  }
  CHECK(paywire_decode_header(1, "\xc3\x28", 2, out, sizeof out, &n, err, sizeof err, NULL, 0) ==
            PAYWIRE_RESULT_INVALID_UTF8,
        "not UTF-8");
  CHECK(paywire_decode_header(6, value, vlen, out, sizeof out, &n, err, sizeof err, NULL, 0) ==
            PAYWIRE_RESULT_INVALID_ARGUMENT,
        "kind 6");
  CHECK(paywire_decode_header(1, NULL, 0, out, sizeof out, &n, NULL, 0, NULL, 0) ==
            PAYWIRE_RESULT_NULL_PARAMETER,
        "NULL value");
  CHECK(paywire_decode_header(1, value, vlen, out, sizeof out, NULL, NULL, 0, NULL, 0) ==
            PAYWIRE_RESULT_NULL_PARAMETER,
        "NULL out_len");
  size_t need = 0;
  CHECK(paywire_decode_header(1, value, vlen, NULL, 0, &need, NULL, 0, NULL, 0) ==
                PAYWIRE_RESULT_INSUFFICIENT_SIZE &&
            need == strlen(pr),
        "size query");
  memset(out, SENTINEL, sizeof out);
  CHECK(paywire_decode_header(1, value, vlen, out, need - 1, &n, NULL, 0, NULL, 0) ==
                PAYWIRE_RESULT_INSUFFICIENT_SIZE &&
            n == need && all_sentinel(out, sizeof out),
        "short");

  /* Encoding. */
  CHECK(paywire_encode_header(PAYWIRE_HEADER_KIND_ANY, u8(pr), strlen(pr), out, sizeof out, &n, err,
                           sizeof err, NULL, 0) == PAYWIRE_RESULT_INVALID_ARGUMENT,
        "encode ANY");
  CHECK(paywire_encode_header(99, u8(pr), strlen(pr), out, sizeof out, &n, err, sizeof err, NULL, 0) ==
            PAYWIRE_RESULT_INVALID_ARGUMENT,
        "encode 99");
  CHECK(paywire_encode_header(1, u8("{"), 1, out, sizeof out, &n, err, sizeof err, NULL, 0) ==
            PAYWIRE_RESULT_INVALID_PAYMENT_REQUIREMENTS,
        "encode garbage: %s", err);
  CHECK(paywire_encode_header(1, u8("{\"x402Version\":3}"), 17, out, sizeof out, &n, err,
                           sizeof err, NULL, 0) == PAYWIRE_RESULT_INVALID_X402_VERSION,
        "version 3: %s", err);
  CHECK(paywire_encode_header(3, u8("{\"success\":true}"), 16, out, sizeof out, &n, err,
                           sizeof err, NULL, 0) == PAYWIRE_RESULT_INVALID_RESPONSE,
        "response missing fields: %s", err);
  const char *sr = "{\"success\":true,\"transaction\":\"0xab\",\"network\":\"eip155:08453\"}";
  CHECK(paywire_encode_header(3, u8(sr), strlen(sr), out, sizeof out, &n, err, sizeof err, NULL, 0) ==
            PAYWIRE_RESULT_INVALID_NETWORK,
        "bad network: %s", err);
  CHECK(paywire_encode_header(1, NULL, 0, out, sizeof out, &n, NULL, 0, NULL, 0) ==
            PAYWIRE_RESULT_NULL_PARAMETER,
        "NULL json");
  need = 0;
  CHECK(paywire_encode_header(1, u8(pr), strlen(pr), NULL, 0, &need, NULL, 0, NULL, 0) ==
                PAYWIRE_RESULT_INSUFFICIENT_SIZE &&
            need == vlen,
        "encode size query");
}

/* ------------------------------------------------------------------------ */
/* payments, digests, keys                                                    */

static const char *PR_JSON =
    "{\"x402Version\":2,\"resource\":{\"url\":\"https://api.example.com/data\"},\"accepts\":[{"
    "\"scheme\":\"exact\",\"network\":\"eip155:84532\",\"amount\":\"10000\",\"asset\":"
    "\"0x036CbD53842c5426634e7929541eC2318f3dCF7e\",\"payTo\":"
    "\"0x209693Bc6afc0C5328bA36FaF03C514EF312287C\",\"maxTimeoutSeconds\":60,\"extra\":{"
    "\"name\":\"USDC\",\"version\":\"2\"}}]}";
static const char *PR_REQUIREMENTS =
    "{\"scheme\":\"exact\",\"network\":\"eip155:84532\",\"amount\":\"10000\",\"asset\":"
    "\"0x036CbD53842c5426634e7929541eC2318f3dCF7e\",\"payTo\":"
    "\"0x209693Bc6afc0C5328bA36FaF03C514EF312287C\",\"maxTimeoutSeconds\":60,\"extra\":{"
    "\"name\":\"USDC\",\"version\":\"2\"}}";

static void test_create_payment(void) {
  uint8_t key[32], nonce[32], zero[32] = {0}, order[32];
  memset(key, 0x11, sizeof key);
  memset(nonce, 0x22, sizeof nonce);
  memset(order, 0xff, sizeof order); /* above the group order */
  uint8_t out[BIG];
  size_t n = 0;
  char err[256];
  paywire_payment_info info;
  memset(&info, SENTINEL, sizeof info);
  uint64_t now = 1750000000;
  paywire_result r = paywire_create_payment(u8(PR_JSON), strlen(PR_JSON), key, nonce, now, NULL, 0,
                                      &info, out, sizeof out, &n, err, sizeof err, NULL, 0);
  CHECK(r == PAYWIRE_RESULT_OK, "create: %s %s", msg(r), err);
  CHECK(info.header_kind == PAYWIRE_HEADER_KIND_PAYMENT_SIGNATURE && info.accepts_index == 0,
        "info %u %u", info.header_kind, info.accepts_index);
  uint8_t addr[64];
  size_t alen = 0;
  CHECK(paywire_private_key_address(key, addr, sizeof addr, &alen) == PAYWIRE_RESULT_OK && alen == 42,
        "address");
  CHECK(strlen(info.payer) == 42 && memcmp(info.payer, addr, 42) == 0, "payer %s", info.payer);
  /* Deterministic: the same inputs give the same header. */
  uint8_t again[BIG];
  size_t n2 = 0;
  CHECK(paywire_create_payment(u8(PR_JSON), strlen(PR_JSON), key, nonce, now, NULL, 0, NULL, again,
                            sizeof again, &n2, NULL, 0, NULL, 0) == PAYWIRE_RESULT_OK &&
            n2 == n && memcmp(out, again, n) == 0,
        "deterministic, info may be NULL");
  /* It verifies. */
  uint8_t verdict[4096];
  size_t vn = 0;
  char reason[128];
  CHECK(paywire_verify_header((char *)out, n, u8(PR_REQUIREMENTS), strlen(PR_REQUIREMENTS), now, NULL,
                           0, verdict, sizeof verdict, &vn, NULL, 0, NULL, 0) == PAYWIRE_RESULT_OK,
        "verify created");
  CHECK(parse_verdict((char *)verdict, vn, reason, sizeof reason) == 1, "created is valid: %.*s",
        (int)vn, verdict);
  /* ... but not 10 minutes later (maxTimeoutSeconds is 60). */
  paywire_verify_header((char *)out, n, u8(PR_REQUIREMENTS), strlen(PR_REQUIREMENTS), now + 600,
                     NULL, 0, verdict, sizeof verdict, &vn, NULL, 0, NULL, 0);
  CHECK(parse_verdict((char *)verdict, vn, reason, sizeof reason) == 0 &&
            strcmp(reason, "invalid_exact_evm_payload_authorization_valid_before") == 0,
        "expired: %s", reason);
  /* From the PAYMENT-REQUIRED header value too. */
  uint8_t prh[4096];
  size_t prn = 0;
  CHECK(paywire_encode_header(1, u8(PR_JSON), strlen(PR_JSON), prh, sizeof prh, &prn, NULL, 0, NULL, 0) ==
            PAYWIRE_RESULT_OK,
        "encode PR");
  CHECK(paywire_create_payment(prh, prn, key, nonce, now, NULL, 0, NULL, again, sizeof again, &n2,
                            NULL, 0, NULL, 0) == PAYWIRE_RESULT_OK &&
            n2 == n && memcmp(out, again, n) == 0,
        "from the header value");

  /* Policies. */
  const char *ok_policy = "{\"maxAmount\":\"10000\",\"networks\":[\"base-sepolia\"]}";
  CHECK(paywire_create_payment(u8(PR_JSON), strlen(PR_JSON), key, nonce, now, u8(ok_policy),
                            strlen(ok_policy), NULL, again, sizeof again, &n2, err,
                            sizeof err, NULL, 0) == PAYWIRE_RESULT_OK,
        "allowed: %s", err);
  const char *cheap = "{\"maxAmount\":\"9999\"}";
  memset(again, SENTINEL, 64);
  memset(&info, SENTINEL, sizeof info);
  r = paywire_create_payment(u8(PR_JSON), strlen(PR_JSON), key, nonce, now, u8(cheap),
                          strlen(cheap), &info, again, sizeof again, &n2, err, sizeof err, NULL, 0);
  CHECK(r == PAYWIRE_RESULT_INVALID_PAYMENT_REQUIREMENTS, "over the max: %s", msg(r));
  CHECK(strstr(err, "maximum") != NULL, "says why: %s", err);
  CHECK(all_sentinel(again, 64) && all_sentinel((uint8_t *)&info, sizeof info),
        "nothing written");
  const char *bad_policies[] = {"", "{\"maxAmount\":10}", "{\"maxAmount\":\"-1\"}",
                                "{\"networks\":[\"EIP155:1\"]}", "{\"max\":\"1\"}",
                                "{\"allowUpto\":1}"};
  for (size_t i = 0; i < sizeof bad_policies / sizeof bad_policies[0]; i++) {
    err[0] = 0;
    r = paywire_create_payment(u8(PR_JSON), strlen(PR_JSON), key, nonce, now, u8(bad_policies[i]),
                            strlen(bad_policies[i]), NULL, again, sizeof again, &n2, err,
                            sizeof err, NULL, 0);
    CHECK(r == PAYWIRE_RESULT_INVALID_POLICY && strstr(err, "payment policy") == err,
          "policy %zu: %s %s", i, msg(r), err);
  }
  /* Keys. */
  CHECK(paywire_create_payment(u8(PR_JSON), strlen(PR_JSON), zero, nonce, now, NULL, 0, NULL, again,
                            sizeof again, &n2, err, sizeof err, NULL, 0) == PAYWIRE_RESULT_INVALID_PRIVATE_KEY,
        "zero key");
  CHECK(paywire_create_payment(u8(PR_JSON), strlen(PR_JSON), order, nonce, now, NULL, 0, NULL, again,
                            sizeof again, &n2, err, sizeof err, NULL, 0) == PAYWIRE_RESULT_INVALID_PRIVATE_KEY,
        "key above the order");
  /* Garbage PaymentRequired. */
  const char *bad_pr[] = {"", "{", "{}", "!!!!", "e30=", "{\"x402Version\":2,\"accepts\":[]}"};
  for (size_t i = 0; i < sizeof bad_pr / sizeof bad_pr[0]; i++) {
    r = paywire_create_payment(u8(bad_pr[i]), strlen(bad_pr[i]), key, nonce, now, NULL, 0, NULL,
                            again, sizeof again, &n2, err, sizeof err, NULL, 0);
    CHECK(r >= 100, "bad PR %zu: %s", i, msg(r));
  }
  /* NULLs and short buffers. */
  CHECK(paywire_create_payment(NULL, 0, key, nonce, now, NULL, 0, NULL, again, sizeof again, &n2,
                            NULL, 0, NULL, 0) == PAYWIRE_RESULT_NULL_PARAMETER,
        "NULL PR");
  CHECK(paywire_create_payment(u8(PR_JSON), strlen(PR_JSON), NULL, nonce, now, NULL, 0, NULL, again,
                            sizeof again, &n2, NULL, 0, NULL, 0) == PAYWIRE_RESULT_NULL_PARAMETER,
        "NULL key");
  CHECK(paywire_create_payment(u8(PR_JSON), strlen(PR_JSON), key, NULL, now, NULL, 0, NULL, again,
                            sizeof again, &n2, NULL, 0, NULL, 0) == PAYWIRE_RESULT_NULL_PARAMETER,
        "NULL nonce");
  CHECK(paywire_create_payment(u8(PR_JSON), strlen(PR_JSON), key, nonce, now, NULL, 0, NULL, again,
                            sizeof again, NULL, NULL, 0, NULL, 0) == PAYWIRE_RESULT_NULL_PARAMETER,
        "NULL out_len");
  size_t need = 0;
  CHECK(paywire_create_payment(u8(PR_JSON), strlen(PR_JSON), key, nonce, now, NULL, 0, &info, NULL,
                            0, &need, NULL, 0, NULL, 0) == PAYWIRE_RESULT_INSUFFICIENT_SIZE &&
            need == n,
        "size query %zu vs %zu", need, n);
  memset(again, SENTINEL, sizeof again);
  memset(&info, SENTINEL, sizeof info);
  CHECK(paywire_create_payment(u8(PR_JSON), strlen(PR_JSON), key, nonce, now, NULL, 0, &info, again,
                            n - 1, &need, NULL, 0, NULL, 0) == PAYWIRE_RESULT_INSUFFICIENT_SIZE &&
            all_sentinel(again, sizeof again) && all_sentinel((uint8_t *)&info, sizeof info),
        "short: nothing written, info included");
}

/* ------------------------------------------------------------------------ */
/* reasons and sizes known before a call                                      */

static void test_reasons(void) {
  uint8_t out[4096];
  size_t n = 0;
  char err[256], reason[PAYWIRE_REASON_CAP];
  paywire_result r;

  /* A document failure: its code, its description, its reason string. */
  const char *net =
      "{\"x402Version\":2,\"resource\":{\"url\":\"u\"},\"accepts\":[{\"scheme\":\"exact\","
      "\"network\":\"eip155:08453\",\"amount\":\"1\",\"asset\":"
      "\"0x036CbD53842c5426634e7929541eC2318f3dCF7e\",\"payTo\":"
      "\"0x209693Bc6afc0C5328bA36FaF03C514EF312287C\",\"maxTimeoutSeconds\":60}]}";
  memset(reason, SENTINEL, sizeof reason);
  r = paywire_encode_header(PAYWIRE_HEADER_KIND_PAYMENT_REQUIRED, u8(net), strlen(net), out,
                            sizeof out, &n, err, sizeof err, reason, sizeof reason);
  CHECK(r == PAYWIRE_RESULT_INVALID_NETWORK && strcmp(reason, "invalid_network") == 0,
        "network: %s [%s] %s", msg(r), reason, err);
  memset(reason, SENTINEL, sizeof reason);
  r = paywire_decode_header(PAYWIRE_HEADER_KIND_ANY, "!!!!", 4, out, sizeof out, &n, NULL, 0,
                            reason, sizeof reason);
  CHECK(r == PAYWIRE_RESULT_INVALID_PAYLOAD && strcmp(reason, "invalid_payload") == 0,
        "not base64: %s [%s]", msg(r), reason);
  memset(reason, SENTINEL, sizeof reason);
  r = paywire_encode_header(PAYWIRE_HEADER_KIND_PAYMENT_RESPONSE, u8("{}"), 2, out, sizeof out, &n,
                            NULL, 0, reason, sizeof reason);
  CHECK(r == PAYWIRE_RESULT_INVALID_RESPONSE && strcmp(reason, "invalid_response") == 0,
        "response: %s [%s]", msg(r), reason);
  uint8_t key[32], nonce[32];
  memset(key, 0x11, sizeof key);
  memset(nonce, 0x22, sizeof nonce);
  const char *cheap = "{\"maxAmount\":\"9999\"}";
  memset(reason, SENTINEL, sizeof reason);
  r = paywire_create_payment(u8(PR_JSON), strlen(PR_JSON), key, nonce, 1750000000, u8(cheap),
                             strlen(cheap), NULL, out, sizeof out, &n, err, sizeof err, reason,
                             sizeof reason);
  CHECK(r == PAYWIRE_RESULT_INVALID_PAYMENT_REQUIREMENTS &&
            strcmp(reason, "invalid_payment_requirements") == 0 && strstr(err, "maximum") != NULL,
        "nothing payable: %s [%s] %s", msg(r), reason, err);
  memset(reason, SENTINEL, sizeof reason);
  r = paywire_typed_data_digest(u8("{}"), 2, out, NULL, 0, reason, sizeof reason);
  CHECK(r == PAYWIRE_RESULT_INVALID_PAYLOAD && strcmp(reason, "invalid_payload") == 0,
        "typed data: %s [%s]", msg(r), reason);

  /* Failures that are not about a document have no reason: the empty string. */
  memset(reason, SENTINEL, sizeof reason);
  r = paywire_verify_with_config(u8("{}"), 2, 0, u8("["), 1, out, sizeof out, &n, err, sizeof err,
                                 reason, sizeof reason);
  CHECK(r == PAYWIRE_RESULT_INVALID_CONFIG && reason[0] == 0, "config: %s", msg(r));
  memset(reason, SENTINEL, sizeof reason);
  r = paywire_decode_header(PAYWIRE_HEADER_KIND_ANY, NULL, 0, out, sizeof out, &n, NULL, 0, reason,
                            sizeof reason);
  CHECK(r == PAYWIRE_RESULT_NULL_PARAMETER && reason[0] == 0, "NULL: %s", msg(r));
  uint8_t digest[32] = {0};
  memset(reason, SENTINEL, sizeof reason);
  r = paywire_recover_address(digest, u8("0x12"), 4, out, sizeof out, &n, NULL, 0, reason,
                              sizeof reason);
  CHECK(r == PAYWIRE_RESULT_INVALID_SIGNATURE && reason[0] == 0, "signature: %s", msg(r));
  memset(reason, SENTINEL, sizeof reason);
  r = paywire_encode_header(PAYWIRE_HEADER_KIND_PAYMENT_REQUIRED, u8(PR_JSON), strlen(PR_JSON),
                            out, 4, &n, NULL, 0, reason, sizeof reason);
  CHECK(r == PAYWIRE_RESULT_INSUFFICIENT_SIZE && reason[0] == 0, "short: %s", msg(r));

  /* Success leaves the buffers alone. */
  memset(reason, SENTINEL, sizeof reason);
  memset(err, SENTINEL, sizeof err);
  r = paywire_encode_header(PAYWIRE_HEADER_KIND_PAYMENT_REQUIRED, u8(PR_JSON), strlen(PR_JSON),
                            out, sizeof out, &n, err, sizeof err, reason, sizeof reason);
  CHECK(r == PAYWIRE_RESULT_OK && all_sentinel((uint8_t *)reason, sizeof reason) &&
            all_sentinel((uint8_t *)err, sizeof err),
        "success writes no reason: %s", msg(r));

  /* A buffer too small for the whole reason gets the empty string, never a
   * truncated reason; capacity 0 and NULL get nothing. */
  char small[15]; /* "invalid_network" is 15 bytes, without its NUL */
  memset(small, SENTINEL, sizeof small);
  r = paywire_encode_header(PAYWIRE_HEADER_KIND_PAYMENT_REQUIRED, u8(net), strlen(net), out,
                            sizeof out, &n, NULL, 0, small, sizeof small);
  CHECK(r == PAYWIRE_RESULT_INVALID_NETWORK && small[0] == 0 &&
            all_sentinel((uint8_t *)small + 1, sizeof small - 1),
        "small reason buffer");
  char exact[16];
  r = paywire_encode_header(PAYWIRE_HEADER_KIND_PAYMENT_REQUIRED, u8(net), strlen(net), out,
                            sizeof out, &n, NULL, 0, exact, sizeof exact);
  CHECK(r == PAYWIRE_RESULT_INVALID_NETWORK && strcmp(exact, "invalid_network") == 0,
        "exact reason buffer [%s]", exact);
  memset(reason, SENTINEL, sizeof reason);
  r = paywire_encode_header(PAYWIRE_HEADER_KIND_PAYMENT_REQUIRED, u8(net), strlen(net), out,
                            sizeof out, &n, NULL, 0, reason, 0);
  CHECK(r == PAYWIRE_RESULT_INVALID_NETWORK && all_sentinel((uint8_t *)reason, sizeof reason),
        "capacity 0");
  r = paywire_encode_header(PAYWIRE_HEADER_KIND_PAYMENT_REQUIRED, u8(net), strlen(net), out,
                            sizeof out, &n, NULL, 0, NULL, 64);
  CHECK(r == PAYWIRE_RESULT_INVALID_NETWORK, "NULL reason_buf");

  /* The chain functions report reasons too. */
  paywire_chain *chain = NULL;
  r = paywire_chain_verify_new(u8("{}"), 2, 0, NULL, 0, NULL, 0, &chain, NULL, 0, NULL, 0);
  CHECK(r == PAYWIRE_RESULT_OK && chain != NULL, "chain: %s", msg(r));
  memset(reason, SENTINEL, sizeof reason);
  r = paywire_chain_feed(chain, u8("nope"), 4, NULL, 0, reason, sizeof reason);
  CHECK(r == PAYWIRE_RESULT_INVALID_RESPONSE && strcmp(reason, "invalid_response") == 0,
        "feed: %s [%s]", msg(r), reason);
  paywire_chain_free(chain);
}

static void test_known_sizes(void) {
  /* Every VerifyResponse fits PAYWIRE_VERIFY_RESPONSE_MAX: one call suffices. */
  static uint8_t verdict[PAYWIRE_VERIFY_RESPONSE_MAX];
  size_t n = 0;
  const char *bodies[] = {"{}", "{\"x402Version\":2}", "[", VALID_V2_BODY};
  CHECK(VALID_V2_BODY != NULL, "a valid v2 body from the vectors");
  for (size_t i = 0; i < sizeof bodies / sizeof bodies[0] && bodies[i]; i++) {
    size_t need = 0;
    CHECK(paywire_verify(u8(bodies[i]), strlen(bodies[i]), VALID_V2_NOW, NULL, 0, &need) ==
              PAYWIRE_RESULT_INSUFFICIENT_SIZE,
          "size query %zu", i);
    CHECK(need <= PAYWIRE_VERIFY_RESPONSE_MAX, "bound %zu: %zu", i, need);
    CHECK(paywire_verify(u8(bodies[i]), strlen(bodies[i]), VALID_V2_NOW, verdict, sizeof verdict,
                         &n) == PAYWIRE_RESULT_OK &&
              n == need,
          "one call %zu", i);
  }
  CHECK(n > 15 && memcmp(verdict, "{\"isValid\":true", 15) == 0, "the valid body: %.*s", (int)n,
        verdict);
  /* Addresses are PAYWIRE_ADDRESS_LEN bytes. */
  uint8_t key[32], addr[PAYWIRE_ADDRESS_LEN];
  memset(key, 0x11, sizeof key);
  CHECK(paywire_private_key_address(key, addr, sizeof addr, &n) == PAYWIRE_RESULT_OK &&
            n == PAYWIRE_ADDRESS_LEN,
        "address length %zu", n);
}

static const char *SPEC_DOMAIN =
    "{\"name\":\"USDC\",\"version\":\"2\",\"chainId\":84532,\"verifyingContract\":"
    "\"0x036CbD53842c5426634e7929541eC2318f3dCF7e\"}";
static const char *SPEC_MESSAGE =
    "{\"from\":\"0x857b06519E91e3A54538791bDbb0E22373e36b66\",\"to\":"
    "\"0x209693Bc6afc0C5328bA36FaF03C514EF312287C\",\"value\":\"10000\",\"validAfter\":"
    "\"1740672089\",\"validBefore\":\"1740672154\",\"nonce\":"
    "\"0xf3746613c2d920b5fdabc0856f2aeb2d4f88ee6037b8cc5d04a71a4462f13480\"}";
static const char *SPEC_DIGEST =
    "0xf256992871671abcb27ff92885a7afa46218724e5fc0bac35d050115aa1d22e6";

static void test_digests_misuse(void) {
  uint8_t d[32], want[32];
  char err[256];
  parse_hex(SPEC_DIGEST, want, 32);
  CHECK(paywire_eip3009_digest(u8(SPEC_DOMAIN), strlen(SPEC_DOMAIN), u8(SPEC_MESSAGE),
                            strlen(SPEC_MESSAGE), d, err, sizeof err, NULL, 0) == PAYWIRE_RESULT_OK &&
            memcmp(d, want, 32) == 0,
        "the spec's known answer");
  memset(d, SENTINEL, sizeof d);
  CHECK(paywire_eip3009_digest(u8("{}"), 2, u8(SPEC_MESSAGE), strlen(SPEC_MESSAGE), d, err,
                            sizeof err, NULL, 0) == PAYWIRE_RESULT_INVALID_PAYLOAD &&
            all_sentinel(d, 32) && strstr(err, "domain") != NULL,
        "empty domain: %s", err);
  CHECK(paywire_eip3009_digest(u8(SPEC_DOMAIN), strlen(SPEC_DOMAIN), u8("[1]"), 3, d, err,
                            sizeof err, NULL, 0) == PAYWIRE_RESULT_INVALID_PAYLOAD,
        "array message");
  CHECK(paywire_eip3009_digest(NULL, 0, u8("{}"), 2, d, NULL, 0, NULL, 0) == PAYWIRE_RESULT_NULL_PARAMETER, "1");
  CHECK(paywire_eip3009_digest(u8("{}"), 2, NULL, 0, d, NULL, 0, NULL, 0) == PAYWIRE_RESULT_NULL_PARAMETER, "2");
  CHECK(paywire_eip3009_digest(u8(SPEC_DOMAIN), strlen(SPEC_DOMAIN), u8(SPEC_MESSAGE),
                            strlen(SPEC_MESSAGE), NULL, NULL, 0, NULL, 0) == PAYWIRE_RESULT_NULL_PARAMETER,
        "NULL digest");
  CHECK(paywire_permit2_digest(8453, u8("{}"), 2, d, err, sizeof err, NULL, 0) == PAYWIRE_RESULT_INVALID_PAYLOAD,
        "empty permit: %s", err);
  CHECK(paywire_permit2_digest(8453, NULL, 0, d, NULL, 0, NULL, 0) == PAYWIRE_RESULT_NULL_PARAMETER, "NULL msg");
  CHECK(paywire_permit2_digest(8453, u8("{}"), 2, NULL, NULL, 0, NULL, 0) == PAYWIRE_RESULT_NULL_PARAMETER,
        "NULL out");
  const char *bad_typed[] = {"", "{}", "{\"primaryType\":\"Mail\",\"domain\":{},\"message\":{}}",
                             "\xff"};
  for (size_t i = 0; i < sizeof bad_typed / sizeof bad_typed[0]; i++)
    CHECK(paywire_typed_data_digest(u8(bad_typed[i]), strlen(bad_typed[i]), d, err, sizeof err, NULL, 0) ==
              PAYWIRE_RESULT_INVALID_PAYLOAD,
          "typed data %zu", i);
  CHECK(paywire_typed_data_digest(NULL, 0, d, NULL, 0, NULL, 0) == PAYWIRE_RESULT_NULL_PARAMETER, "NULL typed");
  CHECK(paywire_typed_data_digest(u8("{}"), 2, NULL, NULL, 0, NULL, 0) == PAYWIRE_RESULT_NULL_PARAMETER, "NULL");

  /* Recovery. */
  uint8_t key[32];
  memset(key, 0x33, sizeof key);
  uint8_t addr[64];
  size_t n = 0;
  CHECK(paywire_private_key_address(key, addr, sizeof addr, &n) == PAYWIRE_RESULT_OK && n == 42, "addr");
  CHECK(paywire_private_key_address(key, addr, 41, &n) == PAYWIRE_RESULT_INSUFFICIENT_SIZE && n == 42,
        "short");
  CHECK(paywire_private_key_address(NULL, addr, sizeof addr, &n) == PAYWIRE_RESULT_NULL_PARAMETER, "N");
  uint8_t zero[32] = {0};
  CHECK(paywire_private_key_address(zero, addr, sizeof addr, &n) == PAYWIRE_RESULT_INVALID_PRIVATE_KEY,
        "zero key");
  uint8_t sig[65] = {0};
  CHECK(paywire_recover_address(want, sig, 65, addr, sizeof addr, &n, err, sizeof err, NULL, 0) ==
            PAYWIRE_RESULT_INVALID_SIGNATURE,
        "zero signature: %s", err);
  CHECK(paywire_recover_address(want, sig, 64, addr, sizeof addr, &n, err, sizeof err, NULL, 0) ==
                PAYWIRE_RESULT_INVALID_SIGNATURE &&
            strstr(err, "2098") != NULL,
        "64 bytes: %s", err);
  CHECK(paywire_recover_address(want, u8("0x12"), 4, addr, sizeof addr, &n, err, sizeof err, NULL, 0) ==
            PAYWIRE_RESULT_INVALID_SIGNATURE,
        "short hex");
  CHECK(paywire_recover_address(want, u8("hello"), 5, addr, sizeof addr, &n, err, sizeof err, NULL, 0) ==
            PAYWIRE_RESULT_INVALID_SIGNATURE,
        "not hex");
  CHECK(paywire_recover_address(want, u8("\xff\xfe"), 2, addr, sizeof addr, &n, err, sizeof err, NULL, 0) ==
            PAYWIRE_RESULT_INVALID_SIGNATURE,
        "not UTF-8");
  CHECK(paywire_recover_address(want, u8(""), 0, addr, sizeof addr, &n, err, sizeof err, NULL, 0) ==
            PAYWIRE_RESULT_INVALID_SIGNATURE,
        "empty");
  CHECK(paywire_recover_address(NULL, sig, 65, addr, sizeof addr, &n, NULL, 0, NULL, 0) ==
            PAYWIRE_RESULT_NULL_PARAMETER,
        "NULL digest");
  CHECK(paywire_recover_address(want, NULL, 65, addr, sizeof addr, &n, NULL, 0, NULL, 0) ==
            PAYWIRE_RESULT_NULL_PARAMETER,
        "NULL sig");
  CHECK(paywire_recover_address(want, sig, 65, addr, sizeof addr, NULL, NULL, 0, NULL, 0) ==
            PAYWIRE_RESULT_NULL_PARAMETER,
        "NULL out_len");
}

/* Deterministic garbage through every parser: nothing may crash or leak. */
static void test_garbage(void) {
  uint32_t s = 12345;
  uint8_t in[600], out[4096], d[32];
  size_t n;
  char err[64];
  unsigned long oks = 0;
  const char *prefixes[] = {"{\"x402Version\":2,\"paymentPayload\":", "{\"x402Version\":1,",
                            "eyJ4NDAyVmVyc2lvbiI6Mi", "{\"primaryType\":\"TransferWithAuthorization\""};
  for (int iter = 0; iter < 400; iter++) {
    size_t len = 0;
    const char *p = prefixes[iter % 4];
    memcpy(in, p, strlen(p));
    len = strlen(p);
    size_t extra = (size_t)(iter * 7 % 500);
    for (size_t i = 0; i < extra; i++) {
      s = s * 1103515245u + 12345u;
      uint8_t c = (uint8_t)(s >> 16);
      in[len++] = (iter & 1) ? (uint8_t)(" {}[]:,\"0123abcx\\" [c % 17]) : c;
    }
    uint32_t k = (uint32_t)(iter % 6);
    /* The digest functions write only on success: start from known bytes. */
    memset(d, iter, sizeof d);
    if (paywire_verify(in, len, 1750000000, out, sizeof out, &n) == PAYWIRE_RESULT_OK) oks++;
    paywire_verify_header((char *)in, len, in, len, 1750000000, NULL, 0, out, sizeof out, &n, err,
                       sizeof err, NULL, 0);
    paywire_decode_header(k, (char *)in, len, out, sizeof out, &n, err, sizeof err, NULL, 0);
    paywire_encode_header(k, in, len, out, sizeof out, &n, err, sizeof err, NULL, 0);
    paywire_typed_data_digest(in, len, d, err, sizeof err, NULL, 0);
    paywire_eip3009_digest(in, len, in, len, d, err, sizeof err, NULL, 0);
    paywire_permit2_digest(1, in, len, d, err, sizeof err, NULL, 0);
    paywire_recover_address(d, in, len < 200 ? len : 65, out, sizeof out, &n, err, sizeof err, NULL, 0);
    uint8_t key[32], nonce[32] = {1};
    memcpy(key, in + (len > 32 ? len - 32 : 0), 32);
    paywire_create_payment(in, len, key, nonce, 0, len % 3 ? NULL : in, len, NULL, out, sizeof out,
                        &n, err, sizeof err, NULL, 0);
  }
  CHECK(oks == 400, "paywire_verify answered every garbage body with a verdict (%lu)", oks);
}

/* The API has no global state: the same calls from several threads agree. */
struct thread_arg {
  int ok;
};

static void *verify_in_thread(void *p) {
  struct thread_arg *a = p;
  uint8_t out[4096];
  size_t n = 0;
  char reason[64];
  a->ok = 1;
  for (int i = 0; i < 20; i++) {
    if (paywire_verify(u8(VALID_V2_BODY), strlen(VALID_V2_BODY), VALID_V2_NOW, out, sizeof out, &n) !=
            PAYWIRE_RESULT_OK ||
        parse_verdict((char *)out, n, reason, sizeof reason) != 1)
      a->ok = 0;
  }
  return NULL;
}

static void test_threads(void) {
  if (!VALID_V2_BODY) {
    CHECK(0, "no valid vector for the thread test");
    return;
  }
  pthread_t t[4];
  struct thread_arg a[4];
  for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, verify_in_thread, &a[i]);
  for (int i = 0; i < 4; i++) {
    pthread_join(t[i], NULL);
    CHECK(a[i].ok, "thread %d", i);
  }
}

/* ------------------------------------------------------------------------ */
/* shared vectors                                                             */

#define MAXF 12

static int split(char *line, char **f) {
  int n = 0;
  f[n++] = line;
  for (char *c = line; *c && n < MAXF; c++) {
    if (*c == '\t') {
      *c = 0;
      f[n++] = c + 1;
    }
  }
  return n;
}

/* Calls verify the way a binding does: ask the size, allocate, call again. */
static char *verify_alloc(const char *body, uint64_t now, const char *config, size_t *len) {
  size_t need = 0;
  paywire_result r = paywire_verify_with_config(u8(body), strlen(body), now, u8(config), strlen(config),
                                          NULL, 0, &need, NULL, 0, NULL, 0);
  if (r != PAYWIRE_RESULT_INSUFFICIENT_SIZE) return NULL;
  char *out = malloc(need);
  r = paywire_verify_with_config(u8(body), strlen(body), now, u8(config), strlen(config),
                              (uint8_t *)out, need, len, NULL, 0, NULL, 0);
  if (r != PAYWIRE_RESULT_OK || *len != need) {
    free(out);
    return NULL;
  }
  return out;
}

static unsigned long n_verdicts, n_payments, n_headers, n_eip712, n_batch;

static void vector_verdict(char **f) {
  const char *name = f[1];
  uint64_t now = strtoull(f[2], NULL, 10);
  int stricter = f[3][0] == '1', threw = f[4][0] == '1', want_valid = f[5][0] == '1';
  const char *want_reason = f[6], *config = f[7], *body = f[8];
  size_t n = 0;
  char *out = verify_alloc(body, now, config, &n);
  CHECK(out != NULL, "%s: verify failed", name);
  if (!out) return;
  char reason[128];
  int valid = parse_verdict(out, n, reason, sizeof reason);
  if (stricter) {
    CHECK(valid == 0, "%s: stricter than the reference, expected invalid: %.*s", name, (int)n, out);
  } else if (threw) {
    CHECK(valid == 0 && (strcmp(reason, "invalid_payload") == 0 ||
                         strcmp(reason, "unsupported_scheme") == 0),
          "%s: the reference threw; got %.*s", name, (int)n, out);
  } else {
    CHECK(valid == want_valid && strcmp(reason, want_reason) == 0,
          "%s: expected %d/%s, got %.*s", name, want_valid, want_reason, (int)n, out);
  }
  /* Without a config, only upto verdicts may differ. */
  if (!strstr(body, "\"upto\"")) {
    uint8_t plain[BIG];
    size_t pn = 0;
    CHECK(paywire_verify(u8(body), strlen(body), now, plain, sizeof plain, &pn) == PAYWIRE_RESULT_OK &&
              pn == n && memcmp(plain, out, n) == 0,
          "%s: paywire_verify agrees", name);
  }
  if (valid == 1 && !VALID_V2_BODY && strstr(body, "{\"x402Version\":2") == body &&
      !strstr(body, "\"upto\"")) {
    VALID_V2_BODY = strdup(body);
    VALID_V2_NOW = now;
  }
  free(out);
  n_verdicts++;
}

static void vector_payment(char **f, unsigned idx) {
  const char *name = f[1], *config = f[3], *payer = f[4], *value = f[5], *req = f[6];
  const char *pr = f[7];
  uint64_t now = strtoull(f[2], NULL, 10);
  uint8_t out[BIG];
  size_t n = 0;
  char reason[128], err[256];
  /* The official client's payment verifies here. */
  paywire_result r = paywire_verify_header(value, strlen(value), u8(req), strlen(req), now, u8(config),
                                     strlen(config), out, sizeof out, &n, err, sizeof err, NULL, 0);
  CHECK(r == PAYWIRE_RESULT_OK, "%s: %s", name, msg(r));
  CHECK(parse_verdict((char *)out, n, reason, sizeof reason) == 1, "%s: %.*s", name, (int)n, out);
  char want_payer[64];
  snprintf(want_payer, sizeof want_payer, "\"payer\":\"%s\"", payer);
  out[n < sizeof out ? n : sizeof out - 1] = 0;
  CHECK(strcasestr((char *)out, want_payer) != NULL, "%s: payer %s in %s", name, payer, out);
  /* It decodes under its own header name and under ANY, identically. */
  uint8_t a[BIG], b[BIG];
  size_t an = 0, bn = 0;
  CHECK(paywire_decode_header(PAYWIRE_HEADER_KIND_ANY, value, strlen(value), a, sizeof a, &an, NULL,
                           0, NULL, 0) == PAYWIRE_RESULT_OK,
        "%s: decode any", name);
  uint32_t kind = 0;
  int v1 = strstr(name, "v1") == name;
  kind = v1 ? PAYWIRE_HEADER_KIND_X_PAYMENT : PAYWIRE_HEADER_KIND_PAYMENT_SIGNATURE;
  CHECK(paywire_decode_header(kind, value, strlen(value), b, sizeof b, &bn, NULL, 0, NULL, 0) ==
                PAYWIRE_RESULT_OK &&
            an == bn && memcmp(a, b, an) == 0,
        "%s: decode as %u", name, kind);
  /* A payment created here for the same 402 verifies against the same requirements. */
  uint8_t key[32], nonce[32];
  memset(key, (int)(idx + 1), sizeof key);
  memset(nonce, 0x5a, sizeof nonce);
  nonce[31] = (uint8_t)idx;
  paywire_payment_info info;
  const char *policy = "{\"allowUpto\":true}";
  r = paywire_create_payment(u8(pr), strlen(pr), key, nonce, now, u8(policy), strlen(policy), &info,
                          a, sizeof a, &an, err, sizeof err, NULL, 0);
  CHECK(r == PAYWIRE_RESULT_OK, "%s: create: %s %s", name, msg(r), err);
  if (r != PAYWIRE_RESULT_OK) return;
  CHECK(info.header_kind == kind, "%s: header kind %u", name, info.header_kind);
  r = paywire_verify_header((char *)a, an, u8(req), strlen(req), now, u8(config), strlen(config), b,
                         sizeof b, &bn, NULL, 0, NULL, 0);
  CHECK(r == PAYWIRE_RESULT_OK && parse_verdict((char *)b, bn, reason, sizeof reason) == 1,
        "%s: created here verifies: %.*s", name, (int)bn, b);
  b[bn < sizeof b ? bn : sizeof b - 1] = 0;
  snprintf(want_payer, sizeof want_payer, "\"payer\":\"%s\"", info.payer);
  CHECK(strstr((char *)b, want_payer) != NULL, "%s: our payer", name);
  n_payments++;
}

static void vector_header(char **f) {
  const char *name = f[1], *header_name = f[2], *value = f[3];
  uint32_t kind = 0;
  CHECK(paywire_header_kind_from_name(header_name, strlen(header_name), &kind) == PAYWIRE_RESULT_OK,
        "%s: kind", name);
  uint8_t json[BIG], enc[BIG];
  size_t jn = 0, en = 0;
  char err[256];
  paywire_result r = paywire_decode_header(kind, value, strlen(value), json, sizeof json, &jn, err,
                                     sizeof err, NULL, 0);
  CHECK(r == PAYWIRE_RESULT_OK, "%s: decode: %s %s", name, msg(r), err);
  if (r != PAYWIRE_RESULT_OK) return;
  /* Re-encoding gives the SDK's header value, byte for byte. */
  r = paywire_encode_header(kind, json, jn, enc, sizeof enc, &en, err, sizeof err, NULL, 0);
  CHECK(r == PAYWIRE_RESULT_OK && en == strlen(value) && memcmp(enc, value, en) == 0,
        "%s: encode gives the SDK's value: %s %s", name, msg(r), err);
  n_headers++;
}

static void vector_eip712(char **f) {
  const char *name = f[1], *kind = f[2], *typed = f[4], *domain = f[5], *message = f[6];
  uint64_t chain = strtoull(f[3], NULL, 10);
  uint8_t want[32], got[32], sig[65];
  char err[256];
  CHECK(parse_hex(f[7], want, 32) == 0 && parse_hex(f[8], sig, 65) == 0, "%s: hex", name);
  paywire_result r = paywire_typed_data_digest(u8(typed), strlen(typed), got, err, sizeof err, NULL, 0);
  CHECK(r == PAYWIRE_RESULT_OK && memcmp(got, want, 32) == 0, "%s: typed data %s", name, err);
  memset(got, 0, sizeof got);
  if (strcmp(kind, "eip3009") == 0)
    r = paywire_eip3009_digest(u8(domain), strlen(domain), u8(message), strlen(message), got, err,
                            sizeof err, NULL, 0);
  else
    r = paywire_permit2_digest(chain, u8(message), strlen(message), got, err, sizeof err, NULL, 0);
  CHECK(r == PAYWIRE_RESULT_OK && memcmp(got, want, 32) == 0, "%s: %s digest %s", name, kind, err);
  uint8_t addr[64];
  size_t n = 0;
  r = paywire_recover_address(want, u8(f[8]), strlen(f[8]), addr, sizeof addr, &n, err, sizeof err, NULL, 0);
  CHECK(r == PAYWIRE_RESULT_OK && n == 42 && memcmp(addr, f[9], 42) == 0,
        "%s: recover (hex) %s", name, err);
  r = paywire_recover_address(want, sig, 65, addr, sizeof addr, &n, err, sizeof err, NULL, 0);
  CHECK(r == PAYWIRE_RESULT_OK && n == 42 && memcmp(addr, f[9], 42) == 0, "%s: recover (raw)", name);
  /* Another digest recovers another address. */
  want[0] ^= 1;
  r = paywire_recover_address(want, sig, 65, addr, sizeof addr, &n, err, sizeof err, NULL, 0);
  CHECK(r != PAYWIRE_RESULT_OK || memcmp(addr, f[9], 42) != 0, "%s: tampered digest", name);
  uint8_t key[32];
  CHECK(parse_hex(f[10], key, 32) == 0, "%s: key hex", name);
  CHECK(paywire_private_key_address(key, addr, sizeof addr, &n) == PAYWIRE_RESULT_OK && n == 42 &&
            memcmp(addr, f[9], 42) == 0,
        "%s: key address", name);
  n_eip712++;
}

static unsigned long n_svm;

/* exact on Solana through paywire_verify: the official client's payments are
 * valid (base58 payer, the chain checks owed), mutations refused with the
 * official facilitator's reason. */
static void vector_svm_verdict(char **f) {
  const char *name = f[1], *want_reason = f[3], *payer = f[4], *body = f[5];
  int want_valid = f[2][0] == '1';
  uint8_t out[PAYWIRE_VERIFY_RESPONSE_MAX + 1];
  size_t n = 0;
  char reason[128];
  paywire_result r = paywire_verify(u8(body), strlen(body), 1750000000, out, sizeof out - 1, &n);
  CHECK(r == PAYWIRE_RESULT_OK, "%s: %s", name, msg(r));
  if (r != PAYWIRE_RESULT_OK) return;
  out[n] = 0;
  CHECK(parse_verdict((char *)out, n, reason, sizeof reason) == want_valid, "%s: %s", name, out);
  CHECK(strcmp(reason, want_reason) == 0, "%s: reason %s, want %s", name, reason, want_reason);
  if (strcmp(payer, "-") != 0) {
    char want_payer[96];
    snprintf(want_payer, sizeof want_payer, "\"payer\":\"%s\"", payer);
    CHECK(strstr((char *)out, want_payer) != NULL, "%s: payer %s in %s", name, payer, out);
  }
  if (want_valid)
    CHECK(strstr((char *)out, "{\"check\":\"blockhashRecent\",") != NULL &&
              strstr((char *)out, "{\"check\":\"simulate\"}") != NULL,
          "%s: chain checks in %s", name, out);
  n_svm++;
}

static int parse_hex_bare(const char *s, uint8_t *out, size_t n) {
  if (strlen(s) != 2 * n) return -1;
  for (size_t i = 0; i < n; i++) {
    int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
    if (hi < 0 || lo < 0) return -1;
    out[i] = (uint8_t)(hi << 4 | lo);
  }
  return 0;
}

/* paywire_create_svm_payment makes the official client's transaction, byte
 * for byte, and it verifies. */
static void vector_svm_payment(char **f) {
  const char *name = f[1], *facts = f[4], *pr = f[5], *req = f[6], *tx = f[7];
  uint8_t seed[32], nonce[32];
  CHECK(parse_hex_bare(f[2], seed, 32) == 0 && parse_hex_bare(f[3], nonce, 32) == 0, "%s: hex", name);
  static uint8_t value[BIG], json[BIG], out[BIG];
  size_t vn = 0, jn = 0, on = 0;
  char err[256], reason[PAYWIRE_REASON_CAP];
  paywire_svm_payment_info info;
  memset(&info, SENTINEL, sizeof info);
  /* The length first (out_cap 0), then the value. */
  paywire_result r = paywire_create_svm_payment(u8(pr), strlen(pr), seed, nonce, u8(facts),
                                                strlen(facts), NULL, 0, NULL, NULL, 0, &vn, err,
                                                sizeof err, reason, sizeof reason);
  CHECK(r == PAYWIRE_RESULT_INSUFFICIENT_SIZE && vn > 0, "%s: size: %s", name, msg(r));
  size_t need = vn;
  r = paywire_create_svm_payment(u8(pr), strlen(pr), seed, nonce, u8(facts), strlen(facts), NULL, 0,
                                 &info, value, sizeof value, &vn, err, sizeof err, reason,
                                 sizeof reason);
  CHECK(r == PAYWIRE_RESULT_OK && vn == need, "%s: create: %s %s", name, msg(r), err);
  if (r != PAYWIRE_RESULT_OK) return;
  CHECK(info.accepts_index == 0 && memchr(info.payer, 0, sizeof info.payer) != NULL &&
            strlen(info.payer) >= 32,
        "%s: info", name);
  r = paywire_decode_header(PAYWIRE_HEADER_KIND_PAYMENT_SIGNATURE, (char *)value, vn, json,
                            sizeof json - 1, &jn, NULL, 0, NULL, 0);
  CHECK(r == PAYWIRE_RESULT_OK, "%s: decode", name);
  json[jn] = 0;
  char want_tx[2048];
  snprintf(want_tx, sizeof want_tx, "\"payload\":{\"transaction\":\"%s\"}", tx);
  CHECK(strstr((char *)json, want_tx) != NULL, "%s: the official transaction in %s", name, json);
  r = paywire_verify_header((char *)value, vn, u8(req), strlen(req), 1750000000, NULL, 0, out,
                            sizeof out - 1, &on, NULL, 0, NULL, 0);
  CHECK(r == PAYWIRE_RESULT_OK && parse_verdict((char *)out, on, reason, sizeof reason) == 1,
        "%s: verifies: %.*s", name, (int)on, out);
  out[on] = 0;
  char want_payer[96];
  snprintf(want_payer, sizeof want_payer, "\"payer\":\"%s\"", info.payer);
  CHECK(strstr((char *)out, want_payer) != NULL, "%s: payer %s", name, info.payer);

  /* Misuse: unreadable facts, no blockhash anywhere, an EVM-only policy. */
  const char *bad_facts = "{\"tokenProgram\":\"nope\",\"decimals\":6}";
  r = paywire_create_svm_payment(u8(pr), strlen(pr), seed, nonce, u8(bad_facts), strlen(bad_facts),
                                 NULL, 0, NULL, value, sizeof value, &vn, err, sizeof err, NULL, 0);
  CHECK(r == PAYWIRE_RESULT_INVALID_ARGUMENT && strstr(err, "tokenProgram") != NULL,
        "%s: bad facts: %s %s", name, msg(r), err);
  const char *policy = "{\"assets\":[\"0x036CbD53842c5426634e7929541eC2318f3dCF7e\"]}";
  r = paywire_create_svm_payment(u8(pr), strlen(pr), seed, nonce, u8(facts), strlen(facts),
                                 u8(policy), strlen(policy), NULL, value, sizeof value, &vn, err,
                                 sizeof err, reason, sizeof reason);
  CHECK(r == PAYWIRE_RESULT_INVALID_PAYMENT_REQUIREMENTS &&
            strcmp(reason, "invalid_payment_requirements") == 0,
        "%s: policy: %s %s", name, msg(r), err);
  r = paywire_create_svm_payment(u8(pr), strlen(pr), NULL, nonce, u8(facts), strlen(facts), NULL, 0,
                                 NULL, value, sizeof value, &vn, NULL, 0, NULL, 0);
  CHECK(r == PAYWIRE_RESULT_NULL_PARAMETER, "%s: NULL seed: %s", name, msg(r));
  n_svm++;
}

static void vector_batch_key(char **f);
static void vector_batch(char **f);

/* batch-settlement on EVM (batch-settlement-paywall.json), for the lifecycle:
 * the route, the payer, the channel, and the payments by name. */
#define EVM_BATCH_MAX 8
static char EVM_BATCH_ROUTE[4096], EVM_BATCH_PAYER[64], EVM_BATCH_CHANNEL[80];
static char *evm_batch_names[EVM_BATCH_MAX], *evm_batch_headers[EVM_BATCH_MAX];
static int n_evm_batch;

static void vector_evm_batch(char **f) {
  if (n_evm_batch >= EVM_BATCH_MAX) return;
  snprintf(EVM_BATCH_ROUTE, sizeof EVM_BATCH_ROUTE, "%s", f[2]);
  snprintf(EVM_BATCH_PAYER, sizeof EVM_BATCH_PAYER, "%s", f[4]);
  snprintf(EVM_BATCH_CHANNEL, sizeof EVM_BATCH_CHANNEL, "%s", f[5]);
  evm_batch_names[n_evm_batch] = strdup(f[1]);
  evm_batch_headers[n_evm_batch] = strdup(f[3]);
  n_evm_batch++;
}

/* The PAYMENT-SIGNATURE of the batch-settlement payment `name`. */
static const char *evm_batch_payment(const char *name) {
  for (int i = 0; i < n_evm_batch; i++)
    if (strcmp(evm_batch_names[i], name) == 0) return evm_batch_headers[i];
  CHECK(0, "no batch-settlement vector %s", name);
  return "";
}

static void run_vectors(const char *path) {
  FILE *fp = fopen(path, "r");
  CHECK(fp != NULL, "open %s", path);
  if (!fp) return;
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  unsigned payment_idx = 0;
  while ((len = getline(&line, &cap, fp)) > 0) {
    if (line[len - 1] == '\n') line[len - 1] = 0;
    char *f[MAXF];
    int nf = split(line, f);
    switch (f[0][0]) {
      case 'V':
        CHECK(nf == 9, "V fields %d", nf);
        if (nf == 9) vector_verdict(f);
        break;
      case 'P':
        CHECK(nf == 8, "P fields %d", nf);
        if (nf == 8) vector_payment(f, payment_idx++);
        break;
      case 'H':
        CHECK(nf == 4, "H fields %d", nf);
        if (nf == 4) vector_header(f);
        break;
      case 'E':
        CHECK(nf == 11, "E fields %d", nf);
        if (nf == 11) vector_eip712(f);
        break;
      case 'K':
        CHECK(nf == 5, "K fields %d", nf);
        if (nf == 5) vector_batch_key(f);
        break;
      case 'B':
        CHECK(nf == 8, "B fields %d", nf);
        if (nf == 8) vector_batch(f);
        break;
      case 'S':
        CHECK(nf == 6, "S fields %d", nf);
        if (nf == 6) vector_svm_verdict(f);
        break;
      case 'Z':
        CHECK(nf == 8, "Z fields %d", nf);
        if (nf == 8) vector_svm_payment(f);
        break;
      case 'D':
        CHECK(nf == 6, "D fields %d", nf);
        if (nf == 6) vector_evm_batch(f);
        break;
      default:
        CHECK(0, "unknown record %s", f[0]);
    }
  }
  free(line);
  fclose(fp);
  CHECK(n_verdicts >= 100 && n_payments >= 10 && n_headers >= 20 && n_eip712 >= 80 &&
            n_batch >= 26 && n_svm >= 20 && n_evm_batch >= 3,
        "vector counts %lu %lu %lu %lu %lu %lu", n_verdicts, n_payments, n_headers, n_eip712,
        n_batch, n_svm);
  printf("vectors: %lu verdicts, %lu payments, %lu headers, %lu EIP-712, %lu batch-settlement, "
         "%lu Solana\n",
         n_verdicts, n_payments, n_headers, n_eip712, n_batch, n_svm);
}

/* -------------------------------------------------------------------------- */
/* verification with the chain and settlement (paywire_chain_*)                  */

/* Answers the chain's JSON-RPC request `req` as a node of chain 84532 would,
 * for a healthy payment; sendRawTransaction is refused (no funds). */
static int chain_answer(const char *req, size_t len, char *resp, size_t cap) {
  char text[8192];
  if (len >= sizeof text) return -1;
  memcpy(text, req, len);
  text[len] = 0;
  const char *id = strstr(text, "\"id\":");
  if (!id) return -1;
  unsigned long n = strtoul(id + 5, NULL, 10);
  const char *result = NULL, *error = NULL;
  if (strstr(text, "\"eth_chainId\"")) result = "\"0x14a34\"";
  else if (strstr(text, "\"eth_getCode\"")) result = "\"0x6080\"";
  else if (strstr(text, "\"eth_call\"")) result = "\"0x\"";
  else if (strstr(text, "\"eth_estimateGas\"")) result = "\"0x186a0\"";
  else if (strstr(text, "\"eth_getTransactionCount\"")) result = "\"0x0\"";
  else if (strstr(text, "\"eth_getBlockByNumber\""))
    result = "{\"number\":\"0x10\",\"timestamp\":\"0x6853b0f0\",\"baseFeePerGas\":\"0x3b9aca00\"}";
  else if (strstr(text, "\"eth_maxPriorityFeePerGas\"")) result = "\"0x1\"";
  else if (strstr(text, "\"eth_sendRawTransaction\""))
    error = "{\"code\":-32000,\"message\":\"insufficient funds for gas * price + value\"}";
  else return -1;
  if (result)
    return snprintf(resp, cap, "{\"jsonrpc\":\"2.0\",\"id\":%lu,\"result\":%s}", n, result);
  return snprintf(resp, cap, "{\"jsonrpc\":\"2.0\",\"id\":%lu,\"error\":%s}", n, error);
}

/* Drives a handle to its end; returns the number of requests made. */
static int chain_drive(paywire_chain *chain, char *outcome, size_t cap, size_t *olen) {
  uint8_t buf[8192];
  char resp[1024];
  for (int calls = 0; calls < 32; calls++) {
    size_t n = 0;
    uint32_t delay = 99;
    uint8_t done = 9;
    paywire_result r = paywire_chain_next(chain, buf, sizeof buf, &n, &delay, &done);
    CHECK(r == PAYWIRE_RESULT_OK, "next: %s", msg(r));
    if (r != PAYWIRE_RESULT_OK) return -1;
    if (done) {
      CHECK(n < cap, "outcome fits");
      memcpy(outcome, buf, n);
      outcome[n] = 0;
      *olen = n;
      return calls;
    }
    int m = chain_answer((char *)buf, n, resp, sizeof resp);
    CHECK(m > 0, "an answer for %.*s", (int)n, buf);
    if (m <= 0) return -1;
    r = paywire_chain_feed(chain, u8(resp), (size_t)m, NULL, 0, NULL, 0);
    CHECK(r == PAYWIRE_RESULT_OK, "feed: %s", msg(r));
  }
  return -1;
}

static void test_chain(void) {
  uint8_t key[32], nonce[32], fac[32];
  memset(key, 0x11, sizeof key);
  memset(nonce, 0x33, sizeof nonce);
  memset(fac, 0x44, sizeof fac);
  uint64_t now = 1750000000;
  uint8_t header[BIG];
  size_t hn = 0;
  CHECK(paywire_create_payment(u8(PR_JSON), strlen(PR_JSON), key, nonce, now, NULL, 0, NULL, header,
                            sizeof header, &hn, NULL, 0, NULL, 0) == PAYWIRE_RESULT_OK,
        "payment for the chain test");
  uint8_t payload[BIG];
  size_t pn = 0;
  CHECK(paywire_decode_header(PAYWIRE_HEADER_KIND_PAYMENT_SIGNATURE, (char *)header, hn, payload,
                           sizeof payload, &pn, NULL, 0, NULL, 0) == PAYWIRE_RESULT_OK,
        "decode the payment");
  static char body[BIG];
  int bn = snprintf(body, sizeof body,
                    "{\"x402Version\":2,\"paymentPayload\":%.*s,\"paymentRequirements\":%s}",
                    (int)pn, payload, PR_REQUIREMENTS);
  char outcome[4096];
  size_t on = 0;

  /* Verify: chain id, asset code, simulation: valid. */
  paywire_chain *chain = NULL;
  char err[256];
  paywire_result r = paywire_chain_verify_new(u8(body), (size_t)bn, now, NULL, 0, NULL, 0, &chain, err,
                                        sizeof err, NULL, 0);
  CHECK(r == PAYWIRE_RESULT_OK && chain != NULL, "verify_new: %s %s", msg(r), err);
  int calls = chain_drive(chain, outcome, sizeof outcome, &on);
  CHECK(calls == 3, "three calls, got %d", calls);
  CHECK(strncmp(outcome, "{\"isValid\":true,\"payer\":\"0x", 27) == 0, "valid: %s", outcome);
  /* A finished machine refuses answers, and its outcome can be read again. */
  const char *late = "{\"jsonrpc\":\"2.0\",\"id\":4,\"result\":\"0x\"}";
  CHECK(paywire_chain_feed(chain, u8(late), strlen(late), err, sizeof err, NULL, 0) ==
            PAYWIRE_RESULT_INVALID_RESPONSE,
        "feed after done");
  size_t n = 0;
  uint32_t delay = 0;
  uint8_t done = 0;
  CHECK(paywire_chain_next(chain, NULL, 0, &n, &delay, &done) == PAYWIRE_RESULT_INSUFFICIENT_SIZE &&
            n == on,
        "size query %zu", n);
  paywire_chain_free(chain);
  paywire_chain_free(NULL);

  /* Settle: the transaction is signed and sent; the node refuses it. */
  chain = NULL;
  const char *options = "{\"maxFeePerGas\":\"3000000000\"}";
  r = paywire_chain_settle_new(u8(body), (size_t)bn, now, fac, u8(options), strlen(options), &chain,
                            err, sizeof err, NULL, 0);
  CHECK(r == PAYWIRE_RESULT_OK && chain != NULL, "settle_new: %s %s", msg(r), err);
  calls = chain_drive(chain, outcome, sizeof outcome, &on);
  CHECK(calls == 7, "seven calls, got %d", calls);
  CHECK(strstr(outcome, "\"success\":false,\"errorReason\":\"invalid_exact_evm_transaction_failed\"") &&
            strstr(outcome, "insufficient funds") && strstr(outcome, "\"transaction\":\"\"") &&
            strstr(outcome, "\"network\":\"eip155:84532\""),
        "settle outcome: %s", outcome);
  paywire_chain_free(chain);

  /* Misuse. */
  CHECK(paywire_chain_verify_new(u8(body), (size_t)bn, now, NULL, 0, NULL, 0, NULL, NULL, 0, NULL, 0) ==
            PAYWIRE_RESULT_NULL_PARAMETER,
        "NULL out_chain");
  chain = (paywire_chain *)0x1;
  CHECK(paywire_chain_verify_new(u8(body), (size_t)bn, now, NULL, 0, u8("{\"nonce\":-1}"), 12, &chain,
                              err, sizeof err, NULL, 0) == PAYWIRE_RESULT_INVALID_CONFIG &&
            chain == (paywire_chain *)0x1,
        "bad options: %s", err);
  uint8_t zero[32] = {0};
  chain = NULL;
  CHECK(paywire_chain_settle_new(u8(body), (size_t)bn, now, zero, NULL, 0, &chain, NULL, 0, NULL, 0) ==
            PAYWIRE_RESULT_INVALID_PRIVATE_KEY &&
            chain == NULL,
        "zero key");
  CHECK(paywire_chain_next(NULL, NULL, 0, &n, &delay, &done) == PAYWIRE_RESULT_NULL_PARAMETER,
        "NULL chain");
  CHECK(paywire_chain_feed(NULL, u8(late), strlen(late), NULL, 0, NULL, 0) == PAYWIRE_RESULT_NULL_PARAMETER,
        "NULL chain feed");
}

/* -------------------------------------------------------------------------- */
/* batch-settlement on cloudflare:402 (paywire_sign_request,                      */
/* paywire_verify_batch_settlement)                                              */

/* The Ed25519 test key of RFC 9421 Appendix B.1.4 (the K record of the shared
 * vectors): its JWK d and x, and its RFC 7638 thumbprint (the keyid). */
static char BATCH_D[64], BATCH_X[64], BATCH_KID[64];

static const char *BATCH_HOST = "example.com";
static const char *BATCH_URL = "https://example.com/article";
/* The agent's identity; its Signature-Agent value is this URI as an sf-string. */
static const char *BATCH_AGENT = "https://agent.example";
static const char *BATCH_REQUIREMENT =
    "{\"scheme\":\"batch-settlement\",\"network\":\"cloudflare:402\",\"amount\":\"5\",\"asset\":"
    "\"USD\",\"payTo\":\"merchant\",\"maxTimeoutSeconds\":30}";
static const uint64_t BATCH_CREATED = 1750000000, BATCH_EXPIRES = 1750000060;
static const uint64_t BATCH_NOW = 1750000010;
/* base64 of {"success":true,"transaction":"","network":"cloudflare:402",
 * "payer":"https://agent.example","amount":"5","asset":"USD","extra":{"timestamp":1750000010}} */
static const char *BATCH_RECEIPT =
    "eyJzdWNjZXNzIjp0cnVlLCJ0cmFuc2FjdGlvbiI6IiIsIm5ldHdvcmsiOiJjbG91ZGZsYXJlOjQwMiIsInBheWVy"
    "IjoiaHR0cHM6Ly9hZ2VudC5leGFtcGxlIiwiYW1vdW50IjoiNSIsImFzc2V0IjoiVVNEIiwiZXh0cmEiOnsidGlt"
    "ZXN0YW1wIjoxNzUwMDAwMDEwfX0=";

static void vector_batch_key(char **f) {
  if (strcmp(f[1], "test-key-ed25519") != 0) return;
  snprintf(BATCH_D, sizeof BATCH_D, "%s", f[2]);
  snprintf(BATCH_X, sizeof BATCH_X, "%s", f[3]);
  snprintf(BATCH_KID, sizeof BATCH_KID, "%s", f[4]);
}

/* The JSON string value of member `key` in the NUL-terminated `json` (its
 * first occurrence), quotes and escapes included, as written: `*len` bytes at
 * the returned pointer. NULL when absent. The raw token can be pasted into
 * another JSON document unchanged. */
static const char *json_string(const char *json, const char *key, size_t *len) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\":\"", key);
  const char *p = strstr(json, pat);
  if (!p) return NULL;
  const char *start = p + strlen(pat) - 1;
  for (const char *c = start + 1; *c; c++) {
    if (*c == '\\' && c[1]) {
      c++;
      continue;
    }
    if (*c == '"') {
      *len = (size_t)(c - start + 1);
      return start;
    }
  }
  return NULL;
}

/* Whether member `key` of `json` is the JSON string token `want` (quoted). */
static int json_string_is(const char *json, const char *key, const char *want) {
  size_t n = 0;
  const char *t = json_string(json, key, &n);
  return t && n == strlen(want) && memcmp(t, want, n) == 0;
}

/* Writes the PAYMENT-SIGNATURE value committing to BATCH_REQUIREMENT, with
 * `accepted_amount` in its accepted requirement and `payload_amount` in its
 * payload, NUL-terminated. */
static void batch_commitment(const char *accepted_amount, const char *payload_amount, char *out,
                             size_t cap) {
  char doc[1024];
  int dn = snprintf(doc, sizeof doc,
                    "{\"x402Version\":2,\"resource\":{\"url\":\"%s\"},\"accepted\":{\"scheme\":"
                    "\"batch-settlement\",\"network\":\"cloudflare:402\",\"amount\":\"%s\","
                    "\"asset\":\"USD\",\"payTo\":\"merchant\",\"maxTimeoutSeconds\":30},"
                    "\"payload\":{\"amount\":\"%s\",\"asset\":\"USD\"}}",
                    BATCH_URL, accepted_amount, payload_amount);
  size_t n = 0;
  char err[256] = "";
  paywire_result r = paywire_encode_header(PAYWIRE_HEADER_KIND_PAYMENT_SIGNATURE, u8(doc), (size_t)dn,
                                     (uint8_t *)out, cap - 1, &n, err, sizeof err, NULL, 0);
  CHECK(r == PAYWIRE_RESULT_OK, "encode the commitment: %s %s", msg(r), err);
  out[r == PAYWIRE_RESULT_OK ? n : 0] = 0;
}

/* The sign input for a GET of `url` (Host `host`) carrying `payment`. */
static int batch_sign_input(char *in, size_t cap, const char *url, const char *host,
                            const char *payment, uint64_t created, uint64_t expires) {
  return snprintf(in, cap,
                  "{\"request\":{\"method\":\"GET\",\"url\":\"%s\",\"headers\":[[\"Host\",\"%s\"],"
                  "[\"PAYMENT-SIGNATURE\",\"%s\"]]},\"privateKey\":\"%s\",\"signatureAgent\":"
                  "\"\\\"%s\\\"\",\"created\":%llu,\"expires\":%llu,\"nonce\":\"c-test-1\"}",
                  url, host, payment, BATCH_D, BATCH_AGENT, (unsigned long long)created,
                  (unsigned long long)expires);
}

/* Signs; the output JSON is NUL-terminated in `out`. */
static paywire_result batch_sign(const char *url, const char *host, const char *payment,
                              uint64_t created, uint64_t expires, char *out, size_t cap,
                              size_t *n) {
  char in[4096], err[256] = "";
  int len = batch_sign_input(in, sizeof in, url, host, payment, created, expires);
  paywire_result r =
      paywire_sign_request(u8(in), (size_t)len, (uint8_t *)out, cap - 1, n, err, sizeof err, NULL, 0);
  out[r == PAYWIRE_RESULT_OK ? *n : 0] = 0;
  CHECK(r == PAYWIRE_RESULT_OK, "sign: %s %s", msg(r), err);
  return r;
}

/* The header lines of the request as the server receives it: Host, the
 * payment, and the three headers of the signer's output `signed_json`. */
static void batch_headers(char *out, size_t cap, const char *host, const char *payment,
                          const char *signed_json) {
  size_t an = 0, in = 0, sn = 0;
  const char *a = json_string(signed_json, "signatureAgent", &an);
  const char *i = json_string(signed_json, "signatureInput", &in);
  const char *s = json_string(signed_json, "signature", &sn);
  CHECK(a && i && s, "signed headers in %s", signed_json);
  if (!a || !i || !s) {
    out[0] = 0;
    return;
  }
  snprintf(out, cap,
           "[\"Host\",\"%s\"],[\"PAYMENT-SIGNATURE\",\"%s\"],[\"Signature-Agent\",%.*s],"
           "[\"Signature-Input\",%.*s],[\"Signature\",%.*s]",
           host, payment, (int)an, a, (int)in, i, (int)sn, s);
}

/* The directories input: `agent` publishes the key whose JWK x is `x`. */
static void batch_directories(char *out, size_t cap, const char *agent, const char *x) {
  snprintf(out, cap,
           "{\"%s\":{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"%s\"}]}}", agent, x);
}

/* Verifies a GET of `url` with header lines `headers` (the members of the
 * JSON array) against `requirements`, with `directories`, at `now`, with the
 * verifier settings `config` (NULL: none). The output is NUL-terminated. */
static paywire_result batch_verify(const char *url, const char *headers, const char *requirements,
                                const char *directories, uint64_t now, const char *config,
                                char *out, size_t cap, size_t *n) {
  static char in[16384];
  char cfg[128] = "";
  if (config) snprintf(cfg, sizeof cfg, ",\"config\":%s", config);
  int len = snprintf(in, sizeof in,
                     "{\"request\":{\"method\":\"GET\",\"url\":\"%s\",\"headers\":[%s]},"
                     "\"requirements\":%s,\"directories\":%s,\"now\":%llu%s}",
                     url, headers, requirements, directories, (unsigned long long)now, cfg);
  CHECK(len > 0 && (size_t)len < sizeof in, "verify input fits");
  char err[256] = "";
  paywire_result r = paywire_verify_batch_settlement(u8(in), (size_t)len, (uint8_t *)out, cap - 1, n,
                                               err, sizeof err, NULL, 0);
  out[r == PAYWIRE_RESULT_OK ? *n : 0] = 0;
  CHECK(r == PAYWIRE_RESULT_OK, "verify: %s %s", msg(r), err);
  return r;
}

/* Checks an invalid verdict: its exact reason, the network's error code, a
 * message, and no PAYMENT-RESPONSE. */
static void check_batch_invalid(const char *what, const char *out, const char *reason,
                                const char *code) {
  char want[256];
  snprintf(want, sizeof want, "{\"verdict\":{\"isValid\":false,\"invalidReason\":\"%s\",", reason);
  CHECK(strncmp(out, want, strlen(want)) == 0, "%s: want %s, got %s", what, reason, out);
  snprintf(want, sizeof want, "\"%s\"", code);
  CHECK(json_string_is(out, "errorCode", want), "%s: error code %s in %s", what, code, out);
  size_t n = 0;
  CHECK(json_string(out, "invalidMessage", &n) && n > 2, "%s: a message", what);
  CHECK(strstr(out, "paymentResponse") == NULL, "%s: no PAYMENT-RESPONSE when invalid", what);
}

static void test_batch_sign_and_verify(void) {
  char payment[1024], out[8192], headers[8192], dirs[512], want[1024];
  size_t n = 0;
  batch_commitment("5", "5", payment, sizeof payment);
  batch_directories(dirs, sizeof dirs, BATCH_AGENT, BATCH_X);

  /* Signing: the three header values and the key id. */
  if (batch_sign(BATCH_URL, BATCH_HOST, payment, BATCH_CREATED, BATCH_EXPIRES, out, sizeof out,
                 &n) != PAYWIRE_RESULT_OK)
    return;
  snprintf(want, sizeof want, "\"%s\"", BATCH_KID);
  CHECK(json_string_is(out, "keyid", want), "keyid is the thumbprint: %s", out);
  snprintf(want, sizeof want, "\"\\\"%s\\\"\"", BATCH_AGENT);
  CHECK(json_string_is(out, "signatureAgent", want), "Signature-Agent: %s", out);
  snprintf(want, sizeof want,
           "\"sig1=(\\\"@authority\\\" \\\"signature-agent\\\" \\\"payment-signature\\\");"
           "created=%llu;expires=%llu;keyid=\\\"%s\\\";alg=\\\"ed25519\\\";nonce=\\\"c-test-1\\\";"
           "tag=\\\"web-bot-auth\\\"\"",
           (unsigned long long)BATCH_CREATED, (unsigned long long)BATCH_EXPIRES, BATCH_KID);
  CHECK(json_string_is(out, "signatureInput", want), "Signature-Input: %s", out);
  size_t sn = 0;
  const char *sig = json_string(out, "signature", &sn);
  /* sig1=:<88 characters of base64>: between the quotes. */
  CHECK(sig && sn == 2 + 6 + 88 + 1 && memcmp(sig, "\"sig1=:", 7) == 0 && sig[sn - 2] == ':',
        "Signature: %.*s", (int)sn, sig ? sig : "");
  /* Ed25519 is deterministic: the same input, the same output. */
  char again[8192];
  size_t n2 = 0;
  batch_sign(BATCH_URL, BATCH_HOST, payment, BATCH_CREATED, BATCH_EXPIRES, again, sizeof again,
             &n2);
  CHECK(n2 == n && memcmp(out, again, n) == 0, "deterministic signature");
  char signed_json[8192];
  memcpy(signed_json, out, n + 1);
  batch_headers(headers, sizeof headers, BATCH_HOST, payment, signed_json);

  /* Verifying: valid against the 402's PaymentRequired, an array of
   * requirements, or the one requirement; the verdict and the PAYMENT-RESPONSE. */
  char offer[2048], list[1024];
  snprintf(offer, sizeof offer,
           "{\"x402Version\":2,\"resource\":{\"url\":\"%s\"},\"accepts\":[%s,%s]}", BATCH_URL,
           PR_REQUIREMENTS, BATCH_REQUIREMENT);
  snprintf(list, sizeof list, "[%s]", BATCH_REQUIREMENT);
  const char *forms[] = {offer, list, BATCH_REQUIREMENT};
  char expected[1024];
  snprintf(expected, sizeof expected,
           "{\"verdict\":{\"isValid\":true,\"payer\":\"%s\",\"extra\":{\"scheme\":"
           "\"batch-settlement\",\"network\":\"cloudflare:402\",\"amount\":\"5\",\"asset\":"
           "\"USD\",\"keyid\":\"%s\",\"label\":\"sig1\",\"created\":%llu,\"expires\":%llu}},"
           "\"paymentResponse\":\"%s\"}",
           BATCH_AGENT, BATCH_KID, (unsigned long long)BATCH_CREATED,
           (unsigned long long)BATCH_EXPIRES, BATCH_RECEIPT);
  for (size_t i = 0; i < 3; i++) {
    batch_verify(BATCH_URL, headers, forms[i], dirs, BATCH_NOW, NULL, out, sizeof out, &n);
    CHECK(n == strlen(expected) && strcmp(out, expected) == 0, "valid (requirements form %zu): %s",
          i, out);
  }
  snprintf(want, sizeof want, "\"%s\"", BATCH_RECEIPT);
  CHECK(json_string_is(out, "paymentResponse", want), "PAYMENT-RESPONSE %s", out);
  /* The time limits, at their edges: skew 30 s, expires inclusive. */
  batch_verify(BATCH_URL, headers, BATCH_REQUIREMENT, dirs, BATCH_CREATED - 30, NULL, out,
               sizeof out, &n);
  CHECK(strncmp(out, "{\"verdict\":{\"isValid\":true", 26) == 0, "30 s early: %s", out);
  batch_verify(BATCH_URL, headers, BATCH_REQUIREMENT, dirs, BATCH_EXPIRES, NULL, out, sizeof out,
               &n);
  CHECK(strncmp(out, "{\"verdict\":{\"isValid\":true", 26) == 0, "at expires: %s", out);

  /* Tampered requests and other refusals: exact reasons. */
  const char *R_SIG = "invalid_batch_settlement_cloudflare_signature";
  /* The amount changed after signing: another commitment in PAYMENT-SIGNATURE,
   * which the server would accept if it had been signed. */
  char other[1024], tampered[8192];
  batch_commitment("6", "6", other, sizeof other);
  batch_headers(tampered, sizeof tampered, BATCH_HOST, other, signed_json);
  char offer6[1024];
  snprintf(offer6, sizeof offer6,
           "{\"scheme\":\"batch-settlement\",\"network\":\"cloudflare:402\",\"amount\":\"6\","
           "\"asset\":\"USD\",\"payTo\":\"merchant\",\"maxTimeoutSeconds\":30}");
  batch_verify(BATCH_URL, tampered, offer6, dirs, BATCH_NOW, NULL, out, sizeof out, &n);
  check_batch_invalid("amount changed after signing", out, R_SIG, "invalid_signature");
  /* Another authority than the one signed. */
  batch_headers(tampered, sizeof tampered, "example.org", payment, signed_json);
  batch_verify("https://example.org/article", tampered, BATCH_REQUIREMENT, dirs, BATCH_NOW, NULL,
               out, sizeof out, &n);
  check_batch_invalid("wrong authority", out, R_SIG, "invalid_signature");
  /* Expired; created too far in the future; too old for the verifier's maxAge. */
  batch_verify(BATCH_URL, headers, BATCH_REQUIREMENT, dirs, BATCH_EXPIRES + 1, NULL, out,
               sizeof out, &n);
  check_batch_invalid("expired", out, "invalid_batch_settlement_cloudflare_signature_expired",
                      "invalid_signature");
  batch_verify(BATCH_URL, headers, BATCH_REQUIREMENT, dirs, BATCH_CREATED - 31, NULL, out,
               sizeof out, &n);
  check_batch_invalid("created in the future", out,
                      "invalid_batch_settlement_cloudflare_signature_created",
                      "invalid_signature");
  batch_verify(BATCH_URL, headers, BATCH_REQUIREMENT, dirs, BATCH_NOW, "{\"maxAge\":5}", out,
               sizeof out, &n);
  check_batch_invalid("older than maxAge", out,
                      "invalid_batch_settlement_cloudflare_signature_created",
                      "invalid_signature");
  /* The agent is unknown to the network; its directory lacks the key. */
  char other_dirs[512];
  batch_directories(other_dirs, sizeof other_dirs, "https://other.example", BATCH_X);
  batch_verify(BATCH_URL, headers, BATCH_REQUIREMENT, other_dirs, BATCH_NOW, NULL, out, sizeof out,
               &n);
  check_batch_invalid("unknown agent", out,
                      "invalid_batch_settlement_cloudflare_signature_agent_unknown",
                      "signature_agent_unknown");
  batch_verify(BATCH_URL, headers, BATCH_REQUIREMENT, "{}", BATCH_NOW, NULL, out, sizeof out, &n);
  check_batch_invalid("no directories", out,
                      "invalid_batch_settlement_cloudflare_signature_agent_unknown",
                      "signature_agent_unknown");
  batch_directories(other_dirs, sizeof other_dirs, BATCH_AGENT,
                    "xGq6Sl39fNFm1k5gQ8xCNd_3I5ya15riLqevXLDhWu0");
  batch_verify(BATCH_URL, headers, BATCH_REQUIREMENT, other_dirs, BATCH_NOW, NULL, out, sizeof out,
               &n);
  check_batch_invalid("unknown key", out, "invalid_batch_settlement_cloudflare_key_unknown",
                      "invalid_signature");
  /* The server's price changed: the signed commitment was not offered. */
  batch_verify(BATCH_URL, headers, offer6, dirs, BATCH_NOW, NULL, out, sizeof out, &n);
  check_batch_invalid("accepted not offered", out,
                      "invalid_batch_settlement_cloudflare_accepted_mismatch",
                      "price_not_acceptable");
  /* A signed commitment whose payload pays less than it accepted. */
  char cheap[1024], cheap_signed[8192];
  batch_commitment("5", "4", cheap, sizeof cheap);
  if (batch_sign(BATCH_URL, BATCH_HOST, cheap, BATCH_CREATED, BATCH_EXPIRES, cheap_signed,
                 sizeof cheap_signed, &n) == PAYWIRE_RESULT_OK) {
    batch_headers(tampered, sizeof tampered, BATCH_HOST, cheap, cheap_signed);
    batch_verify(BATCH_URL, tampered, BATCH_REQUIREMENT, dirs, BATCH_NOW, NULL, out, sizeof out,
                 &n);
    check_batch_invalid("payload amount below accepted", out,
                        "invalid_batch_settlement_cloudflare_amount_mismatch",
                        "price_not_acceptable");
  }
  /* Headers missing: the Signature; the payment. */
  char *cut = strstr(headers, ",[\"Signature\",");
  CHECK(cut != NULL, "Signature line");
  if (cut) {
    snprintf(tampered, sizeof tampered, "%.*s", (int)(cut - headers), headers);
    batch_verify(BATCH_URL, tampered, BATCH_REQUIREMENT, dirs, BATCH_NOW, NULL, out, sizeof out,
                 &n);
    check_batch_invalid("no Signature", out,
                        "invalid_batch_settlement_cloudflare_signature_malformed",
                        "invalid_signature");
  }
  batch_verify(BATCH_URL, "[\"Host\",\"example.com\"]", BATCH_REQUIREMENT, dirs, BATCH_NOW, NULL,
               out, sizeof out, &n);
  check_batch_invalid("no payment", out, "invalid_batch_settlement_cloudflare_payment_missing",
                      "blocked");
}

static void test_batch_misuse(void) {
  char payment[1024], headers[8192], signed_json[8192], dirs[512], err[256];
  uint8_t out[8192];
  size_t n = 0;
  batch_commitment("5", "5", payment, sizeof payment);
  batch_directories(dirs, sizeof dirs, BATCH_AGENT, BATCH_X);
  if (batch_sign(BATCH_URL, BATCH_HOST, payment, BATCH_CREATED, BATCH_EXPIRES, signed_json,
                 sizeof signed_json, &n) != PAYWIRE_RESULT_OK)
    return;
  batch_headers(headers, sizeof headers, BATCH_HOST, payment, signed_json);
  static char in[16384];
  int len = snprintf(in, sizeof in,
                     "{\"request\":{\"method\":\"GET\",\"url\":\"%s\",\"headers\":[%s]},"
                     "\"requirements\":%s,\"directories\":%s,\"now\":%llu}",
                     BATCH_URL, headers, BATCH_REQUIREMENT, dirs, (unsigned long long)BATCH_NOW);
  char sign_in[4096];
  int sign_len = batch_sign_input(sign_in, sizeof sign_in, BATCH_URL, BATCH_HOST, payment,
                                  BATCH_CREATED, BATCH_EXPIRES);

  /* NULL pointers and lengths, for both functions. */
  typedef paywire_result (*json_fn)(const uint8_t *, size_t, uint8_t *, size_t, size_t *, char *,
                                 size_t, char *, size_t);
  const json_fn fns[] = {paywire_verify_batch_settlement, paywire_sign_request};
  const char *inputs[] = {in, sign_in};
  const size_t lens[] = {(size_t)len, (size_t)sign_len};
  const char *names[] = {"verify", "sign"};
  for (int k = 0; k < 2; k++) {
    json_fn f = fns[k];
    const uint8_t *i = u8(inputs[k]);
    size_t l = lens[k];
    CHECK(f(NULL, 0, out, sizeof out, &n, NULL, 0, NULL, 0) == PAYWIRE_RESULT_NULL_PARAMETER, "%s: NULL input",
          names[k]);
    CHECK(f(NULL, l, out, sizeof out, &n, err, sizeof err, NULL, 0) == PAYWIRE_RESULT_NULL_PARAMETER,
          "%s: NULL input with a length", names[k]);
    CHECK(f(i, l, out, sizeof out, NULL, NULL, 0, NULL, 0) == PAYWIRE_RESULT_NULL_PARAMETER,
          "%s: NULL out_len", names[k]);
    CHECK(f(i, l, NULL, 16, &n, NULL, 0, NULL, 0) == PAYWIRE_RESULT_NULL_PARAMETER, "%s: NULL out, cap 16",
          names[k]);
    CHECK(f(i, SIZE_MAX, out, sizeof out, &n, NULL, 0, NULL, 0) == PAYWIRE_RESULT_INVALID_ARGUMENT,
          "%s: length above PTRDIFF_MAX", names[k]);
    /* Short buffers: ask the size, one byte short (nothing written), exact. */
    size_t need = 0, m = 0;
    CHECK(f(i, l, NULL, 0, &need, NULL, 0, NULL, 0) == PAYWIRE_RESULT_INSUFFICIENT_SIZE && need > 0,
          "%s: size query", names[k]);
    memset(out, SENTINEL, sizeof out);
    CHECK(f(i, l, out, need - 1, &m, NULL, 0, NULL, 0) == PAYWIRE_RESULT_INSUFFICIENT_SIZE && m == need &&
              all_sentinel(out, sizeof out),
          "%s: one byte short: %zu, %zu", names[k], m, need);
    CHECK(f(i, l, out, need, &m, NULL, 0, NULL, 0) == PAYWIRE_RESULT_OK && m == need, "%s: exact size",
          names[k]);
    CHECK(f(i, l, out, need, &m, NULL, 0, NULL, 0) == PAYWIRE_RESULT_OK && m == need &&
              memcmp(out, k == 0 ? "{\"verdict\":{\"isValid\":true" : "{\"signatureAgent\":",
                     k == 0 ? 26 : 18) == 0,
          "%s: output %.*s", names[k], (int)m, out);
    /* Unreadable inputs: INVALID_PAYLOAD with a description, nothing written. */
    const char *garbage[] = {"", "{", "[]", "null", "{}", "\xff\xfe", "{\"request\":{}}",
                             "{\"request\":{\"method\":\"GET\",\"url\":\"https://a.example/\","
                             "\"headers\":[[\"A\",\"b\",\"c\"]]}}",
                             "{\"a\":1} x"};
    for (size_t g = 0; g < sizeof garbage / sizeof garbage[0]; g++) {
      memset(out, SENTINEL, 64);
      memset(err, 0, sizeof err);
      paywire_result r = f(u8(garbage[g]), strlen(garbage[g]), out, sizeof out, &n, err, sizeof err, NULL, 0);
      CHECK(r == PAYWIRE_RESULT_INVALID_PAYLOAD, "%s: garbage %zu: %s", names[k], g, msg(r));
      CHECK(strncmp(err, "invalid_payload: ", 17) == 0 && all_sentinel(out, 64),
            "%s: garbage %zu: %s", names[k], g, err);
    }
    /* err_cap 1 receives only the NUL; err_cap 0 and NULL are untouched / fine. */
    err[0] = 'x';
    err[1] = 'y';
    CHECK(f(u8("{"), 1, out, sizeof out, &n, err, 1, NULL, 0) == PAYWIRE_RESULT_INVALID_PAYLOAD &&
              err[0] == 0 && err[1] == 'y',
          "%s: err_cap 1", names[k]);
    err[0] = 'x';
    CHECK(f(u8("{"), 1, out, sizeof out, &n, err, 0, NULL, 0) == PAYWIRE_RESULT_INVALID_PAYLOAD &&
              err[0] == 'x',
          "%s: err_cap 0", names[k]);
    CHECK(f(u8("{"), 1, out, sizeof out, &n, NULL, 0, NULL, 0) == PAYWIRE_RESULT_INVALID_PAYLOAD,
          "%s: NULL err_buf", names[k]);
    memset(err, SENTINEL, sizeof err);
    f(u8("{"), 1, out, sizeof out, &n, err, 10, NULL, 0);
    CHECK(strlen(err) == 9 && (uint8_t)err[10] == SENTINEL, "%s: truncated to 9 + NUL",
          names[k]);
  }

  /* Verifier inputs that cannot be read: each says what is wrong. */
  struct {
    const char *requirements, *directories, *now, *config, *says;
  } bad_verify[] = {
      {NULL, dirs, "1750000010", NULL, "requirements"},
      {BATCH_REQUIREMENT, NULL, "1750000010", NULL, "directories"},
      {BATCH_REQUIREMENT, "[]", "1750000010", NULL, "directories"},
      {BATCH_REQUIREMENT, dirs, NULL, NULL, "now"},
      {BATCH_REQUIREMENT, dirs, "-1", NULL, "now"},
      {BATCH_REQUIREMENT, dirs, "\"1750000010\"", NULL, "now"},
      {BATCH_REQUIREMENT, dirs, "1750000010", "{\"maxSkew\":1}", "config"},
      {BATCH_REQUIREMENT, dirs, "1750000010", "[]", "config"},
      /* A published directory must not carry the private key. */
      {BATCH_REQUIREMENT, "{\"https://agent.example\":{\"keys\":[{\"kty\":\"OKP\",\"crv\":"
                          "\"Ed25519\",\"x\":\"JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs\","
                          "\"d\":\"n4Ni-HpISpVObnQMW0wOhCKROaIKqKtW_2ZYb2p9KcU\"}]}}",
       "1750000010", NULL, "private"},
      {BATCH_REQUIREMENT, "{\"https://agent.example\":{\"keys\":[{\"kty\":\"OKP\",\"crv\":"
                          "\"Ed25519\",\"x\":\"short\"}]}}",
       "1750000010", NULL, "43 characters"},
  };
  for (size_t b = 0; b < sizeof bad_verify / sizeof bad_verify[0]; b++) {
    int pl = snprintf(in, sizeof in,
                      "{\"request\":{\"method\":\"GET\",\"url\":\"%s\",\"headers\":[%s]}",
                      BATCH_URL, headers);
    if (bad_verify[b].requirements)
      pl += snprintf(in + pl, sizeof in - (size_t)pl, ",\"requirements\":%s",
                     bad_verify[b].requirements);
    if (bad_verify[b].directories)
      pl += snprintf(in + pl, sizeof in - (size_t)pl, ",\"directories\":%s",
                     bad_verify[b].directories);
    if (bad_verify[b].now)
      pl += snprintf(in + pl, sizeof in - (size_t)pl, ",\"now\":%s", bad_verify[b].now);
    if (bad_verify[b].config)
      pl += snprintf(in + pl, sizeof in - (size_t)pl, ",\"config\":%s", bad_verify[b].config);
    pl += snprintf(in + pl, sizeof in - (size_t)pl, "}");
    memset(err, 0, sizeof err);
    paywire_result r = paywire_verify_batch_settlement(u8(in), (size_t)pl, out, sizeof out, &n, err,
                                                 sizeof err, NULL, 0);
    CHECK(r == PAYWIRE_RESULT_INVALID_PAYLOAD && strstr(err, bad_verify[b].says) != NULL,
          "bad verify input %zu: %s %s", b, msg(r), err);
  }

  /* Signer inputs that cannot be signed: each says what is wrong. */
  struct {
    const char *find, *replace, *says;
  } bad_sign[] = {
      {BATCH_D, "short", "privateKey"},
      {BATCH_D, "n4Ni-HpISpVObnQMW0wOhCKROaIKqKtW_2ZYb2p9KcV", "privateKey"}, /* not canonical */
      {"\"PAYMENT-SIGNATURE\"", "\"X-PAYMENT\"", "PAYMENT-SIGNATURE"},
      {"\"expires\":1750000060", "\"expires\":1749999999", "expires"},
      {"\"nonce\":\"c-test-1\"", "\"nonce\":\"\\u0001\"", "nonce"},
      {"\"nonce\":\"c-test-1\"", "\"label\":\"Sig1\"", "label"},
      {"\"signatureAgent\"", "\"agent\"", "signatureAgent"},
      {"\"created\"", "\"made\"", "created"},
  };
  for (size_t b = 0; b < sizeof bad_sign / sizeof bad_sign[0]; b++) {
    char edited[4096];
    const char *at = strstr(sign_in, bad_sign[b].find);
    CHECK(at != NULL, "sign input %zu has %s", b, bad_sign[b].find);
    if (!at) continue;
    int el = snprintf(edited, sizeof edited, "%.*s%s%s", (int)(at - sign_in), sign_in,
                      bad_sign[b].replace, at + strlen(bad_sign[b].find));
    memset(err, 0, sizeof err);
    memset(out, SENTINEL, 64);
    paywire_result r = paywire_sign_request(u8(edited), (size_t)el, out, sizeof out, &n, err, sizeof err, NULL, 0);
    CHECK(r == PAYWIRE_RESULT_INVALID_PAYLOAD && strstr(err, bad_sign[b].says) != NULL &&
              all_sentinel(out, 64),
          "bad sign input %zu: %s %s", b, msg(r), err);
  }
}

/* Deterministic mutations of valid inputs: every answer is a verdict or
 * INVALID_PAYLOAD, never a panic, and nothing leaks. */
static void test_batch_garbage(void) {
  char payment[1024], headers[8192], signed_json[8192], dirs[512];
  size_t n = 0;
  batch_commitment("5", "5", payment, sizeof payment);
  batch_directories(dirs, sizeof dirs, BATCH_AGENT, BATCH_X);
  if (batch_sign(BATCH_URL, BATCH_HOST, payment, BATCH_CREATED, BATCH_EXPIRES, signed_json,
                 sizeof signed_json, &n) != PAYWIRE_RESULT_OK)
    return;
  batch_headers(headers, sizeof headers, BATCH_HOST, payment, signed_json);
  static char in[16384], sign_in[4096], buf[16384];
  int len = snprintf(in, sizeof in,
                     "{\"request\":{\"method\":\"GET\",\"url\":\"%s\",\"headers\":[%s]},"
                     "\"requirements\":%s,\"directories\":%s,\"now\":%llu}",
                     BATCH_URL, headers, BATCH_REQUIREMENT, dirs, (unsigned long long)BATCH_NOW);
  int sign_len = batch_sign_input(sign_in, sizeof sign_in, BATCH_URL, BATCH_HOST, payment,
                                  BATCH_CREATED, BATCH_EXPIRES);
  static const char alphabet[] = "\"\\;=:,()[]{} ?&%*aZ09-_\x01\xff";
  uint32_t s = 402;
  unsigned long verdicts = 0, refused = 0, others = 0;
  uint8_t out[8192];
  for (int iter = 0; iter < 600; iter++) {
    const char *src = iter & 1 ? sign_in : in;
    size_t l = (size_t)(iter & 1 ? sign_len : len);
    memcpy(buf, src, l);
    for (int k = 0; k <= iter % 3; k++) {
      s = s * 1103515245u + 12345u;
      size_t pos = (s >> 8) % l;
      s = s * 1103515245u + 12345u;
      buf[pos] = alphabet[(s >> 16) % (sizeof alphabet - 1)];
    }
    paywire_result r = iter & 1
                        ? paywire_sign_request(u8(buf), l, out, sizeof out, &n, NULL, 0, NULL, 0)
                        : paywire_verify_batch_settlement(u8(buf), l, out, sizeof out, &n, NULL, 0, NULL, 0);
    if (r == PAYWIRE_RESULT_OK) verdicts++;
    else if (r == PAYWIRE_RESULT_INVALID_PAYLOAD) refused++;
    else others++;
  }
  CHECK(others == 0 && verdicts > 0 && refused > 0,
        "mutated inputs: %lu answered, %lu refused, %lu other codes", verdicts, refused, others);
}

/* A web-bot-auth vector: Cloudflare's signer, the verdict x402-core must reach.
 * The network's registry knows one agent, https://agent.example, whose
 * directory holds the vector's key. */
static void vector_batch(char **f) {
  const char *name = f[1], *now = f[2], *reason = f[4], *jwk = f[5], *request = f[6];
  const char *offer = f[7];
  int want_valid = f[3][0] == '1';
  size_t cap = strlen(request) + strlen(offer) + strlen(jwk) + 256;
  char *in = malloc(cap);
  int len = snprintf(in, cap,
                     "{\"request\":%s,\"requirements\":%s,\"directories\":{\"%s\":{\"keys\":[%s]}},"
                     "\"now\":%s}",
                     request, offer, BATCH_AGENT, jwk, now);
  size_t need = 0, n = 0;
  paywire_result r = paywire_verify_batch_settlement(u8(in), (size_t)len, NULL, 0, &need, NULL, 0, NULL, 0);
  CHECK(r == PAYWIRE_RESULT_INSUFFICIENT_SIZE, "%s: size query: %s", name, msg(r));
  char *out = malloc(need + 1);
  char err[256] = "";
  r = paywire_verify_batch_settlement(u8(in), (size_t)len, (uint8_t *)out, need, &n, err, sizeof err, NULL, 0);
  CHECK(r == PAYWIRE_RESULT_OK && n == need, "%s: %s %s", name, msg(r), err);
  out[r == PAYWIRE_RESULT_OK ? n : 0] = 0;
  if (want_valid) {
    char want[160];
    snprintf(want, sizeof want, "{\"verdict\":{\"isValid\":true,\"payer\":\"%s\",", BATCH_AGENT);
    CHECK(strncmp(out, want, strlen(want)) == 0, "%s: expected valid, got %s", name, out);
    size_t pn = 0;
    CHECK(json_string(out, "paymentResponse", &pn) && pn > 2, "%s: PAYMENT-RESPONSE", name);
  } else {
    char want[160];
    snprintf(want, sizeof want, "\"%s\"", reason);
    CHECK(strncmp(out, "{\"verdict\":{\"isValid\":false", 27) == 0 &&
              json_string_is(out, "invalidReason", want),
          "%s: expected %s, got %s", name, reason, out);
    CHECK(strstr(out, "paymentResponse") == NULL, "%s: no PAYMENT-RESPONSE", name);
  }
  free(out);
  free(in);
  n_batch++;
}

static void test_batch(void) {
  CHECK(strlen(BATCH_D) == 43 && strlen(BATCH_X) == 43 && strlen(BATCH_KID) == 43,
        "the RFC 9421 Ed25519 test key from the vectors");
  if (strlen(BATCH_D) != 43) return;
  test_batch_sign_and_verify();
  test_batch_misuse();
  test_batch_garbage();
}

/* -------------------------------------------------------------------------- */
/* the paid-request lifecycle (paywire_lifecycle_*, paywire_route_check,          */
/* paywire_record_info, paywire_record_forgettable)                               */

/* The JSON value literal of member `key` (a string, with its quotes, or null),
 * or NULL. Records travel as JSON string literals: the core escapes a text one
 * way only, so two literals are equal exactly when their texts are. */
static const char *json_value(const char *json, const char *key, size_t *len) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\":null", key);
  const char *p = strstr(json, pat);
  if (p) {
    *len = 4;
    return p + strlen(pat) - 4;
  }
  return json_string(json, key, len);
}

/* A replay store of JSON literals, with a lock: the host side of "swap". */
#define STORE_MAX 16
struct store {
  pthread_mutex_t mu;
  int n;
  char *keys[STORE_MAX], *vals[STORE_MAX];
};

static int store_find(struct store *s, const char *key, size_t kn) {
  for (int i = 0; i < s->n; i++)
    if (strlen(s->keys[i]) == kn && memcmp(s->keys[i], key, kn) == 0) return i;
  return -1;
}

static void store_free(struct store *s) {
  for (int i = 0; i < s->n; i++) {
    free(s->keys[i]);
    free(s->vals[i]);
  }
  s->n = 0;
}

/* What the host's facilitator does, and what it saw. */
struct host {
  uint32_t reply;         /* paywire_settle_reply */
  uint16_t status;        /* with ANSWERED */
  const uint8_t *body;    /* with ANSWERED */
  size_t body_len;
  uint32_t vreply;        /* POST /verify: paywire_settle_reply */
  uint16_t vstatus;       /* with ANSWERED */
  const char *vbody;      /* with ANSWERED (NULL: none) */
  int verifies;           /* counted under the store's lock */
  int handler_status;     /* 0: the handler fails */
  int settles, handled;   /* counted under the store's lock */
  char record_key[512];   /* the last key a lookup named */
};

static char *next_step(paywire_lifecycle *life) {
  size_t need = 0;
  paywire_result r = paywire_lifecycle_next(life, NULL, 0, &need);
  CHECK(r == PAYWIRE_RESULT_INSUFFICIENT_SIZE && need > 0, "next: size query: %s", msg(r));
  char *step = malloc(need + 1);
  size_t n = 0;
  r = paywire_lifecycle_next(life, (uint8_t *)step, need, &n);
  CHECK(r == PAYWIRE_RESULT_OK && n == need, "next: %s", msg(r));
  step[r == PAYWIRE_RESULT_OK ? n : 0] = 0;
  return step;
}

static void feed(paywire_lifecycle *life, const char *json) {
  char err[256] = "";
  paywire_result r = paywire_lifecycle_feed(life, u8(json), strlen(json), err, sizeof err, NULL, 0);
  CHECK(r == PAYWIRE_RESULT_OK, "feed %s: %s %s", json, msg(r), err);
}

/* Drives a lifecycle to its end as a host would. Returns the status of the
 * answer it sent (-1 if none); copies that respond step into `answer`. */
static int drive(paywire_lifecycle *life, struct store *s, struct host *h, char *answer, size_t cap) {
  int status = -1;
  if (answer && cap) answer[0] = 0;
  for (int i = 0; i < 64; i++) {
    char *step = next_step(life);
    size_t kn = 0, en = 0, nn = 0;
    const char *key = json_value(step, "key", &kn);
    char buf[8192];
    if (strstr(step, "{\"action\":\"lookup\"") == step && key) {
      pthread_mutex_lock(&s->mu);
      snprintf(h->record_key, sizeof h->record_key, "%.*s", (int)kn, key);
      int at = store_find(s, key, kn);
      snprintf(buf, sizeof buf, "{\"record\":%s}", at < 0 ? "null" : s->vals[at]);
      pthread_mutex_unlock(&s->mu);
      feed(life, buf);
    } else if (strstr(step, "{\"action\":\"swap\"") == step && key) {
      const char *expected = json_value(step, "expected", &en);
      const char *next = json_value(step, "new", &nn);
      CHECK(expected && next, "swap step: %s", step);
      if (!expected || !next) break;
      pthread_mutex_lock(&s->mu);
      int at = store_find(s, key, kn);
      const char *current = at < 0 ? "null" : s->vals[at];
      if (strlen(current) == en && memcmp(current, expected, en) == 0) {
        if (nn == 4 && memcmp(next, "null", 4) == 0) {
          if (at >= 0) {
            free(s->keys[at]);
            free(s->vals[at]);
            s->keys[at] = s->keys[s->n - 1];
            s->vals[at] = s->vals[s->n - 1];
            s->n--;
          }
        } else if (at >= 0) {
          free(s->vals[at]);
          s->vals[at] = strndup(next, nn);
        } else if (s->n < STORE_MAX) {
          s->keys[s->n] = strndup(key, kn);
          s->vals[s->n] = strndup(next, nn);
          s->n++;
        }
        snprintf(buf, sizeof buf, "{\"swapped\":true}");
      } else {
        snprintf(buf, sizeof buf, "{\"swapped\":false,\"record\":%s}", current);
      }
      pthread_mutex_unlock(&s->mu);
      feed(life, buf);
    } else if (strcmp(step, "{\"action\":\"handle\"}") == 0) {
      pthread_mutex_lock(&s->mu);
      h->handled++;
      pthread_mutex_unlock(&s->mu);
      if (h->handler_status)
        snprintf(buf, sizeof buf, "{\"status\":%d,\"now\":1750000001}", h->handler_status);
      else
        snprintf(buf, sizeof buf, "{\"error\":\"the handler threw\"}");
      feed(life, buf);
    } else if (strstr(step, "{\"action\":\"settle\"") == step) {
      CHECK(strstr(step, "\\\"paymentPayload\\\"") && strstr(step, "\"timeoutMs\":"), "settle step: %.200s",
            step);
      pthread_mutex_lock(&s->mu);
      h->settles++;
      pthread_mutex_unlock(&s->mu);
      char err[256] = "";
      paywire_result r = paywire_lifecycle_feed_settle(life, h->reply, h->status, h->body, h->body_len,
                                                       "the facilitator double", 22, 1750000002, err,
                                                       sizeof err);
      CHECK(r == PAYWIRE_RESULT_OK, "feed_settle: %s %s", msg(r), err);
    } else if (strstr(step, "{\"action\":\"verify\"") == step) {
      CHECK(strstr(step, "\\\"paymentPayload\\\"") && strstr(step, "\"timeoutMs\":"), "verify step: %.200s",
            step);
      pthread_mutex_lock(&s->mu);
      h->verifies++;
      pthread_mutex_unlock(&s->mu);
      char err[256] = "";
      /* Out of turn: the settle feed refuses a verify step. */
      CHECK(paywire_lifecycle_feed_settle(life, PAYWIRE_SETTLE_REPLY_NO_ANSWER, 0, NULL, 0, NULL, 0, 0, err,
                                          sizeof err) == PAYWIRE_RESULT_INVALID_ARGUMENT &&
                strstr(err, "not settle"),
            "feed_settle at a verify step: %s", err);
      size_t vlen = h->vbody ? strlen(h->vbody) : 0;
      paywire_result r = paywire_lifecycle_feed_verify(life, h->vreply, h->vstatus, u8(h->vbody), vlen,
                                                       "the facilitator double", 22, 1750000001, err,
                                                       sizeof err);
      CHECK(r == PAYWIRE_RESULT_OK, "feed_verify: %s %s", msg(r), err);
    } else if (strstr(step, "{\"action\":\"respond\"") == step) {
      status = atoi(step + strlen("{\"action\":\"respond\",\"status\":"));
      if (answer) snprintf(answer, cap, "%s", step);
      feed(life, "{}");
    } else {
      CHECK(strstr(step, "{\"action\":\"done\"") == step, "unexpected step %s", step);
      free(step);
      return status;
    }
    free(step);
  }
  CHECK(0, "the lifecycle did not end");
  return status;
}

/* The text of a record literal (its JSON string unescaped: records hold only
 * `\"` and `\\` escapes of ASCII), for paywire_record_info. */
static char *unescape(const char *lit, size_t n) {
  char *out = malloc(n + 1);
  size_t o = 0;
  for (size_t i = 1; i + 1 < n; i++) {
    if (lit[i] == '\\' && i + 2 < n) i++;
    out[o++] = lit[i];
  }
  out[o] = 0;
  return out;
}

/* The state of the record of the last payment looked up ("none" if absent). */
static void record_state(struct store *s, struct host *h, char *state, size_t cap) {
  snprintf(state, cap, "none");
  int at = store_find(s, h->record_key, strlen(h->record_key));
  if (at < 0) return;
  char *text = unescape(s->vals[at], strlen(s->vals[at]));
  uint8_t info[4096];
  size_t n = 0;
  char err[256] = "";
  paywire_result r = paywire_record_info(text, strlen(text), info, sizeof info - 1, &n, err, sizeof err,
                                         NULL, 0);
  CHECK(r == PAYWIRE_RESULT_OK, "record_info: %s %s (%s)", msg(r), err, text);
  info[r == PAYWIRE_RESULT_OK ? n : 0] = 0;
  size_t sn = 0;
  const char *st = json_string((char *)info, "state", &sn);
  if (st && sn >= 2) snprintf(state, cap, "%.*s", (int)sn - 2, st + 1);
  free(text);
}

static const uint64_t LIFE_NOW = 1750000000;
static char LIFE_PAYMENT[BIG];

/* A request presenting `payment` (NULL: none) to PR_JSON's resource. */
static char *life_request(const char *method, const char *payment) {
  char *req = malloc(BIG);
  if (payment)
    snprintf(req, BIG,
             "{\"method\":\"%s\",\"url\":\"https://api.example.com/data\",\"headers\":[[\"Host\","
             "\"api.example.com\"],[\"PAYMENT-SIGNATURE\",\"%s\"]]}",
             method, payment);
  else
    snprintf(req, BIG, "{\"method\":\"%s\",\"url\":\"https://api.example.com/data\",\"headers\":[]}",
             method);
  return req;
}

static paywire_lifecycle *life_start(const char *route, const char *request, const char *id) {
  paywire_lifecycle *life = NULL;
  char err[256] = "";
  const char *settings = "{\"settleTimeoutSeconds\":5,\"claimSeconds\":30}";
  paywire_result r = paywire_lifecycle_new(u8(route), strlen(route), u8(request), strlen(request), LIFE_NOW,
                                           id, strlen(id), u8(settings), strlen(settings), &life, err,
                                           sizeof err, NULL, 0);
  CHECK(r == PAYWIRE_RESULT_OK && life, "lifecycle_new: %s %s", msg(r), err);
  return life;
}

/* A fresh payment for PR_JSON, in LIFE_PAYMENT. */
static void life_pay(uint8_t nonce_byte) {
  uint8_t key[32], nonce[32];
  memset(key, 0x11, sizeof key);
  memset(nonce, nonce_byte, sizeof nonce);
  size_t n = 0;
  paywire_result r = paywire_create_payment(u8(PR_JSON), strlen(PR_JSON), key, nonce, LIFE_NOW, NULL, 0,
                                            NULL, (uint8_t *)LIFE_PAYMENT, sizeof LIFE_PAYMENT - 1, &n,
                                            NULL, 0, NULL, 0);
  CHECK(r == PAYWIRE_RESULT_OK, "payment: %s", msg(r));
  LIFE_PAYMENT[r == PAYWIRE_RESULT_OK ? n : 0] = 0;
}

static const char *SETTLED_BODY =
    "{\"success\":true,\"transaction\":\"0xabababababababababababababababababababababababababababababababab\","
    "\"network\":\"eip155:84532\"}";

/* Presents LIFE_PAYMENT once; returns the answer's status. */
static int present(struct store *s, struct host *h, const char *method, char *answer, size_t cap) {
  char *req = life_request(method, LIFE_PAYMENT);
  paywire_lifecycle *life = life_start(PR_JSON, req, "c-test");
  int status = life ? drive(life, s, h, answer, cap) : -1;
  paywire_lifecycle_free(life);
  free(req);
  return status;
}

static void test_lifecycle_flows(void) {
  struct store s = {.mu = PTHREAD_MUTEX_INITIALIZER};
  char answer[BIG], state[32];

  /* No payment: the 402 at once, nothing stored. */
  struct host h = {.handler_status = 200};
  char *req = life_request("GET", NULL);
  paywire_lifecycle *life = life_start(PR_JSON, req, "c-test");
  CHECK(drive(life, &s, &h, answer, sizeof answer) == 402, "unpaid: %s", answer);
  CHECK(strstr(answer, "[\"PAYMENT-REQUIRED\",\"") && strstr(answer, "\"outcome\":\"paymentRequired\""),
        "a PAYMENT-REQUIRED header: %s", answer);
  size_t n = 0;
  CHECK(paywire_lifecycle_key(life, NULL, 0, &n) == PAYWIRE_RESULT_OK && n == 0, "no key");
  CHECK(paywire_lifecycle_verdict(life, NULL, 0, &n) == PAYWIRE_RESULT_OK && n == 0, "no verdict");
  paywire_lifecycle_free(life);
  free(req);
  CHECK(s.n == 0 && h.handled == 0, "nothing stored, nothing handled");

  /* Paid, settled, delivered; then the same payment again: 409, never a second settlement. */
  life_pay(0x51);
  h = (struct host){.reply = PAYWIRE_SETTLE_REPLY_ANSWERED, .status = 200, .body = u8(SETTLED_BODY),
                    .body_len = strlen(SETTLED_BODY), .handler_status = 200};
  req = life_request("GET", LIFE_PAYMENT);
  life = life_start(PR_JSON, req, "c-test");
  CHECK(drive(life, &s, &h, answer, sizeof answer) == 200, "paid: %s", answer);
  CHECK(strstr(answer, "\"useHandlerResponse\":true") && strstr(answer, "[\"PAYMENT-RESPONSE\",\"") &&
            strstr(answer, "[\"Cache-Control\",\"private, no-store\"]") &&
            strstr(answer, "\"outcome\":\"delivered\""),
        "delivered with PAYMENT-RESPONSE: %s", answer);
  CHECK(h.settles == 1 && h.handled == 1, "one settlement (%d), one handler run (%d)", h.settles,
        h.handled);
  char key[512];
  CHECK(paywire_lifecycle_key(life, (uint8_t *)key, sizeof key - 1, &n) == PAYWIRE_RESULT_OK && n > 0,
        "key");
  key[n] = 0;
  CHECK(strlen(h.record_key) == n + 2 && memcmp(h.record_key + 1, key, n) == 0, "the key looked up: %s",
        key);
  size_t need = 0;
  CHECK(paywire_lifecycle_verdict(life, NULL, 0, &need) == PAYWIRE_RESULT_INSUFFICIENT_SIZE && need > 0,
        "verdict size");
  char *verdict = malloc(need + 1);
  CHECK(paywire_lifecycle_verdict(life, (uint8_t *)verdict, need, &n) == PAYWIRE_RESULT_OK && n == need,
        "verdict");
  verdict[n] = 0;
  CHECK(strncmp(verdict, "{\"isValid\":true,\"payer\":\"0x", 27) == 0, "verdict: %s", verdict);
  free(verdict);
  paywire_lifecycle_free(life);
  free(req);
  record_state(&s, &h, state, sizeof state);
  CHECK(strcmp(state, "delivered") == 0, "record: %s", state);
  CHECK(present(&s, &h, "GET", answer, sizeof answer) == 409, "again: %s", answer);
  CHECK(strstr(answer, "payment_already_delivered") && strstr(answer, "[\"PAYMENT-RESPONSE\",\""),
        "already delivered, with the earlier PAYMENT-RESPONSE: %s", answer);
  CHECK(h.settles == 1 && h.handled == 1, "still one settlement");

  /* HEAD is never settled, and leaves the payment untouched. */
  life_pay(0x52);
  int settles = h.settles;
  CHECK(present(&s, &h, "HEAD", answer, sizeof answer) == 402, "HEAD: %s", answer);
  CHECK(h.settles == settles, "HEAD not settled");

  /* A body that is not UTF-8, with 200: not a SettleResponse, so uncertain,
   * never delivered and never "pay again"; presented again, the same. */
  static const uint8_t not_utf8[] = {0xff, 0xfe, '{', '}'};
  h.body = not_utf8;
  h.body_len = sizeof not_utf8;
  CHECK(present(&s, &h, "GET", answer, sizeof answer) == 502, "garbage: %s", answer);
  CHECK(strstr(answer, "settlement_uncertain") && strstr(answer, "\"uncertainRecord\":\"") &&
            !strstr(answer, "PAYMENT-RESPONSE") && strstr(answer, "\"useHandlerResponse\":false"),
        "uncertain, recorded: %s", answer);
  record_state(&s, &h, state, sizeof state);
  CHECK(strcmp(state, "uncertain") == 0, "record: %s", state);
  settles = h.settles;
  CHECK(present(&s, &h, "GET", answer, sizeof answer) == 502 && h.settles == settles,
        "uncertain again, no settlement: %s", answer);

  /* Not sent: 502 facilitator_unavailable, the record removed; then settled. */
  life_pay(0x53);
  h.reply = PAYWIRE_SETTLE_REPLY_NOT_SENT;
  CHECK(present(&s, &h, "GET", answer, sizeof answer) == 502 && strstr(answer, "facilitator_unavailable"),
        "not sent: %s", answer);
  record_state(&s, &h, state, sizeof state);
  CHECK(strcmp(state, "none") == 0, "record: %s", state);
  h.reply = PAYWIRE_SETTLE_REPLY_ANSWERED;
  h.body = u8(SETTLED_BODY);
  h.body_len = strlen(SETTLED_BODY);
  CHECK(present(&s, &h, "GET", answer, sizeof answer) == 200, "recovered: %s", answer);

  /* No answer: uncertain. A handler that fails: not settled, payment usable. */
  life_pay(0x54);
  h.handler_status = 0;
  settles = h.settles;
  CHECK(present(&s, &h, "GET", answer, sizeof answer) == 500 && h.settles == settles,
        "handler failed: %s", answer);
  record_state(&s, &h, state, sizeof state);
  CHECK(strcmp(state, "none") == 0, "record after a failed handler: %s", state);
  h.handler_status = 200;
  h.reply = PAYWIRE_SETTLE_REPLY_NO_ANSWER;
  CHECK(present(&s, &h, "GET", answer, sizeof answer) == 502 && strstr(answer, "settlement_uncertain") &&
            strstr(answer, "the facilitator double"),
        "no answer: %s", answer);

  /* A refusal proving nothing moved: 402 with its reason, the record removed. */
  life_pay(0x55);
  const char *refused = "{\"success\":false,\"errorReason\":\"invalid_exact_evm_insufficient_balance\","
                        "\"transaction\":\"\",\"network\":\"eip155:84532\"}";
  h.reply = PAYWIRE_SETTLE_REPLY_ANSWERED;
  h.body = u8(refused);
  h.body_len = strlen(refused);
  CHECK(present(&s, &h, "GET", answer, sizeof answer) == 402 &&
            strstr(answer, "\"reason\":\"invalid_exact_evm_insufficient_balance\""),
        "refused: %s", answer);
  record_state(&s, &h, state, sizeof state);
  CHECK(strcmp(state, "none") == 0, "record: %s", state);

  /* The payment for this route presented on a dearer one: 402, no record read. */
  char dearer[1024];
  snprintf(dearer, sizeof dearer, "%s", PR_JSON);
  char *amount = strstr(dearer, "\"10000\"");
  if (amount) memcpy(amount, "\"20000\"", 7);
  settles = h.settles;
  life = life_start(dearer, req = life_request("GET", LIFE_PAYMENT), "c-test");
  CHECK(drive(life, &s, &h, answer, sizeof answer) == 402 &&
            strstr(answer, "\"reason\":\"invalid_exact_evm_payload_authorization_value_mismatch\"") &&
            h.settles == settles,
        "another route's price: %s", answer);
  paywire_lifecycle_free(life);
  free(req);
  store_free(&s);
}

/* Presents the batch-settlement payment `name` on its route; returns the
 * answer's status. */
static int present_evm_batch(struct store *s, struct host *h, const char *name, char *answer, size_t cap) {
  char *req = life_request("GET", evm_batch_payment(name));
  paywire_lifecycle *life = life_start(EVM_BATCH_ROUTE, req, "c-test-batch");
  int status = life ? drive(life, s, h, answer, cap) : -1;
  paywire_lifecycle_free(life);
  free(req);
  return status;
}

/* batch-settlement on EVM: a deposit is verified (paywire_lifecycle_feed_verify),
 * handled, settled; the next voucher is checked here with no facilitator call;
 * a voucher off the charged total gets the corrective 402; a facilitator that
 * refuses or is not reached runs no handler and stores nothing. */
static void test_lifecycle_evm_batch(void) {
  struct store s = {.mu = PTHREAD_MUTEX_INITIALIZER};
  char answer[BIG], verified[1024], settled[1024], state[512];
  snprintf(state, sizeof state,
           "{\"channelId\":\"%s\",\"balance\":\"%%s\",\"totalClaimed\":\"0\",\"withdrawRequestedAt\":0,"
           "\"refundNonce\":\"0\"}",
           EVM_BATCH_CHANNEL);
  char before[600], after[600];
  snprintf(before, sizeof before, state, "0");
  snprintf(after, sizeof after, state, "10000");
  snprintf(verified, sizeof verified, "{\"isValid\":true,\"payer\":\"%s\",\"extra\":%s}", EVM_BATCH_PAYER,
           before);
  snprintf(settled, sizeof settled,
           "{\"success\":true,\"payer\":\"%s\",\"transaction\":\"0xabababababababababababababababababababab"
           "abababababababababababab\",\"network\":\"eip155:84532\",\"extra\":{\"channelState\":%s}}",
           EVM_BATCH_PAYER, after);

  /* The facilitator refuses the deposit: 402 with its reason, no handler, nothing stored. */
  struct host h = {.reply = PAYWIRE_SETTLE_REPLY_ANSWERED, .status = 200, .body = u8(settled),
                   .body_len = strlen(settled), .vreply = PAYWIRE_SETTLE_REPLY_ANSWERED, .vstatus = 200,
                   .vbody = "{\"isValid\":false,\"invalidReason\":\"invalid_batch_settlement_evm_deposit_"
                            "insufficient_balance\"}",
                   .handler_status = 200};
  CHECK(present_evm_batch(&s, &h, "deposit", answer, sizeof answer) == 402 &&
            strstr(answer, "invalid_batch_settlement_evm_deposit_insufficient_balance"),
        "verify refused: %s", answer);
  CHECK(h.verifies == 1 && h.handled == 0 && h.settles == 0 && s.n == 0,
        "refused: one verification, no handler, no settlement, nothing stored (%d %d %d %d)", h.verifies,
        h.handled, h.settles, s.n);

  /* Not reached: 502, nothing charged, nothing stored. */
  h.vreply = PAYWIRE_SETTLE_REPLY_NOT_SENT;
  CHECK(present_evm_batch(&s, &h, "deposit", answer, sizeof answer) == 502 &&
            strstr(answer, "\"outcome\":\"facilitatorUnavailable\"") && strstr(answer, "the facilitator double"),
        "verify not sent: %s", answer);
  CHECK(h.handled == 0 && h.settles == 0 && s.n == 0, "not sent: no handler, nothing stored");

  /* Verified, handled, settled, committed: 200 with PAYMENT-RESPONSE. */
  h.vreply = PAYWIRE_SETTLE_REPLY_ANSWERED;
  h.vbody = verified;
  h.verifies = 0;
  CHECK(present_evm_batch(&s, &h, "deposit", answer, sizeof answer) == 200 &&
            strstr(answer, "\"useHandlerResponse\":true") && strstr(answer, "[\"PAYMENT-RESPONSE\",\"") &&
            strstr(answer, "\"outcome\":\"delivered\""),
        "deposit: %s", answer);
  CHECK(h.verifies == 1 && h.handled == 1 && h.settles == 1 && s.n == 1,
        "deposit: one verification (%d), handler (%d), settlement (%d), record (%d)", h.verifies, h.handled,
        h.settles, s.n);
  CHECK(s.n == 1 && strstr(s.vals[0], "chargedCumulativeAmount\\\":\\\"1000"), "charged 1000: %s",
        s.n ? s.vals[0] : "");

  /* The next voucher: checked here, no facilitator call, the charge committed. */
  CHECK(present_evm_batch(&s, &h, "voucher2000", answer, sizeof answer) == 200 &&
            strstr(answer, "[\"PAYMENT-RESPONSE\",\""),
        "voucher: %s", answer);
  CHECK(h.verifies == 1 && h.settles == 1 && h.handled == 2, "voucher: no facilitator call");
  CHECK(s.n == 1 && strstr(s.vals[0], "chargedCumulativeAmount\\\":\\\"2000"), "charged 2000: %s",
        s.n ? s.vals[0] : "");

  /* A voucher off the charged total: the 402 with the channel's state, no handler. */
  CHECK(present_evm_batch(&s, &h, "voucher5000", answer, sizeof answer) == 402 &&
            strstr(answer, "invalid_batch_settlement_evm_cumulative_amount_mismatch") &&
            strstr(answer, "channelState"),
        "wrong total: %s", answer);
  CHECK(h.verifies == 1 && h.settles == 1 && h.handled == 2, "wrong total: no facilitator call, no handler");
  store_free(&s);
  for (int i = 0; i < n_evm_batch; i++) {
    free(evm_batch_names[i]);
    free(evm_batch_headers[i]);
  }
  n_evm_batch = 0;
}

static void test_lifecycle_misuse(void) {
  char err[256], reason[PAYWIRE_REASON_CAP];
  /* Routes. */
  CHECK(paywire_route_check(u8(PR_JSON), strlen(PR_JSON), err, sizeof err, reason, sizeof reason) ==
            PAYWIRE_RESULT_OK,
        "a good route");
  const char *bad_scheme =
      "{\"x402Version\":2,\"resource\":{\"url\":\"u\"},\"accepts\":[{\"scheme\":\"lottery\",\"network\":"
      "\"eip155:1\",\"amount\":\"1\",\"asset\":\"0x036CbD53842c5426634e7929541eC2318f3dCF7e\",\"payTo\":"
      "\"0x209693Bc6afc0C5328bA36FaF03C514EF312287C\",\"maxTimeoutSeconds\":60}]}";
  CHECK(paywire_route_check(u8(bad_scheme), strlen(bad_scheme), err, sizeof err, reason, sizeof reason) ==
                PAYWIRE_RESULT_INVALID_PAYMENT_REQUIREMENTS &&
            strcmp(reason, "invalid_payment_requirements") == 0 && strstr(err, "scheme"),
        "an unknown scheme: %s / %s", reason, err);
  CHECK(paywire_route_check(u8("{}"), 2, NULL, 0, reason, sizeof reason) ==
                PAYWIRE_RESULT_INVALID_X402_VERSION &&
            strcmp(reason, "invalid_x402_version") == 0,
        "no version: %s", reason);
  CHECK(paywire_route_check(NULL, 0, NULL, 0, NULL, 0) == PAYWIRE_RESULT_NULL_PARAMETER, "NULL route");

  /* Starting. */
  const char *req = "{\"method\":\"GET\",\"url\":\"https://api.example.com/data\",\"headers\":[]}";
  paywire_lifecycle *life = (paywire_lifecycle *)0x1;
  CHECK(paywire_lifecycle_new(u8(PR_JSON), strlen(PR_JSON), u8(req), strlen(req), LIFE_NOW, "x", 1,
                              u8("{\"claim\":1}"), 11, &life, err, sizeof err, reason, sizeof reason) ==
                PAYWIRE_RESULT_INVALID_CONFIG &&
            life == (paywire_lifecycle *)0x1 && reason[0] == 0 && strstr(err, "lifecycle settings"),
        "bad settings: %s", err);
  CHECK(paywire_lifecycle_new(u8(PR_JSON), strlen(PR_JSON), u8("{\"method\":\"GET\"}"), 16, LIFE_NOW, "x", 1,
                              NULL, 0, &life, err, sizeof err, reason, sizeof reason) ==
                PAYWIRE_RESULT_INVALID_PAYLOAD &&
            strcmp(reason, "invalid_payload") == 0,
        "a request without url: %s", err);
  CHECK(paywire_lifecycle_new(u8(bad_scheme), strlen(bad_scheme), u8(req), strlen(req), LIFE_NOW, "x", 1,
                              NULL, 0, &life, NULL, 0, reason, sizeof reason) ==
            PAYWIRE_RESULT_INVALID_PAYMENT_REQUIREMENTS,
        "a bad route");
  CHECK(paywire_lifecycle_new(u8(PR_JSON), strlen(PR_JSON), u8(req), strlen(req), LIFE_NOW, "\xff", 1, NULL,
                              0, &life, NULL, 0, NULL, 0) == PAYWIRE_RESULT_INVALID_UTF8,
        "an id that is not UTF-8");
  CHECK(paywire_lifecycle_new(u8(PR_JSON), strlen(PR_JSON), u8(req), strlen(req), LIFE_NOW, "x", 1, NULL, 0,
                              NULL, NULL, 0, NULL, 0) == PAYWIRE_RESULT_NULL_PARAMETER,
        "NULL out_lifecycle");
  life = NULL;
  CHECK(paywire_lifecycle_new(u8(PR_JSON), strlen(PR_JSON), u8(req), strlen(req), LIFE_NOW, "x", 1, NULL, 0,
                              &life, NULL, 0, NULL, 0) == PAYWIRE_RESULT_OK &&
            life,
        "defaults");

  /* Steps: size queries, short buffers, out-of-turn results. */
  size_t need = 0, n = 0;
  CHECK(paywire_lifecycle_next(life, NULL, 0, &need) == PAYWIRE_RESULT_INSUFFICIENT_SIZE, "size query");
  uint8_t buf[BIG];
  memset(buf, SENTINEL, sizeof buf);
  CHECK(paywire_lifecycle_next(life, buf, need - 1, &n) == PAYWIRE_RESULT_INSUFFICIENT_SIZE && n == need &&
            all_sentinel(buf, sizeof buf),
        "short: nothing written");
  CHECK(paywire_lifecycle_next(life, buf, sizeof buf, NULL) == PAYWIRE_RESULT_NULL_PARAMETER, "NULL out_len");
  CHECK(paywire_lifecycle_next(NULL, buf, sizeof buf, &n) == PAYWIRE_RESULT_NULL_PARAMETER, "NULL handle");
  CHECK(paywire_lifecycle_key(NULL, buf, sizeof buf, &n) == PAYWIRE_RESULT_NULL_PARAMETER, "NULL key");
  CHECK(paywire_lifecycle_verdict(NULL, buf, sizeof buf, &n) == PAYWIRE_RESULT_NULL_PARAMETER,
        "NULL verdict");
  CHECK(paywire_lifecycle_feed(life, u8("not json"), 8, NULL, 0, NULL, 0) == PAYWIRE_RESULT_INVALID_PAYLOAD,
        "garbage");
  CHECK(paywire_lifecycle_feed(life, u8("[]"), 2, NULL, 0, NULL, 0) == PAYWIRE_RESULT_INVALID_PAYLOAD,
        "not an object");
  CHECK(paywire_lifecycle_feed(NULL, u8("{}"), 2, NULL, 0, NULL, 0) == PAYWIRE_RESULT_NULL_PARAMETER,
        "NULL feed");
  CHECK(paywire_lifecycle_feed(life, NULL, 0, NULL, 0, NULL, 0) == PAYWIRE_RESULT_NULL_PARAMETER,
        "NULL result");
  CHECK(paywire_lifecycle_feed_settle(life, PAYWIRE_SETTLE_REPLY_NO_ANSWER, 0, NULL, 0, NULL, 0, 0, err,
                                      sizeof err) == PAYWIRE_RESULT_INVALID_ARGUMENT,
        "settled out of turn: %s", err);
  CHECK(paywire_lifecycle_feed_settle(NULL, PAYWIRE_SETTLE_REPLY_NOT_SENT, 0, NULL, 0, NULL, 0, 0, NULL, 0) ==
            PAYWIRE_RESULT_NULL_PARAMETER,
        "NULL handle feed_settle");
  /* Still at the 402, which may be read again. */
  CHECK(paywire_lifecycle_next(life, buf, sizeof buf, &n) == PAYWIRE_RESULT_OK && n == need &&
            memcmp(buf, "{\"action\":\"respond\",\"status\":402", 32) == 0,
        "unchanged");
  feed(life, "{}");
  CHECK(paywire_lifecycle_next(life, buf, sizeof buf, &n) == PAYWIRE_RESULT_OK &&
            n == strlen("{\"action\":\"done\",\"outcome\":\"paymentRequired\"}"),
        "done");
  CHECK(paywire_lifecycle_feed(life, u8("{}"), 2, NULL, 0, NULL, 0) == PAYWIRE_RESULT_INVALID_PAYLOAD,
        "nothing to feed once done");
  paywire_lifecycle_free(life);
  paywire_lifecycle_free(NULL);

  /* A paid request: its first step is the lookup; results for other steps are refused there. */
  life_pay(0x41);
  char *paid = life_request("GET", LIFE_PAYMENT);
  life = life_start(PR_JSON, paid, "c-test");
  char *lookup = next_step(life);
  CHECK(strncmp(lookup, "{\"action\":\"lookup\",\"key\":\"", 26) == 0, "lookup: %s", lookup);
  CHECK(paywire_lifecycle_feed(life, u8("{\"status\":200}"), 14, err, sizeof err, reason, sizeof reason) ==
                PAYWIRE_RESULT_INVALID_PAYLOAD &&
            strcmp(reason, "invalid_payload") == 0 && strstr(err, "not the answer to the current action"),
        "a handler's result for a lookup: %s", err);
  CHECK(paywire_lifecycle_feed(life, u8("{\"record\":7}"), 12, NULL, 0, NULL, 0) ==
            PAYWIRE_RESULT_INVALID_PAYLOAD,
        "a record that is not text");
  CHECK(paywire_lifecycle_feed_settle(life, PAYWIRE_SETTLE_REPLY_ANSWERED, 200, u8(SETTLED_BODY),
                                      strlen(SETTLED_BODY), NULL, 0, 0, err, sizeof err) ==
            PAYWIRE_RESULT_INVALID_ARGUMENT,
        "a settlement before the handler ran: %s", err);
  CHECK(paywire_lifecycle_feed_settle(life, 7, 200, u8("{}"), 2, NULL, 0, 0, NULL, 0) ==
            PAYWIRE_RESULT_INVALID_ARGUMENT,
        "an unknown reply");
  CHECK(paywire_lifecycle_feed_settle(life, PAYWIRE_SETTLE_REPLY_ANSWERED, 200, NULL, 5, NULL, 0, 0, NULL, 0) ==
            PAYWIRE_RESULT_NULL_PARAMETER,
        "NULL body with a length");
  CHECK(paywire_lifecycle_feed_settle(life, PAYWIRE_SETTLE_REPLY_NOT_SENT, 0, NULL, 0, "\xff", 1, 0, NULL, 0) ==
            PAYWIRE_RESULT_INVALID_UTF8,
        "a detail that is not UTF-8");
  char *same = next_step(life);
  CHECK(strcmp(same, lookup) == 0, "still the lookup: %s", same);
  free(same);
  free(lookup);
  paywire_lifecycle_free(life); /* abandoned before anything was stored */
  free(paid);

  /* Records. */
  CHECK(paywire_record_info("{}", 2, buf, sizeof buf, &n, err, sizeof err, reason, sizeof reason) ==
                PAYWIRE_RESULT_INVALID_PAYLOAD &&
            strcmp(reason, "invalid_payload") == 0,
        "not a record");
  CHECK(paywire_record_info("\xff", 1, buf, sizeof buf, &n, NULL, 0, NULL, 0) == PAYWIRE_RESULT_INVALID_UTF8,
        "not UTF-8");
  uint8_t forget = 7;
  CHECK(paywire_record_forgettable("garbage", 7, LIFE_NOW, &forget) == PAYWIRE_RESULT_OK && forget == 0,
        "garbage is kept");
  CHECK(paywire_record_forgettable("garbage", 7, LIFE_NOW, NULL) == PAYWIRE_RESULT_NULL_PARAMETER,
        "NULL forgettable");
  CHECK(paywire_record_forgettable(NULL, 0, LIFE_NOW, &forget) == PAYWIRE_RESULT_NULL_PARAMETER,
        "NULL record");
}

/* A delivered record is forgotten once its signature expired, an uncertain one never. */
static void test_lifecycle_records(void) {
  struct store s = {.mu = PTHREAD_MUTEX_INITIALIZER};
  struct host h = {.reply = PAYWIRE_SETTLE_REPLY_ANSWERED, .status = 200, .body = u8(SETTLED_BODY),
                   .body_len = strlen(SETTLED_BODY), .handler_status = 200};
  char answer[BIG];
  life_pay(0x61);
  CHECK(present(&s, &h, "GET", answer, sizeof answer) == 200, "paid");
  life_pay(0x62);
  h.reply = PAYWIRE_SETTLE_REPLY_NO_ANSWER;
  CHECK(present(&s, &h, "GET", answer, sizeof answer) == 502, "uncertain");
  CHECK(s.n == 2, "two records");
  for (int i = 0; i < s.n; i++) {
    char *text = unescape(s.vals[i], strlen(s.vals[i]));
    int delivered = strstr(text, "\"state\":\"delivered\"") != NULL;
    uint8_t now_f = 9, later_f = 9;
    CHECK(paywire_record_forgettable(text, strlen(text), LIFE_NOW, &now_f) == PAYWIRE_RESULT_OK &&
              paywire_record_forgettable(text, strlen(text), LIFE_NOW + 86400, &later_f) == PAYWIRE_RESULT_OK,
          "forgettable");
    CHECK(now_f == 0, "kept while the payment is valid: %s", text);
    CHECK(later_f == (delivered ? 1 : 0), "delivered forgotten later, uncertain kept: %s", text);
    uint8_t info[4096];
    size_t n = 0;
    CHECK(paywire_record_info(text, strlen(text), info, sizeof info - 1, &n, NULL, 0, NULL, 0) ==
              PAYWIRE_RESULT_OK,
          "info");
    info[n] = 0;
    CHECK(strstr((char *)info, "\"amount\":\"10000\"") && strstr((char *)info, "\"network\":\"eip155:84532\"") &&
              (delivered ? strstr((char *)info, "\"paymentResponse\":\"") != NULL
                         : strstr((char *)info, "\"cause\":\"") != NULL),
          "info: %s", (char *)info);
    free(text);
  }
  store_free(&s);
}

/* One payment presented by 20 threads at once, on one store: one settlement,
 * one delivery; every other request is told the payment is in use or spent. */
struct present_arg {
  struct store *s;
  struct host *h;
  pthread_barrier_t *go;
  int status;
  char answer[2048];
};

static void *present_in_thread(void *p) {
  struct present_arg *a = p;
  char *req = life_request("GET", LIFE_PAYMENT);
  pthread_barrier_wait(a->go);
  paywire_lifecycle *life = life_start(PR_JSON, req, "c-thread");
  a->status = life ? drive(life, a->s, a->h, a->answer, sizeof a->answer) : -1;
  paywire_lifecycle_free(life);
  free(req);
  return NULL;
}

static void test_lifecycle_concurrent(void) {
  enum { N = 20 };
  struct store s = {.mu = PTHREAD_MUTEX_INITIALIZER};
  struct host h = {.reply = PAYWIRE_SETTLE_REPLY_ANSWERED, .status = 200, .body = u8(SETTLED_BODY),
                   .body_len = strlen(SETTLED_BODY), .handler_status = 200};
  life_pay(0x71);
  pthread_barrier_t go;
  pthread_barrier_init(&go, NULL, N);
  pthread_t t[N];
  static struct present_arg a[N];
  for (int i = 0; i < N; i++) {
    a[i] = (struct present_arg){.s = &s, .h = &h, .go = &go};
    pthread_create(&t[i], NULL, present_in_thread, &a[i]);
  }
  int ok = 0, conflict = 0;
  for (int i = 0; i < N; i++) {
    pthread_join(t[i], NULL);
    if (a[i].status == 200) ok++;
    if (a[i].status == 409 && (strstr(a[i].answer, "payment_in_progress") ||
                               strstr(a[i].answer, "payment_already_delivered")))
      conflict++;
  }
  pthread_barrier_destroy(&go);
  CHECK(ok == 1 && conflict == N - 1, "one 200 (%d), %d others 409 (%d)", ok, N - 1, conflict);
  CHECK(h.settles == 1 && h.handled == 1, "one settlement (%d), one handler run (%d)", h.settles, h.handled);
  store_free(&s);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s VECTORS.tsv\n", argv[0]);
    return 2;
  }
  test_version();
  test_result_message();
  test_header_names();
  test_verify_misuse();
  test_header_misuse();
  test_create_payment();
  test_digests_misuse();
  test_garbage();
  test_chain();
  test_reasons();
  run_vectors(argv[1]);
  test_known_sizes();
  test_batch();
  test_threads();
  test_lifecycle_misuse();
  test_lifecycle_flows();
  test_lifecycle_records();
  test_lifecycle_concurrent();
  test_lifecycle_evm_batch();
  free((void *)VALID_V2_BODY);
  printf("%lu passed, %lu failed\n", checks - failures, failures);
  return failures ? 1 : 0;
}
