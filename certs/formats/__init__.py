"""Specified, pure PKI formats: the 统一社会信用代码, the institution certificate profile,
revocation lists, and the root signer that builds them from a key given as an argument."""
