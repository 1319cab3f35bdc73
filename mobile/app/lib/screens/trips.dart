// Trips: the list, and a detail screen with the route on an OpenStreetMap
// map, classification, edits (kept as history once a trip ended) and the
// odometer at both ends.

import 'package:flutter/material.dart';
import 'package:flutter_map/flutter_map.dart';
import 'package:latlong2/latlong.dart' as ll;

import '../format.dart';
import '../src/rust/api/session.dart';
import '../src/rust/api/types.dart';
import 'common.dart';

/// The trip list, newest first.
class TripsScreen extends StatefulWidget {
  const TripsScreen({super.key, required this.core});

  final TachoCore core;

  @override
  State<TripsScreen> createState() => _TripsScreenState();
}

class _TripsScreenState extends CoreListState<TripsScreen> {
  @override
  TachoCore get core => widget.core;

  @override
  bool wants(CoreEventInfo event) => event.kind != CoreEventKind.tripProgress;

  List<TripInfo> _trips = const [];

  @override
  Future<void> reload() async {
    try {
      final trips = await core.trips(
        query: const TripQuery(includeDiscarded: true, limit: 200),
      );
      if (mounted) setState(() => _trips = trips);
    } catch (e) {
      if (mounted) showError(context, e);
    }
  }

  @override
  Widget build(BuildContext context) {
    if (_trips.isEmpty) {
      return const Center(child: Text('No trips yet'));
    }
    return ListView.separated(
      itemCount: _trips.length,
      separatorBuilder: (_, __) => const Divider(height: 1),
      itemBuilder: (context, i) {
        final t = _trips[i];
        return ListTile(
          leading: Icon(_purposeIcon(t.purpose)),
          title: Text(
            '${t.startAddress ?? 'Start'} → ${t.endAddress ?? (t.state == TripState.active ? '…' : 'End')}',
          ),
          subtitle: Text('${when(t.startedAtMs)} · ${km(t.distanceM)}'),
          textColor: t.state == TripState.discarded ? Theme.of(context).disabledColor : null,
          trailing: t.state == TripState.discarded
              ? const Text('discarded')
              : (t.purpose == null ? const Text('classify') : null),
          onTap: () => Navigator.of(context).push(MaterialPageRoute<void>(
            builder: (_) => TripDetailScreen(core: core, tripId: t.id),
          )),
        );
      },
    );
  }
}

IconData _purposeIcon(Purpose? p) => switch (p) {
      Purpose.business => Icons.work,
      Purpose.private => Icons.home,
      Purpose.commute => Icons.commute,
      null => Icons.help_outline,
    };

/// One trip: map, classification, edits, odometer and history.
class TripDetailScreen extends StatefulWidget {
  const TripDetailScreen({super.key, required this.core, required this.tripId});

  final TachoCore core;
  final String tripId;

  @override
  State<TripDetailScreen> createState() => _TripDetailScreenState();
}

class _TripDetailScreenState extends CoreListState<TripDetailScreen> {
  @override
  TachoCore get core => widget.core;

  @override
  bool wants(CoreEventInfo event) => event.kind != CoreEventKind.tripProgress;

  TripDetail? _detail;
  List<ll.LatLng> _route = const [];

  @override
  Future<void> reload() async {
    try {
      final detail = await core.trip(key: widget.tripId);
      final points = await core.tripPoints(key: widget.tripId);
      if (!mounted) return;
      setState(() {
        _detail = detail;
        _route = [for (final p in points) ll.LatLng(p.lat, p.lon)];
      });
    } catch (e) {
      if (mounted) showError(context, e);
    }
  }

  @override
  Widget build(BuildContext context) {
    final detail = _detail;
    if (detail == null) {
      return Scaffold(appBar: AppBar(), body: const Center(child: CircularProgressIndicator()));
    }
    final t = detail.trip;
    return Scaffold(
      appBar: AppBar(
        title: Text(when(t.startedAtMs)),
        actions: [
          if (detail.status == TripStatus.discarded)
            IconButton(
              tooltip: 'Restore trip',
              icon: const Icon(Icons.restore),
              onPressed: () => guarded(context, () async {
                await core.restoreTrip(key: t.id);
                await reload();
              }),
            )
          else if (detail.status == TripStatus.current)
            IconButton(
              tooltip: 'Discard trip',
              icon: const Icon(Icons.delete_outline),
              onPressed: () => guarded(context, () async {
                await core.discardTrip(key: t.id);
                await reload();
              }),
            ),
          if (detail.status == TripStatus.current && t.state == TripState.ended)
            PopupMenuButton<String>(
              onSelected: (action) => guarded(context, () async {
                if (action == 'merge') {
                  final next = await _nextTrip(t);
                  if (next == null) {
                    if (context.mounted) showError(context, 'No later trip of this car to merge with');
                    return;
                  }
                  await core.mergeTrips(first: t.id, second: next.id);
                } else if (action == 'splitAt') {
                  final at = await _pickSplitTime(context, t);
                  if (at == null) return;
                  await core.splitTrip(key: t.id, mode: SplitMode.time, atMs: at);
                } else {
                  await core.splitTrip(key: t.id, mode: SplitMode.longestStop);
                }
                if (context.mounted) Navigator.of(context).pop();
              }),
              itemBuilder: (_) => const [
                PopupMenuItem(value: 'merge', child: Text('Merge with the next trip')),
                PopupMenuItem(value: 'split', child: Text('Split at the longest stop')),
                PopupMenuItem(value: 'splitAt', child: Text('Split at a time…')),
              ],
            ),
        ],
      ),
      body: ListView(
        children: [
          SizedBox(height: 260, child: TripMap(route: _route)),
          if (detail.status != TripStatus.current)
            ListTile(
              leading: const Icon(Icons.info_outline),
              title: Text(switch (detail.status) {
                TripStatus.discarded => 'Discarded: not counted in totals',
                TripStatus.replaced => 'Merged or split into other trips: not counted',
                TripStatus.superseded => 'Lost to a concurrent merge or split: not counted',
                TripStatus.current => '',
              }),
            ),
          ListTile(
            title: Text(km(t.distanceM)),
            subtitle: Text('${t.source.name} · ${t.pointCount} points'
                '${t.recovered ? ' · closed after a long silence' : ''}'),
          ),
          Padding(
            padding: const EdgeInsets.symmetric(horizontal: 16),
            child: SegmentedButton<Purpose>(
              emptySelectionAllowed: true,
              segments: const [
                ButtonSegment(value: Purpose.business, label: Text('Business')),
                ButtonSegment(value: Purpose.private, label: Text('Private')),
                ButtonSegment(value: Purpose.commute, label: Text('Commute')),
              ],
              selected: {if (t.purpose != null) t.purpose!},
              onSelectionChanged: (s) {
                if (s.isEmpty) return;
                guarded(context, () async {
                  await core.classifyTrip(key: t.id, purpose: s.first);
                  await reload();
                });
              },
            ),
          ),
          if (t.purposeBy == Decider.rule)
            const Padding(
              padding: EdgeInsets.symmetric(horizontal: 16, vertical: 4),
              child: Text('Suggested by your places; tap to confirm or change.'),
            ),
          _field(context, t, TripField.businessPartner, 'Business partner', t.businessPartner),
          _field(context, t, TripField.startAddress, 'Start address', t.startAddress),
          _field(context, t, TripField.endAddress, 'End address', t.endAddress),
          _field(context, t, TripField.note, 'Note', t.note),
          _odometer(context, t, TripEnd.start, 'Odometer at start', detail.odometerStart),
          _odometer(context, t, TripEnd.end, 'Odometer at end', detail.odometerEnd),
          if (detail.history.isNotEmpty) ...[
            const Divider(),
            const ListTile(title: Text('Edit history')),
            for (final e in detail.history)
              ListTile(
                dense: true,
                title: Text('${e.field.name}: ${e.oldValue ?? '—'} → ${e.newValue ?? '—'}'),
                subtitle: Text(when(e.atMs)),
              ),
          ],
        ],
      ),
    );
  }

  /// The earliest ended trip of the same car starting after [t].
  Future<TripInfo?> _nextTrip(TripInfo t) async {
    final later = (await core.trips(query: const TripQuery(includeDiscarded: false, limit: 200)))
        .where((o) =>
            o.id != t.id &&
            o.carId == t.carId &&
            o.state == TripState.ended &&
            o.startedAtMs > t.startedAtMs)
        .toList()
      ..sort((a, b) => a.startedAtMs.compareTo(b.startedAtMs));
    return later.isEmpty ? null : later.first;
  }

  Widget _field(BuildContext context, TripInfo t, TripField field, String label, String? value) {
    return ListTile(
      title: Text(label),
      subtitle: Text(value ?? '—'),
      trailing: const Icon(Icons.edit),
      onTap: () async {
        final text = await askText(context, label, value);
        if (text == null || !context.mounted) return;
        await guarded(context, () async {
          await core.editTrip(key: t.id, field: field, value: text.isEmpty ? null : text);
          await reload();
        });
      },
    );
  }

  Widget _odometer(
      BuildContext context, TripInfo t, TripEnd end, String label, OdometerReadingInfo? reading) {
    return ListTile(
      title: Text(label),
      subtitle: Text(reading == null ? '—' : '${reading.odometerKm.toStringAsFixed(1)} km'),
      trailing: const Icon(Icons.speed),
      onTap: () async {
        final text = await askText(context, '$label (km)', reading?.odometerKm.toString());
        final km = double.tryParse(text ?? '');
        if (km == null || !context.mounted) return;
        await guarded(context, () async {
          await core.setTripOdometer(key: t.id, end: end, km: km);
          await reload();
        });
      },
    );
  }
}

/// A trip's route on OpenStreetMap tiles (with the attribution the tile
/// policy requires).
class TripMap extends StatelessWidget {
  const TripMap({super.key, required this.route});

  final List<ll.LatLng> route;

  @override
  Widget build(BuildContext context) {
    if (route.isEmpty) {
      return const Center(child: Text('No GPS points'));
    }
    final fit = route.length == 1
        ? null
        : CameraFit.bounds(
            bounds: LatLngBounds.fromPoints(route),
            padding: const EdgeInsets.all(24),
          );
    return FlutterMap(
      options: MapOptions(
        initialCenter: route.first,
        initialZoom: 14,
        initialCameraFit: fit,
      ),
      children: [
        TileLayer(
          urlTemplate: 'https://tile.openstreetmap.org/{z}/{x}/{y}.png',
          userAgentPackageName: 'app.tacho',
        ),
        PolylineLayer(
          polylines: [
            Polyline(points: route, strokeWidth: 4, color: Colors.indigo),
          ],
        ),
        MarkerLayer(
          markers: [
            Marker(point: route.first, child: const Icon(Icons.trip_origin, color: Colors.green)),
            Marker(point: route.last, child: const Icon(Icons.flag, color: Colors.red)),
          ],
        ),
        const RichAttributionWidget(
          attributions: [TextSourceAttribution('OpenStreetMap contributors')],
        ),
      ],
    );
  }
}

/// Asks for one line of text; null when cancelled.
Future<String?> askText(BuildContext context, String label, String? initial) {
  final controller = TextEditingController(text: initial ?? '');
  return showDialog<String>(
    context: context,
    builder: (context) => AlertDialog(
      title: Text(label),
      content: TextField(controller: controller, autofocus: true),
      actions: [
        TextButton(onPressed: () => Navigator.pop(context), child: const Text('Cancel')),
        FilledButton(
          onPressed: () => Navigator.pop(context, controller.text.trim()),
          child: const Text('Save'),
        ),
      ],
    ),
  );
}

/// Asks for the moment to split [trip] at, on a slider from its start to its end by the
/// minute; null when cancelled. The core checks the time (inside the trip, not at an end).
Future<int?> _pickSplitTime(BuildContext context, TripInfo trip) {
  final start = trip.startedAtMs;
  final end = trip.endedAtMs ?? start;
  final minutes = (end - start) ~/ 60000;
  if (minutes < 3) {
    showError(context, 'This trip is too short to split at a chosen time');
    return Future.value(null);
  }
  var chosen = minutes ~/ 2;
  return showDialog<int>(
    context: context,
    builder: (context) => StatefulBuilder(
      builder: (context, setState) => AlertDialog(
        title: const Text('Split at'),
        content: Column(
          mainAxisSize: MainAxisSize.min,
          children: [
            Text(clock(start + chosen * 60000)),
            Slider(
              value: chosen.toDouble(),
              min: 1,
              max: (minutes - 1).toDouble(),
              divisions: minutes - 2,
              onChanged: (v) => setState(() => chosen = v.round()),
            ),
            Text('${clock(start)} – ${clock(end)}'),
          ],
        ),
        actions: [
          TextButton(onPressed: () => Navigator.of(context).pop(), child: const Text('Cancel')),
          FilledButton(
            onPressed: () => Navigator.of(context).pop(start + chosen * 60000),
            child: const Text('Split'),
          ),
        ],
      ),
    ),
  );
}
