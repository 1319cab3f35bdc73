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
                onSelected: (action) => action == 'delete' ? _delete(context, p) : _rename(context, p),
                itemBuilder: (_) => const [
                  PopupMenuItem(value: 'rename', child: Text('Rename')),
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
    final place = await showDialog<NewPlaceInput>(
      context: context,
      builder: (_) => const _PlaceForm(),
    );
    if (place == null || !context.mounted) return;
    await guarded(context, () async {
      await core.addPlace(place: place);
      await reload();
    });
  }
}

class _PlaceForm extends StatefulWidget {
  const _PlaceForm();

  @override
  State<_PlaceForm> createState() => _PlaceFormState();
}

class _PlaceFormState extends State<_PlaceForm> {
  final _name = TextEditingController();
  final _lat = TextEditingController();
  final _lon = TextEditingController();
  final _radius = TextEditingController(text: '150');
  final _address = TextEditingController();
  PlaceKind _kind = PlaceKind.client;

  @override
  Widget build(BuildContext context) {
    return AlertDialog(
      title: const Text('New place'),
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
            Navigator.pop(
              context,
              NewPlaceInput(
                name: _name.text,
                kind: _kind,
                lat: lat,
                lon: lon,
                radiusM: radius,
                address: _address.text.trim().isEmpty ? null : _address.text.trim(),
              ),
            );
          },
          child: const Text('Add'),
        ),
      ],
    );
  }
}
