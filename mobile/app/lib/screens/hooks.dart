// Automation hook tokens: one per iPhone Shortcut or Android automation that reports trips to
// the relay (docs/hooks.md). Made, listed and revoked through the core; the secret is shown
// once, when made.

import 'package:flutter/material.dart';
import 'package:flutter/services.dart';

import '../src/rust/api/session.dart';
import '../src/rust/api/types.dart';
import 'common.dart';
import 'trips.dart' show askText;

/// The account's hook tokens, with make and revoke.
class HookTokensScreen extends StatefulWidget {
  const HookTokensScreen({super.key, required this.core});

  final TachoCore core;

  @override
  State<HookTokensScreen> createState() => _HookTokensScreenState();
}

class _HookTokensScreenState extends State<HookTokensScreen> {
  TachoCore get core => widget.core;
  List<HookTokenView>? _tokens;

  @override
  void initState() {
    super.initState();
    _reload();
  }

  /// The list lives on the relay: read it again after every change.
  Future<void> _reload() async {
    try {
      final tokens = await core.hookTokens();
      if (mounted) setState(() => _tokens = tokens);
    } catch (e) {
      if (mounted) {
        setState(() => _tokens = const []);
        showError(context, e);
      }
    }
  }

  Future<void> _make(BuildContext context) async {
    final label = await askText(context, 'Label (e.g. CarPlay Golf)', '');
    if (label == null || !context.mounted) return;
    final car = await askText(context, 'Limit to a car (name or plate; empty for any)', '');
    if (car == null || !context.mounted) return;
    await guarded(context, () async {
      final made = await core.createHookToken(
        label: label.trim().isEmpty ? null : label.trim(),
        car: car.trim().isEmpty ? null : car.trim(),
      );
      await _reload();
      if (context.mounted) await _showSecret(context, made);
    });
  }

  /// The secret once, with a copy button: the relay keeps only its hash.
  Future<void> _showSecret(BuildContext context, NewHookToken made) => showDialog<void>(
        context: context,
        builder: (context) => AlertDialog(
          title: const Text('Copy the token now'),
          content: SelectableText(
              'Put it in the automation\'s "Authorization: Bearer" header. It is not shown '
              'again.\n\n${made.token}'),
          actions: [
            TextButton(
              onPressed: () => Clipboard.setData(ClipboardData(text: made.token)),
              child: const Text('Copy'),
            ),
            FilledButton(onPressed: () => Navigator.of(context).pop(), child: const Text('Done')),
          ],
        ),
      );

  Future<void> _revoke(BuildContext context, HookTokenView t) async {
    final sure = await showDialog<bool>(
      context: context,
      builder: (context) => AlertDialog(
        title: Text('Revoke ${t.label.isEmpty ? 'this token' : t.label}?'),
        content: const Text('Automations using it stop working at once.'),
        actions: [
          TextButton(onPressed: () => Navigator.of(context).pop(false), child: const Text('Cancel')),
          FilledButton(onPressed: () => Navigator.of(context).pop(true), child: const Text('Revoke')),
        ],
      ),
    );
    if (sure != true || !context.mounted) return;
    await guarded(context, () async {
      await core.revokeHookToken(id: t.id);
      await _reload();
    });
  }

  @override
  Widget build(BuildContext context) {
    final tokens = _tokens;
    return Scaffold(
      appBar: AppBar(title: const Text('Automation tokens')),
      body: tokens == null
          ? const Center(child: CircularProgressIndicator())
          : ListView(
              children: [
                if (tokens.isEmpty)
                  const ListTile(title: Text('No tokens. Signed in, make one for each automation.')),
                for (final t in tokens)
                  ListTile(
                    leading: const Icon(Icons.key),
                    title: Text(t.label.isEmpty ? t.id : t.label),
                    subtitle: Text([
                      if (t.carName != null) t.carName!,
                      'made ${t.createdAt}',
                      t.lastUsedAt == null ? 'never used' : 'last used ${t.lastUsedAt}',
                    ].join(' · ')),
                    trailing: IconButton(
                      tooltip: 'Revoke',
                      icon: const Icon(Icons.delete_outline),
                      onPressed: () => _revoke(context, t),
                    ),
                  ),
              ],
            ),
      floatingActionButton: FloatingActionButton(
        tooltip: 'Make a token',
        onPressed: () => _make(context),
        child: const Icon(Icons.add),
      ),
    );
  }
}
