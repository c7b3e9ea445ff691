module github.com/x402-rs/x402-rs/x402-ffi/go

go 1.19
