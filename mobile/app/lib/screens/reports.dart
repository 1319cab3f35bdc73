// Reports: the mileage log per car and the timesheet, exported as CSV or
// XLSX into the temporary directory and handed to the share sheet.

import 'package:flutter/material.dart';
import 'package:path_provider/path_provider.dart';
import 'package:share_plus/share_plus.dart';

import '../format.dart';
import '../src/rust/api/session.dart';
import '../src/rust/api/types.dart';
import 'common.dart';

/// Export and share.
class ReportsScreen extends StatefulWidget {
  const ReportsScreen({super.key, required this.core});

  final TachoCore core;

  @override
  State<ReportsScreen> createState() => _ReportsScreenState();
}

class _ReportsScreenState extends State<ReportsScreen> {
  final _period = TextEditingController(text: thisMonth());
  ReportFormat _format = ReportFormat.xlsx;
  List<CarInfo> _cars = const [];
  String? _car;

  @override
  void initState() {
    super.initState();
    widget.core.cars().then((cars) {
      if (!mounted) return;
      setState(() {
        _cars = cars;
        _car = cars.isEmpty ? null : cars.first.id;
      });
    });
  }

  Future<void> _share(Future<String> Function(String dir) write) async {
    await guarded(context, () async {
      final dir = await getTemporaryDirectory();
      final path = await write(dir.path);
      await Share.shareXFiles([XFile(path)]);
    });
  }

  @override
  Widget build(BuildContext context) {
    final core = widget.core;
    return Scaffold(
      appBar: AppBar(title: const Text('Reports')),
      body: ListView(
        padding: const EdgeInsets.all(16),
        children: [
          TextField(
            controller: _period,
            decoration: const InputDecoration(
              labelText: 'Period',
              helperText: '2026-03, 2026, or 2026-03-01..2026-03-31',
            ),
          ),
          const SizedBox(height: 12),
          SegmentedButton<ReportFormat>(
            segments: const [
              ButtonSegment(value: ReportFormat.xlsx, label: Text('Excel')),
              ButtonSegment(value: ReportFormat.csv, label: Text('CSV')),
            ],
            selected: {_format},
            onSelectionChanged: (s) => setState(() => _format = s.first),
          ),
          const SizedBox(height: 24),
          Text('Mileage log', style: Theme.of(context).textTheme.titleMedium),
          DropdownButton<String>(
            value: _car,
            isExpanded: true,
            hint: const Text('Add a car first'),
            items: [
              for (final c in _cars) DropdownMenuItem(value: c.id, child: Text('${c.name} · ${c.plate}')),
            ],
            onChanged: (id) => setState(() => _car = id),
          ),
          FilledButton.icon(
            icon: const Icon(Icons.ios_share),
            label: const Text('Export mileage log'),
            onPressed: _car == null
                ? null
                : () => _share((dir) => core.writeMileageReport(
                      car: _car!,
                      period: _period.text.trim(),
                      format: _format,
                      dir: dir,
                    )),
          ),
          const SizedBox(height: 24),
          Text('Timesheet', style: Theme.of(context).textTheme.titleMedium),
          FilledButton.icon(
            icon: const Icon(Icons.ios_share),
            label: const Text('Export timesheet'),
            onPressed: () => _share((dir) => core.writeHoursReport(
                  period: _period.text.trim(),
                  format: _format,
                  dir: dir,
                )),
          ),
        ],
      ),
    );
  }
}
