// Widget tests over a fake TachoCore, so they run with `flutter test` and no
// native library. They check that screens show what the core returns and
// call the core when buttons are pressed; the core's own behaviour is
// tested in Rust (mobile/rust, core/engine).

import 'package:flutter/material.dart';
import 'package:flutter_test/flutter_test.dart';
import 'package:tacho/screens/connections.dart';
import 'package:tacho/screens/today.dart';
import 'package:tacho/screens/trips.dart';
import 'package:tacho/src/rust/api/session.dart';
import 'package:tacho/src/rust/api/types.dart';

TripInfo _trip({String id = '0190aaaa-0000-7000-8000-000000000001', Purpose? purpose}) => TripInfo(
      id: id,
      state: TripState.ended,
      source: TripSource.carplay,
      startedAtMs: DateTime(2026, 3, 2, 8, 15).millisecondsSinceEpoch,
      endedAtMs: DateTime(2026, 3, 2, 8, 55).millisecondsSinceEpoch,
      timeZone: 'Europe/Amsterdam',
      startAddress: 'Home',
      endAddress: 'ACME',
      distanceM: 23400,
      pointCount: 120,
      purpose: purpose,
      recovered: false,
    );

/// Answers the calls the screens under test make; anything else fails the test.
class FakeCore implements TachoCore {
  ActiveTrip? active;
  List<TripInfo> tripList = [];
  final calls = <String>[];

  @override
  Stream<CoreEventInfo> watchEvents() => const Stream.empty();

  @override
  Future<ActiveTrip?> activeTrip() async => active;

  @override
  Future<TimerStatusInfo> timerStatus() async =>
      const TimerStatusInfo(elapsedS: 0, todayS: 3600, todayRoundedS: 3600);

  @override
  Future<FeedResult> connect({required TripSource source, String? carHint}) async {
    calls.add('connect:${source.name}');
    active = ActiveTrip(trip: _trip(), liveDistanceM: 0, durationS: 0);
    return const FeedResult(
      startedTripIds: [],
      endedTripIds: [],
      points: 0,
      outliers: 0,
      resumed: false,
      rejectedCount: 0,
      droppedCount: 0,
    );
  }

  @override
  Future<List<TripInfo>> trips({required TripQuery query}) async => tripList;

  List<ConflictInfo> conflictList = [];

  @override
  Future<List<ConflictInfo>> conflicts({required bool includeResolved}) async {
    calls.add('conflicts:$includeResolved');
    return conflictList;
  }

  @override
  Future<void> resolveConflict({required String id, required Resolution resolution}) async {
    calls.add('resolve:$id:${resolution.name}');
    conflictList = conflictList.where((c) => c.id != id).toList();
  }

  @override
  dynamic noSuchMethod(Invocation invocation) =>
      throw UnimplementedError('FakeCore: ${invocation.memberName}');
}

void main() {
  testWidgets('Today shows no trip, then starts one by hand', (tester) async {
    final core = FakeCore();
    await tester.pumpWidget(MaterialApp(home: Scaffold(body: TodayScreen(core: core))));
    await tester.pump();
    expect(find.text('No trip is being recorded'), findsOneWidget);
    expect(find.textContaining('Today 1:00 h'), findsOneWidget);

    await tester.tap(find.text('Start trip'));
    await tester.pump();
    await tester.pump();
    expect(core.calls, ['connect:manual']);
    expect(find.textContaining('0.0 km'), findsOneWidget);
    expect(find.text('End trip'), findsOneWidget);
  });

  testWidgets('The conflict inbox shows both sides and resolves with one tap', (tester) async {
    final core = FakeCore()
      ..conflictList = [
        ConflictInfo(
          id: 'c1',
          connectionId: 'k1',
          connectionName: 'work kimai',
          service: 'kimai',
          entryId: 'e1',
          message: 'edited on both sides',
          local: const EntrySnapshotInfo(description: 'review', seconds: 5400),
          remote: const EntrySnapshotInfo(description: 'code review', seconds: 3600),
          raisedAtMs: DateTime(2026, 12, 7, 10).millisecondsSinceEpoch,
          state: ConflictState.open,
        ),
      ];
    await tester.pumpWidget(MaterialApp(home: ConflictInboxScreen(core: core)));
    await tester.pump();
    expect(core.calls, ['conflicts:false']);
    expect(find.text('review'), findsOneWidget);
    expect(find.text('code review'), findsOneWidget);
    expect(find.text('Duration: 1:30 h'), findsOneWidget);

    await tester.tap(find.text('Keep Tacho'));
    await tester.pump();
    await tester.pump();
    expect(core.calls, contains('resolve:c1:keepLocal'));
    expect(find.text('No open conflicts'), findsOneWidget);
  });

  testWidgets('Trips lists trips and flags unclassified ones', (tester) async {
    final core = FakeCore()
      ..tripList = [
        _trip(purpose: Purpose.business),
        _trip(id: '0190aaaa-0000-7000-8000-000000000002'),
      ];
    await tester.pumpWidget(MaterialApp(home: Scaffold(body: TripsScreen(core: core))));
    await tester.pump();
    expect(find.text('Home → ACME'), findsNWidgets(2));
    expect(find.textContaining('23.4 km'), findsNWidgets(2));
    expect(find.text('classify'), findsOneWidget);
  });
}
