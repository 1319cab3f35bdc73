// Places: home, office and clients. Trips starting or ending in one are
// classified by the core's place rules.

import 'package:flutter/material.dart';

import '../src/rust/api/session.dart';
import '../src/rust/api/types.dart';
import 'common.dart';
import 'trips.dart' show askText;

/// Known places and a form to add one.
class PlacesScreen extends StatefulWidget {
  const PlacesScreen({super.key, required this.core});

  final TachoCore core;

  @override
  State<PlacesScreen> createState() => _PlacesScreenState();
}

class _PlacesScreenState extends CoreListState<PlacesScreen> {
  @override
  TachoCore get core => widget.core;

  @override
  bool wants(CoreEventInfo event) => event.kind != CoreEventKind.tripProgress;

  List<PlaceInfo> _places = const [];

  @override
  Future<void> reload() async {
    try {
      final places = await core.places();
      if (mounted) setState(() => _places = places);
    } catch (e) {
      if (mounted) showError(context, e);
    }
  }

  @override
  Widget build(BuildContext context) {
    return Scaffold(
      appBar: AppBar(title: const Text('Places')),
      body: ListView(
        children: [
          for (final p in _places)
            ListTile(
              leading: Icon(switch (p.kind) {
                PlaceKind.home => Icons.home,
                PlaceKind.office => Icons.business,
                PlaceKind.client => Icons.handshake,
                PlaceKind.other => Icons.place,
              }),
              title: Text(p.name),
              subtitle: Text(p.address ??
                  '${p.center.lat.toStringAsFixed(5)}, ${p.center.lon.toStringAsFixed(5)}'
                      ' · ${p.radiusM.round()} m'),
              trailing: PopupMenuButton<String>(
                onSelected: (action) => switch (action) {
                  'delete' => _delete(context, p),
                  'edit' => _edit(context, p),
                  _ => _rename(context, p),
                },
                itemBuilder: (_) => const [
                  PopupMenuItem(value: 'rename', child: Text('Rename')),
                  PopupMenuItem(value: 'edit', child: Text('Position, kind and radius')),
                  PopupMenuItem(value: 'delete', child: Text('Delete')),
                ],
              ),
            ),
        ],
      ),
      floatingActionButton: FloatingActionButton(
        tooltip: 'Add place',
        onPressed: () => _add(context),
        child: const Icon(Icons.add_location_alt),
      ),
    );
  }

  Future<void> _rename(BuildContext context, PlaceInfo p) async {
    final name = await askText(context, 'Name', p.name);
    if (name == null || name.isEmpty || !context.mounted) return;
    await guarded(context, () async {
      await core.editPlace(key: p.id, change: PlaceChangeInput(name: name, clearAddress: false));
      await reload();
    });
  }

  /// Deletes a place, with an undo that restores it.
  Future<void> _delete(BuildContext context, PlaceInfo p) async {
    await guarded(context, () async {
      await core.deletePlace(key: p.id);
      await reload();
      if (!context.mounted) return;
      ScaffoldMessenger.of(context).showSnackBar(SnackBar(
        content: Text('Deleted ${p.name}'),
        action: SnackBarAction(
          label: 'Undo',
          onPressed: () => guarded(context, () async {
            await core.restorePlace(key: p.id);
            await reload();
          }),
        ),
      ));
    });
  }

  Future<void> _add(BuildContext context) async {
    final f = await showDialog<_PlaceFields>(
      context: context,
      builder: (_) => const _PlaceForm(),
    );
    if (f == null || !context.mounted) return;
    await guarded(context, () async {
      await core.addPlace(
          place: NewPlaceInput(
              name: f.name, kind: f.kind, lat: f.lat, lon: f.lon, radiusM: f.radiusM, address: f.address));
      await reload();
    });
  }

  /// Edits a place; only the fields that changed are sent (the core records just those).
  Future<void> _edit(BuildContext context, PlaceInfo p) async {
    final f = await showDialog<_PlaceFields>(
      context: context,
      builder: (_) => _PlaceForm(editing: p),
    );
    if (f == null || !context.mounted) return;
    final moved = f.lat != p.center.lat || f.lon != p.center.lon;
    await guarded(context, () async {
      await core.editPlace(
        key: p.id,
        change: PlaceChangeInput(
          name: f.name != p.name ? f.name : null,
          kind: f.kind != p.kind ? f.kind : null,
          // A position is one value: both coordinates go together.
          lat: moved ? f.lat : null,
          lon: moved ? f.lon : null,
          radiusM: f.radiusM != p.radiusM ? f.radiusM : null,
          address: f.address != null && f.address != p.address ? f.address : null,
          clearAddress: f.address == null && p.address != null,
        ),
      );
      await reload();
    });
  }
}

/// What the place form returns, for a new place or an edit.
typedef _PlaceFields = ({
  String name,
  PlaceKind kind,
  double lat,
  double lon,
  double radiusM,
  String? address,
});

class _PlaceForm extends StatefulWidget {
  const _PlaceForm({this.editing});

  /// The place being edited, whose values the fields start with; null for a new place.
  final PlaceInfo? editing;

  @override
  State<_PlaceForm> createState() => _PlaceFormState();
}

class _PlaceFormState extends State<_PlaceForm> {
  late final _name = TextEditingController(text: widget.editing?.name ?? '');
  late final _lat = TextEditingController(text: widget.editing?.center.lat.toString() ?? '');
  late final _lon = TextEditingController(text: widget.editing?.center.lon.toString() ?? '');
  late final _radius = TextEditingController(text: widget.editing?.radiusM.toString() ?? '150');
  late final _address = TextEditingController(text: widget.editing?.address ?? '');
  late PlaceKind _kind = widget.editing?.kind ?? PlaceKind.client;

  @override
  Widget build(BuildContext context) {
    return AlertDialog(
      title: Text(widget.editing?.name ?? 'New place'),
      content: SingleChildScrollView(
        child: Column(
          mainAxisSize: MainAxisSize.min,
          children: [
            TextField(controller: _name, decoration: const InputDecoration(labelText: 'Name')),
            DropdownButton<PlaceKind>(
              value: _kind,
              isExpanded: true,
              items: [
                for (final k in PlaceKind.values)
                  DropdownMenuItem(value: k, child: Text(k.name)),
              ],
              onChanged: (k) => setState(() => _kind = k ?? _kind),
            ),
            TextField(controller: _lat, decoration: const InputDecoration(labelText: 'Latitude')),
            TextField(controller: _lon, decoration: const InputDecoration(labelText: 'Longitude')),
            TextField(controller: _radius, decoration: const InputDecoration(labelText: 'Radius (m)')),
            TextField(controller: _address, decoration: const InputDecoration(labelText: 'Address')),
          ],
        ),
      ),
      actions: [
        TextButton(onPressed: () => Navigator.pop(context), child: const Text('Cancel')),
        FilledButton(
          onPressed: () {
            final lat = double.tryParse(_lat.text.trim());
            final lon = double.tryParse(_lon.text.trim());
            final radius = double.tryParse(_radius.text.trim());
            if (lat == null || lon == null || radius == null) return;
            final _PlaceFields fields = (
              name: _name.text,
              kind: _kind,
              lat: lat,
              lon: lon,
              radiusM: radius,
              address: _address.text.trim().isEmpty ? null : _address.text.trim(),
            );
            Navigator.pop(context, fields);
          },
          child: Text(widget.editing == null ? 'Add' : 'Save'),
        ),
      ],
    );
  }
}
