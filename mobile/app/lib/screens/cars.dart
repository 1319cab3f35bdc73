// Cars and their odometer readings. Readings are entered on a trip's
// detail screen (start or end), which is what closes the mileage log's
// chain; this screen lists them per car.

import 'package:flutter/foundation.dart';
import 'package:flutter/material.dart';

import '../format.dart';
import '../native_bridge.dart';
import '../src/rust/api/session.dart';
import '../src/rust/api/types.dart';
import 'common.dart';
import 'trips.dart' show askText;

/// The cars, each expandable to its odometer readings.
class CarsScreen extends StatefulWidget {
  const CarsScreen({super.key, required this.core});

  final TachoCore core;

  @override
  State<CarsScreen> createState() => _CarsScreenState();
}

class _CarsScreenState extends CoreListState<CarsScreen> {
  @override
  TachoCore get core => widget.core;

  @override
  bool wants(CoreEventInfo event) => event.kind != CoreEventKind.tripProgress;

  List<CarInfo> _cars = const [];

  @override
  Future<void> reload() async {
    try {
      final cars = await core.carList(includeRetired: true);
      if (mounted) setState(() => _cars = cars);
    } catch (e) {
      if (mounted) showError(context, e);
    }
  }

  @override
  Widget build(BuildContext context) {
    return Scaffold(
      appBar: AppBar(
        title: const Text('Cars'),
        actions: [
          if (defaultTargetPlatform == TargetPlatform.android)
            IconButton(
              tooltip: 'Car Bluetooth devices',
              icon: const Icon(Icons.bluetooth),
              onPressed: () => guarded(context, () => _chooseBluetooth(context)),
            ),
        ],
      ),
      body: ListView(
        children: [
          for (final c in _cars)
            ExpansionTile(
              leading: const Icon(Icons.directions_car),
              title: Text('${c.name} · ${c.plate}${c.retired ? ' (retired)' : ''}'),
              subtitle: Text([
                if (c.make != null) c.make!,
                if (c.model != null) c.model!,
                if (c.connectHint != null) 'connects as “${c.connectHint}”',
              ].join(' · ')),
              children: [
                _Readings(core: core, car: c),
                OverflowBar(
                  children: [
                    TextButton(
                      onPressed: () => _edit(context, c, 'Name', c.name,
                          (v) => CarChangeInput(name: v, clearMake: false, clearModel: false,
                              clearAvailableFrom: false, clearAvailableTo: false,
                              clearConnectHint: false)),
                      child: const Text('Rename'),
                    ),
                    TextButton(
                      onPressed: () => _edit(context, c, 'Plate', c.plate,
                          (v) => CarChangeInput(plate: v, clearMake: false, clearModel: false,
                              clearAvailableFrom: false, clearAvailableTo: false,
                              clearConnectHint: false)),
                      child: const Text('Change plate'),
                    ),
                    TextButton(
                      onPressed: () => guarded(context, () async {
                        await core.retireCar(key: c.id, retired: !c.retired);
                        await reload();
                      }),
                      child: Text(c.retired ? 'Back in use' : 'Retire'),
                    ),
                  ],
                ),
              ],
            ),
        ],
      ),
      floatingActionButton: FloatingActionButton(
        tooltip: 'Add car',
        onPressed: () => _add(context),
        child: const Icon(Icons.add),
      ),
    );
  }

  Future<void> _edit(BuildContext context, CarInfo c, String label, String value,
      CarChangeInput Function(String) change) async {
    final text = await askText(context, label, value);
    if (text == null || text.isEmpty || !context.mounted) return;
    await guarded(context, () async {
      await core.editCar(key: c.id, change: change(text));
      await reload();
    });
  }

  Future<void> _add(BuildContext context) async {
    final name = TextEditingController();
    final plate = TextEditingController();
    final hint = TextEditingController();
    final ok = await showDialog<bool>(
      context: context,
      builder: (context) => AlertDialog(
        title: const Text('New car'),
        content: Column(
          mainAxisSize: MainAxisSize.min,
          children: [
            TextField(controller: name, decoration: const InputDecoration(labelText: 'Name')),
            TextField(controller: plate, decoration: const InputDecoration(labelText: 'Plate')),
            TextField(
              controller: hint,
              decoration: const InputDecoration(labelText: 'Bluetooth / CarPlay name'),
            ),
          ],
        ),
        actions: [
          TextButton(onPressed: () => Navigator.pop(context, false), child: const Text('Cancel')),
          FilledButton(onPressed: () => Navigator.pop(context, true), child: const Text('Add')),
        ],
      ),
    );
    if (ok != true || !context.mounted) return;
    await guarded(context, () async {
      await core.addCar(
        car: NewCarInput(
          name: name.text,
          plate: plate.text,
          connectHint: hint.text.trim().isEmpty ? null : hint.text.trim(),
        ),
      );
      await reload();
    });
  }
}

/// Android: pick which paired devices start trips when they connect.
Future<void> _chooseBluetooth(BuildContext context) async {
  const bt = CarBluetooth();
  final devices = await bt.pairedDevices();
  final chosen = await bt.chosen();
  if (!context.mounted) return;
  final result = await showDialog<Set<String>>(
    context: context,
    builder: (context) => StatefulBuilder(
      builder: (context, setState) => AlertDialog(
        title: const Text('Which devices are cars?'),
        content: SingleChildScrollView(
          child: Column(
            mainAxisSize: MainAxisSize.min,
            children: [
              for (final (name, address) in devices)
                CheckboxListTile(
                  title: Text(name),
                  subtitle: Text(address),
                  value: chosen.contains(address),
                  onChanged: (on) => setState(() {
                    if (on ?? false) {
                      chosen.add(address);
                    } else {
                      chosen.remove(address);
                    }
                  }),
                ),
            ],
          ),
        ),
        actions: [
          FilledButton(onPressed: () => Navigator.pop(context, chosen), child: const Text('Save')),
        ],
      ),
    ),
  );
  if (result != null) await bt.choose(result);
}

class _Readings extends StatelessWidget {
  const _Readings({required this.core, required this.car});

  final TachoCore core;
  final CarInfo car;

  @override
  Widget build(BuildContext context) {
    return FutureBuilder<List<OdometerReadingInfo>>(
      future: core.carReadings(car: car.id, limit: 200),
      builder: (context, snap) {
        final readings = snap.data;
        if (readings == null) {
          return const Padding(padding: EdgeInsets.all(8), child: LinearProgressIndicator());
        }
        if (readings.isEmpty) {
          return const ListTile(title: Text('No odometer readings yet (add them on a trip)'));
        }
        return Column(
          children: [
            for (final r in readings.reversed)
              ListTile(
                dense: true,
                title: Text('${r.odometerKm.toStringAsFixed(1)} km'),
                subtitle: Text('${when(r.atMs)} · ${r.tripEnd?.name ?? ''} ${r.source.name}'),
              ),
          ],
        );
      },
    );
  }
}
