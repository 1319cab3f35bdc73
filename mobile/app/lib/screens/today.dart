// Today: the trip being recorded and the timer, with the buttons people
// press when no automation did it for them.

import 'dart:async';

import 'package:flutter/material.dart';

import '../format.dart';
import '../src/rust/api/session.dart';
import '../src/rust/api/types.dart';
import 'common.dart';

/// The first tab.
class TodayScreen extends StatefulWidget {
  const TodayScreen({super.key, required this.core});

  final TachoCore core;

  @override
  State<TodayScreen> createState() => _TodayScreenState();
}

class _TodayScreenState extends CoreListState<TodayScreen> {
  @override
  TachoCore get core => widget.core;

  ActiveTrip? _trip;
  TimerStatusInfo? _timer;
  Timer? _ticker;
  int _secondsSinceLoad = 0;

  @override
  void initState() {
    super.initState();
    // Durations tick locally between reloads.
    _ticker = Timer.periodic(const Duration(seconds: 1), (_) {
      if (mounted) setState(() => _secondsSinceLoad++);
    });
  }

  @override
  void dispose() {
    _ticker?.cancel();
    super.dispose();
  }

  @override
  Future<void> reload() async {
    try {
      final trip = await core.activeTrip();
      final timer = await core.timerStatus();
      if (!mounted) return;
      setState(() {
        _trip = trip;
        _timer = timer;
        _secondsSinceLoad = 0;
      });
    } catch (e) {
      if (mounted) showError(context, e);
    }
  }

  @override
  Widget build(BuildContext context) {
    final trip = _trip;
    final timer = _timer;
    final running = timer?.running;
    return ListView(
      padding: const EdgeInsets.all(16),
      children: [
        Text('Trip', style: Theme.of(context).textTheme.titleLarge),
        Card(
          child: trip == null
              ? ListTile(
                  title: const Text('No trip is being recorded'),
                  trailing: FilledButton(
                    onPressed: () => guarded(context, () async {
                      await core.connect(source: TripSource.manual);
                      await reload();
                    }),
                    child: const Text('Start trip'),
                  ),
                )
              : ListTile(
                  title: Text('Recording since ${clock(trip.trip.startedAtMs)}'),
                  subtitle: Text(
                    '${km(trip.liveDistanceM)} · ${hm(trip.durationS + _secondsSinceLoad)}',
                  ),
                  trailing: FilledButton.tonal(
                    onPressed: () => guarded(context, () async {
                      await core.endTrip();
                      await reload();
                    }),
                    child: const Text('End trip'),
                  ),
                ),
        ),
        const SizedBox(height: 24),
        Text('Timer', style: Theme.of(context).textTheme.titleLarge),
        Card(
          child: ListTile(
            title: Text(running == null
                ? 'No timer running'
                : (timer?.project?.name ?? running.description)),
            subtitle: Text(timer == null
                ? ''
                : 'Today ${hm(timer.todayS + (running == null ? 0 : _secondsSinceLoad))}'
                    ' (rounded ${hm(timer.todayRoundedS)})'),
            trailing: running == null
                ? FilledButton(
                    onPressed: () => _startTimer(context),
                    child: const Text('Start timer'),
                  )
                : FilledButton.tonal(
                    onPressed: () => guarded(context, () async {
                      await core.stopTimer();
                      await reload();
                    }),
                    child: Text('Stop ${hm(timer!.elapsedS + _secondsSinceLoad)}'),
                  ),
          ),
        ),
      ],
    );
  }

  Future<void> _startTimer(BuildContext context) async {
    final projects = await core.projects();
    if (!context.mounted) return;
    final chosen = await showModalBottomSheet<String?>(
      context: context,
      builder: (context) => ListView(
        children: [
          ListTile(
            title: const Text('No project'),
            onTap: () => Navigator.pop(context, ''),
          ),
          for (final p in projects)
            ListTile(
              title: Text(p.name),
              subtitle: p.client == null ? null : Text(p.client!),
              onTap: () => Navigator.pop(context, p.id),
            ),
        ],
      ),
    );
    if (chosen == null || !context.mounted) return;
    await guarded(context, () async {
      await core.startTimer(
        project: chosen.isEmpty ? null : chosen,
        description: '',
        tags: const [],
      );
      await reload();
    });
  }
}
