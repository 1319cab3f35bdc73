// Timesheet: this week's entries with raw durations (rounding shows in the
// totals and reports only), a form for entries typed in afterwards, and an
// edit screen (project, description, start/stop, tags; delete and restore)
// whose rules and history are the core's. Entries pushed to timesheet
// connections carry a sync badge (pending, synced, conflict, error) as last
// synced; the badge is the core's summary of the entry's links.

import 'package:flutter/material.dart';

import '../format.dart';
import '../src/rust/api/session.dart';
import '../src/rust/api/types.dart';
import 'common.dart';
import 'connections.dart' show ConflictInboxScreen;

/// The third tab.
class TimesheetScreen extends StatefulWidget {
  const TimesheetScreen({super.key, required this.core});

  final TachoCore core;

  @override
  State<TimesheetScreen> createState() => _TimesheetScreenState();
}

class _TimesheetScreenState extends CoreListState<TimesheetScreen> {
  @override
  TachoCore get core => widget.core;

  @override
  bool wants(CoreEventInfo event) => event.kind != CoreEventKind.tripProgress;

  List<TimeEntryInfo> _entries = const [];
  Map<String, String> _projectNames = const {};
  Map<String, EntrySyncInfo> _badges = const {};

  @override
  Future<void> reload() async {
    try {
      final from = DateTime.now().subtract(const Duration(days: 7));
      final entries = await core.entries(
        query: EntryQuery(fromMs: from.millisecondsSinceEpoch),
      );
      final projects = await core.projects();
      final badges = await core.entrySyncStates();
      if (!mounted) return;
      setState(() {
        _entries = entries.reversed.toList();
        _projectNames = {for (final p in projects) p.id: p.name};
        _badges = {for (final b in badges) b.entryId: b};
      });
    } catch (e) {
      if (mounted) showError(context, e);
    }
  }

  @override
  Widget build(BuildContext context) {
    final now = DateTime.now().millisecondsSinceEpoch;
    return Scaffold(
      body: _entries.isEmpty
          ? const Center(child: Text('No entries in the last 7 days'))
          : ListView(
              children: [
                for (final e in _entries)
                  ListTile(
                    leading: Icon(switch (e.source) {
                      EntrySource.timer => Icons.timer,
                      EntrySource.manual => Icons.edit_note,
                      EntrySource.trip => Icons.directions_car,
                    }),
                    title: Text(_projectNames[e.projectId] ?? 'No project'),
                    subtitle: Text('${when(e.startMs)}'
                        '${e.description.isEmpty ? '' : ' · ${e.description}'}'),
                    trailing: Row(
                      mainAxisSize: MainAxisSize.min,
                      children: [
                        if (_badges[e.id] != null) SyncBadge(sync: _badges[e.id]!, core: core),
                        Text(hm(((e.stopMs ?? now) - e.startMs) ~/ 1000)),
                      ],
                    ),
                    onTap: () => Navigator.of(context).push(MaterialPageRoute<void>(
                      builder: (_) => EntryEditScreen(core: core, entryId: e.id),
                    )),
                  ),
              ],
            ),
      floatingActionButton: FloatingActionButton(
        tooltip: 'Add entry',
        onPressed: () => _addEntry(context),
        child: const Icon(Icons.add),
      ),
    );
  }

  Future<void> _addEntry(BuildContext context) async {
    final now = DateTime.now();
    final start = await showTimePicker(
      context: context,
      initialTime: TimeOfDay.fromDateTime(now.subtract(const Duration(hours: 1))),
      helpText: 'Start',
    );
    if (start == null || !context.mounted) return;
    final stop = await showTimePicker(
      context: context,
      initialTime: TimeOfDay.fromDateTime(now),
      helpText: 'Stop',
    );
    if (stop == null || !context.mounted) return;
    DateTime at(TimeOfDay t) => DateTime(now.year, now.month, now.day, t.hour, t.minute);
    await guarded(context, () async {
      await core.addEntry(
        entry: NewEntryInput(
          description: '',
          startMs: at(start).millisecondsSinceEpoch,
          stopMs: at(stop).millisecondsSinceEpoch,
          tags: const [],
        ),
      );
      await reload();
    });
  }
}

/// One entry: edit its project, description, start, stop and tags; delete or
/// restore it; its history as the core keeps it.
class EntryEditScreen extends StatefulWidget {
  const EntryEditScreen({super.key, required this.core, required this.entryId});

  final TachoCore core;
  final String entryId;

  @override
  State<EntryEditScreen> createState() => _EntryEditScreenState();
}

class _EntryEditScreenState extends State<EntryEditScreen> {
  TachoCore get core => widget.core;
  EntryDetailInfo? _detail;
  List<ProjectInfo> _projects = const [];
  final _description = TextEditingController();
  final _tags = TextEditingController();

  @override
  void initState() {
    super.initState();
    _load();
  }

  @override
  void dispose() {
    _description.dispose();
    _tags.dispose();
    super.dispose();
  }

  Future<void> _load() async {
    await guarded(context, () async {
      final detail = await core.entry(key: widget.entryId);
      final projects = await core.projectList(includeArchived: false);
      if (!mounted) return;
      setState(() {
        _detail = detail;
        _projects = projects;
        _description.text = detail.entry.description;
        _tags.text = detail.entry.tags.join(', ');
      });
    });
  }

  List<String> _tagList() =>
      [for (final t in _tags.text.split(',')) if (t.trim().isNotEmpty) t.trim()];

  Future<void> _save(EntryEditInput edit) async {
    await guarded(context, () async {
      final detail = await core.editEntry(key: widget.entryId, edit: edit);
      if (mounted) setState(() => _detail = detail);
    });
  }

  Future<void> _pickTime(TimeEntryInfo e, {required bool stop}) async {
    final ms = stop ? (e.stopMs ?? DateTime.now().millisecondsSinceEpoch) : e.startMs;
    final old = DateTime.fromMillisecondsSinceEpoch(ms);
    final picked = await showTimePicker(
      context: context,
      initialTime: TimeOfDay.fromDateTime(old),
      helpText: stop ? 'Stop' : 'Start',
    );
    if (picked == null || !mounted) return;
    final at = DateTime(old.year, old.month, old.day, picked.hour, picked.minute)
        .millisecondsSinceEpoch;
    await _save(EntryEditInput(
      startMs: stop ? null : at,
      stopMs: stop ? at : null,
      clearProject: false,
      clearTrip: false,
    ));
  }

  @override
  Widget build(BuildContext context) {
    final detail = _detail;
    if (detail == null) {
      return Scaffold(appBar: AppBar(), body: const Center(child: CircularProgressIndicator()));
    }
    final e = detail.entry;
    final projectIds = {for (final p in _projects) p.id};
    return Scaffold(
      appBar: AppBar(
        title: Text(detail.deleted ? 'Deleted entry' : 'Entry'),
        actions: [
          if (detail.deleted)
            IconButton(
              tooltip: 'Restore',
              icon: const Icon(Icons.restore),
              onPressed: () => guarded(context, () async {
                final d = await core.restoreEntry(key: e.id);
                if (mounted) setState(() => _detail = d);
              }),
            )
          else
            IconButton(
              tooltip: 'Delete',
              icon: const Icon(Icons.delete_outline),
              onPressed: () => guarded(context, () async {
                await core.deleteEntry(key: e.id);
                await _load();
              }),
            ),
        ],
      ),
      body: ListView(
        padding: const EdgeInsets.all(16),
        children: [
          DropdownButtonFormField<String?>(
            decoration: const InputDecoration(labelText: 'Project'),
            value: projectIds.contains(e.projectId) ? e.projectId : null,
            items: [
              const DropdownMenuItem<String?>(value: null, child: Text('No project')),
              for (final p in _projects) DropdownMenuItem<String?>(value: p.id, child: Text(p.name)),
            ],
            onChanged: detail.deleted
                ? null
                : (id) => _save(EntryEditInput(
                      project: id,
                      clearProject: id == null,
                      clearTrip: false,
                    )),
          ),
          TextField(
            controller: _description,
            enabled: !detail.deleted,
            decoration: const InputDecoration(labelText: 'Description'),
          ),
          TextField(
            controller: _tags,
            enabled: !detail.deleted,
            decoration: const InputDecoration(labelText: 'Tags (comma-separated)'),
          ),
          ListTile(
            title: const Text('Start'),
            subtitle: Text(when(e.startMs)),
            enabled: !detail.deleted,
            onTap: () => _pickTime(e, stop: false),
          ),
          ListTile(
            title: const Text('Stop'),
            subtitle: Text(e.stopMs == null ? 'running' : when(e.stopMs!)),
            enabled: !detail.deleted,
            onTap: () => _pickTime(e, stop: true),
          ),
          FilledButton(
            onPressed: detail.deleted
                ? null
                : () => _save(EntryEditInput(
                      description: _description.text,
                      tags: _tagList(),
                      clearProject: false,
                      clearTrip: false,
                    )),
            child: const Text('Save description and tags'),
          ),
          if (detail.history.isNotEmpty) ...[
            const Divider(),
            const ListTile(title: Text('History')),
            for (final h in detail.history)
              ListTile(
                dense: true,
                title: Text('${h.field.name}: ${h.oldValue ?? '—'} → ${h.newValue ?? '—'}'),
                subtitle: Text(when(h.atMs)),
              ),
          ],
        ],
      ),
    );
  }
}

/// An entry's state on its timesheet connections: tap for each connection's state and
/// message; a conflict opens the inbox.
class SyncBadge extends StatelessWidget {
  const SyncBadge({super.key, required this.sync, required this.core});

  final EntrySyncInfo sync;
  final TachoCore core;

  @override
  Widget build(BuildContext context) {
    final colors = Theme.of(context).colorScheme;
    final (icon, color, label) = switch (sync.state) {
      LinkState.pending => (Icons.cloud_upload_outlined, colors.outline, 'waiting to be pushed'),
      LinkState.synced => (Icons.cloud_done_outlined, colors.primary, 'synced'),
      LinkState.conflict => (Icons.call_split, colors.tertiary, 'conflict'),
      LinkState.error => (Icons.error_outline, colors.error, 'push failed'),
    };
    return IconButton(
      icon: Icon(icon, color: color, size: 20),
      tooltip: label,
      onPressed: () => _details(context),
    );
  }

  void _details(BuildContext context) {
    showModalBottomSheet<void>(
      context: context,
      builder: (sheet) => ListView(
        shrinkWrap: true,
        children: [
          for (final l in sync.links)
            ListTile(
              title: Text('${l.connectionName} (${l.service})'),
              subtitle: Text([
                l.state.name,
                if (l.syncedAtMs != null) 'in step ${when(l.syncedAtMs!)}',
                if (l.message != null) l.message!,
              ].join(' · ')),
            ),
          if (sync.state == LinkState.conflict)
            ListTile(
              leading: const Icon(Icons.call_split),
              title: const Text('Open the conflict inbox'),
              onTap: () {
                Navigator.of(sheet).pop();
                Navigator.of(context).push(MaterialPageRoute<void>(
                  builder: (_) => ConflictInboxScreen(core: core),
                ));
              },
            ),
        ],
      ),
    );
  }
}
