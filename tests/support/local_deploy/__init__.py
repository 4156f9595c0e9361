"""Deploy the sample app into a local AWS emulator: `make deploy-local` (docs/deploy-local.md)."""
