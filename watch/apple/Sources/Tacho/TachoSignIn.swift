import Foundation
import TachoFFI
#if canImport(AuthenticationServices)
import AuthenticationServices
#endif

/// OpenID Connect sign-in, next to the session handoff in `TachoBackend`. A separate protocol so
/// fakes of `TachoBackend` need not grow; all checks (state, PKCE, the provider's errors) happen
/// in the Rust core, these are only the calls and the browser session around them.
/// Only parse-checked in this repository (no Swift compiler in its CI).
public protocol TachoOpenIDBackend: AnyObject, Sendable {
    /// Starts a browser sign-in with `provider` for `redirectUri` (registered at the relay).
    func oidcBegin(relayUrl: String, provider: String, redirectUri: String) async throws -> OidcPending
    /// Finishes it with the URL the browser session came back with; `pending` is
    /// `OidcPending.pending` (holds the PKCE verifier: keep it in memory, never log it).
    func oidcComplete(pending: String, redirectUrl: String) async throws -> SyncStatus
    /// A one-time nonce for Sign in with Apple (pass it verbatim as the request's nonce).
    func oidcNonce(relayUrl: String, provider: String) async throws -> OidcNonce
    /// Signs in with the ID token Sign in with Apple returned for a request made with `nonce`.
    func oidcSignInWithIdToken(relayUrl: String, provider: String, idToken: String, nonce: String) async throws -> SyncStatus
}

extension Core: TachoOpenIDBackend {}

#if canImport(AuthenticationServices)
/// Runs the whole browser sign-in: begin at the relay, show the provider in an
/// `ASWebAuthenticationSession`, finish with the callback URL.
public enum TachoOpenIDSignIn {
    /// Signs in with `provider` (an id from the relay's `GET /v1/capabilities`). `redirectUri`
    /// must be registered at the relay, e.g. `tacho://oidc/callback`; its scheme is the
    /// callback scheme the session waits for. Throws `TachoError.Auth` when the person cancels
    /// at the provider (`error=access_denied`), `ASWebAuthenticationSessionError` when the
    /// sheet is dismissed.
    @MainActor
    public static func signIn(
        backend: TachoOpenIDBackend,
        relayUrl: String,
        provider: String,
        redirectUri: String = "tacho://oidc/callback",
        presentationContext: ASWebAuthenticationPresentationContextProviding? = nil
    ) async throws -> SyncStatus {
        let pending = try await backend.oidcBegin(relayUrl: relayUrl, provider: provider, redirectUri: redirectUri)
        guard let start = URL(string: pending.authorizationUrl),
              let scheme = URL(string: redirectUri)?.scheme
        else {
            throw TachoError.BadInput(reason: "the relay returned an unusable sign-in address")
        }
        let callback: URL = try await withCheckedThrowingContinuation { continuation in
            let session = ASWebAuthenticationSession(url: start, callbackURLScheme: scheme) { url, error in
                if let url {
                    continuation.resume(returning: url)
                } else {
                    continuation.resume(throwing: error ?? TachoError.Auth(reason: "the sign-in was cancelled"))
                }
            }
            #if os(iOS) || os(macOS)
            session.presentationContextProvider = presentationContext
            #endif
            session.prefersEphemeralWebBrowserSession = false
            session.start()
        }
        return try await backend.oidcComplete(pending: pending.pending, redirectUrl: callback.absoluteString)
    }
}
#endif
