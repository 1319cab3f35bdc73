"""OpenID Connect sign-in through the app bindings, against a real relay configured with a real
OpenID provider (server/relay/tests/oidc-provider/provider.mjs, panva/oidc-provider in Node).

The test is the browser: it follows the authorization URL by hand (cookies kept, no automatic
redirects) and stops at the redirect to the app's registered URI, as
server/relay/tests/support/idp.rs does. Without node or the provider's node_modules the test
FAILS with what to do; it never skips.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import http.client
import json
import os
import secrets
import shutil
import subprocess
import threading
import urllib.parse

import pytest

from conftest import REPO, run_relay

PROVIDER_DIR = REPO / "server" / "relay" / "tests" / "oidc-provider"
# Registered for the relay's client at the provider and at the relay (any port: RFC 8252 §7.3).
LOOPBACK = "http://127.0.0.1/callback"
NATIVE_REDIRECT = "http://127.0.0.1/native"


@pytest.fixture
def idp():
    """The test OpenID provider; yields its issuer URL."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("Node.js is needed for the OpenID test (a real provider runs in it): install "
                    f"Node.js >= 20 and run `npm ci` in {PROVIDER_DIR}")
    if not (PROVIDER_DIR / "node_modules" / "oidc-provider" / "package.json").is_file():
        pytest.fail(f"the test OpenID provider's packages are missing: run `npm ci --no-audit "
                    f"--no-fund` in {PROVIDER_DIR}")
    proc = subprocess.Popen([node, "provider.mjs"], cwd=PROVIDER_DIR, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ))
    first: list[str] = []
    got = threading.Event()

    def read_first():
        assert proc.stdout is not None
        first.append(proc.stdout.readline())
        got.set()
        for _ in proc.stdout:  # keep draining
            pass

    threading.Thread(target=read_first, daemon=True).start()
    got.wait(timeout=120)
    if not first or not first[0].startswith("http://127.0.0.1:"):
        proc.kill()
        err = proc.stderr.read() if proc.stderr else ""
        pytest.fail(f"the test OpenID provider did not start ({first!r}):\n{err}")
    try:
        yield first[0].strip()
    finally:
        proc.kill()
        proc.wait(timeout=10)


@pytest.fixture
def oidc_relay(tmp_path, idp):
    """tacho-relay with provider `idp` (browser flow; accepts the native app's ID tokens)."""
    config = tmp_path / "oidc.json"
    config.write_text(json.dumps({"providers": [{
        "id": "idp", "kind": "generic", "issuer": idp, "client_id": "relay",
        "client_secret": "relay-secret", "redirect_uris": [LOOPBACK],
        "extra_audiences": ["native"]}]}))
    yield from run_relay(tmp_path, ["--oidc-config", str(config)])


def hint(sub: str, email: str) -> str:
    """The provider's login_hint: who signs in, at once."""
    return urllib.parse.urlencode({"sub": sub, "email": email, "email_verified": "true"})


def follow(url: str, issuer: str) -> str:
    """GETs `url` and the provider's redirects (keeping cookies) until one leaves the issuer."""
    cookies: dict[str, str] = {}
    for _ in range(20):
        parts = urllib.parse.urlsplit(url)
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())} if cookies else {}
        conn.request("GET", path, headers=headers)
        res = conn.getresponse()
        body = res.read()
        for name, value in res.getheaders():
            if name.lower() == "set-cookie":
                k, _, v = value.split(";", 1)[0].partition("=")
                cookies[k.strip()] = v
        conn.close()
        if res.status not in (302, 303, 307):
            raise AssertionError(f"the provider answered {res.status} at {url}: {body[:500]!r}")
        url = urllib.parse.urljoin(url, res.getheader("Location"))
        if not url.startswith(issuer + "/"):
            return url
    raise AssertionError("too many redirects")


def sign_in_at_provider(authorization_url: str, issuer: str, sub: str, email: str) -> str:
    """The browser session: returns the redirect URL the app gets back."""
    sep = "&" if "?" in authorization_url else "?"
    return follow(f"{authorization_url}{sep}login_hint={urllib.parse.quote(hint(sub, email))}",
                  issuer)


def native_id_token(issuer: str, nonce: str, sub: str, email: str) -> str:
    """What Sign in with Apple hands the app: the code flow as the public `native` client with
    `nonce`, then the token request."""
    verifier = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
    challenge = base64.urlsafe_b64encode(
        hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = urllib.parse.urlencode({
        "response_type": "code", "client_id": "native", "redirect_uri": NATIVE_REDIRECT,
        "scope": "openid email profile", "state": "native-state", "nonce": nonce,
        "code_challenge": challenge, "code_challenge_method": "S256",
        "login_hint": hint(sub, email)})
    back = follow(f"{issuer}/auth?{query}", issuer)
    code = urllib.parse.parse_qs(urllib.parse.urlsplit(back).query)["code"][0]
    parts = urllib.parse.urlsplit(issuer)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    conn.request("POST", "/token", urllib.parse.urlencode({
        "grant_type": "authorization_code", "code": code, "redirect_uri": NATIVE_REDIRECT,
        "client_id": "native", "code_verifier": verifier}),
        {"Content-Type": "application/x-www-form-urlencoded"})
    res = conn.getresponse()
    body = json.loads(res.read())
    assert res.status == 200, body
    return body["id_token"]


def test_oidc_sign_in_through_the_bindings(tacho, tmp_path, idp, oidc_relay):
    relay = oidc_relay
    redirect = "http://127.0.0.1:48123/callback"  # never listened on: the browser stops there

    def core(name):
        return tacho.Core(str(tmp_path / f"{name}.db"), "Europe/Berlin",
                          tacho.RuntimeKind.CURRENT_THREAD)

    phone, tablet, other, ipad = core("phone"), core("tablet"), core("other"), core("ipad")

    async def browser_sign_in(c, sub="ada-sub", email="ada@example.org"):
        pending = await c.oidc_begin(relay, "idp", redirect)
        assert pending.redirect_uri == redirect
        assert pending.authorization_url.startswith(idp + "/")
        assert pending.expires_at_ms > 0 and pending.state
        assert pending.state in pending.pending  # opaque, but it is this sign-in
        back = sign_in_at_provider(pending.authorization_url, idp, sub, email)
        assert back.startswith(redirect + "?") and "code=" in back
        return await c.oidc_complete(pending.pending, back)

    async def phone_signs_in_and_syncs():
        status = await browser_sign_in(phone)
        assert status.signed_in and status.relay_url == relay and status.account_id
        await phone.add_car(tacho.NewCar(name="Skoda", plate="C-EV 8"))
        report = await phone.sync_once()
        assert report.pushed >= 1 and report.parked == 0
        return status

    status = asyncio.run(phone_signs_in_and_syncs())

    async def second_device_lands_in_the_same_account():
        status2 = await browser_sign_in(tablet)
        assert status2.account_id == status.account_id
        report = await tablet.sync_once()
        assert report.pulled >= 1
        return [c.plate for c in await tablet.cars()]

    assert asyncio.run(second_device_lands_in_the_same_account()) == ["C-EV 8"]

    async def refusals():
        pending = await other.oidc_begin(relay, "idp", redirect)
        # Another sign-in's state (an injected or stale redirect): refused before the relay.
        with pytest.raises(tacho.TachoError.Auth, match="state"):
            await other.oidc_complete(pending.pending, f"{redirect}?code=x&state=forged")
        # The person said no at the provider.
        denied = urllib.parse.urlencode({"error": "access_denied",
                                         "error_description": "the user said no",
                                         "state": pending.state})
        with pytest.raises(tacho.TachoError.Auth, match="access_denied"):
            await other.oidc_complete(pending.pending, f"{redirect}?{denied}")
        with pytest.raises(tacho.TachoError.BadInput):
            await other.oidc_complete("not a pending sign-in", f"{redirect}?code=x&state=y")
        with pytest.raises(tacho.TachoError.BadInput):
            await other.oidc_complete(pending.pending, "not a url")
        # An unknown provider is the relay's 404: not signed in either way.
        with pytest.raises(tacho.TachoError):
            await other.oidc_begin(relay, "nope", redirect)
        assert not (await other.sync_status()).signed_in

    asyncio.run(refusals())

    async def native_id_token_sign_in():
        n = await ipad.oidc_nonce(relay, "idp")
        assert n.nonce and n.expires_at_ms > 0
        token = await asyncio.to_thread(native_id_token, idp, n.nonce, "ada-sub",
                                        "ada@example.org")
        st = await ipad.oidc_sign_in_with_id_token(relay, "idp", token, n.nonce)
        assert st.signed_in and st.account_id == status.account_id
        assert [c.plate for c in (await ipad.sync_once(), await ipad.cars())[1]] == ["C-EV 8"]
        # The nonce is single use: a replayed token is refused.
        with pytest.raises(tacho.TachoError.BadInput, match="nonce"):
            await other.oidc_sign_in_with_id_token(relay, "idp", token, n.nonce)
        assert not (await other.sync_status()).signed_in

    asyncio.run(native_id_token_sign_in())
