// OpenID Connect sign-in ("Sign in with <provider>") through the system
// browser. All checks (state, PKCE verifier, the provider's errors) happen in
// the Rust core; this file only lists the relay's providers and runs the
// browser session. Only parse-checked in this repository (no Flutter in CI).

import 'dart:convert';
import 'dart:io';

import 'package:flutter_web_auth_2/flutter_web_auth_2.dart';

import 'src/rust/api/session.dart';
import 'src/rust/api/types.dart';

/// The redirect URI the app registers (custom scheme `tacho`); the relay's
/// operator lists it in the provider's `redirect_uris`.
const oidcRedirectUri = 'tacho://oidc/callback';

/// One provider from the relay's `GET /v1/capabilities`.
class OidcProvider {
  const OidcProvider({required this.id, required this.kind});

  /// Route id, e.g. `google`.
  final String id;

  /// `google`, `apple` or `generic`.
  final String kind;

  /// The button label.
  String get label => switch (kind) {
        'google' => 'Google',
        'apple' => 'Apple',
        _ => id,
      };
}

/// The providers the relay at [relayUrl] offers; empty when it offers none
/// or can't be reached (the password form still works then).
Future<List<OidcProvider>> oidcProviders(String relayUrl) async {
  final base = relayUrl.trim().replaceAll(RegExp(r'/+$'), '');
  final uri = Uri.tryParse('$base/v1/capabilities');
  if (uri == null || !(uri.scheme == 'https' || uri.scheme == 'http')) return const [];
  final client = HttpClient()..connectionTimeout = const Duration(seconds: 10);
  try {
    final req = await client.getUrl(uri);
    final res = await req.close();
    if (res.statusCode != 200) return const [];
    final body = jsonDecode(await res.transform(utf8.decoder).join());
    final list = (body is Map ? body['oidc_providers'] : null);
    if (list is! List) return const [];
    return [
      for (final p in list)
        if (p is Map && p['id'] is String)
          OidcProvider(id: p['id'] as String, kind: (p['kind'] as String?) ?? 'generic'),
    ];
  } catch (_) {
    return const [];
  } finally {
    client.close(force: true);
  }
}

/// Runs the browser sign-in with [provider]: begin at the relay, show the
/// provider in the system browser session, finish with the callback URL.
/// The opaque `pending` (it holds the PKCE verifier) stays in this function's
/// memory and is never logged.
Future<SyncStatusInfo> signInWithOidc(
    TachoCore core, String relayUrl, OidcProvider provider) async {
  final pending = await core.oidcBegin(
    relayUrl: relayUrl,
    provider: provider.id,
    redirectUri: oidcRedirectUri,
  );
  final callback = await FlutterWebAuth2.authenticate(
    url: pending.authorizationUrl,
    callbackUrlScheme: Uri.parse(oidcRedirectUri).scheme,
  );
  return core.oidcComplete(pending: pending.pending, redirectUrl: callback);
}
