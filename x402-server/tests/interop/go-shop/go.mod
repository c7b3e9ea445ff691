module example.com/goshop

go 1.19

require paywire/go v0.0.0

replace paywire/go => ../../../../x402-ffi/go
