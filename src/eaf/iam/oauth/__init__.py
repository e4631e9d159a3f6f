"""OAuth 2.0 and OpenID Connect protocol logic of the IAM, per tenant realm."""
