// Timesheet connections (Toggl, Tempo, Kimai, Zammad) and the conflict inbox.
// Connections live on the relay: listing, pausing, resuming and "run now" need
// the network. Conflicts arrive by sync and are read from the local database,
// so the inbox shows offline; resolving one is a call to the relay. Adding a
// connection takes the service's API token and stays a CLI or dashboard task.

import 'package:flutter/material.dart';

import '../format.dart';
import '../src/rust/api/session.dart';
import '../src/rust/api/types.dart';
import 'common.dart';

/// The list of connections with their state and counts.
class ConnectionsScreen extends StatefulWidget {
  const ConnectionsScreen({super.key, required this.core});

  final TachoCore core;

  @override
  State<ConnectionsScreen> createState() => _ConnectionsScreenState();
}

class _ConnectionsScreenState extends CoreListState<ConnectionsScreen> {
  @override
  TachoCore get core => widget.core;

  @override
  bool wants(CoreEventInfo event) => event.kind != CoreEventKind.tripProgress;

  List<ConnectionView> _connections = const [];
  int _openConflicts = 0;

  /// Why the relay's list could not be shown (offline, signed out), if it could not.
  String? _listError;

  /// The connection whose call is running, so its buttons wait.
  String? _busy;

  @override
  Future<void> reload() async {
    final open = await _countConflicts();
    List<ConnectionView> list = _connections;
    String? listError;
    try {
      list = await core.connectors();
    } catch (e) {
      listError = errorText(e);
    }
    if (!mounted) return;
    setState(() {
      _openConflicts = open;
      _connections = list;
      _listError = listError;
    });
  }

  Future<int> _countConflicts() async {
    try {
      return await core.conflictCount();
    } catch (e) {
      if (mounted) showError(context, e);
      return _openConflicts;
    }
  }

  Future<void> _act(ConnectionView c, Future<void> Function() call) async {
    setState(() => _busy = c.id);
    await guarded(context, call);
    if (!mounted) return;
    setState(() => _busy = null);
    await reload();
  }

  Future<void> _runNow(ConnectionView c) => _act(c, () async {
        final report = await core.connectorRun(key: c.id, waitS: 60);
        if (!mounted) return;
        final s = report.status;
        ScaffoldMessenger.of(context).showSnackBar(SnackBar(
          content: Text(report.drained
              ? '${c.name}: everything is pushed'
              : '${c.name}: ${s.pending} pending, ${s.errors} errors, '
                  '${s.conflicts} conflicts${s.lastError == null ? '' : ' · ${s.lastError}'}'),
        ));
      });

  @override
  Widget build(BuildContext context) {
    return Scaffold(
      appBar: AppBar(title: const Text('Connections')),
      body: RefreshIndicator(
        onRefresh: reload,
        child: ListView(
          children: [
            ListTile(
              leading: Badge(
                isLabelVisible: _openConflicts > 0,
                label: Text('$_openConflicts'),
                child: const Icon(Icons.call_split),
              ),
              title: const Text('Conflicts'),
              subtitle: Text(_openConflicts == 0
                  ? 'Nothing to decide'
                  : '$_openConflicts waiting for a decision'),
              trailing: const Icon(Icons.chevron_right),
              onTap: () => Navigator.of(context).push(MaterialPageRoute<void>(
                builder: (_) => ConflictInboxScreen(core: core),
              )),
            ),
            const Divider(),
            if (_listError != null)
              ListTile(
                leading: const Icon(Icons.cloud_off),
                title: const Text('Connections are on the relay'),
                subtitle: Text(_listError!),
              ),
            if (_listError == null && _connections.isEmpty)
              const ListTile(title: Text('No connections yet')),
            for (final c in _connections) _tile(c),
            const ListTile(
              leading: Icon(Icons.info_outline),
              title: Text('Adding a connection'),
              subtitle: Text('Adding or removing a connection needs the service\'s API token: '
                  'use `tacho connector add` or the relay\'s dashboard. The app shows, pauses, '
                  'resumes and runs the connections you have.'),
            ),
          ],
        ),
      ),
    );
  }

  Widget _tile(ConnectionView c) {
    final busy = _busy == c.id;
    final paused = c.state == ConnectorState.paused || c.state == ConnectorState.disabled;
    return ExpansionTile(
      leading: Icon(_stateIcon(c.state), color: _stateColor(context, c.state)),
      title: Text(c.name),
      subtitle: Text('${c.service} · ${_stateText(c)}\n'
          '${c.pending} pending · ${c.conflicts} conflicts · ${c.errors} errors'),
      children: [
        if (c.lastPushAt != null) ListTile(dense: true, title: Text('Last push ${c.lastPushAt}')),
        if (c.lastPullAt != null) ListTile(dense: true, title: Text('Last pull ${c.lastPullAt}')),
        OverflowBar(
          alignment: MainAxisAlignment.end,
          children: [
            if (paused)
              TextButton.icon(
                icon: const Icon(Icons.play_arrow),
                label: const Text('Resume'),
                onPressed: busy ? null : () => _act(c, () => core.connectorResume(key: c.id)),
              )
            else
              TextButton.icon(
                icon: const Icon(Icons.pause),
                label: const Text('Pause'),
                onPressed: busy ? null : () => _act(c, () => core.connectorPause(key: c.id)),
              ),
            FilledButton.icon(
              icon: busy
                  ? const SizedBox.square(
                      dimension: 16, child: CircularProgressIndicator(strokeWidth: 2))
                  : const Icon(Icons.sync),
              label: const Text('Run now'),
              onPressed: busy ? null : () => _runNow(c),
            ),
          ],
        ),
      ],
    );
  }
}

String _stateText(ConnectionView c) => switch (c.state) {
      ConnectorState.active => 'active',
      ConnectorState.paused => 'paused',
      ConnectorState.disabled => 'disabled: ${c.disabledReason ?? 'credentials refused'}',
      ConnectorState.quota => 'waiting for the quota until ${c.quotaUntil ?? '?'}',
      ConnectorState.unknown => c.stateName,
    };

IconData _stateIcon(ConnectorState s) => switch (s) {
      ConnectorState.active => Icons.cloud_done,
      ConnectorState.paused => Icons.pause_circle,
      ConnectorState.disabled => Icons.key_off,
      ConnectorState.quota => Icons.hourglass_top,
      ConnectorState.unknown => Icons.help_outline,
    };

Color? _stateColor(BuildContext context, ConnectorState s) => switch (s) {
      ConnectorState.disabled => Theme.of(context).colorScheme.error,
      _ => null,
    };

/// The open conflicts, one card each with both sides next to each other.
class ConflictInboxScreen extends StatefulWidget {
  const ConflictInboxScreen({super.key, required this.core});

  final TachoCore core;

  @override
  State<ConflictInboxScreen> createState() => _ConflictInboxScreenState();
}

class _ConflictInboxScreenState extends CoreListState<ConflictInboxScreen> {
  @override
  TachoCore get core => widget.core;

  @override
  bool wants(CoreEventInfo event) => event.kind != CoreEventKind.tripProgress;

  List<ConflictInfo> _conflicts = const [];
  String? _busy;

  @override
  Future<void> reload() async {
    try {
      final list = await core.conflicts(includeResolved: false);
      if (!mounted) return;
      setState(() => _conflicts = list);
    } catch (e) {
      if (mounted) showError(context, e);
    }
  }

  Future<void> _resolve(ConflictInfo c, Resolution r) async {
    setState(() => _busy = c.id);
    await guarded(context, () => core.resolveConflict(id: c.id, resolution: r));
    if (!mounted) return;
    setState(() => _busy = null);
    await reload();
  }

  @override
  Widget build(BuildContext context) {
    return Scaffold(
      appBar: AppBar(title: const Text('Conflicts')),
      body: _conflicts.isEmpty
          ? const Center(child: Text('No open conflicts'))
          : ListView(
              padding: const EdgeInsets.all(8),
              children: [for (final c in _conflicts) _card(c)],
            ),
    );
  }

  Widget _card(ConflictInfo c) {
    final busy = _busy == c.id;
    final aboutEntry = c.entryId != null;
    return Card(
      child: Padding(
        padding: const EdgeInsets.all(12),
        child: Column(
          crossAxisAlignment: CrossAxisAlignment.start,
          children: [
            Text('${c.connectionName} (${c.service})',
                style: Theme.of(context).textTheme.titleMedium),
            Text('${c.message} · ${when(c.raisedAtMs)}'),
            const SizedBox(height: 8),
            if (aboutEntry)
              Row(
                crossAxisAlignment: CrossAxisAlignment.start,
                children: [
                  Expanded(child: _side('Tacho', c.local, 'deleted in Tacho')),
                  const SizedBox(width: 8),
                  Expanded(child: _side(c.service, c.remote, 'deleted on ${c.service}')),
                ],
              ),
            OverflowBar(
              alignment: MainAxisAlignment.end,
              children: [
                TextButton(
                  onPressed: busy ? null : () => _resolve(c, Resolution.dismiss),
                  child: const Text('Dismiss'),
                ),
                if (aboutEntry)
                  OutlinedButton(
                    onPressed: busy ? null : () => _resolve(c, Resolution.keepRemote),
                    child: Text('Keep ${c.service}'),
                  ),
                if (aboutEntry)
                  FilledButton(
                    onPressed: busy ? null : () => _resolve(c, Resolution.keepLocal),
                    child: const Text('Keep Tacho'),
                  ),
              ],
            ),
          ],
        ),
      ),
    );
  }

  /// One side of a conflict; `null` means the entry is gone on that side.
  Widget _side(String title, EntrySnapshotInfo? s, String gone) {
    final rows = <String>[];
    if (s == null) {
      rows.add(gone);
    } else {
      final tags = s.tags ?? const <String>[];
      rows.addAll([
        if (s.description != null) s.description!,
        if (s.project != null) 'Project: ${s.project}',
        if (s.startMs != null) 'Start: ${when(s.startMs!)}',
        if (s.stopMs != null) 'Stop: ${when(s.stopMs!)}',
        if (s.seconds != null) 'Duration: ${hm(s.seconds!)}',
        if (tags.isNotEmpty) 'Tags: ${tags.join(', ')}',
        if (s.billable != null) s.billable! ? 'Billable' : 'Not billable',
      ]);
    }
    return Container(
      padding: const EdgeInsets.all(8),
      decoration: BoxDecoration(
        border: Border.all(color: Theme.of(context).dividerColor),
        borderRadius: BorderRadius.circular(8),
      ),
      child: Column(
        crossAxisAlignment: CrossAxisAlignment.start,
        children: [
          Text(title, style: Theme.of(context).textTheme.labelLarge),
          for (final r in rows) Text(r),
        ],
      ),
    );
  }
}
