"""Secret tokens (API tokens, calendar feeds): shown once, stored as SHA-256."""

import hashlib
import secrets


def hash_token(raw_token: str) -> str:
    return hashlib.sha256(raw_token.encode()).hexdigest()


def new_secret_token() -> tuple[str, str]:
    """A new secret and its hash."""
    raw = secrets.token_urlsafe(32)
    return raw, hash_token(raw)
