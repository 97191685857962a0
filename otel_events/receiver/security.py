"""Receiver security: bearer tokens mapped to tenants, and TLS (optionally mutual) for gRPC and HTTP.

Token values are secrets: they are compared in constant time and never appear in a log line, an error
message or a status. Errors about a tokens file name the file and line, never the line's text.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import ssl
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import grpc

from otel_events.errors import ConfigError, OtelEventsError
from otel_events.receiver.environment import OTEL_EVENTS_TOKENS

_logger = logging.getLogger(__name__)

_TENANT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}")
_BEARER = "bearer"


class AuthenticationError(OtelEventsError):
    """A request's bearer token is missing or unknown (answered with UNAUTHENTICATED / HTTP 401)."""


class TokenAuthenticator:
    """Maps ``authorization: Bearer <token>`` to the token's tenant.

    Every presented token is hashed and compared with every known token's hash by ``hmac.compare_digest``,
    without stopping at a match, so the time taken does not tell how much of a guess was right.

    Args:
        tokens: token -> tenant.

    Raises:
        ConfigError: when there are no tokens or a tenant name is invalid.
    """

    def __init__(self, tokens: Mapping[str, str]) -> None:
        if not tokens:
            raise ConfigError("bearer-token authentication needs at least one token")
        for tenant in tokens.values():
            _check_tenant(tenant, "token list")
        self._digests = [(_digest(token), tenant) for token, tenant in tokens.items()]

    @property
    def tenants(self) -> frozenset[str]:
        """The tenants that have a token."""
        return frozenset(tenant for _, tenant in self._digests)

    def authenticate(self, authorization: str | None) -> str:
        """The tenant of an ``authorization`` header or metadata value.

        Raises:
            AuthenticationError: when the value is missing, not ``Bearer <token>``, or the token is unknown.
        """
        if not authorization:
            raise AuthenticationError("missing bearer token: send 'authorization: Bearer <token>'")
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != _BEARER or not token:
            raise AuthenticationError("the authorization must use the Bearer scheme: 'Bearer <token>'")
        presented = _digest(token)
        found: str | None = None
        for digest, tenant in self._digests:
            if hmac.compare_digest(presented, digest):
                found = tenant
        if found is None:
            raise AuthenticationError("invalid bearer token")
        return found


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()


def _check_tenant(tenant: str, origin: str) -> None:
    if not _TENANT.fullmatch(tenant):
        raise ConfigError(
            f"{origin}: tenant {tenant!r} is not a valid name (letters, digits, '_', '.', '@', '-'; at most 128)"
        )


def read_tokens_file(path: Path) -> dict[str, str]:
    """Read token -> tenant pairs from a file and warn when other users can read it.

    Two formats: ``*.toml`` files hold a ``[tokens]`` table of ``"<token>" = "<tenant>"``; any other file holds
    ``<token> = <tenant>`` lines (blank lines and ``#`` comments ignored; the last ``=`` separates the tenant,
    so base64 padding in tokens is fine).

    Raises:
        ConfigError: naming the file and line (never its text) when it is missing or malformed.
    """
    try:
        text = path.read_text(encoding="utf-8")
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise ConfigError(f"tokens file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"tokens file {path} cannot be read: {getattr(exc, 'strerror', None) or exc}") from None
    if mode & stat.S_IROTH:
        _logger.warning(
            "tokens file %s is readable by every user (mode %o); restrict it: chmod 600", path, mode & 0o777
        )
    tokens = _parse_toml_tokens(path, text) if path.suffix == ".toml" else _parse_token_lines(path, text)
    if not tokens:
        raise ConfigError(f"tokens file {path} holds no tokens")
    return tokens


def _parse_toml_tokens(path: Path, text: str) -> dict[str, str]:
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        # tomllib's message can quote the offending text, which may be a token.
        raise ConfigError(f"tokens file {path} is not valid TOML") from None
    table = document.get("tokens")
    if not isinstance(table, dict) or set(document) != {"tokens"}:
        raise ConfigError(f'tokens file {path}: expected only a [tokens] table of "<token>" = "<tenant>"')
    tokens: dict[str, str] = {}
    for number, (token, tenant) in enumerate(table.items(), start=1):
        if not isinstance(tenant, str) or not token.strip() or token != token.strip():
            raise ConfigError(f"tokens file {path}: entry {number} of [tokens] must be a token and a tenant string")
        _check_tenant(tenant, f"tokens file {path}, entry {number}")
        tokens[token] = tenant
    return tokens


def _parse_token_lines(path: Path, text: str) -> dict[str, str]:
    tokens: dict[str, str] = {}
    first_line: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        token, separator, tenant = line.rpartition("=")
        token, tenant = token.strip(), tenant.strip().strip("\"'")
        if not separator or not token or not tenant or any(c.isspace() for c in token):
            raise ConfigError(f"tokens file {path}, line {number}: expected '<token> = <tenant>'")
        _check_tenant(tenant, f"tokens file {path}, line {number}")
        if token in first_line:
            raise ConfigError(f"tokens file {path}, line {number}: repeats the token of line {first_line[token]}")
        first_line[token] = number
        tokens[token] = tenant
    return tokens


def parse_tokens_variable(text: str) -> dict[str, str]:
    """Parse ``OTEL_EVENTS_TOKENS``: comma-separated ``<tenant>:<token>`` pairs.

    A tenant may hold several tokens (repeat the tenant); the first ``:`` separates, so tokens may contain ``:``.

    Raises:
        ConfigError: naming the entry's position (never its text) when an entry is malformed.
    """
    tokens: dict[str, str] = {}
    for number, entry in enumerate(text.split(","), start=1):
        entry = entry.strip()
        if not entry:
            continue
        tenant, separator, token = entry.partition(":")
        tenant, token = tenant.strip(), token.strip()
        if not separator or not tenant or not token or any(c.isspace() for c in token):
            raise ConfigError(f"{OTEL_EVENTS_TOKENS}: entry {number} must be '<tenant>:<token>'")
        _check_tenant(tenant, f"{OTEL_EVENTS_TOKENS}, entry {number}")
        if token in tokens:
            raise ConfigError(f"{OTEL_EVENTS_TOKENS}: entry {number} repeats an earlier token")
        tokens[token] = tenant
    return tokens


def load_authenticator(tokens_file: Path | None, environ: Mapping[str, str] | None = None) -> TokenAuthenticator | None:
    """The authenticator configured by ``tokens_file``, else ``OTEL_EVENTS_TOKENS``; ``None`` when neither is set.

    Unlike other environment variables, a malformed ``OTEL_EVENTS_TOKENS`` is an error rather than a warning:
    falling back to the default would silently switch authentication off.

    Raises:
        ConfigError: for an unreadable or malformed file or variable.
    """
    environ = os.environ if environ is None else environ
    if tokens_file is not None:
        if environ.get(OTEL_EVENTS_TOKENS):
            _logger.info("using tokens file %s; %s is ignored", tokens_file, OTEL_EVENTS_TOKENS)
        tokens = read_tokens_file(tokens_file)
    elif environ.get(OTEL_EVENTS_TOKENS):
        tokens = parse_tokens_variable(environ[OTEL_EVENTS_TOKENS])
        if not tokens:
            raise ConfigError(f"{OTEL_EVENTS_TOKENS} is set but holds no '<tenant>:<token>' entries")
    else:
        return None
    authenticator = TokenAuthenticator(tokens)
    _logger.info(
        "bearer-token authentication on: %d token(s) for %d tenant(s)", len(tokens), len(authenticator.tenants)
    )
    return authenticator


# -- TLS ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TlsFiles:
    """PEM files of the receiver's TLS identity.

    Attributes:
        cert: server certificate chain.
        key: server private key.
        client_ca: CA certificates that sign accepted client certificates; set means mutual TLS (a client
            without a certificate signed by it is refused).
    """

    cert: Path
    key: Path
    client_ca: Path | None = None

    def server_context(self) -> ssl.SSLContext:
        """An ``ssl`` server context (TLS 1.2+) for the OTLP/HTTP listener.

        Raises:
            ConfigError: naming the file that cannot be loaded.
        """
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            context.load_cert_chain(self.cert, self.key)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"cannot load TLS certificate {self.cert} with key {self.key}: {exc}") from None
        if self.client_ca is not None:
            try:
                context.load_verify_locations(cafile=self.client_ca)
            except (OSError, ssl.SSLError) as exc:
                raise ConfigError(f"cannot load TLS client CA {self.client_ca}: {exc}") from None
            context.verify_mode = ssl.CERT_REQUIRED
        return context

    def grpc_credentials(self) -> grpc.ServerCredentials:
        """gRPC server credentials; client certificates are required when ``client_ca`` is set.

        Raises:
            ConfigError: naming the file that cannot be read or does not hold a usable certificate and key.
        """
        self.server_context()  # grpc reports bad PEM only as a failed bind: check it here with a clear error
        cert, key = _read_pem(self.cert), _read_pem(self.key)
        client_ca = _read_pem(self.client_ca) if self.client_ca is not None else None
        return grpc.ssl_server_credentials(
            [(key, cert)], root_certificates=client_ca, require_client_auth=client_ca is not None
        )


def _read_pem(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read TLS file {path}: {exc.strerror}") from None
