module github.com/x402-rs/x402-rs/x402-ffi/bench/go

go 1.19

require github.com/x402-rs/x402-rs/x402-ffi/go v0.0.0

replace github.com/x402-rs/x402-rs/x402-ffi/go => ../../go
