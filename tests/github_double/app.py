"""A GitHub App installed on the double's repository: JWTs checked, installation tokens issued.

GitHub's rules (https://docs.github.com/apps/creating-github-apps/authenticating-with-a-github-app):
the app authenticates with a JWT signed RS256 by its private key, ``iss`` its app id, expiring
within ten minutes; that JWT may call ``/app/...`` and ``GET /repos/{o}/{r}/installation`` only.
Installation tokens expire (an hour on GitHub; ``lifetime`` here) and an expired one is answered
``401 Bad credentials``.
"""

from __future__ import annotations

import itertools
import secrets
import time
from dataclasses import dataclass, field

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


@dataclass
class App:
    """The app, its installation on the repository, and the tokens issued so far."""

    app_id: int = 4242
    installation_id: int = 77
    lifetime: float = 3600.0  # seconds an installation token is valid
    private_key_pem: str = ""
    public_key: rsa.RSAPublicKey | None = None
    issued: dict[str, float] = field(default_factory=dict)  # token -> expiry (epoch seconds)
    jwts_seen: int = 0
    _serial: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @classmethod
    def generate(cls, **options: float) -> App:
        """An app with a fresh 2048-bit RSA key (GitHub's size)."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        ).decode()
        return cls(private_key_pem=pem, public_key=key.public_key(), **options)  # type: ignore[arg-type]

    def jwt_problem(self, credential: str) -> str | None:
        """None when ``credential`` is this app's valid JWT, else GitHub's message."""
        assert self.public_key is not None
        try:
            claims = jwt.decode(
                credential,
                self.public_key,
                algorithms=["RS256"],
                options={"require": ["iat", "exp", "iss"]},
                leeway=60,
            )
        except jwt.PyJWTError:
            return "A JSON web token could not be decoded"
        if str(claims["iss"]) != str(self.app_id):
            return "'Issuer' claim ('iss') must be an Integer"
        if claims["exp"] - claims["iat"] > 660:  # GitHub: at most 10 minutes (with clock drift)
            return "'Expiration time' claim ('exp') is too far in the future"
        self.jwts_seen += 1
        return None

    def issue(self) -> tuple[str, float]:
        """A new installation token and its expiry."""
        token = f"ghs_{next(self._serial):04d}{secrets.token_hex(16)}"
        expires = time.time() + self.lifetime
        self.issued[token] = expires
        return token, expires

    def token_valid(self, credential: str) -> bool:
        expires = self.issued.get(credential)
        return expires is not None and time.time() < expires

    def expire_all(self) -> None:
        """Every token issued so far stops working, as an hour passing would do."""
        for token in self.issued:
            self.issued[token] = 0.0
