// Settings: the relay to sync with, sign-in and sign-out, sync status and the
// changes the relay refused (parked), the account's devices, pairing the watch.

import 'package:flutter/material.dart';

import '../format.dart';
import '../oidc.dart';
import '../src/rust/api/session.dart';
import '../src/rust/api/types.dart';
import 'common.dart';
import 'trips.dart' show askText;

/// Sync settings and status.
class SettingsScreen extends StatefulWidget {
  const SettingsScreen({super.key, required this.core});

  final TachoCore core;

  @override
  State<SettingsScreen> createState() => _SettingsScreenState();
}

class _SettingsScreenState extends CoreListState<SettingsScreen> {
  @override
  TachoCore get core => widget.core;

  @override
  bool wants(CoreEventInfo event) => event.kind != CoreEventKind.tripProgress;

  final _relay = TextEditingController(text: 'https://');
  final _email = TextEditingController();
  final _password = TextEditingController();
  SyncStatusInfo? _status;
  List<ParkedOpInfo> _parked = const [];
  List<DeviceInfoView> _devices = const [];
  bool _busy = false;
  List<OidcProvider> _providers = const [];
  String? _providersOf;

  @override
  Future<void> reload() async {
    try {
      final status = await core.syncStatus();
      final parked = await core.parkedOps();
      var devices = const <DeviceInfoView>[];
      if (status.accountId != null) {
        try {
          devices = await core.devices();
        } catch (_) {
          // Offline: the list shows once the relay answers again.
        }
      }
      if (!mounted) return;
      setState(() {
        _status = status;
        _parked = parked;
        _devices = devices;
        if (status.relayUrl != null) _relay.text = status.relayUrl!;
      });
      await _loadProviders();
    } catch (e) {
      if (mounted) showError(context, e);
    }
  }

  /// Asks the relay which OpenID providers it offers (once per relay URL).
  Future<void> _loadProviders() async {
    final url = _relay.text;
    if (url == _providersOf) return;
    _providersOf = url;
    final providers = await oidcProviders(url);
    if (mounted && _relay.text == url) setState(() => _providers = providers);
  }

  Future<void> _run(Future<void> Function() action) async {
    setState(() => _busy = true);
    await guarded(context, action);
    if (mounted) setState(() => _busy = false);
    await reload();
  }

  /// Asks for a new name and renames the device on the relay.
  /// Asks for a month (`YYYY-MM`) and locks it; the core checks the text.
  Future<void> _lockMonth() async {
    final locked = await core.lockedPeriods();
    if (!mounted) return;
    final month = await askText(
        context, 'Month to lock (YYYY-MM); locked: ${locked.isEmpty ? 'none' : locked.join(', ')}', null);
    if (month == null || month.isEmpty || !mounted) return;
    await _run(() async {
      final changed = await core.lockPeriod(month: month);
      if (mounted) {
        ScaffoldMessenger.of(context).showSnackBar(SnackBar(
            content: Text(changed ? 'Locked $month' : '$month was already locked')));
      }
    });
  }

  Future<void> _rename(DeviceInfoView device) async {
    final name = TextEditingController(text: device.name);
    final ok = await showDialog<bool>(
      context: context,
      builder: (context) => AlertDialog(
        title: const Text('Rename device'),
        content: TextField(controller: name, autofocus: true),
        actions: [
          TextButton(onPressed: () => Navigator.pop(context, false), child: const Text('Cancel')),
          FilledButton(onPressed: () => Navigator.pop(context, true), child: const Text('Rename')),
        ],
      ),
    );
    if (ok == true) {
      await _run(() => core.renameDevice(deviceId: device.deviceId, name: name.text));
    }
  }

  @override
  Widget build(BuildContext context) {
    final status = _status;
    final signedIn = status?.accountId != null;
    return Scaffold(
      appBar: AppBar(title: const Text('Settings')),
      body: ListView(
        padding: const EdgeInsets.all(16),
        children: [
          TextField(
            controller: _relay,
            decoration: const InputDecoration(labelText: 'Relay URL'),
            onSubmitted: (_) => _loadProviders(),
          ),
          if (!signedIn) ...[
            TextField(controller: _email, decoration: const InputDecoration(labelText: 'Email')),
            TextField(
              controller: _password,
              obscureText: true,
              decoration: const InputDecoration(labelText: 'Password'),
            ),
            const SizedBox(height: 12),
            Row(
              children: [
                FilledButton(
                  onPressed: _busy
                      ? null
                      : () => _run(() => core.login(
                            relayUrl: _relay.text,
                            email: _email.text,
                            password: _password.text,
                          )),
                  child: const Text('Sign in'),
                ),
                const SizedBox(width: 12),
                OutlinedButton(
                  onPressed: _busy
                      ? null
                      : () => _run(() => core.signup(
                            relayUrl: _relay.text,
                            email: _email.text,
                            password: _password.text,
                          )),
                  child: const Text('Create account'),
                ),
              ],
            ),
            for (final p in _providers)
              Padding(
                padding: const EdgeInsets.only(top: 8),
                child: OutlinedButton(
                  onPressed: _busy
                      ? null
                      : () => _run(() => signInWithOidc(core, _relay.text, p)),
                  child: Text('Sign in with ${p.label}'),
                ),
              ),
          ],
          const Divider(height: 32),
          ListTile(
            title: Text(signedIn ? 'Signed in' : 'Not signed in'),
            subtitle: Text(status == null
                ? ''
                : '${status.pendingOps} changes waiting · ${status.parkedOps} parked'
                    '${status.lastSyncAtMs == null ? '' : ' · last sync ${when(status.lastSyncAtMs!)}'}'
                    '${status.lastError == null ? '' : '\nLast error: ${status.lastError}'}'),
            trailing: FilledButton.tonal(
              onPressed: _busy || !signedIn ? null : () => _run(() => core.syncNow()),
              child: const Text('Sync now'),
            ),
          ),
          if (_parked.isNotEmpty) ...[
            const ListTile(title: Text('Changes the relay refused')),
            for (final p in _parked)
              ListTile(
                dense: true,
                title: Text('${p.entity} ${p.entityId.substring(0, 8)}: ${p.code}'),
                subtitle: Text('${p.message} · ${when(p.parkedAtMs)}'),
              ),
          ],
          const Divider(height: 32),
          ListTile(
            leading: const Icon(Icons.lock_outline),
            title: const Text('Lock a month'),
            subtitle: const Text('Closes the mileage log and timesheet of a month: '
                'no change to it is accepted afterwards'),
            enabled: !_busy,
            onTap: _lockMonth,
          ),
          const Divider(height: 32),
          ListTile(
            title: const Text('This device'),
            subtitle: Text(core.deviceId()),
          ),
          if (signedIn) ...[
            for (final d in _devices)
              ListTile(
                dense: true,
                leading: Icon(d.current ? Icons.smartphone : Icons.devices_other),
                title: Text(d.name + (d.current ? ' (this device)' : '')),
                subtitle: Text(d.revokedAt != null
                    ? 'revoked ${d.revokedAt}'
                    : 'since ${d.createdAt} · last change ${d.lastPushAt ?? 'never'}'),
                trailing: PopupMenuButton<String>(
                  enabled: !_busy && d.revokedAt == null,
                  onSelected: (action) => action == 'rename'
                      ? _rename(d)
                      : _run(() => core.revokeDevice(deviceId: d.deviceId)),
                  itemBuilder: (_) => [
                    const PopupMenuItem(value: 'rename', child: Text('Rename')),
                    if (!d.current)
                      const PopupMenuItem(value: 'revoke', child: Text('Revoke (lost device)')),
                  ],
                ),
              ),
            const SizedBox(height: 12),
            Row(
              children: [
                OutlinedButton(
                  onPressed: _busy ? null : () => _run(() => core.logout(forgetData: false)),
                  child: const Text('Sign out'),
                ),
                const SizedBox(width: 12),
                TextButton(
                  onPressed: _busy ? null : () => _run(() => core.logout(forgetData: true)),
                  child: const Text('Sign out and delete local data'),
                ),
              ],
            ),
          ],
        ],
      ),
    );
  }
}

