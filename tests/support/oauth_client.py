"""Authlib's OAuth 2.0 client for httpx, imported without its httpx warning.

Authlib 1.9 prefers the httpx2 fork and warns once, at import, when it falls
back to httpx, which EAF uses; the client works the same on either.
"""

from __future__ import annotations

import warnings

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="The httpx module is deprecated")
    from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError

__all__ = ["AsyncOAuth2Client", "OAuthError"]
