// Timesheet: this week's entries with raw durations (rounding shows in the
// totals and reports only), and a form for entries typed in afterwards.

import 'package:flutter/material.dart';

import '../format.dart';
import '../src/rust/api/session.dart';
import '../src/rust/api/types.dart';
import 'common.dart';

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

  @override
  Future<void> reload() async {
    try {
      final from = DateTime.now().subtract(const Duration(days: 7));
      final entries = await core.entries(
        query: EntryQuery(fromMs: from.millisecondsSinceEpoch),
      );
      final projects = await core.projects();
      if (!mounted) return;
      setState(() {
        _entries = entries.reversed.toList();
        _projectNames = {for (final p in projects) p.id: p.name};
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
                    trailing: Text(hm(((e.stopMs ?? now) - e.startMs) ~/ 1000)),
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
