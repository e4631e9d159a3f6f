"""IAM domain: tenants and users as aggregates, rules free of I/O."""
