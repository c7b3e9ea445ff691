module paywire/go

go 1.19
