"""One module per tenant API resource; each takes an AuthenticatedSession and returns typed results."""
